/*
 * The cloud's state store (docs/cloud.md, "The state store"): what the
 * cloud remembers across restarts, starting with the fleet registry (every
 * edge it ever admitted, up or down, and a bounded history of its
 * connects and disconnects), then the instructions to edges (the audit
 * log) and the readiness tests' results.
 *
 * The data path never waits on it. Writes are queued and done off the
 * event loop; while the store is unavailable (its file unwritable, its
 * disk gone) they wait in bounded memory, are written when it is back,
 * and what did not fit is counted as dropped, never blocking a tunnel.
 * Reads answer through a callback on the loop that asked.
 *
 * Backends: SQLite (sqlite.c), on a thread of its own, the file in WAL
 * mode, for `state = FILE`; PostgreSQL (pg.c), libpq's asynchronous API
 * on the loop, for `state = postgresql://...` (several cloud replicas
 * share one). The schema and its versioned migrations are schema.c's,
 * the same for both.
 */
#ifndef ISTHMUS_CLOUD_STORE_H
#define ISTHMUS_CLOUD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/err.h"
#include "common/names.h"

/* Registry writes waiting for the store, at most; past it they are
 * dropped and counted. */
#define STORE_QUEUE_MAX 4096
/* The strings those writes carry (results, mostly: a readiness result
 * or an instruction's may be 192 KiB), in bytes, at most: past it a
 * write is dropped and counted too, so a store that is down for long
 * holds at most this much of them. */
#define STORE_QUEUE_BYTES_MAX (32u * 1024 * 1024)
/* Connects and disconnects kept per edge. */
#define STORE_HISTORY_MAX 50

struct store;

/* An edge's tunnel came up or went down, as the cloud saw it; or (hello)
 * the edge said its version on its management stream: then only version
 * is written, and no history line. */
struct store_edge_event {
	const char *tenant, *edge;
	bool up;
	bool hello;
	int64_t at;			/* Unix seconds */
	const char *peer;		/* "ip:port" the tunnel came from */
	/* up only (NULL or 0 otherwise): */
	const char *serial;		/* the certificate's, lowercase hex */
	int64_t not_after;		/* the certificate's, Unix seconds */
	const char *version;		/* what the edge reports, or NULL
					 * (the last one reported stays) */
	/* down only: */
	const char *reason;		/* why it ended (a log reason label) */
};

/* One edge of the registry. */
struct store_edge {
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	int64_t first_seen, last_seen;	/* Unix seconds */
	char peer[64];
	char serial[48];
	int64_t not_after;
	char version[32];
	bool up;
	int64_t up_since;		/* when its tunnel came up, if up */
	char last_reason[64];		/* why it last went down */
};

/* One line of an edge's history, newest first. */
struct store_history {
	int64_t at;
	bool up;
	char peer[64];
	char reason[64];
};

struct store_stats {
	bool available;		/* the last write or read went through */
	uint64_t written;	/* registry events stored */
	uint64_t dropped;	/* events that found the queue full */
	uint64_t errors;	/* failed attempts (each is retried) */
	size_t queued;		/* waiting now */
	/* Round trips to the database (a write batch, a read), in
	 * microseconds: how many, their sum, the slowest. */
	uint64_t ops, op_us_sum, op_us_max;
	/* Instructions waiting for their edge, as of the last sweep. */
	uint64_t waiting;
};

/*
 * Opens the store in file path (SQLite), creating it and applying the
 * schema's migrations. A file whose schema is newer than this isthmus is
 * refused (-EPROTO) and never written; one that cannot be opened now is
 * not an error: the store starts unavailable (store_get_stats), e says
 * why, and it tries again by itself.
 */
int store_open(struct event_base *base, const char *path, struct store **out,
    struct err *e);
/* state as it may be logged or shown: a PostgreSQL URI's password (in
 * its user info or as password=) left out; a file name as it is. */
void store_safe_name(const char *state, char *buf, size_t cap);
/* Writes what is queued (within a few seconds), then closes. */
void store_close(struct store *s);

/* Queues ev (copied); -ENOBUFS when the queue is full (counted). */
int store_edge_event(struct store *s, const struct store_edge_event *ev);

/* The answer to a read, on the loop: rc 0 or -errno (-EIO: the store is
 * unavailable, e says why). The arrays are valid during the call only. */
typedef void (*store_edges_fn)(int rc, const struct store_edge *v, size_t n,
    const struct err *e, void *arg);
typedef void (*store_history_fn)(int rc, const struct store_history *v,
    size_t n, const struct err *e, void *arg);

/* Every edge of tenant (NULL: all), down ones included, by tenant and
 * name. Asked after a store_edge_event, it sees that event. */
int store_list_edges(struct store *s, const char *tenant,
    store_edges_fn done, void *arg);
/* One edge's history, newest first. */
int store_edge_history(struct store *s, const char *tenant, const char *edge,
    store_history_fn done, void *arg);

void store_get_stats(struct store *s, struct store_stats *st);

/* --- Instructions and the audit log (docs/cloud.md, "Managing edges") --
 *
 * An instruction is recorded before it is sent (store_instruction_add
 * answers once it is written), and its row is the audit log's entry: who
 * issued what for which edge, when it was delivered, and its one outcome.
 * States: "waiting" (not delivered: the edge is down), "sent", then one of
 * the outcomes of common/proto.h (MANAGE_O_*). The first outcome is final:
 * a later one (a result after a timeout) changes nothing.
 */

/* Instructions waiting for one edge, at most (store_instruction_add says
 * -ENOSPC past it). */
