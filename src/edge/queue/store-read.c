/*
 * Reading the queue file (qstore.h): the index the loop keeps, with
 * every waiting record's sum verified at start; one record to send,
 * verified again; the listings of the commands; the services' settings.
 */
#include "edge/queue/qstore-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeval.h"

/* A text column as a new string ("" for NULL); false when out of
 * memory. */
static bool
dup_text(sqlite3_stmt *q, int col, char **out)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	*out = strdup(t != NULL ? (const char *)t : "");
	return *out != NULL;
}

/* A blob column as a new buffer (one byte at least, so that NULL means
 * out of memory). */
static bool
dup_blob(sqlite3_stmt *q, int col, uint8_t **out, size_t *len)
{
	const void *p = sqlite3_column_blob(q, col);
	int n = sqlite3_column_bytes(q, col);

	*len = n > 0 ? (size_t)n : 0;
	if ((*out = malloc(*len > 0 ? *len : 1)) == NULL)
		return false;
	if (*len > 0)
		memcpy(*out, p, *len);
	return true;
}

static int
reason_index(const unsigned char *t)
{
	int i;

	for (i = 0; t != NULL && i < QR_COUNT; i++)
		if (strcmp((const char *)t, qreason_name(i)) == 0)
			return i;
	return QR_NONE;
}

struct qrecord *
qstore_read_row(sqlite3_stmt *q, bool blobs)
{
	struct qrecord *r = calloc(1, sizeof(*r));
	const unsigned char *t;
	const void *sum;

	if (r == NULL)
		return NULL;
	r->id = sqlite3_column_int64(q, 0);
	if (!dup_text(q, 1, &r->key) || !dup_text(q, 2, &r->listener) ||
	    !dup_text(q, 3, &r->service) || !dup_text(q, 4, &r->device) ||
	    !dup_text(q, 5, &r->mac) || !dup_text(q, 6, &r->method) ||
	    !dup_text(q, 7, &r->target))
		goto fail;
	r->accepted_ms = sqlite3_column_int64(q, 8);
	r->bytes = (uint64_t)sqlite3_column_int64(q, 9);
	t = sqlite3_column_text(q, 10);
	r->state = t != NULL && strcmp((const char *)t, "dead") == 0 ?
	    QS_DEAD : QS_WAITING;
	r->attempts = (unsigned)sqlite3_column_int(q, 11);
	r->last_status = sqlite3_column_int(q, 12);
	if (sqlite3_column_type(q, 13) != SQLITE_NULL &&
	    !dup_text(q, 13, &r->last_error))
		goto fail;
	r->reason = reason_index(sqlite3_column_text(q, 14));
	r->dead_ms = sqlite3_column_int64(q, 15);
	sum = sqlite3_column_blob(q, 16);
	if (sum != NULL && sqlite3_column_bytes(q, 16) == sizeof(r->sum))
		memcpy(r->sum, sum, sizeof(r->sum));
	if (blobs && (!dup_blob(q, QSTORE_NCOLS, &r->fields, &r->fields_len) ||
	    !dup_blob(q, QSTORE_NCOLS + 1, &r->body, &r->body_len)))
		goto fail;
	return r;
fail:
	qrecord_free(r);
	return NULL;
}

static int
nomem(struct err *e)
{
	return err_set(e, -ENOMEM, "out of memory");
}

/* Appends what the loop keeps of r to *v. */
static int
index_push(struct qindex **v, size_t *n, size_t *cap, struct qrecord *r,
    int state)
{
	struct qindex *grown, *x;

	if (*n == *cap) {
		*cap = *cap != 0 ? *cap * 2 : 256;
		if ((grown = reallocarray(*v, *cap, sizeof(**v))) == NULL)
			return -ENOMEM;
		*v = grown;
	}
	x = &(*v)[(*n)++];
	memset(x, 0, sizeof(*x));
	x->id = r->id;
	x->bytes = r->bytes;
	x->accepted_ms = r->accepted_ms;
	x->state = state;
	x->attempts = r->attempts;
	/* the strings move over */
	x->service = r->service;
	x->device = r->device;
	x->mac = r->mac;
	r->service = r->device = r->mac = NULL;
	return 0;
}

/* The records found corrupt at load become dead letters, in one
 * transaction. */
static int
kill_corrupt(struct qstore *s, const struct qindex *v, size_t n,
    struct err *e)
{
	int64_t now = wall_ms();
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = qstore_begin(s, e)) != 0)
		return rc;
	for (i = 0; rc == 0 && i < n; i++)
		rc = qstore_kill(s, v[i].id, QR_CORRUPT, 0, NULL, 0, false,
		    now, e);
	if (rc == 0)
		rc = qstore_commit(s, e);
	if (rc != 0)
		qstore_rollback(s);
	return rc;
}

int
qstore_load(struct qstore *s, struct qindex **out, size_t *n,
    struct qindex **corrupt, size_t *ncorrupt, struct err *e)
{
	struct qindex *v = NULL, *bad = NULL;
	size_t cap = 0, badcap = 0;
	struct qrecord *r;
	sqlite3_stmt *q;
	int rc;

