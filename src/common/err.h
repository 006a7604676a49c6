/*
 * One error convention for all of isthmus: functions return 0 on success or
 * a negative errno value on failure, and record a one-line, human-readable
 * message in a caller-provided struct err where the failure happens. The
 * caller decides whether to print it, log it or wrap it.
 */
#ifndef ISTHMUS_ERR_H
#define ISTHMUS_ERR_H

#include <stddef.h>

struct err {
	char msg[512];
};

/* Records a printf-style message in *e (if e is non-NULL) and returns code,
 * which should be a negative errno value. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like err_set, and appends the reason from OpenSSL's error queue (which it
 * then clears), e.g. "cannot load key x.key: unsupported private key". */
int err_ssl(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes an already-recorded message with more context ("ca.crt: ..."). */
int err_wrap(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
