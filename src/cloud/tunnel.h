/*
 * One edge's tunnel at the cloud: the TLS handshake (with admission by
 * policy.c inside certificate verification, so a refused edge gets an
 * alert), then the HTTP/2 session whose CONNECT streams are relayed to the
 * tenant's backends.
 */
#ifndef ISTHMUS_CLOUD_TUNNEL_H
#define ISTHMUS_CLOUD_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <pthread.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cloud/config.h"

struct tunnel;
struct log_limit;
struct handoff;
struct pooled;

/* Why an edge's handshake failed: a metric label and a log field. The
 * reasons up to HSF_SOURCE_ADDRESS are also why a live tunnel is dropped
 * by a re-check (hs_fail_recheckable). */
enum hs_fail {
	HSF_UNTRUSTED,		/* chain does not verify to our CA */
	HSF_REVOKED,
	HSF_EXPIRED,
	HSF_NOT_YET_VALID,
	HSF_CRL_EXPIRED,
	HSF_NO_IDENTITY,	/* policy.h: enum admit */
	HSF_UNKNOWN_EDGE,
	HSF_TENANT_MISMATCH,
	HSF_PIN_MISMATCH,
	HSF_WRONG_USAGE,	/* a CA certificate, or not for clientAuth */
	HSF_SOURCE_ADDRESS,	/* not from the edge's `from` addresses */
	HSF_NO_CLIENT_CERT,
	HSF_ALPN,
	HSF_TLS_VERSION,
	HSF_TIMEOUT,
	HSF_CLOSED,		/* peer went away mid-handshake */
	HSF_PEER_ALERT,		/* the edge refused us: a TLS alert */
	HSF_TLS_ERROR,
	HSF_COUNT
};

const char *hs_fail_name(enum hs_fail f);
/* A reason a live tunnel can be dropped for on a re-check (revoked,
 * expired, pin_mismatch...), as opposed to one only a handshake has
 * (timeout, alpn...). */
bool hs_fail_recheckable(enum hs_fail f);

/*
 * The cloud runs `workers` event loops, one per thread (worker.c); the
 * control loop (listener, admin socket, metrics, health checks, signals)
 * is worker 0's. A tunnel lives in one worker for its whole life: its
 * sockets, streams and backend connections are that loop's.
 */
struct worker {
	struct cloud *cl;
	unsigned idx;
	struct event_base *base;
	struct tunnel *tunnels;		/* under cl->lock */
	unsigned ntunnels;		/* under cl->lock */
	struct log_limit *lim_handshake, *lim_stream, *lim_backend;
	/* Messages from the control loop (worker.c). */
	int efd;
	struct event *inbox;
	unsigned pending;		/* WORKER_* bits, atomic */
	struct handoff *queue;		/* accepted sockets, under cl->lock */
	struct pooled *idle;		/* kept-alive backend connections */
	unsigned nidle;
	pthread_t thread;
	bool threaded;
};

/* What the workers share: the current config and TLS context (swapped by
 * a reload under lock), counters that are not per tenant (a failed
 * handshake has no trusted tenant; atomic, see common/stat.h). cl->lock
 * guards conf and ssl_ctx, every worker's tunnel list and queue; it is
 * recursive, and never held across a loop turn. */
struct cloud {
	struct event_base *base;	/* the control loop: worker 0's */
	struct cloud_conf *conf;
	SSL_CTX *ssl_ctx;
	pthread_mutex_t lock;
	struct worker *workers;
	unsigned nworkers, next_worker;
	bool draining;			/* atomic: workers read it */
	time_t started;
	struct {
		uint64_t handshakes_ok;
		uint64_t handshakes_failed[HSF_COUNT];
		/* live tunnels dropped by a re-check (reload, CRL change,
		 * certificate end), by reason */
		uint64_t tunnels_revoked[HSF_COUNT];
		uint64_t tunnels_reaped;	/* keepalive timeout */
	} stats;
};

/* Takes fd (an accepted TCP connection) and starts the handshake in w;
 * called in w's thread. */
void tunnel_accept(struct worker *w, evutil_socket_t fd,
    const struct sockaddr *sa, int salen);
/* Once, before the workers start. */
void tunnel_init(void);
/* Graceful: GOAWAY, finish open streams. */
void tunnel_shutdown(struct tunnel *t);
void tunnel_free(struct tunnel *t);
/* After a reload: re-check admission under cl->conf; a tunnel whose edge
 * was removed or re-pinned is closed. With cl->lock held. */
void tunnel_recheck(struct tunnel *t);
struct tunnel *tunnel_next(struct tunnel *t);
/* A newer tunnel of the same edge came up: PING this one now (in its
 * worker, after WORKER_PROBE). */
void tunnel_probe(struct tunnel *t);
/* The tunnel's cap on backend connects in flight (dial.h). */
struct dial_gate *tunnel_dial_gate(struct tunnel *t);

/* For a stream's owner (httpfwd.c): the tunnel's loop, configuration
 * (the tunnel holds a reference), and who is at its other end. */
struct worker *tunnel_worker(const struct tunnel *t);
struct cloud_conf *tunnel_conf(const struct tunnel *t);
const char *tunnel_edge(const struct tunnel *t);
const char *tunnel_tenant(const struct tunnel *t);
const struct cloud_tenant *tunnel_tenant_of(const struct tunnel *t);
/* The address the tunnel came from. */
const char *tunnel_peer(const struct tunnel *t);
struct relay;
/* Refuses stream r with status, counted for the tenant under why and
 * logged with the service name svc asked for. */
void tunnel_refuse(struct tunnel *t, struct relay *r, const char *svc,
    enum refusal why, int status);

struct tunnel_info {
	bool up;			/* false: still in its handshake */
	const char *edge, *tenant, *peer;
	long uptime_s;
	unsigned streams_open;
	uint64_t streams_opened, bytes_in, bytes_out;
};

void tunnel_info(const struct tunnel *t, struct tunnel_info *ti);

#endif
