/*
 * Listeners that survive running out of descriptors. When accept() fails
 * (EMFILE, ENFILE, ENOBUFS...), libevent tries again on the next loop turn,
 * and the next, as long as a connection waits in the backlog: a busy loop
 * that burns a CPU. A watched listener stops accepting for a short pause
 * instead, says so in one rate-limited log line, counts it, and then
 * accepts again by itself; the connections wait in the kernel's backlog
 * meanwhile.
 *
 * Every listener of both daemons is watched (the cloud's tunnel listener,
 * the edge's device listeners, the admin socket, /metrics). Listeners are
 * set up, paused, resumed and freed on one event loop per process (the
 * cloud's control loop), so the watch list takes no lock.
 */
#ifndef ISTHMUS_ACCEPTGUARD_H
#define ISTHMUS_ACCEPTGUARD_H

#include <stdio.h>

#include <event2/listener.h>

/* How long a listener stops accepting after a failed accept(). */
#define ACCEPTGUARD_PAUSE_MS 250

/* Watches l; name says which listener in the log ("tunnel", "admin", a
 * device listener's name). 0, or -ENOMEM (then l is as before). */
int acceptguard_watch(struct evconnlistener *l, const char *name);
/* Forgets l (a pause in progress is cancelled and the listener left as
 * it is): before freeing it, or disabling it for good (a drain). Does
 * nothing for a listener not watched. */
void acceptguard_release(struct evconnlistener *l);
/* isthmus_accept_paused_total{reason}: the pauses, by what accept() said. */
void acceptguard_metrics(FILE *f);

#endif
