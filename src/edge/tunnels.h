/*
 * The edge's tunnels (tunnels.c): struct edge_tunnel is in daemon.h. The
 * daemon (edge.c) starts and stops them; a reload (reload.c) makes new
 * ones and retires old ones.
 */
#ifndef ISTHMUS_EDGE_TUNNELS_H
#define ISTHMUS_EDGE_TUNNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "edge/daemon.h"

/* A tunnel made from cf and ctx (taken, even on failure). */
int edge_tunnel_new(struct edge *e, struct edge_conf *cf, SSL_CTX *ctx,
    const uint8_t digest[32], struct edge_tunnel **out);
/* t carries no new stream: those open finish, then it goes. */
void edge_tunnel_retire(struct edge *e, struct edge_tunnel *t);
/* t serves now, the running one is returned, to retire or free. */
struct edge_tunnel *edge_tunnel_take_over(struct edge *e,
    struct edge_tunnel *t);
/* At once, its streams cut (they end on the loop as on a lost tunnel). */
void edge_tunnel_free(struct edge_tunnel *t);
/* Who we are, for status and metrics: from the serving tunnel's
 * certificate. */
void edge_note_identity(struct edge *e);
/* One line on the serving tunnel for systemd's STATUS= ("admitted to
 * HOST:PORT", "cloud unreachable (HOST:PORT): why; retrying"). */
void edge_tunnel_status(const struct edge *e, char *buf, size_t cap);
/* The timer that frees retired tunnels once their last stream ended. */
int edge_tunnels_init(struct edge *e);
bool edge_tunnels_idle(struct edge *e);
/* Draining: the loop ends once no tunnel carries a stream and the queue
 * writes no request whose device waits for its answer (looked at again
 * every few ms meanwhile; drain_timeout bounds it all). */
void edge_drain_end(struct edge *e);
/* At the end of the loop: every tunnel stops; then all are freed. */
void edge_tunnels_stop(struct edge *e);
void edge_tunnels_free(struct edge *e);

#endif
