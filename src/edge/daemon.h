/*
 * The running edge gateway's state, shared by edge.c (the daemon), and
 * status.c and metrics.c, which report on it.
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
#include "edge/devtls.h"
#include "edge/httpdev.h"
#include "edge/uplink.h"

/* Why a device's stream was refused by the cloud (from its status). */
enum edge_refusal {
	EDGE_REFUSE_UNKNOWN_SERVICE,	/* 403 */
	EDGE_REFUSE_NO_BACKEND,		/* 503 */
	EDGE_REFUSE_OTHER,
	EDGE_REFUSE_COUNT
};

const char *edge_refusal_name(enum edge_refusal r);
/* The reason a refusal's status stands for. */
enum edge_refusal edge_refusal_of(int status);

struct cache;
struct edge;
struct log_limit;

struct edge_listener {
	struct edge *e;
	const struct edge_listener_conf *lc;
	struct evconnlistener *l;
	struct devtls *devtls;		/* device mTLS, or NULL */
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
		/* device mTLS */
		uint64_t tls_accepted;
		uint64_t tls_refused[DT_COUNT];
	} stats;
};

struct edge {
	struct event_base *base;
	struct edge_conf *cf;
	SSL_CTX *ctx;
	struct uplink *up;
	struct edge_listener *listeners;
	size_t nlisteners;
	struct pending *pending;
	unsigned npending;		/* TCP and HTTP, waiting for the tunnel */
	struct httpdev *httpdevs;	/* HTTP-mode device connections */
	struct handshake *handshakes;	/* device TLS handshakes */
	struct devtls **devtls;		/* per listener, or NULL */
	struct cache *cache;		/* when a listener has cache = on */
	bool draining;
	time_t started;
	/* who we are, from our certificate */
	char name[NAME_MAX_LEN + 1], tenant[NAME_MAX_LEN + 1];
	int64_t cert_not_after;
	struct admin *admin;
	struct metrics_http *metrics;
	char metrics_bound[80];
	struct log_limit *lim_device;
	struct event *sig_term, *sig_int, *sig_hup, *drain_timer;
};

#endif
