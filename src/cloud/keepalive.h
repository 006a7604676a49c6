/*
 * The cloud's side of a tunnel's liveness. An edge whose link went dark,
 * whose NAT forgot the flow or whose host hung never closes its tunnel;
 * without this the cloud would keep it, its streams and their backend
 * sockets for ever. Every `interval`, a tunnel on which nothing arrived
 * since the last tick gets an HTTP/2 PING; when nothing at all comes back
 * within `timeout`, the owner hears that the tunnel is dead.
 */
#ifndef ISTHMUS_CLOUD_KEEPALIVE_H
#define ISTHMUS_CLOUD_KEEPALIVE_H

#include <stdint.h>

#include <event2/event.h>

struct h2conn;
struct keepalive;

/* The tunnel said nothing for silent_ms, a PING included: the owner
 * drops it (and may free the keepalive from here). */
typedef void (*keepalive_dead_fn)(int64_t silent_ms, void *arg);

int keepalive_new(struct event_base *base, struct h2conn *h2,
    uint64_t interval_ms, uint64_t timeout_ms, keepalive_dead_fn dead,
    void *arg, struct keepalive **out);
void keepalive_free(struct keepalive *ka);
/* The session's pong callback: the PING was answered. */
void keepalive_pong(struct keepalive *ka);
/* PING now, whatever came lately (unless one is out already). */
void keepalive_probe(struct keepalive *ka);

#endif
