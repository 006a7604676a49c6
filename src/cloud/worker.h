/*
 * The cloud's worker event loops. Worker 0 runs in the main thread, in the
 * control loop; workers 1..N-1 each run their own loop in a thread. The
 * control loop hands each accepted tunnel to the next worker in turn and
 * talks to workers only through their inbox: an eventfd and a few flag
 * bits, so no libevent call ever crosses threads.
 */
#ifndef ISTHMUS_CLOUD_WORKER_H
#define ISTHMUS_CLOUD_WORKER_H

#include "cloud/tunnel.h"

#define WORKERS_MAX 64

enum {
	WORKER_RECHECK = 1u << 0,	/* a reload: re-admit every tunnel */
	WORKER_SHUTDOWN = 1u << 1,	/* drain: GOAWAY on every tunnel */
	WORKER_EXIT = 1u << 2,		/* leave the loop, close what is left */
	WORKER_EMPTY = 1u << 3,		/* to worker 0: a draining worker ran
					 * empty */
	WORKER_PROBE = 1u << 4,		/* PING the tunnels marked probe */
};

/* Sets up cl->workers[0..n-1]: worker 0 on cl->base (the caller's), the
 * others with their own loops, not yet running. */
int workers_init(struct cloud *cl, unsigned n, unsigned log_burst,
    unsigned log_per_sec);
/* Starts the threads of workers 1..N-1. */
int workers_start(struct cloud *cl);
/* Posts msg bits to w (any thread). */
void worker_post(struct worker *w, unsigned msg);
/* Hands an accepted socket to the next worker (control loop). */
void workers_accept(struct cloud *cl, evutil_socket_t fd,
    const struct sockaddr *sa, int salen);
/* Tells workers 1..N-1 to exit, joins them, then frees worker 0's
 * tunnels and every worker's loop. */
void workers_stop(struct cloud *cl);
/* Every worker's tunnel list is empty. */
bool workers_idle(struct cloud *cl);

/* Every tunnel of every worker; with cl->lock held. */
#define CLOUD_FOREACH_TUNNEL(cl, wi, t)					\
	for ((wi) = 0; (wi) < (cl)->nworkers; (wi)++)			\
		for ((t) = (cl)->workers[(wi)].tunnels; (t) != NULL;	\
		    (t) = tunnel_next(t))

void cloud_lock(struct cloud *cl);
void cloud_unlock(struct cloud *cl);

#endif
