/*
 * The edge's one outbound tunnel to the cloud: dial, TLS 1.3 with the
 * cloud's chain, name and pinned key checked, HTTP/2 on top; keepalive
 * PINGs; reconnection with exponential backoff and jitter. The edge only
 * ever dials out and never accepts a stream from the cloud.
 */
#ifndef ISTHMUS_EDGE_UPLINK_H
#define ISTHMUS_EDGE_UPLINK_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/h2conn.h"
#include "edge/config.h"

struct uplink;

enum uplink_state {
	UPLINK_CONNECTING,	/* resolving, connecting or in the handshake */
	UPLINK_UP,
	UPLINK_WAITING,		/* backing off after a failure */
	UPLINK_STOPPED,		/* draining */
};

/* Why a connection to the cloud failed: a metric label. */
enum uplink_fail {
	UF_DNS,			/* the cloud's name did not resolve */
	UF_CONNECT,		/* refused, unreachable */
	UF_PROXY,		/* the site's proxy refused or failed */
	UF_TIMEOUT,		/* connect or handshake took too long */
	UF_CERTIFICATE,		/* the cloud's chain or name did not verify */
	UF_INTERCEPTION,	/* our cloud's name from an untrusted issuer */
	UF_WRONG_SERVER,	/* a certificate for another name */
	UF_EXPIRED,		/* the cloud's certificate expired */
	UF_NOT_YET_VALID,	/* ... or is not valid yet (the clock?) */
	UF_REVOKED,		/* ... or is on our CRL */
	UF_PIN,			/* verified, but not the pinned key */
	UF_ALPN,		/* not an isthmus cloud */
	UF_TLS,			/* other TLS failure */
	UF_REFUSED,		/* the cloud refused our certificate */
	UF_INTERNAL,		/* out of memory */
	UF_COUNT
};

const char *uplink_fail_name(enum uplink_fail f);
const char *uplink_state_name(enum uplink_state s);

/* For status and metrics. */
struct uplink_info {
	enum uplink_state state;
	long state_s;			/* seconds in this state */
	unsigned attempts;		/* failures since the last tunnel */
	long retry_ms;			/* WAITING: next attempt in */
	const char *last_error;		/* "" if none yet */
	const char *proxy;		/* http://user:***@host:port, or "" */
	const char *peer;		/* UP: the cloud's address */
	const char *cloud_subject;	/* UP: its certificate's subject */
	int64_t cloud_not_after;	/* UP: epoch seconds */
	long rtt_us;			/* last keepalive round trip, -1 */
	uint64_t connects, drops;
	uint64_t failures[UF_COUNT];
	uint64_t bytes_in, bytes_out;	/* all tunnels, this one included */
	unsigned streams_open;
	uint64_t streams_opened;
};

void uplink_info(const struct uplink *u, struct uplink_info *ui);

/* Called when the tunnel comes up (h2 usable) and when it goes down
 * (h2 == NULL). */
typedef void (*uplink_state_fn)(struct h2conn *h2, void *arg);

/* The answer to a PING that is not the keepalive's (h2conn_ping_data
 * with data that is not all zeros), with uplink_new's arg; from inside
 * the session: take the time and return. */
typedef void (*uplink_pong_fn)(const uint8_t opaque[8], void *arg);

/* Called when an attempt ended without a tunnel, or the tunnel was lost,
 * and the next attempt is scheduled (uplink_info says why and when);
 * with uplink_new's arg. */
typedef void (*uplink_retry_fn)(void *arg);

int uplink_new(struct event_base *base, const struct edge_conf *cf,
    SSL_CTX *ctx, uplink_state_fn state, void *arg, struct uplink **out);
void uplink_set_pong(struct uplink *u, uplink_pong_fn fn);
void uplink_set_retry(struct uplink *u, uplink_retry_fn fn);
void uplink_start(struct uplink *u);
/* GOAWAY and no reconnection: for a draining edge. */
void uplink_stop(struct uplink *u);
void uplink_free(struct uplink *u);
struct h2conn *uplink_h2(struct uplink *u);
/* A reload's new tunnel took over from `from`: to's counters go on from
 * from's, so that metrics do not go backwards. */
void uplink_carry(struct uplink *to, const struct uplink *from);
/* After a reload: whether the cloud of the tunnel that is up would still
 * be admitted with ctx's CA bundle and CRL, cf's name and cloud_pin
 * (true when no tunnel is up). */
bool uplink_still_trusts(const struct uplink *u, SSL_CTX *ctx,
    const struct edge_conf *cf);

#endif
