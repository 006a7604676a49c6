/*
 * Collectors (docs/trust.md, "Collectors"): the edge polls device HTTPS
 * APIs ([collector NAME] in edge.conf) and sends each answer to a
 * service of its tenant through the tunnel, as an HTTP request with the
 * HTTP_COLLECTOR_* fields (common/proto.h).
 *
 * One poll: resolve (evdns), connect, TLS (1.2 or 1.3 as tls_min says)
 * whose certificate check is the collector's trust (tofu through
 * trust.h, pin, or ca with hostname verification); only then the
 * request with its credentials; the answer read with http-parser within
 * max_response; the whole bounded by timeout. An unknown device gets a
 * handshake only: learned, pending, no request. Each collector polls
 * every interval at its own offset (a hash of its name), one poll at a
 * time, at most COLLECT_INFLIGHT_MAX at once across the edge.
 */
#ifndef ISTHMUS_EDGE_COLLECT_COLLECT_H
#define ISTHMUS_EDGE_COLLECT_COLLECT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "edge/config.h"

#define COLLECT_INFLIGHT_MAX 128

struct edge;
struct jw;
struct collectors;

/* The outcome of one poll (isthmus_collections_total{outcome}). */
enum collect_outcome {
	CO_OK,			/* answered and delivered (cloud 2xx) */
	CO_WAITING,		/* the device waits for a person: not polled */
	CO_LEARNED,		/* first contact: handshake only, pending */
	CO_MISMATCH,		/* not the approved certificate: refused */
	CO_REJECTED,		/* a certificate a person rejected */
	CO_UNTRUSTED,		/* pin or ca: the certificate does not pass */
	CO_CONNECT,		/* name, connect or TLS failure */
	CO_TIMEOUT,
	CO_TOO_LARGE,		/* over max_response */
	CO_BAD_RESPONSE,	/* not HTTP/1.x */
	CO_UNDELIVERED,		/* no tunnel, or the cloud did not take it */
	CO_COUNT
};
const char *collect_outcome_name(enum collect_outcome o);

/* Starts e->cf's collectors (none: nothing, *out NULL); uses e->trust
 * (when a collector has trust = tofu) and e->up's tunnel for delivery. */
int collectors_new(struct edge *e, struct collectors **out);
/* A reload: collectors whose settings stay keep their schedule and
 * figures; new ones start; removed ones end (their poll is aborted). */
int collectors_reload(struct collectors *cs, const struct edge_conf *cf);
void collectors_free(struct collectors *cs);

/* isthmus_collect* (docs/trust.md, "Metrics"); cs may be NULL. */
void collectors_metrics(const struct collectors *cs, FILE *f);
/* "collectors" in isthmus status: per collector its url, service,
 * trust, last outcome, when, the device's status and fingerprint, next
 * poll; counts by outcome. cs may be NULL: nothing. */
void collectors_status(const struct collectors *cs, bool json,
    struct jw *j, FILE *f);

#endif
