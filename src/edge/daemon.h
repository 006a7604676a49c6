/*
 * The running edge gateway's state, shared by edge.c (the daemon),
 * reload.c, tunnels.c, the device side (device/) and status.c and
 * metrics.c, which report on it. Functions on it are in the headers of
 * the files that own each part (tunnels.h, device/listener.h, ...).
 */
#ifndef ISTHMUS_EDGE_DAEMON_H
#define ISTHMUS_EDGE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "common/names.h"
#include "edge/config.h"
#include "edge/device/devtls.h"
#include "edge/device/httpdev.h"
#include "edge/uplink/uplink.h"

/* Why a device's stream was refused by the cloud (from its status). */
enum edge_refusal {
	EDGE_REFUSE_UNKNOWN_SERVICE,	/* 403 */
	EDGE_REFUSE_NO_BACKEND,		/* 503 */
	EDGE_REFUSE_OTHER,
	EDGE_REFUSE_COUNT
};

static inline const char *
edge_refusal_name(enum edge_refusal r)
{
	static const char *const names[EDGE_REFUSE_COUNT] = {
		[EDGE_REFUSE_UNKNOWN_SERVICE] = "unknown_service",
		[EDGE_REFUSE_NO_BACKEND] = "no_backend",
		[EDGE_REFUSE_OTHER] = "other",
	};

	return (unsigned)r < EDGE_REFUSE_COUNT ? names[r] : "?";
}

/* The reason a refusal's status stands for. */
static inline enum edge_refusal
edge_refusal_of(int status)
{
	return status == 403 ? EDGE_REFUSE_UNKNOWN_SERVICE :
	    status == 503 ? EDGE_REFUSE_NO_BACKEND : EDGE_REFUSE_OTHER;
}

struct cache;
struct collectors;
struct edge;
struct log_limit;
struct manage;
struct sdnotify;
struct sfq;
struct trust;

struct edge_listener {
	struct edge *e;
	struct edge_conf *cf;		/* a reference: lc lives in it */
	const struct edge_listener_conf *lc;
	struct evconnlistener *l;
	struct devtls *devtls;		/* device mTLS, or NULL */
	unsigned tls_gen;		/* a new devtls each reload */
	/* A reload keeps a listener whose address stays (its socket, its
	 * devices, its counters) and gives it the new settings. One it
	 * removed is closed: no socket, off e->listeners, freed when the
	 * last device connection that points here ends. */
	unsigned users;			/* device connections */
	bool closed;
	struct edge_listener *next_closed;	/* e->closed */
	char bound[80];
	struct {
		uint64_t accepted;	/* device connections */
		uint64_t dropped;	/* waited for the tunnel in vain */
		uint64_t unmapped;	/* transparent: no service for the
					 * original destination */
		uint64_t refused[EDGE_REFUSE_COUNT];
		uint64_t idle_closed;	/* ended by stream_idle_timeout */
		unsigned open;		/* streams open now */
		/* HTTP mode */
		uint64_t http_requests;
		uint64_t http_errors[HD_ERR_COUNT];	/* answered by us */
		/* store and forward (docs/queue.md): POST and PUT answered
		 * straight through, answered once queued, or refused 503
		 * because the queue did not take them */
		uint64_t sf_direct, sf_queued, sf_refused;
		/* device mTLS */
		uint64_t tls_accepted;
		uint64_t tls_refused[DT_COUNT];
		uint64_t tls_revoked;	/* disconnected by a reload */
	} stats;
};

/* One tunnel to the cloud with what it was made from. A reload that
 * changes any of that makes a new one, admitted before the old one
 * drains (make before break). */
struct edge_tunnel {
	struct edge *e;
	struct uplink *up;
	SSL_CTX *ctx;
	struct edge_conf *cf;		/* a reference: the uplink reads it */
	uint8_t digest[32];		/* of its keys' values and files */
	bool down;			/* retired, and its tunnel closed */
	struct edge_tunnel *next;	/* e->retired */
};

struct edge {
	struct event_base *base;
	struct edge_conf *cf;		/* the running configuration */
	/* tun carries new streams; next_tun, after a reload, is being
	 * admitted; retired ones finish their streams. */
	struct edge_tunnel *tun, *next_tun, *retired;
	struct uplink *up;		/* tun's */
	struct event *reap_ev;		/* frees retired tunnels */
	struct edge_listener **listeners;
	size_t nlisteners;
	struct edge_listener *closed;	/* removed, with devices left */
	uint64_t reloads, reload_failures;
	struct pending *pending;	/* device/pending.c */
	unsigned npending;		/* TCP and HTTP, waiting for the tunnel */
	struct httpdev *httpdevs;	/* HTTP-mode device connections */
	struct handshake *handshakes;	/* device TLS handshakes */
	struct cache *cache;		/* when a listener has cache = on */
	struct manage *manage;		/* the management stream */
	/* trust on first use (trust/trust.h): open when the configuration
	 * learns certificates (edge_conf_uses_trust), else NULL */
	struct trust *trust;
	struct collectors *collectors;	/* collect/collect.h, or NULL */
	/* the store-and-forward queue (queue/queue.h): open when a
	 * listener may queue (edge_conf_may_queue), else NULL */
	struct sfq *queue;
	/* Who takes the answers to PINGs that are not a keepalive's, on
	 * whichever tunnel (a readiness test's round trips): set while
	 * one runs, so no tunnel holds a pointer to it. */
	void (*pong)(const uint8_t opaque[8], void *arg);
	void *pong_arg;
	bool draining;
	/* READY=1 was sent: the first admission attempt has ended */
	bool sd_ready;
	struct sdnotify *sd;		/* WATCHDOG=1, when systemd asks */
	time_t started;
	/* who we are, from our certificate */
	char name[NAME_MAX_LEN + 1], tenant[NAME_MAX_LEN + 1];
	int64_t cert_not_after;
	struct admin *admin;
	struct metrics_http *metrics;
	char metrics_bound[80];
	struct log_limit *lim_device;
	struct event *sig_term, *sig_int, *sig_hup, *drain_timer;
	struct event *drain_poll;	/* edge_drain_end's next look */
};

#endif
