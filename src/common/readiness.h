/*
 * A readiness profile (docs/readiness.md, "Profiles"): what a test
 * measures and what counts as good. The cloud reads it from a
 * [readiness NAME] section (the keys are readiness_keys, for the config
 * loader) and sends it in the instruction's params (docs/protocol.md,
 * section 6); the edge reads it back from there, with the same bounds.
 */
#ifndef ISTHMUS_READINESS_H
#define ISTHMUS_READINESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/config.h"
#include "common/err.h"
#include "common/names.h"

/* The built-in profile's name. */
#define READINESS_DEFAULT "default"

/* Bounds (docs/readiness.md's table). */
#define READINESS_PINGS_MAX 1000
#define READINESS_PING_INTERVAL_MIN_MS 10
#define READINESS_PING_INTERVAL_MAX_MS 10000
#define READINESS_BYTES_MAX (1ull << 30)	/* down, up, budget: 1G */
#define READINESS_BUDGET_MIN (1ull << 20)	/* 1M */
#define READINESS_UDP_RATE_MAX 1000
#define READINESS_UDP_DURATION_MIN_MS 1000
#define READINESS_UDP_DURATION_MAX_MS 120000
#define READINESS_UDP_PACKETS_MAX 100000

/* What the run may take at most, per part (the edge's limits, and the
 * cloud's reckoning of a test's deadline). */
#define READINESS_PATH_MAX_S 30		/* the doctor's path steps */
#define READINESS_PING_LOST_S 5		/* a PING unanswered: lost */
#define READINESS_UDP_WAIT_S 3		/* after the last probe */
#define READINESS_FLOW_MAX_S 60		/* each throughput stream */

/* How the plan reckons wire bytes (docs/readiness.md, "The budget"). */
#define READINESS_FLOW_OVERHEAD_PCT 108	/* 1.08 x body bytes */
#define READINESS_UDP_HEADERS 48	/* IPv6 + UDP */
#define READINESS_PING_BYTES 100

struct readiness_profile {
	char name[NAME_MAX_LEN + 1];
	int line;			/* its section's header; 0: built in */
	bool path;
	int64_t pings;
	uint64_t ping_interval;		/* ms */
	uint64_t down, up;		/* bytes */
	bool udp;
	int64_t udp_rate;		/* packets a second */
	uint64_t udp_duration;		/* ms */
	int64_t udp_size;		/* bytes of UDP payload */
	uint64_t budget;		/* bytes on the wire */
	/* thresholds: warn, fail (struct conf_thresh) */
	struct conf_thresh delay, jitter;	/* ms */
	struct conf_thresh loss;		/* % */
	struct conf_thresh down_rate, up_rate;	/* Mbit/s; lower is worse */
	struct conf_thresh mos;			/* lower is worse */
	struct conf_thresh dns, connect, handshake;	/* ms */
};

/* The keys of a [readiness NAME] section, filling a struct
 * readiness_profile. */
extern const struct conf_key readiness_keys[];
extern const size_t readiness_nkeys;

/* p as the built-in "default" profile (the keys' defaults). */
void readiness_profile_default(struct readiness_profile *p);
/* What the loader cannot check key by key: packets within bounds, the
 * plan within the budget. -EINVAL with e saying what. */
int readiness_profile_check(const struct readiness_profile *p,
    struct err *e);
/* The packets of the UDP train (rate x duration). */
uint64_t readiness_udp_packets(const struct readiness_profile *p);
/* The plan's wire bytes, as the budget reckons them. */
uint64_t readiness_plan_bytes(const struct readiness_profile *p);
/* The longest the test may run, seconds (with udp: whether it will run
 * the UDP train). */
uint64_t readiness_max_seconds(const struct readiness_profile *p, bool udp);

/* p as the params' "profile" object; NULL when out of memory. */
json_t *readiness_profile_json(const struct readiness_profile *p);
/* The params' "profile" object back, with the same bounds and checks as
 * the config's; -EINVAL with e saying which field is wrong. */
int readiness_profile_from_json(json_t *o, struct readiness_profile *p,
    struct err *e);

#endif
