/*
 * The store-and-forward queue's file (docs/queue.md, "The queue"):
 * STATE_DIR/queue.db, SQLite in WAL mode with synchronous = FULL, the
 * file 0600 in a 0700 directory, held by one process at a time through
 * flock on STATE_DIR/queue.lock. The running edge's thread (worker.c)
 * and `isthmus queue` with no edge running (sfq_exec_offline) open it.
 *
 * Each record is a request a device handed over, with the SHA-256 of
 * what is sent (method, target, fields, body): a record whose sum does
 * not match is never handed out for replay; it becomes a dead letter,
 * reason corrupt.
 *
 * Blocking calls: never from the edge's event loop.
 */
#ifndef ISTHMUS_EDGE_QUEUE_QSTORE_H
#define ISTHMUS_EDGE_QUEUE_QSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "common/hdrs.h"

enum qstate { QS_WAITING, QS_DEAD };
/* Why a record is a dead letter (docs/queue.md; the metric's labels,
 * in sfq_stats.dead_lettered's order). */
enum qreason { QR_NONE = -1, QR_REFUSED, QR_EXPIRED, QR_CORRUPT,
	QR_COUNT };
/* The answer's first bytes a dead letter keeps. */
#define QSTORE_ANSWER_MAX 200

/* "waiting", "dead"; "refused", "expired", "corrupt" (NULL for
 * QR_NONE). */
const char *qstate_name(int state);
const char *qreason_name(int reason);

/* A record, as queued and as read back. Strings and blobs are the
 * record's own (qrecord_free); fields and body are NULL when a listing
 * did not read them. */
struct qrecord {
	int64_t id;			/* order of acceptance; 0 until stored */
	char *key;			/* HTTP_IDEMPOTENCY_KEY's value */
	char *listener, *service, *device, *mac, *method, *target;
	uint8_t *fields;		/* name\0value\0 ... */
	size_t fields_len;
	uint8_t *body;
	size_t body_len;
	int64_t accepted_ms;		/* Unix time, ms */
	uint64_t bytes;			/* method, target, fields, body */
	uint8_t sum[32];
	int state;			/* enum qstate */
	unsigned attempts;
	int last_status;		/* 0: none yet */
	char *last_error;		/* NULL: none */
	int reason;			/* enum qreason */
	int64_t dead_ms;		/* 0: waiting */
};

void qrecord_free(struct qrecord *r);
/* The fields of h, encoded as stored, into r (its fields, fields_len);
 * then the bytes and the sum of r. -ENOMEM. */
int qrecord_set_fields(struct qrecord *r, const struct hdrs *h);
/* The bytes the bounds count: method, target, fields, body. */
uint64_t qrecord_bytes(const struct qrecord *r);
void qrecord_seal(struct qrecord *r);
/* Whether r's sum matches what it holds. */
bool qrecord_intact(const struct qrecord *r);
/* The fields one after the other: *pos starts at 0; false at the end
 * or at a field cut short. */
bool qrecord_next_field(const struct qrecord *r, size_t *pos,
    const char **name, const char **value);

/* len bytes from a peer as text for a person (a dead letter's answer, a
 * listing's fields): valid UTF-8 kept, any other byte and control
 * character (but tab) as '?', cut on a character at cap - 1 bytes;
 * always NUL-terminated. The length written. */
size_t qtext_clean(const void *p, size_t len, char *out, size_t cap);
/* A service's mode as stored: "off", "on", "always"; and back (-1). */
const char *qmode_name(int mode);
int qmode_parse(const char *s);

/* What the loop keeps of each record (queue-int.h). */
struct qindex {
	int64_t id;
	char *service;
	char *device, *mac;
	uint64_t bytes;
	int64_t accepted_ms;
	int state;
	unsigned attempts;
};

/* What the cloud said of a service (sfq_learn). */
struct qservice {
	char *name;
	int mode;			/* enum store_forward */
	bool confidential;
};

struct qstore;

/*
 * Opens path; create: make it (its directory 0700, the file 0600) when
 * missing, else -ENOENT. -EBUSY while another process holds
 * STATE_DIR/queue.lock. A file that is not a queue (not SQLite, another
 * application or schema version, a failed quick_check) is -EINVAL with
 * e naming it; it is never written to. *torn: the bytes of a partial
 * frame at the end of the write-ahead log found before SQLite opened it
 * (a write cut before its commit), or 0.
 */
int qstore_open(const char *path, bool create, struct qstore **out,
    uint64_t *torn, struct err *e);
void qstore_close(struct qstore *s);

