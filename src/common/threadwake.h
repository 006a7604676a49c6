/*
 * A worker thread's way back to the event loop, and its own waits: the
 * thread writes an eventfd (it makes no libevent call), an event of the
 * loop reads it; the thread sleeps on a condition variable timed on the
 * monotonic clock, so a step of the wall clock neither stalls nor
 * hurries it. Deadlines are mono_us() / 1000 (timeval.h).
 */
#ifndef ISTHMUS_THREADWAKE_H
#define ISTHMUS_THREADWAKE_H

#include <pthread.h>
#include <stdint.h>

#include <event2/event.h>

struct threadwake {
	int efd;
	struct event *ev;
};

/* fn runs on base's loop after each threadwake_signal (several signals
 * may make one call); it calls threadwake_drain first. -errno. */
int threadwake_open(struct threadwake *w, struct event_base *base,
    event_callback_fn fn, void *arg);
void threadwake_close(struct threadwake *w);
/* From any thread. */
void threadwake_signal(const struct threadwake *w);
void threadwake_drain(evutil_socket_t fd);

void threadwake_cond_init(pthread_cond_t *cv);
/* Waits on cv until signalled or deadline (monotonic ms; 0: none).
 * mu held. */
void threadwake_wait(pthread_cond_t *cv, pthread_mutex_t *mu,
    int64_t deadline);

#endif
