/*
 * The edge's one outbound tunnel to the cloud: dial, TLS 1.3 with the
 * cloud's chain, name and pinned key checked, HTTP/2 on top; keepalive
 * PINGs; reconnection with exponential backoff and jitter. The edge only
 * ever dials out and never accepts a stream from the cloud.
 */
#ifndef ISTHMUS_EDGE_UPLINK_H
#define ISTHMUS_EDGE_UPLINK_H

#include <stdbool.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/h2conn.h"
#include "edge/config.h"

struct uplink;

/* Called when the tunnel comes up (h2 usable) and when it goes down
 * (h2 == NULL). */
typedef void (*uplink_state_fn)(struct h2conn *h2, void *arg);

int uplink_new(struct event_base *base, const struct edge_conf *cf,
    SSL_CTX *ctx, uplink_state_fn state, void *arg, struct uplink **out);
void uplink_start(struct uplink *u);
/* GOAWAY and no reconnection: for a draining edge. */
void uplink_stop(struct uplink *u);
void uplink_free(struct uplink *u);
struct h2conn *uplink_h2(struct uplink *u);

#endif
