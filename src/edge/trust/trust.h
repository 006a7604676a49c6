/*
 * The running edge's trust on first use (docs/trust.md): the trust
 * store's entries held in memory for the data path, which never waits
 * on the file, and a thread of its own that writes what the edge learns
 * (tstore.h), runs a person's decisions that arrive as instructions, and
 * notices, once a second, a change another process (`isthmus trust`)
 * made, then hands the reloaded table to the loop.
 *
 * A store that cannot be opened (corrupt, unwritable) leaves the edge
 * running: every certificate that needs the store is refused
 * (TV_UNAVAILABLE), it says so (log, status, isthmus_trust_store_up)
 * and tries again every 10 s; the file is never replaced.
 */
#ifndef ISTHMUS_EDGE_TRUST_TRUST_H
#define ISTHMUS_EDGE_TRUST_TRUST_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "common/err.h"
#include <stdio.h>
#include "edge/trust/tstore.h"

struct trust;

/* Opens the store at path on its thread (create when missing). Fails
 * only when out of memory or the thread cannot start; a store that is
 * not there yet or broken is the state described above. expired_ok:
 * the [edge] trust_expired policy (accept). */
int trust_new(struct event_base *base, const char *path, bool expired_ok,
    struct trust **out, struct err *e);
/* A reload's trust_expired. */
void trust_set_expired_ok(struct trust *t, bool expired_ok);
void trust_free(struct trust *t);

enum trust_verdict {
	TV_TRUSTED,		/* the approved certificate of that peer */
	TV_LEARNED,		/* new: recorded pending (logged, counted) */
	TV_WAITING,		/* pending or changed: waits for a person */
	TV_MISMATCH,		/* another than the approved one: recorded
				 * changed if new; trust_mismatch logged */
	TV_REJECTED,		/* a person rejected this certificate */
	TV_EXPIRED,		/* approved, out of its dates, and
				 * trust_expired = refuse */
	TV_UNAVAILABLE,		/* no store: refused */
	TV_FULL,		/* new, but the store's bounds (or its
				 * queue) leave no room to record it:
				 * refused, trust_full logged */
	TV_COUNT
};
const char *trust_verdict_name(enum trust_verdict v);

/* What met the certificate: the peer (tstore.h), where, and by whom. */
struct trust_meet {
	int kind;			/* enum trust_kind */
	const char *peer;
	const char *address;		/* ip:port */
	const char *mac;		/* NULL or "" when none */
	const char *scope;		/* collector or listener name */
};

/*
 * The decision on cert for m, from memory, on the loop (a TLS verify
 * callback may call it). What must be recorded is queued to the thread;
 * the table shows it at once (an entry with id 0 until stored), so a
 * device retrying meanwhile is WAITING, not learned twice. The
 * approved entry's id in *id when there is one (0 else).
 */
enum trust_verdict trust_check(struct trust *t, const struct trust_meet *m,
    X509 *cert, int64_t *id);

/* What the table says of one peer, as a number that changes when any
 * of its certificates comes, goes or changes state (not when an entry
 * the edge met is merely written down): a collector waiting for a
 * person keeps the digest it waited on and looks again only when it
 * moved, so one approval does not make every waiting device be
 * contacted. */
uint64_t trust_peer_digest(const struct trust *t, int kind,
    const char *peer);

/* The verdict trust_check would give, with nothing recorded, logged or
 * counted (LEARNED: it would be learned): for a device admitted earlier
 * that a reload looks at again. */
enum trust_verdict trust_peek(const struct trust *t,
    const struct trust_meet *m, X509 *cert);

/* Called on the loop after the table changed (a decision here or by
 * `isthmus trust`): collectors waiting for a person look again. One
 * watcher per owner; NULL fn removes it. */
typedef void (*trust_changed_fn)(void *arg);
void trust_watch(struct trust *t, trust_changed_fn fn, void *arg);

/* Runs trust_command (tstore.h) on the thread, by who; done gets, on
 * the loop, its result (owned by done) or -errno with a sentence, and
 * the table is reloaded before it runs. done is never called from
 * inside trust_exec. -ENOMEM when it could not be queued. */
typedef void (*trust_done_fn)(int rc, json_t *result, const char *error,
    void *arg);
int trust_exec(struct trust *t, const char *const *args, size_t nargs,
    const char *who, trust_done_fn done, void *arg);
/* Forgets done for arg (its owner ends first): the command still
 * runs, its answer is dropped. */
void trust_exec_cancel(struct trust *t, void *arg);

struct trust_stats {
	bool store_up;
	uint64_t entries[TS_COUNT];
	uint64_t learned[TK_COUNT];
	uint64_t mismatches[TK_COUNT];
	uint64_t refused[TK_COUNT][TV_COUNT];	/* by verdict */
	uint64_t expired;			/* approved, out of dates */
	char error[256];			/* why the store is down */
};
void trust_stats(const struct trust *t, struct trust_stats *out);
/* isthmus_trust_* (docs/trust.md, "Metrics"); t may be NULL (no
 * trust store in use: nothing). */
void trust_metrics(const struct trust *t, FILE *f);
/* "trust" in isthmus status (json: an object {"store", "up", "error",
 * "entries": {state: n}, "mismatches"}, written at a key the caller
 * wrote; text: a line or two). t may be NULL: writes nothing. */
struct jw;
void trust_status(const struct trust *t, const char *conf, bool json,
    struct jw *j, FILE *f);

#endif
