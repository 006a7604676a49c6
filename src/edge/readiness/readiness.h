/*
 * The edge's readiness test (docs/readiness.md): what the site's link
 * will give real-time traffic, measured on the edge's own loop, in
 * order: the path on a second short-lived connection (the doctor's
 * steps), the round trip over the live tunnel (HTTP/2 PINGs), a
 * voice-like UDP train to the cloud's echo port, goodput down and up on
 * streams of the live tunnel, and a G.711 voice estimate; each measure
 * with its verdict against the profile's thresholds. Nothing in it blocks
 * the loop, and it never puts more on the wire than the profile's plan.
 *
 * The management channel runs it (manage/run_readiness.c); one at a
 * time is the caller's rule.
 */
#ifndef ISTHMUS_EDGE_READINESS_H
#define ISTHMUS_EDGE_READINESS_H

#include <jansson.h>

#include "common/err.h"

struct edge;
struct rtest;

/* From the loop, once: the result document (docs/readiness.md,
 * "Results"; the callee owns it, NULL when out of memory). The test is
 * freed right after. */
typedef void (*rtest_done_fn)(json_t *result, void *arg);

/*
 * Starts the test of instruction id with its params (docs/protocol.md,
 * section 6), with the edge's limits (readiness_max_bytes,
 * readiness_udp). 0 and *out; -EINVAL with er's sentence for bad
 * params; -EPERM with er's sentence when the profile's budget is over
 * readiness_max_bytes (a refusal of the site's); -ENOMEM.
 */
int rtest_start(struct edge *e, const char *id, json_t *params,
    rtest_done_fn done, void *arg, struct rtest **out, struct err *er);
/* Stops the test now; done is not called. */
void rtest_cancel(struct rtest *t);

#endif
