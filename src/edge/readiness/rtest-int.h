/*
 * What the files of edge/readiness/ share (private to the folder): the
 * test's state and each measure's entry. rtest.c runs the measures in
 * order; each measure (path.c, ping.c, udp.c, flow.c) writes its figures
 * into the result (result.c's helpers) and then calls t->step_done from
 * the loop, never from inside a library's callback, so that rtest.c may
 * start the next one or free everything. The measures never call
 * rtest.c.
 */
#ifndef ISTHMUS_EDGE_READINESS_INT_H
#define ISTHMUS_EDGE_READINESS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "common/proto.h"
#include "edge/readiness/calc.h"
#include "edge/readiness/params.h"
#include "edge/readiness/readiness.h"

/* Round trips kept in "samples", at most (docs/readiness.md). */
#define RTEST_PING_SAMPLES 200
#define RTEST_UDP_SAMPLES 500

struct rpath;
struct rping;
struct rudp;
struct rflow;

struct rtest {
	struct edge *e;
	char id[MANAGE_ID_MAX + 1];
	uint8_t test_id[16];		/* the probes' test field */
	struct rtest_params prm;
	bool udp_run;			/* the UDP train will run */
	const char *udp_skip;		/* else why not */
	uint64_t plan;			/* wire bytes, as the budget counts */
	uint64_t spent;			/* ... put on the wire so far */
	int64_t t0;			/* mono_us() at the start */
	double started;			/* Unix seconds */
	json_t *measures, *samples;
	unsigned step;			/* the next measure */
	struct event *step_ev;		/* runs it from the loop */
	void (*step_done)(struct rtest *t);
	/* the measure running */
	struct rpath *path;
	struct rping *ping;
	struct rudp *udp;
	struct rflow *flow;
	/* what the voice estimate takes: the train's, else the PINGs' */
	bool have_udp, have_rtt;
	double udp_rtt, udp_jitter, udp_loss;	/* ms, ms, % */
	double rtt_median, rtt_jitter;		/* ms */
	rtest_done_fn done;
	void *arg;
};

/* result.c: the result document's pieces. */
/* Seconds since the test began, for "at". */
double rresult_at(const struct rtest *t);
/* A new measure object {"verdict", "at"} (at < 0: none), set under name
 * in t->measures; NULL when out of memory. */
json_t *rresult_measure(struct rtest *t, const char *name, enum rverdict v,
    double at);
/* A measure that did not run: {"verdict", ["at",] "detail"}. */
void rresult_note(struct rtest *t, const char *name, enum rverdict v,
    double at, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A figure, rounded to decimals. */
void rresult_real(json_t *m, const char *key, double v, int decimals);
void rresult_int(json_t *m, const char *key, int64_t v);
void rresult_str(json_t *m, const char *key, const char *v);
/* Whether cost more bytes keep the test within its plan (and counts
 * them when they do); a predicate. */
bool rresult_spend(struct rtest *t, uint64_t cost);

/* The measures: each starts from the loop and ends with t->step_done;
 * stop ends it at once without it. */
void rpath_start(struct rtest *t);
void rpath_stop(struct rtest *t);
void rping_start(struct rtest *t);
void rping_stop(struct rtest *t);
void rudp_start(struct rtest *t);
void rudp_stop(struct rtest *t);
/* up: POST READY_PATH_UP; else GET READY_PATH_DOWN. */
void rflow_start(struct rtest *t, bool up);
void rflow_stop(struct rtest *t);

#endif
