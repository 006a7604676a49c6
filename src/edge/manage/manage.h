/*
 * The edge's side of the management channel (docs/protocol.md, 5;
 * docs/edge.md, "Management"): one long-lived stream on the serving
 * tunnel, opened right after admission, on which the cloud writes
 * instructions and the edge answers them within the site's `manage`
 * policy. channel.c keeps the stream; the daemon tells it which tunnel
 * serves (manage_tunnel) and hands it what only the daemon can do.
 */
#ifndef ISTHMUS_EDGE_MANAGE_H
#define ISTHMUS_EDGE_MANAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/h2conn.h"
#include "edge/manage/policy.h"

struct edge;
struct manage;

/* What the daemon does for an instruction (edge.c gives them). */
struct manage_ops {
	/* The status document, as `isthmus status --json` prints it. */
	void (*status)(struct edge *e, FILE *f);
	/* SIGHUP's reload: 0, or why not in er. */
	int (*reload)(struct edge *e, struct err *er);
};

enum manage_bad {
	MB_OVERSIZED,		/* a line over MANAGE_MSG_MAX */
	MB_MALFORMED,		/* not a valid instruction */
	MB_COUNT
};
const char *manage_bad_name(enum manage_bad b);

struct manage_info {
	bool up;		/* the stream is open and answered 200 */
	bool tunnel;		/* a tunnel serves */
	long retry_ms;		/* waiting to reopen: in; else -1 */
	const char *last_error;	/* why the last stream ended, or "" */
	uint64_t opens;			/* streams opened */
	uint64_t done;			/* instructions answered */
	unsigned running;		/* instructions being carried out */
	uint64_t instructions[MK_COUNT][MO_EDGE_COUNT];
	uint64_t bad[MB_COUNT];
	/* readiness tests: the cloud's schedule (sched_known: it said one,
	 * sched: ... not none), the test running, results kept */
	bool sched_known, sched;
	const char *sched_profile;
	int64_t sched_every, sched_next;	/* seconds, Unix seconds */
	const char *readiness_running;		/* its id, or NULL */
	unsigned kept;
};

int manage_new(struct edge *e, const struct manage_ops *ops,
    struct manage **out);
/* The serving tunnel is h2 now (NULL: none is up): a stream on another
 * tunnel ends, and one is opened on h2. Safe from the tunnel's callbacks:
 * the stream is opened from the loop. */
void manage_tunnel(struct manage *m, struct h2conn *h2);
/* Draining: the stream ends and is not opened again. */
void manage_stop(struct manage *m);
/* Instructions still running are stopped unanswered. */
void manage_free(struct manage *m);
void manage_info(const struct manage *m, struct manage_info *mi);

#endif