	*out = *corrupt = NULL;
	*n = *ncorrupt = 0;
	/* Dead letters are not read whole: they are never sent as they
	 * are, and a retry reads them again before sending. */
	if ((rc = qstore_prepare(s, "SELECT " QSTORE_COLS ", CASE state "
	    "WHEN 'waiting' THEN fields END, CASE state WHEN 'waiting' THEN "
	    "body END FROM entries ORDER BY id", &q, e)) != 0)
		return rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((r = qstore_read_row(q, true)) == NULL) {
			rc = nomem(e);
			goto out;
		}
		if (r->state == QS_WAITING && !qrecord_intact(r))
			rc = index_push(&bad, ncorrupt, &badcap, r, QS_DEAD);
		else
			rc = index_push(&v, n, &cap, r, r->state);
		qrecord_free(r);
		if (rc != 0) {
			rc = nomem(e);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = qstore_db_error(s, e, "cannot read the queue");
		goto out;
	}
	rc = kill_corrupt(s, bad, *ncorrupt, e);
out:
	sqlite3_finalize(q);
	if (rc != 0) {
		qindex_free(v, *n);
		qindex_free(bad, *ncorrupt);
		*n = *ncorrupt = 0;
		return rc;
	}
	*out = v;
	*corrupt = bad;
	return 0;
}

int
qstore_services(struct qstore *s, struct qservice **out, size_t *n,
    struct err *e)
{
	struct qservice *v = NULL, *grown;
	size_t cap = 0;
	sqlite3_stmt *q;
	int rc, mode;

	*out = NULL;
	*n = 0;
	if ((rc = qstore_prepare(s, "SELECT name, mode, confidential FROM "
	    "services ORDER BY name", &q, e)) != 0)
		return rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((mode = qmode_parse((const char *)sqlite3_column_text(q,
		    1))) < 0)
			continue;	/* not one this isthmus knows */
		if (*n == cap) {
			cap = cap != 0 ? cap * 2 : 8;
			if ((grown = reallocarray(v, cap, sizeof(*v))) ==
			    NULL)
				break;
			v = grown;
		}
		v[*n].mode = mode;
		v[*n].confidential = sqlite3_column_int(q, 2) != 0;
		if (!dup_text(q, 0, &v[*n].name))
			break;
		(*n)++;
	}
	if (rc == SQLITE_ROW)
		rc = nomem(e);
	else if (rc != SQLITE_DONE)
		rc = qstore_db_error(s, e, "cannot read the services");
	else
		rc = 0;
	sqlite3_finalize(q);
	if (rc != 0) {
		qservice_free(v, *n);
		*n = 0;
		return rc;
	}
	*out = v;
	return 0;
}

/* Record id, whole; waiting: only a waiting one. */
static int
read_one(struct qstore *s, int64_t id, bool waiting, struct qrecord **out,
    struct err *e)
{
	sqlite3_stmt *q;
	int rc;

	*out = NULL;
	if ((rc = qstore_prepare(s, waiting ? "SELECT " QSTORE_COLS
	    QSTORE_BLOBS " FROM entries WHERE id = ? AND state = 'waiting'" :
	    "SELECT " QSTORE_COLS QSTORE_BLOBS " FROM entries WHERE id = ?",
	    &q, e)) != 0)
		return rc;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		rc = (*out = qstore_read_row(q, true)) != NULL ? 0 : nomem(e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, -ENOENT, "there is no request %lld in the "
		    "queue", (long long)id);
	else
		rc = qstore_db_error(s, e, "cannot read the queue");
	sqlite3_finalize(q);
	return rc;
}

int
qstore_fetch(struct qstore *s, int64_t id, struct qrecord **out,
    struct err *e)
{
	struct qrecord *r;
	int rc;

	*out = NULL;
	if ((rc = read_one(s, id, true, &r, e)) != 0)
		return rc;
	if (qrecord_intact(r)) {
		*out = r;
		return 0;
	}
	qrecord_free(r);
	rc = qstore_begin(s, e);
	if (rc == 0)
		rc = qstore_kill(s, id, QR_CORRUPT, 0, NULL, 0, false,
		    wall_ms(), e);
	if (rc == 0)
		rc = qstore_commit(s, e);
	if (rc != 0) {
		qstore_rollback(s);
		return rc;
	}
	return err_set(e, -EBADMSG, "request %lld does not match its "
	    "checksum", (long long)id);
}

int
qstore_get(struct qstore *s, int64_t id, struct qrecord **out,
    struct err *e)
{
	return read_one(s, id, false, out, e);
}

int
qstore_list(struct qstore *s, int state, size_t max,
    struct qrecord ***out, size_t *n, int64_t *total, struct err *e)
{
	struct qrecord **v = NULL, *r;
	sqlite3_stmt *q;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	*total = 0;
	if ((rc = qstore_prepare(s, "SELECT count(*) FROM entries WHERE "
	    "state = ?", &q, e)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, qstate_name(state), -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	*total = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return qstore_db_error(s, e, "cannot read the queue");
	if ((size_t)*total < max)
		max = (size_t)*total;
	if (max > 0 && (v = calloc(max, sizeof(*v))) == NULL)
		return nomem(e);
	if ((rc = qstore_prepare(s, "SELECT " QSTORE_COLS " FROM entries "
	    "WHERE state = ? ORDER BY id LIMIT ?", &q, e)) != 0) {
		free(v);
		return rc;
	}
	sqlite3_bind_text(q, 1, qstate_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)max);
	while (k < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((r = qstore_read_row(q, false)) == NULL)
			break;
		v[k++] = r;
	}
	if (k < max && rc == SQLITE_ROW)
		rc = nomem(e);
	else if (k < max && rc != SQLITE_DONE)
		rc = qstore_db_error(s, e, "cannot read the queue");
	else
		rc = 0;
	sqlite3_finalize(q);
	if (rc != 0) {
		qrecords_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}
