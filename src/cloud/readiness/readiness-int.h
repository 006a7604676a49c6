/*
 * What the readiness files share (private to src/cloud/readiness/): the
 * state behind struct ready and the table's lookups. Every field of a
 * struct ready_test is under rd->mu; the counters are atomic
 * (common/stat.h).
 */
#ifndef ISTHMUS_CLOUD_READINESS_INT_H
#define ISTHMUS_CLOUD_READINESS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <pthread.h>

#include <event2/event.h>

#include "cloud/readiness/readiness.h"

/* Why a datagram got its answer, or none: the probes metric's labels. */
enum ready_probe {
	RP_ECHOED,
	RP_MALFORMED,		/* not a probe of this protocol version */
	RP_UNKNOWN_TEST,	/* no live test of that id (or it ended) */
	RP_BAD_MAC,
	RP_DUPLICATE,		/* a seq taken already: a replay */
	RP_OVER_COUNT,		/* a seq at or past the test's count */
	RP_COUNT
};

struct ready_test {
	struct ready_test *next;
	struct ready_spec s;
	uint8_t bid[16];		/* s.id's bytes: the probes' test */
	int64_t expires;		/* s.deadline + READY_GRACE_S */
	bool down_ran, up_ran;		/* each direction runs once */
	uint32_t taken;			/* probes echoed */
	uint8_t *seen;			/* a bit per seq below s.packets */
};

struct ready {
	pthread_mutex_t mu;
	struct ready_test *tests;	/* under mu */
	struct event_base *base;	/* the control loop's */
	struct event *prune;
	/* the reflector (udp.c) */
	int fd;
	struct event *udp_ev;
	struct ready_udp_bufs *udp_bufs;
	unsigned udp_port;
	/* counters */
	uint64_t probes[RP_COUNT];
	uint64_t bytes_down, bytes_up;
};

/* Now, as the tests' expiry counts it (Unix seconds, like deadlines). */
int64_t ready_now(void);

/* With rd->mu held: the live test named id (32 hex digits) or bid (its
 * bytes), or NULL when there is none or it expired. */
struct ready_test *ready_find(struct ready *rd, const char *id, int64_t now);
struct ready_test *ready_find_bin(struct ready *rd, const uint8_t bid[16],
    int64_t now);

/* Unlinks and frees the tests that ended before now (every one, with
 * INT64_MAX), wiping their keys. */
void ready_prune(struct ready *rd, int64_t now);

/* The reflector's end (udp.c), from ready_free. */
void ready_udp_close(struct ready *rd);

const char *ready_probe_name(enum ready_probe p);

#endif
