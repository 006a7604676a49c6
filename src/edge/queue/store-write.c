/*
 * The queue file's changes (qstore.h): a request stored, its answer
 * recorded (deleted, attempted, a dead letter), what a service said,
 * and a person's retry and drop. Every value is bound, never written
 * into the SQL; each statement's failure is the caller's to roll back.
 */
#include "edge/queue/qstore-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
bind_text(sqlite3_stmt *q, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, i);
}

static void
bind_blob(sqlite3_stmt *q, int i, const void *p, size_t len)
{
	/* zeroblob: an empty body is a value, never NULL */
	if (len == 0)
		sqlite3_bind_zeroblob(q, i, 0);
	else
		sqlite3_bind_blob64(q, i, p, len, SQLITE_STATIC);
}

/* Runs a statement that returns no row; a cached one is reset after,
 * so it holds nothing between batches. */
static int
step_done(struct qstore *s, sqlite3_stmt *q, const char *what,
    struct err *e)
{
	int rc = sqlite3_step(q) == SQLITE_DONE ? 0 :
	    qstore_db_error(s, e, what);

	sqlite3_reset(q);
	return rc;
}

int
qstore_add(struct qstore *s, struct qrecord *r, struct err *e)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = qstore_stmt(s, QST_ADD, &q, e)) != 0)
		return rc;
	bind_text(q, 1, r->key != NULL ? r->key : "");
	bind_text(q, 2, r->listener != NULL ? r->listener : "");
	bind_text(q, 3, r->service != NULL ? r->service : "");
	bind_text(q, 4, r->device != NULL ? r->device : "");
	bind_text(q, 5, r->mac != NULL ? r->mac : "");
	bind_text(q, 6, r->method != NULL ? r->method : "");
	bind_text(q, 7, r->target != NULL ? r->target : "");
	sqlite3_bind_int64(q, 8, r->accepted_ms);
	sqlite3_bind_int64(q, 9, (sqlite3_int64)r->bytes);
	sqlite3_bind_blob(q, 10, r->sum, sizeof(r->sum), SQLITE_STATIC);
	bind_blob(q, 11, r->fields, r->fields_len);
	bind_blob(q, 12, r->body, r->body_len);
	if ((rc = step_done(s, q, "cannot store a request", e)) != 0)
		return rc;
	r->id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int
qstore_delete(struct qstore *s, int64_t id, struct err *e)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = qstore_stmt(s, QST_DELETE, &q, e)) != 0)
		return rc;
	sqlite3_bind_int64(q, 1, id);
	return step_done(s, q, "cannot delete a request", e);
}

int
qstore_attempted(struct qstore *s, int64_t id, int status,
    const char *error, struct err *e)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = qstore_stmt(s, QST_ATTEMPTED, &q, e)) != 0)
		return rc;
	if (status > 0)
		sqlite3_bind_int(q, 1, status);
	else
		sqlite3_bind_null(q, 1);
	bind_text(q, 2, error);
	sqlite3_bind_int64(q, 3, id);
	return step_done(s, q, "cannot record an attempt", e);
}

int
qstore_kill(struct qstore *s, int64_t id, int reason, int status,
    const void *answer, size_t len, bool attempted, int64_t now_ms,
    struct err *e)
{
	char text[QSTORE_ANSWER_MAX * 3 + 1];
	sqlite3_stmt *q;
	int rc;

	if ((rc = qstore_stmt(s, QST_KILL, &q, e)) != 0)
		return rc;
	if (len > QSTORE_ANSWER_MAX)
		len = QSTORE_ANSWER_MAX;
	qtext_clean(answer, len, text, sizeof(text));
	bind_text(q, 1, qreason_name(reason));
	sqlite3_bind_int(q, 2, attempted ? 1 : 0);
	if (status > 0)
		sqlite3_bind_int(q, 3, status);
	else
		sqlite3_bind_null(q, 3);
	bind_text(q, 4, answer != NULL ? text : NULL);
	sqlite3_bind_int64(q, 5, now_ms);
	sqlite3_bind_int64(q, 6, id);
	return step_done(s, q, "cannot make a request a dead letter", e);
}

