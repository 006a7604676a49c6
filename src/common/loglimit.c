/* Rate-limited logging for what peers cause (loglimit.h). */
#include "common/loglimit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bucket {
	double tokens;
	unsigned burst, per_sec;
	struct timespec last;
};

struct log_limit {
	struct event *report;
	struct bucket b;
	uint64_t suppressed;
	const char *sub, *event;	/* of the lines suppressed */
};

static void
bucket_init(struct bucket *b, unsigned burst, unsigned per_sec)
{
	b->burst = burst;
	b->per_sec = per_sec;
	b->tokens = burst;
	clock_gettime(CLOCK_MONOTONIC, &b->last);
}

/* Takes a token if there is one. */
static bool
take(struct bucket *b)
{
	struct timespec now;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - b->last.tv_sec) +
	    (double)(now.tv_nsec - b->last.tv_nsec) / 1e9;
	b->last = now;
	b->tokens += dt * b->per_sec;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

static void
report(struct log_limit *l)
{
	if (l->suppressed == 0)
		return;
	log_warn(l->sub, "log_suppressed", "suppressed_event=%s count=%llu",
	    l->event, (unsigned long long)l->suppressed);
	l->suppressed = 0;
}

static void
on_report(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	report(arg);
}

struct log_limit *
log_limit_new(struct event_base *base, unsigned burst, unsigned per_sec)
{
	struct log_limit *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->report = evtimer_new(base, on_report, l);
	if (l->report == NULL) {
		free(l);
		return NULL;
	}
	bucket_init(&l->b, burst, per_sec);
	return l;
}

void
log_limit_free(struct log_limit *l)
{
	if (l == NULL)
		return;
	report(l);
	event_free(l->report);
	free(l);
}

void
log_limited(struct log_limit *l, enum log_level level, const char *sub,
    const char *event, const char *fmt, ...)
{
	static const struct timeval one_second = { 1, 0 };
	va_list ap;

	if (level > log_get_level())
		return;
	if (l != NULL && !take(&l->b)) {
		if (l->suppressed > 0 && strcmp(l->event, event) != 0)
			report(l);	/* one limit, another event */
		l->sub = sub;
		l->event = event;
		if (l->suppressed++ == 0)
			evtimer_add(l->report, &one_second);
		return;
	}
	va_start(ap, fmt);
	log_vemit(level, sub, event, fmt, ap);
	va_end(ap);
}

/*
 * libevent's own messages (a failing accept(), a bad fd) would go to stderr
 * unformatted, once per event loop turn: a busy loop writes them as fast as
 * it spins. They come through here instead, as our log lines and within
 * one limit. libevent may report from any worker thread and the cloud does
 * not make its loops thread-aware, so this limit has no timer: a mutex, and
 * the count of lines suppressed goes on the next line written (and is
 * reported at exit).
 */
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bucket lib_bucket;
static uint64_t lib_suppressed;

static enum log_level
lib_level(int severity)
{
	switch (severity) {
	case EVENT_LOG_DEBUG: return LOG_DEBUG;
	case EVENT_LOG_MSG: return LOG_INFO;
	case EVENT_LOG_WARN: return LOG_WARN;
	default: return LOG_ERROR;
	}
}

static void
on_libevent_log(int severity, const char *msg)
{
	enum log_level level = lib_level(severity);
	uint64_t before;

	if (level > log_get_level())
		return;
	pthread_mutex_lock(&lib_lock);
	if (!take(&lib_bucket)) {
		lib_suppressed++;
		pthread_mutex_unlock(&lib_lock);
		return;
	}
	before = lib_suppressed;
	lib_suppressed = 0;
	pthread_mutex_unlock(&lib_lock);
	if (before > 0)
		log_emit(level, "libevent", "library_message", "message=%s "
		    "suppressed_before=%llu", msg, (unsigned long long)before);
	else
		log_emit(level, "libevent", "library_message", "message=%s",
		    msg);
}

static void
report_libevent(void)
{
	pthread_mutex_lock(&lib_lock);
	if (lib_suppressed > 0)
		log_warn("libevent", "log_suppressed", "suppressed_event=%s "
		    "count=%llu", "library_message",
		    (unsigned long long)lib_suppressed);
	lib_suppressed = 0;
	pthread_mutex_unlock(&lib_lock);
}

void
log_limit_libevent(unsigned burst, unsigned per_sec)
{
	bucket_init(&lib_bucket, burst, per_sec);
	event_set_log_callback(on_libevent_log);
	atexit(report_libevent);
}
