/*
 * Rate-limited logging for what peers cause (failed handshakes, refused
 * streams, dropped devices): a scanner or a broken peer must not be able to
 * flood the log. Each limit is a token bucket: `burst` lines at once, then
 * `per_sec` a second. Lines over the limit are counted, not written, and
 * the count is reported once a second as
 *
 *   event=log_suppressed suppressed_event=handshake_failed count=123
 *
 * so the number of lines written plus the counts reported is always the
 * number of events. Counters (metrics) are never limited, only the log.
 */
#ifndef ISTHMUS_LOGLIMIT_H
#define ISTHMUS_LOGLIMIT_H

#include <event2/event.h>

#include "common/log.h"

struct log_limit;

/* NULL when out of memory: log_limited() then logs every line. */
struct log_limit *log_limit_new(struct event_base *base, unsigned burst,
    unsigned per_sec);
/* Reports what is still suppressed, then frees. */
void log_limit_free(struct log_limit *l);

void log_limited(struct log_limit *l, enum log_level level, const char *sub,
    const char *event, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Sends libevent's own messages through the log module (sub=libevent
 * event=library_message), at most burst at once and per_sec a second
 * whatever thread they come from; the number suppressed goes on the next
 * line written (suppressed_before=N) and into one log_suppressed line at
 * exit. Call once, before the first event_base. */
void log_limit_libevent(unsigned burst, unsigned per_sec);

#endif
