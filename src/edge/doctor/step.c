/* The doctor's step machinery: opening and closing a step (skipped after
 * a failure that blocks it), timing it, and waiting for the event loop. */
#include "edge/doctor/doctor-int.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/util.h>

#include "common/timeval.h"

/* Starts a step: false (and the step is marked skipped) after a failure. */
bool
step_begin(struct doctor *d, const char *fmt, ...)
{
	struct step *s;
	va_list ap;

	if (d->n == d->cap) {
		size_t cap = d->cap > 0 ? d->cap * 2 : 16;
		struct step *nv = realloc(d->steps, cap * sizeof(*nv));

		if (nv == NULL) {
			/* Nothing can be shown for this step: the run fails,
			 * it never passes with a step left out. */
			d->failed = d->blocked = "out of memory";
			return false;
		}
		d->steps = nv;
		d->cap = cap;
	}
	s = &d->steps[d->n];
	memset(s, 0, sizeof(*s));
	va_start(ap, fmt);
	vsnprintf(s->name, sizeof(s->name), fmt, ap);
	va_end(ap);
	s->us = -1;
	d->n++;
	if (d->blocked != NULL) {
		s->v = V_SKIPPED;
		snprintf(s->detail, sizeof(s->detail), "not run: %s failed",
		    d->blocked);
		return false;
	}
	d->t0 = mono_us();
	return true;
}

void
step_end(struct doctor *d, enum verdict v, bool timed, const char *fmt, ...)
{
	struct step *s = &d->steps[d->n - 1];
	va_list ap;

	s->v = v;
	s->us = timed ? (long)(mono_us() - d->t0) : -1;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
	if (v == V_FAIL && d->failed == NULL)
		d->failed = s->name;
	if (v == V_FAIL && d->blocked == NULL && !d->independent)
		d->blocked = s->name;
}

void
doctor_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct doctor *d = arg;

	(void)fd;
	(void)what;
	d->timed_out = true;
}

/* Runs the loop until a callback says done, or for timeout_ms. Set
 * d->done = false before starting what is awaited: it may finish at
 * once. */
void
doctor_await(struct doctor *d, uint64_t timeout_ms)
{
	struct timeval tv;

	d->timed_out = false;
	tv_ms(&tv, timeout_ms);
	evtimer_add(d->timer, &tv);
	while (!d->done && !d->timed_out)
		event_base_loop(d->base, EVLOOP_ONCE);
	evtimer_del(d->timer);
}
