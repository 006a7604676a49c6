#include "common/loglimit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct log_limit {
	struct event *report;
	double tokens;
	unsigned burst, per_sec;
	struct timespec last;
	uint64_t suppressed;
	const char *sub, *event;	/* of the lines suppressed */
};

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
	l->burst = burst;
	l->per_sec = per_sec;
	l->tokens = burst;
	clock_gettime(CLOCK_MONOTONIC, &l->last);
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

/* Takes a token if there is one. */
static int
take(struct log_limit *l)
{
	struct timespec now;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - l->last.tv_sec) +
	    (double)(now.tv_nsec - l->last.tv_nsec) / 1e9;
	l->last = now;
	l->tokens += dt * l->per_sec;
	if (l->tokens > l->burst)
		l->tokens = l->burst;
	if (l->tokens < 1.0)
		return 0;
	l->tokens -= 1.0;
	return 1;
}

void
log_limited(struct log_limit *l, enum log_level level, const char *sub,
    const char *event, const char *fmt, ...)
{
	static const struct timeval one_second = { 1, 0 };
	va_list ap;

	if (level > log_get_level())
		return;
	if (l != NULL && !take(l)) {
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
