/*
 * An edge's tunnel as the cloud's files see it (private to src/cloud/):
 * its layout and the accessors the stream side (stream.c, httpfwd.c,
 * diag.c, refuse.c) and the workers use. tunnel.c makes, re-checks and
 * frees tunnels; the streams only read them through this header, so they
 * never call back into tunnel.c, which hands them its streams.
 */
#ifndef ISTHMUS_CLOUD_TUNNEL_INT_H
#define ISTHMUS_CLOUD_TUNNEL_INT_H

#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent.h>

#include "cloud/cloud-int.h"
#include "cloud/config.h"
#include "cloud/dial.h"
#include "cloud/policy.h"

struct h2conn;
struct keepalive;

struct tunnel {
	struct cloud *cl;
	struct worker *w;
	struct tunnel *next, **pprev;
	struct cloud_conf *conf;	/* a reference */
	struct bufferevent *bev;	/* during the handshake */
	struct event *hs_timer;		/* the whole handshake's limit */
	struct h2conn *h2;
	const struct cloud_edge *edge;
	enum admit admit;
	int verify_err;
	int peer_alert;			/* the TLS alert the edge sent us */
	char edge_name[NAME_MAX_LEN + 1];
	char peer[64];
	struct sockaddr_storage peer_ss;
	time_t started;
	/* Once up: its keepalive, and the end of the edge's certificate. */
	struct keepalive *ka;
	struct event *expiry_timer;
	bool probe;			/* atomic: PING now (worker.c) */
	struct dial_gate gate;
	bool gate_ready;
	const char *end_reason;		/* why it ends, for the registry */
	char end_buf[64];
};

static inline struct tunnel *
tunnel_next(struct tunnel *t)
{
	return t->next;
}

/* Every tunnel of every worker; with cl->lock held. */
#define CLOUD_FOREACH_TUNNEL(cl, wi, t)					\
	for ((wi) = 0; (wi) < (cl)->nworkers; (wi)++)			\
		for ((t) = (cl)->workers[(wi)].tunnels; (t) != NULL;	\
		    (t) = tunnel_next(t))

/* For a stream's owner (stream.c, httpfwd.c, diag.c): the tunnel's loop,
 * configuration (the tunnel holds a reference), and who is at its other
 * end. */
static inline struct worker *
tunnel_worker(const struct tunnel *t)
{
	return t->w;
}

static inline struct cloud_conf *
tunnel_conf(const struct tunnel *t)
{
	return t->conf;
}

static inline const char *
tunnel_edge(const struct tunnel *t)
{
	return t->edge_name;
}

static inline const char *
tunnel_tenant(const struct tunnel *t)
{
	return t->edge->tenant->name;
}

static inline const struct cloud_tenant *
tunnel_tenant_of(const struct tunnel *t)
{
	return t->edge->tenant;
}

/* The address the tunnel came from. */
static inline const char *
tunnel_peer(const struct tunnel *t)
{
	return t->peer;
}

/* The tunnel's cap on backend connects in flight (dial.h). */
static inline struct dial_gate *
tunnel_dial_gate(struct tunnel *t)
{
	return &t->gate;
}

#endif
