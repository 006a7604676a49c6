/*
 * The cloud's worker event loops. Worker 0 runs in the main thread, in the
 * control loop; workers 1..N-1 each run their own loop in a thread. The
 * control loop hands each accepted tunnel to the next worker in turn and
 * talks to workers only through their inbox: an eventfd and a few flag
 * bits, so no libevent call ever crosses threads. worker_post, the
 * inbox's writing half, and the state the workers share are in
 * cloud-int.h; this file reads the inbox and drives the tunnels.
 */
#ifndef ISTHMUS_CLOUD_WORKER_H
#define ISTHMUS_CLOUD_WORKER_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "cloud/cloud-int.h"

#define WORKERS_MAX 64

/* Sets up cl->workers[0..n-1]: worker 0 on cl->base (the caller's), the
 * others with their own loops, not yet running. */
int workers_init(struct cloud *cl, unsigned n, unsigned log_burst,
    unsigned log_per_sec);
/* Starts the threads of workers 1..N-1. */
int workers_start(struct cloud *cl);
/* Hands an accepted socket to the next worker (control loop). */
void workers_accept(struct cloud *cl, evutil_socket_t fd,
    const struct sockaddr *sa, int salen);
/* Tells workers 1..N-1 to exit, joins them, then frees worker 0's
 * tunnels and every worker's loop. */
void workers_stop(struct cloud *cl);
/* Every worker's tunnel list is empty. */
bool workers_idle(struct cloud *cl);

#endif