int
qstore_learn(struct qstore *s, const struct qservice *svc, int64_t now_ms,
    struct err *e)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = qstore_prepare(s, "INSERT INTO services (name, mode, "
	    "confidential, learned_ms) VALUES (?, ?, ?, ?) ON CONFLICT (name) "
	    "DO UPDATE SET mode = excluded.mode, confidential = "
	    "excluded.confidential, learned_ms = excluded.learned_ms", &q,
	    e)) != 0)
		return rc;
	bind_text(q, 1, svc->name);
	bind_text(q, 2, qmode_name(svc->mode));
	sqlite3_bind_int(q, 3, svc->confidential ? 1 : 0);
	sqlite3_bind_int64(q, 4, now_ms);
	rc = step_done(s, q, "cannot record a service's setting", e);
	sqlite3_finalize(q);
	return rc;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The ids a statement RETURNING id gives, oldest first. */
static int
collect_ids(struct qstore *s, sqlite3_stmt *q, int64_t **ids, size_t *n,
    struct err *e)
{
	size_t cap = 0;
	int64_t *grown;
	int rc;

	*ids = NULL;
	*n = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			if ((grown = reallocarray(*ids, cap,
			    sizeof(**ids))) == NULL) {
				sqlite3_reset(q);
				return err_set(e, -ENOMEM, "out of memory");
			}
			*ids = grown;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(q, 0);
	}
	if (rc != SQLITE_DONE)
		return qstore_db_error(s, e, "cannot change the queue");
	if (*n > 1)
		qsort(*ids, *n, sizeof(**ids), cmp_id);
	return 0;
}

/* The state of record id: QS_WAITING, QS_DEAD, or -ENOENT. */
static int
state_of(struct qstore *s, int64_t id, struct err *e)
{
	sqlite3_stmt *q;
	const unsigned char *t;
	int rc;

	if ((rc = qstore_prepare(s, "SELECT state FROM entries WHERE id = ?",
	    &q, e)) != 0)
		return rc;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(q, 0);
		rc = t != NULL && strcmp((const char *)t, "dead") == 0 ?
		    QS_DEAD : QS_WAITING;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(e, -ENOENT, "there is no request %lld in the "
		    "queue", (long long)id);
	} else {
		rc = qstore_db_error(s, e, "cannot read the queue");
	}
	sqlite3_finalize(q);
	return rc;
}

/* One change of the commands, in its own transaction: sql with id bound
 * first when id > 0. */
static int
change(struct qstore *s, const char *sql, int64_t id, int64_t **ids,
    size_t *n, struct err *e)
{
	sqlite3_stmt *q = NULL;
	int rc;

	*ids = NULL;
	*n = 0;
	if ((rc = qstore_begin(s, e)) != 0)
		return rc;
	if ((rc = qstore_prepare(s, sql, &q, e)) == 0) {
		if (id > 0)
			sqlite3_bind_int64(q, 1, id);
		rc = collect_ids(s, q, ids, n, e);
		sqlite3_finalize(q);
	}
	if (rc == 0)
		rc = qstore_commit(s, e);
	if (rc != 0) {
		qstore_rollback(s);
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return rc;
}

int
qstore_retry(struct qstore *s, int64_t id, int64_t **ids, size_t *n,
    struct err *e)
{
	int rc;

	*ids = NULL;
	*n = 0;
	if (id > 0 && (rc = state_of(s, id, e)) != QS_DEAD)
		return rc < 0 ? rc : err_set(e, -EALREADY, "request %lld is "
		    "waiting already, not a dead letter", (long long)id);
	return change(s, id > 0 ? "UPDATE entries SET state = 'waiting', "
	    "reason = NULL, dead_ms = NULL WHERE id = ? AND state = 'dead' "
	    "RETURNING id" : "UPDATE entries SET state = 'waiting', reason = "
	    "NULL, dead_ms = NULL WHERE state = 'dead' RETURNING id", id, ids,
	    n, e);
}

int
qstore_drop(struct qstore *s, int64_t id, int64_t **ids, size_t *n,
    struct err *e)
{
	int rc;

	rc = change(s, id > 0 ? "DELETE FROM entries WHERE id = ? RETURNING "
	    "id" : "DELETE FROM entries WHERE state = 'dead' RETURNING id",
	    id, ids, n, e);
	if (rc == 0 && id > 0 && *n == 0)
		rc = err_set(e, -ENOENT, "there is no request %lld in the "
		    "queue", (long long)id);
	return rc;
}
