/*
 * The state store's statements on SQLite (store-int.h): opening a file
 * and bringing its schema up to date, writing a batch of queued writes in
 * one transaction, and answering a question (the readiness results'
 * list included). Only sqlite.c's thread calls
 * them, with the connection it owns.
 */
#include "cloud/store/store-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/proto.h"

/* The columns of an instruction row, as read_instr takes them. */
#define INSTR_COLS "seq, id, tenant, edge, kind, issuer, args, issued, " \
	"expires, sent, answer_by, done, state, result, error"

static int
db_error(sqlite3 *db, struct err *e, const char *what)
{
	return err_set(e, -EIO, "%s: %s", what, db != NULL ?
	    sqlite3_errmsg(db) : "out of memory");
}

static int
exec_sql(sqlite3 *db, const char *sql, struct err *e)
{
	char *msg = NULL;
	int rc;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	rc = err_set(e, -EIO, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return rc;
}

/* The version the file holds (0: new), or -errno; -EPROTO for one newer
 * than the last migration. It only reads: a newer file is never
 * touched, not even its header. */
static int
schema_version(sqlite3 *db, const char *path, struct err *e)
{
	int latest = store_migrations[store_nmigrations - 1].version;
	sqlite3_stmt *q;
	int v = 0, rc;

	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE "
	    "type = 'table' AND name = 'isthmus_schema'", -1, &q, NULL) !=
	    SQLITE_OK)
		return db_error(db, e, path);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW || sqlite3_prepare_v2(db, "SELECT MAX(version) "
	    "FROM isthmus_schema", -1, &q, NULL) != SQLITE_OK)
		return db_error(db, e, path);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (v > latest)
		return err_set(e, -EPROTO, "%s holds schema version %d, newer "
		    "than this isthmus knows (%d): refusing to use or change "
		    "it; run the isthmus that wrote it, or give another "
		    "state file", path, v, latest);
	return v;
}

/* Brings the file to the last migration's version, in one transaction;
 * -EPROTO for a file newer than that. */
