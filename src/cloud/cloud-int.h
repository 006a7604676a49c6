/*
 * What the cloud's files share (private to src/cloud/): the gateway's
 * state (struct cloud), its worker loops (struct worker), the lock that
 * guards both, and the writing half of a worker's inbox. The lowest layer
 * of the folder: tunnels, streams, dials and the backend pool use it;
 * worker.c, which reads the inbox and runs the threads, sits above the
 * tunnels it drives, so nothing here calls up into it.
 */
#ifndef ISTHMUS_CLOUD_CLOUD_INT_H
#define ISTHMUS_CLOUD_CLOUD_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <event2/event.h>
#include <openssl/ssl.h>

struct cloud_conf;
struct handoff;
struct log_limit;
struct manage_hub;
struct pooled;
struct ready;
struct tunnel;

/* Why an edge's handshake failed: a metric label and a log field. The
 * reasons up to HSF_SOURCE_ADDRESS are also why a live tunnel is dropped
 * by a re-check (hs_fail_recheckable, tunnel.h). */
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
	/* The state store (cloud/store/), or NULL without `state`; any
	 * worker queues its tunnels' ups and downs there. */
	struct store *store;
	/* The management channel's hub (manage/): sessions, deliveries. */
	struct manage_hub *hub;
	/* Readiness tests' data side (readiness/): the live tests, the
	 * UDP reflector. */
	struct ready *ready;
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

/* What a worker's inbox carries; worker.c acts on them in the worker's
 * own loop. */
enum {
	WORKER_RECHECK = 1u << 0,	/* a reload: re-admit every tunnel */
	WORKER_SHUTDOWN = 1u << 1,	/* drain: GOAWAY on every tunnel */
	WORKER_EXIT = 1u << 2,		/* leave the loop, close what is left */
	WORKER_EMPTY = 1u << 3,		/* to worker 0: a draining worker ran
					 * empty */
	WORKER_PROBE = 1u << 4,		/* PING the tunnels marked probe */
	WORKER_MANAGE = 1u << 5,	/* instructions for its sessions */
};

static inline void
cloud_lock(struct cloud *cl)
{
	pthread_mutex_lock(&cl->lock);
}

static inline void
cloud_unlock(struct cloud *cl)
{
	pthread_mutex_unlock(&cl->lock);
}

/* Posts msg bits to w (any thread): the inbox is an eventfd and a few
 * flag bits, so no libevent call ever crosses threads. */
static inline void
worker_post(struct worker *w, unsigned msg)
{
	uint64_t one = 1;

	__atomic_fetch_or(&w->pending, msg, __ATOMIC_RELEASE);
	/* A full counter (never, at 2^64) or EAGAIN still leaves the
	 * eventfd readable, which is all the wakeup needs. */
	(void)!write(w->efd, &one, sizeof(one));
}

#endif