/* Transactions: every change below runs inside one (the batch of the
 * thread's group commit). Errors of the changes and of the commit:
 * -ENOSPC when the file system is full (SQLITE_FULL), -EIO otherwise;
 * either way the caller rolls back. Rolling back a transaction SQLite
 * already ended is no error. */
int qstore_begin(struct qstore *s, struct err *e);
int qstore_commit(struct qstore *s, struct err *e);
void qstore_rollback(struct qstore *s);

/* SQLite's page, its default: what a record takes is counted in them. */
#define QSTORE_PAGE 4096

/* The free bytes of the file system holding s (for an unprivileged
 * process), or -1 when it cannot be told. */
int64_t qstore_room(const struct qstore *s);
/* Folds the write-ahead log into the file and cuts it to nothing
 * (SQLite's TRUNCATE checkpoint): the room the log held is free again.
 * -ENOSPC when the file could not grow to take the log, -EIO. */
int qstore_checkpoint(struct qstore *s, struct err *e);

/* Stores r (sealed: qrecord_seal), waiting; sets r->id. */
int qstore_add(struct qstore *s, struct qrecord *r, struct err *e);
/* The backend took it. A record already gone is no error. */
int qstore_delete(struct qstore *s, int64_t id, struct err *e);
/* A replay that is to be sent again: attempts + 1, its status (0: no
 * answer) and why, when it failed without one. */
int qstore_attempted(struct qstore *s, int64_t id, int status,
    const char *error, struct err *e);
/* A waiting record becomes a dead letter: reason, the answer's status
 * (0: none) and first bytes (at most QSTORE_ANSWER_MAX, kept as text
 * when they are UTF-8, else as a note). attempted: this was an answer
 * to a replay (attempts + 1). */
int qstore_kill(struct qstore *s, int64_t id, int reason, int status,
    const void *answer, size_t len, bool attempted, int64_t now_ms,
    struct err *e);
/* A service's setting as learned. */
int qstore_learn(struct qstore *s, const struct qservice *svc,
    int64_t now_ms, struct err *e);

/* Every record as the loop indexes it, oldest first, each waiting
 * record's sum verified: a mismatch is made a dead letter (reason
 * corrupt) here, and its index and service given in corrupt
 * (*ncorrupt of them). Arrays malloc'd (qindex_free). */
int qstore_load(struct qstore *s, struct qindex **out, size_t *n,
    struct qindex **corrupt, size_t *ncorrupt, struct err *e);
void qindex_free(struct qindex *v, size_t n);
int qstore_services(struct qstore *s, struct qservice **out, size_t *n,
    struct err *e);
void qservice_free(struct qservice *v, size_t n);
/* A waiting record to send, whole, its sum verified: -ENOENT when it is
 * gone (or no longer waiting), -EBADMSG when it does not match (it is
 * made a dead letter, reason corrupt, here). */
int qstore_fetch(struct qstore *s, int64_t id, struct qrecord **out,
    struct err *e);

/* For the commands: the records in state (at most max, oldest first,
 * without fields and body) and how many there are. */
int qstore_list(struct qstore *s, int state, size_t max,
    struct qrecord ***out, size_t *n, int64_t *total, struct err *e);
/* One record, whole; -ENOENT. */
int qstore_get(struct qstore *s, int64_t id, struct qrecord **out,
    struct err *e);
/* retry: dead letter id (0: every one) waits again, in its old place;
 * drop: record id (0: every dead letter) deleted. The ids changed,
 * oldest first (malloc'd); -ENOENT when id is no such record (or, for
 * retry, no dead letter: -EALREADY when it is waiting). Each runs in
 * its own transaction. */
int qstore_retry(struct qstore *s, int64_t id, int64_t **ids, size_t *n,
    struct err *e);
int qstore_drop(struct qstore *s, int64_t id, int64_t **ids, size_t *n,
    struct err *e);
void qrecords_free(struct qrecord **v, size_t n);

/*
 * The commands of docs/queue.md ("Operating it") on an open store:
 * args[0] list ["dead"], show ID, retry ID|"dead", drop ID|"dead".
 * *result as queue.h describes. -EINVAL a bad argument, -ENOENT no such
 * record, -EALREADY, else the store's; e says which in a sentence.
 * s NULL: the file does not exist (list answers an empty list).
 */
int qcmd_run(struct qstore *s, const char *const *args, size_t nargs,
    json_t **result, struct err *e);
/* Whether args change the queue (retry, drop). */
bool qcmd_writes(const char *const *args, size_t nargs);

#endif