static int
migrate(sqlite3 *db, const char *path, struct err *e)
{
	char sql[96];
	int v, rc = 0;
	size_t i;

	if (exec_sql(db, "BEGIN IMMEDIATE", e) != 0)
		return err_wrap(e, -EIO, "%s", path);
	v = schema_version(db, path, e);
	if (v < 0)
		rc = v;
	else if (exec_sql(db, "CREATE TABLE IF NOT EXISTS isthmus_schema "
	    "(version INTEGER NOT NULL)", e) != 0)
		rc = err_wrap(e, -EIO, "%s", path);
	for (i = 0; rc == 0 && i < store_nmigrations; i++) {
		if (store_migrations[i].version <= v)
			continue;
		snprintf(sql, sizeof(sql), "DELETE FROM isthmus_schema; "
		    "INSERT INTO isthmus_schema VALUES (%d)",
		    store_migrations[i].version);
		if (exec_sql(db, store_migrations[i].sql, e) != 0 ||
		    exec_sql(db, sql, e) != 0)
			rc = err_wrap(e, -EIO, "%s: migration to version %d",
			    path, store_migrations[i].version);
	}
	if (rc == 0 && exec_sql(db, "COMMIT", e) != 0)
		rc = -EIO;
	if (rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Opens and migrates the file (created 0600: the fleet is the operator's
 * business). */
int
sqlite_db_open(const char *path, sqlite3 **out, struct err *e)
{
	sqlite3 *db = NULL;
	int fd, rc;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = db_error(db, e, path);
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 2000);
	/* A file from a newer isthmus is refused before anything, WAL's
	 * header bytes included, is written to it. */
	rc = schema_version(db, path, e);
	if (rc >= 0) {
		rc = exec_sql(db, "PRAGMA journal_mode=WAL; "
		    "PRAGMA synchronous=NORMAL", e);
		if (rc != 0)
			err_wrap(e, rc, "%s", path);
	}
	if (rc == 0)
		rc = migrate(db, path, e);
	if (rc != 0) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

static int
bind_text(sqlite3_stmt *q, int i, const char *s)
{
	return sqlite3_bind_text(q, i, s != NULL ? s : "", -1,
	    SQLITE_TRANSIENT);
}

static int
step_done(sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);

	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **q)
{
	return sqlite3_prepare_v2(db, sql, -1, q, NULL) == SQLITE_OK ? 0 :
	    -EIO;
}

/* The version an edge reported in its hello. */
static int
write_version(sqlite3 *db, const struct store_edge_event *ev)
{
	sqlite3_stmt *q;

	if (prepare(db, "UPDATE edges SET version = ?3 WHERE tenant = ?1 AND "
	    "edge = ?2", &q) != 0)
		return -EIO;
	bind_text(q, 1, ev->tenant);
	bind_text(q, 2, ev->edge);
	bind_text(q, 3, ev->version);
	return step_done(q);
}

static int
write_edge(sqlite3 *db, const struct store_edge_event *ev)
{
	sqlite3_stmt *q;

	if (prepare(db, ev->up ?
	    "INSERT INTO edges (tenant, edge, first_seen, last_seen, peer, "
	    "serial, not_after, version, tunnels, up_since) VALUES "
	    "(?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, 1, ?3) "
	    "ON CONFLICT (tenant, edge) DO UPDATE SET "
	    "last_seen = ?3, peer = ?4, serial = ?5, not_after = ?6, "
	    "version = CASE WHEN ?7 = '' THEN version ELSE ?7 END, "
	    "up_since = CASE WHEN tunnels = 0 THEN ?3 "
	    "ELSE up_since END, tunnels = tunnels + 1" :
	    "INSERT INTO edges (tenant, edge, first_seen, last_seen, peer, "
	    "last_reason) VALUES (?1, ?2, ?3, ?3, ?4, ?8) "
	    "ON CONFLICT (tenant, edge) DO UPDATE SET "
	    "last_seen = ?3, last_reason = ?8, "
	    "tunnels = MAX(tunnels - 1, 0), "
	    "up_since = CASE WHEN tunnels <= 1 THEN 0 ELSE up_since END",
	    &q) != 0)
		return -EIO;
	bind_text(q, 1, ev->tenant);
	bind_text(q, 2, ev->edge);
	sqlite3_bind_int64(q, 3, ev->at);
	bind_text(q, 4, ev->peer);
	bind_text(q, 5, ev->serial);
	sqlite3_bind_int64(q, 6, ev->not_after);
	bind_text(q, 7, ev->version);
	bind_text(q, 8, ev->reason);
	return step_done(q);
}

/* The event as the edge's newest history line; the oldest beyond
 * STORE_HISTORY_MAX go. */
static int
write_history(sqlite3 *db, const struct store_edge_event *ev)
{
	sqlite3_stmt *q;

	if (prepare(db, "INSERT INTO edge_history (tenant, edge, seq, at, up, "
	    "peer, reason) SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, "
	    "?5, ?6 FROM edge_history WHERE tenant = ?1 AND edge = ?2",
	    &q) != 0)
		return -EIO;
	bind_text(q, 1, ev->tenant);
	bind_text(q, 2, ev->edge);
	sqlite3_bind_int64(q, 3, ev->at);
	sqlite3_bind_int(q, 4, ev->up);
	bind_text(q, 5, ev->peer);
	bind_text(q, 6, ev->reason);
	if (step_done(q) != 0)
		return -EIO;
	if (prepare(db, "DELETE FROM edge_history WHERE tenant = ?1 AND "
	    "edge = ?2 AND seq <= (SELECT MAX(seq) FROM edge_history WHERE "
	    "tenant = ?1 AND edge = ?2) - ?3", &q) != 0)
		return -EIO;
	bind_text(q, 1, ev->tenant);
	bind_text(q, 2, ev->edge);
	sqlite3_bind_int(q, 3, STORE_HISTORY_MAX);
	return step_done(q);
}

static void
copy_col(sqlite3_stmt *q, int i, char *buf, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	snprintf(buf, cap, "%s", t != NULL ? (const char *)t : "");
}

static int
read_edges(sqlite3 *db, struct job *j)
{
	struct store_edge *v;
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc;

	if (prepare(db, "SELECT tenant, edge, first_seen, last_seen, peer, "
	    "serial, not_after, version, tunnels, up_since, last_reason "
	    "FROM edges WHERE ?1 OR tenant = ?2 ORDER BY tenant, edge",
	    &q) != 0)
		return db_error(db, &j->e, "reading the registry");
	sqlite3_bind_int(q, 1, j->all);
	bind_text(q, 2, j->tenant);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (job_grow(j, &cap, sizeof(*v)) != 0) {
			sqlite3_finalize(q);
			return err_set(&j->e, -ENOMEM, "out of memory");
		}
		v = (struct store_edge *)j->rows + j->nrows++;
		copy_col(q, 0, v->tenant, sizeof(v->tenant));
		copy_col(q, 1, v->edge, sizeof(v->edge));
		v->first_seen = sqlite3_column_int64(q, 2);
		v->last_seen = sqlite3_column_int64(q, 3);
		copy_col(q, 4, v->peer, sizeof(v->peer));
		copy_col(q, 5, v->serial, sizeof(v->serial));
		v->not_after = sqlite3_column_int64(q, 6);
		copy_col(q, 7, v->version, sizeof(v->version));
		v->up = sqlite3_column_int(q, 8) > 0;
		v->up_since = sqlite3_column_int64(q, 9);
		copy_col(q, 10, v->last_reason, sizeof(v->last_reason));
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(db, &j->e,
	    "reading the registry");
}

static int
read_history(sqlite3 *db, struct job *j)
{
	struct store_history *v;
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc;

	if (prepare(db, "SELECT at, up, peer, reason FROM edge_history "
	    "WHERE tenant = ?1 AND edge = ?2 ORDER BY seq DESC", &q) != 0)
		return db_error(db, &j->e, "reading the history");
	bind_text(q, 1, j->tenant);
	bind_text(q, 2, j->edge);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (job_grow(j, &cap, sizeof(*v)) != 0) {
			sqlite3_finalize(q);
			return err_set(&j->e, -ENOMEM, "out of memory");
		}
		v = (struct store_history *)j->rows + j->nrows++;
		v->at = sqlite3_column_int64(q, 0);
		v->up = sqlite3_column_int(q, 1) != 0;
		copy_col(q, 2, v->peer, sizeof(v->peer));
		copy_col(q, 3, v->reason, sizeof(v->reason));
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(db, &j->e,
	    "reading the history");
}

/* Delivered: only a row still waiting. */
static int
write_sent(sqlite3 *db, const struct job *j)
{
	sqlite3_stmt *q;

	if (prepare(db, "UPDATE instructions SET state = 'sent', sent = ?2, "
	    "answer_by = ?3 WHERE id = ?1 AND state = 'waiting'", &q) != 0)
		return -EIO;
	bind_text(q, 1, j->in.id);
	sqlite3_bind_int64(q, 2, j->at);
	sqlite3_bind_int64(q, 3, j->in.answer_by);
	return step_done(q);
}

/* An outcome: the first one wins, a later one changes nothing. */
static int
write_done(sqlite3 *db, const struct job *j)
{
	sqlite3_stmt *q;

	if (prepare(db, "UPDATE instructions SET state = ?2, result = ?3, "
	    "error = ?4, done = ?5 WHERE id = ?1 AND state IN ('waiting', "
	    "'sent')", &q) != 0)
		return -EIO;
	bind_text(q, 1, j->in.id);
	bind_text(q, 2, j->in.state);
	if (j->in.result != NULL)
		bind_text(q, 3, j->in.result);
	else
		sqlite3_bind_null(q, 3);
	bind_text(q, 4, j->in.error);
	sqlite3_bind_int64(q, 5, j->at);
	return step_done(q);
}

/* A result: for a readiness instruction of that edge only, and once;
 * its issuer is the instruction's. */
static int
write_readiness(sqlite3 *db, const struct job *j)
{
	const struct store_readiness *r = &j->rd;
	sqlite3_stmt *q;

	if (prepare(db, "INSERT INTO readiness (id, tenant, edge, profile, "
	    "issuer, at, received, verdict, late, result) SELECT id, tenant, "
	    "edge, ?4, issuer, ?5, ?6, ?7, ?8, ?9 FROM instructions WHERE "
	    "id = ?1 AND tenant = ?2 AND edge = ?3 AND kind = '"
	    MANAGE_K_READINESS "' ON CONFLICT DO NOTHING", &q) != 0)
		return -EIO;
	bind_text(q, 1, r->id);
	bind_text(q, 2, r->tenant);
	bind_text(q, 3, r->edge);
	bind_text(q, 4, r->profile);
	sqlite3_bind_int64(q, 5, r->at);
	sqlite3_bind_int64(q, 6, r->received);
	bind_text(q, 7, r->verdict);
	sqlite3_bind_int(q, 8, r->late);
	bind_text(q, 9, r->result);
	return step_done(q);
}

int
sqlite_write(sqlite3 *db, struct job *const *v, size_t n, struct err *e)
{
	size_t i;
	int rc = 0;

	if (exec_sql(db, "BEGIN", e) != 0)
		return -EIO;
	for (i = 0; rc == 0 && i < n; i++) {
		switch (v[i]->kind) {
		case JOB_EVENT:
			if (v[i]->ev.hello) {
				rc = write_version(db, &v[i]->ev);
				break;
			}
			rc = write_edge(db, &v[i]->ev);
			if (rc == 0)
				rc = write_history(db, &v[i]->ev);
			break;
		case JOB_SENT:
			rc = write_sent(db, v[i]);
			break;
		case JOB_READINESS:
			rc = write_readiness(db, v[i]);
			break;
		default:
			rc = write_done(db, v[i]);
			break;
		}
		if (rc != 0)
			rc = db_error(db, e, "writing the store");
	}
	if (rc == 0 && exec_sql(db, "COMMIT", e) != 0)
		rc = -EIO;
	if (rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static char *
dup_col(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	return t != NULL ? strdup((const char *)t) : NULL;
}

/* One row of INSTR_COLS into j's rows: 0 or -ENOMEM. */
static int
read_instr(sqlite3_stmt *q, struct job *j, size_t *cap)
{
	struct store_instruction *v;

	if (job_grow(j, cap, sizeof(*v)) != 0)
		return -ENOMEM;
	v = (struct store_instruction *)j->rows + j->nrows++;
	v->seq = sqlite3_column_int64(q, 0);
	copy_col(q, 1, v->id, sizeof(v->id));
	copy_col(q, 2, v->tenant, sizeof(v->tenant));
	copy_col(q, 3, v->edge, sizeof(v->edge));
	copy_col(q, 4, v->kind, sizeof(v->kind));
	copy_col(q, 5, v->issuer, sizeof(v->issuer));
	v->args = dup_col(q, 6);
	v->issued = sqlite3_column_int64(q, 7);
	v->expires = sqlite3_column_int64(q, 8);
	v->sent = sqlite3_column_int64(q, 9);
	v->answer_by = sqlite3_column_int64(q, 10);
	v->done = sqlite3_column_int64(q, 11);
	copy_col(q, 12, v->state, sizeof(v->state));
	v->result = dup_col(q, 13);
	copy_col(q, 14, v->error, sizeof(v->error));
	if (v->args == NULL ||
	    (v->result == NULL && sqlite3_column_type(q, 13) != SQLITE_NULL))
		return -ENOMEM;
	return 0;
}

/* Every row q gives, into j's rows. */
static int
read_instrs(sqlite3 *db, sqlite3_stmt *q, struct job *j, const char *what)
{
	size_t cap = j->nrows;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if (read_instr(q, j, &cap) != 0) {
			sqlite3_finalize(q);
			return err_set(&j->e, -ENOMEM, "out of memory");
		}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(db, &j->e, what);
}

/* Recorded in one transaction, if the edge has room. */
static int
add_instr(sqlite3 *db, struct job *j)
{
	const struct store_instruction *in = &j->in;
	sqlite3_stmt *q;
	int rc, n = 0;

	if (exec_sql(db, "BEGIN IMMEDIATE", &j->e) != 0)
		return -EIO;
	rc = prepare(db, "SELECT COUNT(*) FROM instructions WHERE "
	    "tenant = ?1 AND edge = ?2 AND state = 'waiting' AND "
	    "expires > ?3", &q);
	if (rc == 0) {
		bind_text(q, 1, in->tenant);
		bind_text(q, 2, in->edge);
		sqlite3_bind_int64(q, 3, in->issued);
		if (sqlite3_step(q) == SQLITE_ROW)
			n = sqlite3_column_int(q, 0);
		else
			rc = -EIO;
		sqlite3_finalize(q);
	}
	if (rc == 0 && n >= STORE_WAITING_MAX)
		rc = err_set(&j->e, -ENOSPC, "edge %s of tenant %s already "
		    "has %d instructions waiting", in->edge, in->tenant, n);
	else if (rc == 0 && (rc = prepare(db, "INSERT INTO instructions "
	    "(seq, id, tenant, edge, kind, issuer, args, issued, expires, "
	    "state, error) SELECT COALESCE(MAX(seq), 0) + 1, ?1, ?2, ?3, ?4, "
	    "?5, ?6, ?7, ?8, 'waiting', '' FROM instructions", &q)) == 0) {
		bind_text(q, 1, in->id);
		bind_text(q, 2, in->tenant);
		bind_text(q, 3, in->edge);
		bind_text(q, 4, in->kind);
		bind_text(q, 5, in->issuer);
		bind_text(q, 6, in->args);
		sqlite3_bind_int64(q, 7, in->issued);
		sqlite3_bind_int64(q, 8, in->expires);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc == SQLITE_DONE)
			rc = 0;
		else if ((sqlite3_extended_errcode(db) & 0xff) ==
		    SQLITE_CONSTRAINT)
			rc = err_set(&j->e, -EEXIST, "instruction %s is "
			    "already recorded", in->id);
		else
			rc = -EIO;
	}
	if (rc == -EIO)
		db_error(db, &j->e, "recording an instruction");
	if (rc == 0 && exec_sql(db, "COMMIT", &j->e) != 0)
		rc = -EIO;
	if (rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* An edge's stream opened: past expiry -> expired, then the rest. */
static int
read_waiting(sqlite3 *db, struct job *j)
{
	sqlite3_stmt *q;
	int rc;

	if (exec_sql(db, "BEGIN", &j->e) != 0)
		return -EIO;
	rc = prepare(db, "UPDATE instructions SET state = 'expired', "
	    "done = ?3, error = 'not delivered before it expired' WHERE "
	    "tenant = ?1 AND edge = ?2 AND state = 'waiting' AND "
	    "expires <= ?3", &q);
	if (rc == 0) {
		bind_text(q, 1, j->tenant);
		bind_text(q, 2, j->edge);
		sqlite3_bind_int64(q, 3, j->now);
		rc = step_done(q);
	}
	if (rc == 0)
		rc = prepare(db, "SELECT " INSTR_COLS " FROM instructions "
		    "WHERE tenant = ?1 AND edge = ?2 AND state = 'waiting' "
		    "ORDER BY seq", &q);
	if (rc == 0) {
		bind_text(q, 1, j->tenant);
		bind_text(q, 2, j->edge);
		rc = read_instrs(db, q, j, "reading instructions");
	} else {
		db_error(db, &j->e, "reading instructions");
	}
	if (rc == 0 && exec_sql(db, "COMMIT", &j->e) != 0)
		rc = -EIO;
	if (rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Expired and timed out as of now: the rows changed, oldest first. */
static int
sweep(sqlite3 *db, struct job *j)
{
	static const char *const sql[] = {
		"UPDATE instructions SET state = 'expired', done = ?1, "
		"error = 'not delivered before it expired' WHERE "
		"state = 'waiting' AND expires <= ?1 RETURNING " INSTR_COLS,
		"UPDATE instructions SET state = 'timeout', done = ?1, "
		"error = 'no result by its answer deadline' WHERE "
		"state = 'sent' AND answer_by <= ?1 RETURNING " INSTR_COLS,
	};
	sqlite3_stmt *q;
	size_t i;
	int rc = 0;

	if (exec_sql(db, "BEGIN", &j->e) != 0)
		return -EIO;
	for (i = 0; rc == 0 && i < 2; i++) {
		if (prepare(db, sql[i], &q) != 0) {
			rc = db_error(db, &j->e, "sweeping instructions");
			break;
		}
		sqlite3_bind_int64(q, 1, j->now);
		rc = read_instrs(db, q, j, "sweeping instructions");
	}
	if (rc == 0 && prepare(db, "SELECT COUNT(*) FROM instructions "
	    "WHERE state = 'waiting'", &q) != 0)
		rc = db_error(db, &j->e, "counting waiting instructions");
	if (rc == 0) {
		if (sqlite3_step(q) == SQLITE_ROW)
			j->waiting = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	if (rc == 0 && exec_sql(db, "COMMIT", &j->e) != 0)
		rc = -EIO;
	if (rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	else
		job_sort_by_seq(j);
	return rc;
}

static int
audit(sqlite3 *db, struct job *j)
{
	sqlite3_stmt *q;

	if (prepare(db, "SELECT " INSTR_COLS " FROM instructions WHERE "
	    "(?1 = '' OR tenant = ?1) AND (?2 = '' OR edge = ?2) AND "
	    "(?3 = '' OR id = ?3) AND issued >= ?4 ORDER BY seq DESC "
	    "LIMIT ?5", &q) != 0)
		return db_error(db, &j->e, "reading the audit log");
	bind_text(q, 1, j->f.tenant);
	bind_text(q, 2, j->f.edge);
	bind_text(q, 3, j->f.id);
	sqlite3_bind_int64(q, 4, j->f.since);
	sqlite3_bind_int64(q, 5, j->f.limit);
	return read_instrs(db, q, j, "reading the audit log");
}

/* One row of a readiness list into j's rows: 0 or -ENOMEM. */
static int
read_result(sqlite3_stmt *q, struct job *j, size_t *cap)
{
	struct store_readiness *v;

	if (job_grow(j, cap, sizeof(*v)) != 0)
		return -ENOMEM;
	v = (struct store_readiness *)j->rows + j->nrows++;
	copy_col(q, 0, v->id, sizeof(v->id));
	copy_col(q, 1, v->tenant, sizeof(v->tenant));
	copy_col(q, 2, v->edge, sizeof(v->edge));
	copy_col(q, 3, v->profile, sizeof(v->profile));
	copy_col(q, 4, v->issuer, sizeof(v->issuer));
	v->at = sqlite3_column_int64(q, 5);
	v->received = sqlite3_column_int64(q, 6);
	copy_col(q, 7, v->verdict, sizeof(v->verdict));
	v->late = sqlite3_column_int(q, 8) != 0;
	v->result = dup_col(q, 9);
	if (v->result == NULL && sqlite3_column_type(q, 9) != SQLITE_NULL)
		return -ENOMEM;
	return 0;
}

/* The newest rf.limit results, oldest first. The database counts their
 * results' bytes, newest first, and reads only those within
 * STORE_READINESS_BYTES_MAX; the others come NULL. The innermost query
 * picks the rows without carrying their results, so a sort never holds
 * thousands of them. */
static int
list_readiness(sqlite3 *db, struct job *j)
{
	char sql[1024];
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT r.id, r.tenant, r.edge, "
	    "r.profile, r.issuer, r.at, r.received, r.verdict, r.late, "
	    "CASE WHEN n.total <= ?5 THEN r.result END FROM (SELECT id, "
	    "SUM(size) OVER (ORDER BY at DESC, id DESC ROWS UNBOUNDED "
	    "PRECEDING) AS total FROM (SELECT id, at, "
	    "LENGTH(CAST(result AS BLOB)) AS size FROM readiness WHERE "
	    "at >= ?3%s%s ORDER BY at DESC, id DESC LIMIT ?4) AS newest) "
	    "AS n JOIN readiness AS r ON r.id = n.id ORDER BY r.at, r.id",
	    j->rf.tenant[0] != '\0' ? " AND tenant = ?1" : "",
	    j->rf.edge[0] != '\0' ? " AND edge = ?2" : "");
	if (prepare(db, sql, &q) != 0)
		return db_error(db, &j->e, "reading readiness results");
	bind_text(q, 1, j->rf.tenant);
	bind_text(q, 2, j->rf.edge);
	sqlite3_bind_int64(q, 3, j->rf.since);
	sqlite3_bind_int64(q, 4, j->rf.limit);
	sqlite3_bind_int64(q, 5, STORE_READINESS_BYTES_MAX);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if (read_result(q, j, &cap) != 0) {
			sqlite3_finalize(q);
			return err_set(&j->e, -ENOMEM, "out of memory");
		}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(db, &j->e,
	    "reading readiness results");
}

/* A starting cloud holds no tunnel: whatever the file says was up went
 * down with the cloud that stopped. */
int
sqlite_mark_all_down(sqlite3 *db, struct err *e)
{
	return exec_sql(db, "UPDATE edges SET tunnels = 0, up_since = 0, "
	    "last_reason = 'cloud_restarted' WHERE tunnels > 0", e);
}

int
sqlite_answer(sqlite3 *db, struct job *j)
{
	switch (j->kind) {
	case JOB_EDGES:
		j->rc = read_edges(db, j);
		break;
	case JOB_HISTORY:
		j->rc = read_history(db, j);
		break;
	case JOB_ADD:
		j->rc = add_instr(db, j);
		break;
	case JOB_WAITING:
		j->rc = read_waiting(db, j);
		break;
	case JOB_SWEEP:
		j->rc = sweep(db, j);
		break;
	case JOB_AUDIT:
		j->rc = audit(db, j);
		break;
	case JOB_READINESS_LIST:
		j->rc = list_readiness(db, j);
		break;
	default:
		j->rc = err_set(&j->e, -EINVAL, "not a question");
		break;
	}
	return j->rc;
}
