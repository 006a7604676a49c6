/*
 * The cloud's data side of readiness tests (docs/readiness.md; the wire
 * contract is docs/protocol.md, section 6): the tests it issued that may
 * still run, and what they may use of it.
 *
 *   readiness.c  the whole, made and freed with the daemon;
 *   table.c   the live tests: per instruction id, its edge, its key, the
 *             bytes it may still move each way, the UDP probes it took;
 *             a mutex guards it, as the control loop (issuing, UDP) and
 *             every worker (throughput streams) use it;
 *   flow.c    the throughput streams at DIAG_AUTHORITY on the edge's own
 *             tunnel (READY_PATH_DOWN, READY_PATH_UP), in the tunnel's
 *             worker;
 *   udp.c     the UDP reflector on `readiness_udp`, in the control loop:
 *             echoes a probe whose MAC, test and seq are good, and drops
 *             (and counts) every other datagram;
 *   metrics.c their Prometheus families.
 *
 * The key of a test lives here only, for the test's life: it is never
 * stored or logged, and is wiped when the test ends.
 */
#ifndef ISTHMUS_CLOUD_READINESS_H
#define ISTHMUS_CLOUD_READINESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#include "common/confparse.h"
#include "common/err.h"
#include "common/names.h"
#include "common/proto.h"

struct relay;
struct ready;
struct tunnel;

/* How long past its instruction's deadline a test's streams and probes
 * are still taken: its last probes and bytes may still be travelling. */
#define READY_GRACE_S 5

/* A test the cloud issues (manage/hub.c), as the table keeps it. */
struct ready_spec {
	char id[MANAGE_ID_MAX + 1];	/* 32 lowercase hex digits */
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	uint8_t key[READY_UDP_KEY_LEN];
	uint64_t down, up;		/* body bytes it may move, each way */
	uint32_t packets;		/* UDP probes it may send; 0: none */
	int64_t deadline;		/* the instruction's, Unix seconds */
};

/* The cloud's readiness state, on the control loop's base (a timer prunes
 * ended tests each second). */
int ready_new(struct event_base *base, struct ready **out);
/* After the workers stopped; NULL is fine. */
void ready_free(struct ready *rd);

/* Binds the reflector on hp (port 0: the kernel picks); bound gets
 * "IP:PORT". Once, at start: a reload does not move it. */
int ready_udp_listen(struct ready *rd, const struct hostport *hp,
    char *bound, size_t cap, struct err *e);
/* The reflector's port, for the instructions' params; 0 without one. */
unsigned ready_udp_port(const struct ready *rd);

/* Registers s (any thread): a test of that id already there is replaced
 * (the instruction went down again, with a fresh key). -ENOMEM, -EINVAL
 * (an id that is not 32 hex digits). */
int ready_issue(struct ready *rd, const struct ready_spec *s);

/* Test id is over (its result came): its streams and probes are refused
 * from now on, and its key is wiped (any thread). */
void ready_end(struct ready *rd, const char *id);

/* A READY_PATH_* request on tunnel t (stream.c, in the tunnel's worker):
 * answered, refused or run here. */
void ready_flow_start(struct tunnel *t, struct relay *r);

/* Prometheus families: probes by result, bytes by direction, tests live. */
void ready_metrics(struct ready *rd, FILE *f);

#endif
