/*
 * Connecting a stream to a backend of its service. pool_pick chooses; the
 * connect gets the service's connect_timeout; a backend that refuses or
 * times out is counted and logged and the next one is tried, so a device
 * loses nothing to a dead backend. With reuse (HTTP mode), a kept-alive
 * connection to the chosen backend is taken first when this worker holds
 * one (backpool.h).
 */
#ifndef ISTHMUS_CLOUD_DIAL_H
#define ISTHMUS_CLOUD_DIAL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "cloud/config.h"

struct worker;
struct dial;
struct dial_gate;

/* bev: a connected socket, now the caller's (d->idx is its backend, whose
 * active count was raised: the caller lowers it when done); NULL when no
 * healthy backend is left. reused: bev comes from the pool. */
typedef void (*dial_fn)(struct dial *d, struct bufferevent *bev,
    bool reused, void *arg);

struct dial {
	struct worker *w;
	struct cloud_service *svc;
	const char *device;	/* for hash balancing; the caller's */
	bool reuse;
	dial_fn fn;
	void *arg;
	int idx;		/* the backend tried or connected, or -1 */
	uint64_t tried;
	struct bufferevent *bev;	/* while connecting */
	bool in_connect, failed_in_connect;
	/* With a gate: waiting for a slot, or holding one. */
	struct dial_gate *gate;
	struct dial *wnext, **wprev;
	bool waiting, slot;
};

/*
 * At most max connects in flight for one tunnel: an edge that opens (and
 * resets) thousands of streams at once makes the cloud dial a handful of
 * backends at a time, not one socket per stream. Dials past the cap wait
 * in order; a stream reset while waiting costs no socket at all.
 */
struct dial_gate {
	unsigned inflight, max;
	struct dial *head, **tail;
	struct event *ev;	/* starts waiting dials from the loop */
	uint64_t waited;	/* dials that had to wait */
};

int dial_gate_init(struct dial_gate *g, struct event_base *base,
    unsigned max);
/* Every dial through g was cancelled or ended. */
void dial_gate_free(struct dial_gate *g);

/* fn may run before dial_start returns, except when gate (NULL: none)
 * makes the dial wait: then it starts from the loop. */
void dial_start(struct dial *d, struct worker *w, struct cloud_service *svc,
    const char *device, bool reuse, struct dial_gate *gate, dial_fn fn,
    void *arg);
/* After a reused connection failed before any answer: dial again with a
 * fresh connection to the same service. */
void dial_again(struct dial *d);
/* Stops a connect in progress or a wait; fn does not run. */
void dial_cancel(struct dial *d);

#endif