#define STORE_WAITING_MAX 100
#define STORE_STATE_WAITING "waiting"
#define STORE_STATE_SENT "sent"

struct store_instruction {
	int64_t seq;			/* the store's order; 0 when adding */
	char id[33];			/* MANAGE_ID_MAX hex digits */
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	char kind[33];
	char issuer[65];
	char *args;			/* a JSON array of strings */
	int64_t issued;			/* Unix seconds */
	int64_t expires;		/* not delivered by then: expired */
	int64_t sent;			/* 0: not yet */
	int64_t answer_by;		/* sent, no outcome by then: timeout */
	int64_t done;			/* when it got its outcome; 0: not yet */
	char state[16];			/* waiting, sent, or an outcome */
	char *result;			/* JSON text, or NULL */
	char error[512];
};

/* Which instructions a read returns. Any field left empty/0 does not
 * filter. */
struct store_audit_filter {
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	char id[33];
	int64_t since;			/* issued at or after */
	unsigned limit;			/* the newest limit; 0: 1,000 */
};

/* A write's answer, on the loop: 0, -EIO (unavailable; e says why),
 * -ENOSPC (too many waiting for that edge). */
typedef void (*store_done_fn)(int rc, const struct err *e, void *arg);
/* Instructions read, valid during the call only: for store_audit, newest
 * first; for the others, oldest first (seq). */
typedef void (*store_instructions_fn)(int rc,
    const struct store_instruction *v, size_t n, const struct err *e,
    void *arg);

/* Records in (state "waiting", copied), then done. Never queued behind a
 * store that is down: an instruction that cannot be recorded now is
 * answered -EIO at once and must not be sent. */
int store_instruction_add(struct store *s, const struct store_instruction *in,
    store_done_fn done, void *arg);
/* Queued writes, like registry events (kept while the store is down,
 * dropped and counted past STORE_QUEUE_MAX): in was delivered at `at`, to
 * be answered by answer_by; in got its outcome (state one of MANAGE_O_*,
 * result JSON text or NULL, error or NULL). Each applies only to a row
 * still waiting or sent. */
int store_instruction_sent(struct store *s, const char *id, int64_t at,
    int64_t answer_by);
int store_instruction_done(struct store *s, const char *id, const char *state,
    const char *result, const char *error, int64_t at);
/* An edge's management stream opened: its instructions still waiting,
 * oldest first, after those past their expiry were marked expired. */
int store_instructions_waiting(struct store *s, const char *tenant,
    const char *edge, int64_t now, store_instructions_fn done, void *arg);
/* Marks expired (waiting past expires) and timed out (sent past
 * answer_by) as of now; done gets the rows it changed, with their new
 * state. */
int store_instructions_sweep(struct store *s, int64_t now,
    store_instructions_fn done, void *arg);
/* The audit log: instructions matching f, newest first. */
int store_audit(struct store *s, const struct store_audit_filter *f,
    store_instructions_fn done, void *arg);

/* --- Readiness results (docs/readiness.md) ------------------------------
 *
 * One row per test, keyed by its instruction's id: the edge, tenant,
 * profile, time and verdict beside the result's JSON document, for the
 * report (`isthmus readiness`).
 */

/* A list's answer carries at most this many bytes of results: past it
 * the oldest rows of the answer come with result NULL (their other
 * fields are there), so 10,000 results of 192 KiB never sit in memory
 * at once. */
#define STORE_READINESS_BYTES_MAX (64u * 1024 * 1024)
/* Rows of one list: by default, at most. */
#define STORE_READINESS_LIMIT 1000
#define STORE_READINESS_LIMIT_MAX 10000

struct store_readiness {
	char id[33];
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	char profile[NAME_MAX_LEN + 1];
	char issuer[65];		/* from the instruction's row */
	int64_t at;			/* the test's start, Unix seconds */
	int64_t received;		/* when the cloud stored it */
	char verdict[16];
	bool late;
	char *result;			/* JSON text */
};

/* Which results a list returns. Any field left empty/0 does not
 * filter. */
struct store_readiness_filter {
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	int64_t since;			/* at or after */
	unsigned limit;			/* the newest limit; 0: 1,000; at
					 * most 10,000 */
};

/* A queued write (like store_instruction_done: kept while the store is
 * down, dropped and counted past STORE_QUEUE_MAX or
 * STORE_QUEUE_BYTES_MAX). Stored only when r->id is a `readiness`
 * instruction of (tenant, edge) in the instructions table and the
 * readiness table has no row for it yet (a second delivery changes
 * nothing); issuer comes from the instruction's row, r->issuer is not
 * read; r->received 0 is now. r is copied. 0, -EINVAL (no id, tenant,
 * edge or result), -EMSGSIZE (a result over MANAGE_RESULT_MAX),
 * -ENOBUFS (the queue is full), -ENOMEM. */
int store_readiness_add(struct store *s, const struct store_readiness *r);

/* A list's answer, on the loop: rc 0 or -errno (-EIO: the store is
 * unavailable, e says why). The rows and their results are valid during
 * the call only; a result is NULL past STORE_READINESS_BYTES_MAX. */
typedef void (*store_readiness_fn)(int rc, const struct store_readiness *v,
    size_t n, const struct err *e, void *arg);
/* Results matching f, oldest first (the newest f->limit of them, by
 * at). Asked after a store_readiness_add, it sees that result. */
int store_readiness_list(struct store *s,
    const struct store_readiness_filter *f, store_readiness_fn done,
    void *arg);

#endif
