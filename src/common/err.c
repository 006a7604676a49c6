/* The error convention: 0 or -errno, and a message in struct err (err.h). */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

int
err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int
err_ssl(struct err *e, int code, const char *fmt, ...)
{
	unsigned long ssl = ERR_peek_last_error();
	char reason[256] = "";
	va_list ap;
	size_t n;

	if (ssl != 0) {
		const char *r = ERR_reason_error_string(ssl);

		snprintf(reason, sizeof(reason), "%s",
		    r != NULL ? r : "unknown OpenSSL error");
	}
	ERR_clear_error();
	if (e == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (reason[0] != '\0' && n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", reason);
	return code;
}

int
err_wrap(struct err *e, int code, const char *fmt, ...)
{
	char prefix[256];
	size_t plen, olen;
	va_list ap;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	plen = strlen(prefix);
	olen = strnlen(e->msg, sizeof(e->msg) - 1);
	if (plen + 2 + olen >= sizeof(e->msg))
		olen = sizeof(e->msg) - 1 - plen - 2;
	memmove(e->msg + plen + 2, e->msg, olen);
	memcpy(e->msg, prefix, plen);
	memcpy(e->msg + plen, ": ", 2);
	e->msg[plen + 2 + olen] = '\0';
	return code;
}
