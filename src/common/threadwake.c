/*
 * A worker thread's wake-up of the loop, and its timed waits
 * (threadwake.h).
 */
#include "common/threadwake.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/timeval.h"

int
threadwake_open(struct threadwake *w, struct event_base *base,
    event_callback_fn fn, void *arg)
{
	w->ev = NULL;
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return -errno;
	if ((w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, fn,
	    arg)) == NULL || event_add(w->ev, NULL) != 0) {
		threadwake_close(w);
		return -ENOMEM;
	}
	return 0;
}

void
threadwake_close(struct threadwake *w)
{
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->efd >= 0)
		close(w->efd);
	w->ev = NULL;
	w->efd = -1;
}

void
threadwake_signal(const struct threadwake *w)
{
	uint64_t one = 1;

	if (write(w->efd, &one, sizeof(one)) < 0) {
		/* the counter is far from full: the loop is awake anyway */
	}
}

void
threadwake_drain(evutil_socket_t fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another turn took the count; the caller's lists
		 * say what there is */
	}
}

void
threadwake_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

void
threadwake_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline)
{
	struct timespec ts = { .tv_sec = deadline / 1000,
	    .tv_nsec = (deadline % 1000) * 1000000 };

	if (deadline == 0)
		pthread_cond_wait(cv, mu);
	else if (deadline > mono_us() / 1000)
		pthread_cond_timedwait(cv, mu, &ts);
}
