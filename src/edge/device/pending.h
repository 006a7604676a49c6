/*
 * The waiting room: device connections, TCP and HTTP alike, that wait for
 * the tunnel to the cloud, for pending_timeout at most (pending.c). A
 * device's connection embeds its struct pending and says, in its ops,
 * what to do when the tunnel comes up and when the wait ran out.
 */
#ifndef ISTHMUS_EDGE_DEVICE_PENDING_H
#define ISTHMUS_EDGE_DEVICE_PENDING_H

#include <stdbool.h>

#include <event2/event.h>

struct edge;

struct pending_ops {
	/* The tunnel is up; the wait is over (off the list) already. */
	void (*ready)(void *arg);
	/* pending_timeout passed first; the wait is over already. */
	void (*expired)(void *arg);
	/* The edge drains or stops: NULL to go on waiting (an HTTP device
	 * gets its 503 when the wait runs out), else the connection ends
	 * here; the wait is over already. */
	void (*drop)(void *arg);
};

struct pending {
	struct edge *e;
	const struct pending_ops *ops;
	void *arg;
	struct pending *next, **pprev;	/* e->pending */
	struct event *timer;		/* NULL: not waiting */
};

/* p waits (counted in e->npending) for pending_timeout; -ENOMEM. */
int pending_wait(struct edge *e, struct pending *p,
    const struct pending_ops *ops, void *arg);
/* Ends p's wait, if it waits; no callback. */
void pending_cancel(struct pending *p);

static inline bool
pending_waiting(const struct pending *p)
{
	return p->timer != NULL;
}

/* The serving tunnel is up: every device that waited goes on. */
void pending_tunnel_up(struct edge *e);
/* Draining or stopping: waits whose ops drop are ended. */
void pending_drop_all(struct edge *e);

#endif
