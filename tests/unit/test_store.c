/* The cloud's state store on a real SQLite file (cloud/store/): the
 * registry as events make it, kept across a restart, a history that stays
 * bounded, a newer schema refused untouched, and a store that is not
 * there: events wait in bounded memory, reads say so, and everything is
 * written once it is back. Instructions: recorded with a bound per edge,
 * delivered, answered once (the first outcome wins), expired and timed
 * out, read back as the audit log. Readiness results: stored once, only
 * for a readiness instruction of that edge, listed by filter, kept
 * across a restart and a migration from version 2, waiting for a store
 * that is down, bounded in bytes both queued and answered.
 *
 * With ISTHMUS_TEST_PG=postgresql://... the same assertions run on that
 * PostgreSQL instead (each test on an emptied schema); what is about a
 * file only (its mode, a directory that appears) is SQLite's, and
 * tests/system/test_store_pg.py runs this binary so, on a throwaway
 * cluster, with ISTHMUS_TEST_PG_STOP/START to take the server away. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "cloud/store/store-int.h"	/* the migrations: a v2 store */
#include "common/proto.h"

static char dir[64];
static struct event_base *base;
static const char *pg;		/* ISTHMUS_TEST_PG, or NULL: SQLite */

struct answer {
	bool done;
	int rc;
	struct err e;
	struct store_edge edges[64];
	struct store_history hist[64];
	struct store_instruction in[128];
	size_t n;
};

/* SQL on the test's PostgreSQL, outside the store. */
static void
pg_exec(const char *sql)
{
	PGconn *c = PQconnectdb(pg);
	PGresult *r;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, "SET client_min_messages = warning");
	PQclear(r);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/isthmus-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	base = event_base_new();
	if (pg != NULL)
		pg_exec("DROP SCHEMA IF EXISTS public CASCADE; "
		    "CREATE SCHEMA public");
	return base == NULL;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void
path_of(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
}

/* The store a test opens: a file in its directory, or the PostgreSQL. */
static void
state_of(char *buf, size_t cap, const char *name)
{
	if (pg != NULL)
		snprintf(buf, cap, "%s", pg);
	else
		path_of(buf, cap, name);
}

static void
keep(struct answer *a, int rc, const void *v, size_t n, size_t size,
    void *dst, const struct err *e)
{
	a->done = true;
	a->rc = rc;
	a->e = *e;
	if (rc != 0)
		print_message("answered %d: %s\n", rc, e->msg);
	a->n = n < 64 ? n : 64;
	if (rc == 0 && a->n > 0)
		memcpy(dst, v, a->n * size);
}

static void
on_edges(int rc, const struct store_edge *v, size_t n, const struct err *e,
    void *arg)
{
	struct answer *a = arg;

	keep(a, rc, v, n, sizeof(*v), a->edges, e);
}

static void
on_history(int rc, const struct store_history *v, size_t n,
    const struct err *e, void *arg)
{
	struct answer *a = arg;

	keep(a, rc, v, n, sizeof(*v), a->hist, e);
}

/* Runs the loop until a is answered (10 s at most). */
static void
await(struct answer *a)
{
	int i;

	for (i = 0; i < 1000 && !a->done; i++) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_true(a->done);
}

/* Runs the loop for ms (the PostgreSQL store works on it). */
static void
spin(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static struct answer *
list(struct store *s, const char *tenant)
{
	static struct answer a;

	memset(&a, 0, sizeof(a));
	assert_int_equal(store_list_edges(s, tenant, on_edges, &a), 0);
	await(&a);
	return &a;
}

static void
event(struct store *s, const char *tenant, const char *edge, bool up,
    int64_t at, const char *reason)
{
	struct store_edge_event ev = {
		.tenant = tenant, .edge = edge, .up = up, .at = at,
		.peer = "192.0.2.7:40000", .serial = up ? "0a1b" : NULL,
		.not_after = up ? 1900000000 : 0,
		.version = up ? "0.1.0" : NULL, .reason = reason,
	};

	assert_int_equal(store_edge_event(s, &ev), 0);
}

static void
test_registry(void **state)
{
	char path[512];
	struct store *s;
	struct answer *a, h;
	struct stat st;
	struct err e;
	int i;

	(void)state;
	state_of(path, sizeof(path), "state.db");
	assert_int_equal(store_open(base, path, &s, &e), 0);
	if (pg == NULL) {
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}

	event(s, "A", "agw", true, 1000, NULL);
	event(s, "B", "bgw", true, 1001, NULL);
	/* a reload at the edge: a second tunnel, then the first goes */
	event(s, "A", "agw", true, 1002, NULL);
	event(s, "A", "agw", false, 1003, "replaced");
	a = list(s, NULL);
	assert_int_equal(a->rc, 0);
	assert_int_equal(a->n, 2);
	assert_string_equal(a->edges[0].edge, "agw");
	assert_true(a->edges[0].up);
	assert_int_equal(a->edges[0].first_seen, 1000);
	assert_int_equal(a->edges[0].last_seen, 1003);
	assert_int_equal(a->edges[0].up_since, 1000);
	assert_string_equal(a->edges[0].serial, "0a1b");
	assert_int_equal(a->edges[0].not_after, 1900000000);
	assert_string_equal(a->edges[0].version, "0.1.0");
	assert_string_equal(a->edges[0].peer, "192.0.2.7:40000");

	/* the last tunnel goes: down, with its reason; one tenant only */
	event(s, "A", "agw", false, 1004, "peer_closed");
	a = list(s, "A");
	assert_int_equal(a->n, 1);
	assert_false(a->edges[0].up);
	assert_int_equal(a->edges[0].up_since, 0);
	assert_string_equal(a->edges[0].last_reason, "peer_closed");

	/* the history is newest first and keeps STORE_HISTORY_MAX lines */
	for (i = 0; i < STORE_HISTORY_MAX + 6; i++)
		event(s, "B", "bgw", i % 2 == 1, 2000 + i, i % 2 == 0 ?
		    "keepalive" : NULL);
	memset(&h, 0, sizeof(h));
	assert_int_equal(store_edge_history(s, "B", "bgw", on_history, &h),
	    0);
	await(&h);
	assert_int_equal(h.rc, 0);
	assert_int_equal(h.n, STORE_HISTORY_MAX);
	assert_int_equal(h.hist[0].at, 2000 + STORE_HISTORY_MAX + 5);
	assert_true(h.hist[0].up);
	assert_int_equal(h.hist[1].at, 2000 + STORE_HISTORY_MAX + 4);
	assert_false(h.hist[1].up);
	assert_string_equal(h.hist[1].reason, "keepalive");
	store_close(s);

	/* a restart: the registry is kept, and (one cloud to a file) no
	 * tunnel is up any more; several replicas share a PostgreSQL, and
	 * one starting does not mark the others' edges down */
	assert_int_equal(store_open(base, path, &s, &e), 0);
	a = list(s, NULL);
	assert_int_equal(a->n, 2);
	assert_string_equal(a->edges[1].edge, "bgw");
	assert_int_equal(a->edges[0].first_seen, 1000);
	if (pg == NULL) {
		assert_false(a->edges[1].up);
		assert_string_equal(a->edges[1].last_reason,
		    "cloud_restarted");
	} else {
		assert_true(a->edges[1].up);
	}
	store_close(s);
}

static void
test_newer_schema_is_refused_untouched(void **state)
{
	char path[128];
	struct store *s = NULL;
	struct stat before, after;
	sqlite3 *db;
	struct err e;

	(void)state;
	if (pg != NULL) {
		pg_exec("CREATE TABLE isthmus_schema (version INTEGER NOT "
		    "NULL); INSERT INTO isthmus_schema VALUES (99)");
		assert_int_equal(store_open(base, pg, &s, &e), -EPROTO);
		assert_null(s);
		assert_non_null(strstr(e.msg, "schema version 99"));
		assert_non_null(strstr(e.msg, "newer than this isthmus"));
		/* no migration ran, the version is as it was */
		pg_exec("DO $$ BEGIN IF to_regclass('edges') IS NOT NULL OR "
		    "(SELECT COUNT(*) FROM isthmus_schema) <> 1 THEN RAISE "
		    "EXCEPTION 'changed'; END IF; END $$");
		return;
	}
	path_of(path, sizeof(path), "newer.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE isthmus_schema "
	    "(version INTEGER NOT NULL); INSERT INTO isthmus_schema VALUES "
	    "(99)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(stat(path, &before), 0);

	assert_int_equal(store_open(base, path, &s, &e), -EPROTO);
	assert_null(s);
	assert_non_null(strstr(e.msg, "schema version 99"));
	assert_non_null(strstr(e.msg, "newer than this isthmus"));
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "SELECT * FROM edges", NULL,
	    NULL, NULL), SQLITE_OK);	/* no migration ran */
	sqlite3_close(db);
}

static void
test_store_away_and_back(void **state)
{
	const char *stop = getenv("ISTHMUS_TEST_PG_STOP");
	const char *start = getenv("ISTHMUS_TEST_PG_START");
	char sub[96], path[512];
	struct store_stats st;
	struct store *s;
	struct answer *a;
	struct err e;
	int i, rc;

	(void)state;
	if (pg != NULL && (stop == NULL || start == NULL))
		skip();
	/* its directory is not there yet, or its server is stopped: the
	 * store starts unavailable */
	path_of(sub, sizeof(sub), "later");
	snprintf(path, sizeof(path), "%s/state.db", sub);
	if (pg != NULL) {
		assert_int_equal(system(stop), 0);
		snprintf(path, sizeof(path), "%s", pg);
	}
	assert_int_equal(store_open(base, path, &s, &e), 0);
	store_get_stats(s, &st);
	assert_false(st.available);
	a = list(s, NULL);
	assert_int_equal(a->rc, -EIO);
	if (pg == NULL)
		assert_non_null(strstr(a->e.msg, "later/state.db"));
	else
		assert_null(strstr(a->e.msg, "secret"));	/* no password */

	/* events wait, within the bound; what does not fit is counted */
	for (i = 0; i < STORE_QUEUE_MAX + 5; i++) {
		struct store_edge_event ev = { .tenant = "A", .edge = "agw",
		    .up = i % 2 == 0, .at = i, .peer = "192.0.2.7:1",
		    .reason = i % 2 ? "peer_closed" : NULL };

		rc = store_edge_event(s, &ev);
		assert_int_equal(rc, i < STORE_QUEUE_MAX ? 0 : -ENOBUFS);
	}
	store_get_stats(s, &st);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(st.queued, STORE_QUEUE_MAX);

	/* back: everything queued is written, in order, by itself */
	if (pg != NULL)
		assert_int_equal(system(start), 0);
	else
		assert_int_equal(mkdir(sub, 0700), 0);
	for (i = 0; i < 1500; i++) {
		store_get_stats(s, &st);
		if (st.queued == 0)
			break;
		spin(10);
	}
	assert_int_equal(st.queued, 0);
	assert_true(st.available);
	assert_int_equal(st.written, STORE_QUEUE_MAX);
	a = list(s, "A");
	assert_int_equal(a->rc, 0);
	assert_int_equal(a->n, 1);
	assert_false(a->edges[0].up);	/* the last event was a down */
	assert_int_equal(a->edges[0].last_seen, STORE_QUEUE_MAX - 1);
	store_close(s);
}

/* A read that fails on an open store (a table someone dropped) is
 * answered with the reason, and the store goes on asking. */
static void
test_failed_read_is_answered(void **state)
{
	char path[512];
	struct store *s;
	struct answer *a;
	sqlite3 *db;
	struct err e;

	(void)state;
	state_of(path, sizeof(path), "state.db");
	assert_int_equal(store_open(base, path, &s, &e), 0);
	a = list(s, NULL);
	assert_int_equal(a->rc, 0);
	if (pg != NULL) {
		pg_exec("DROP TABLE edges");
	} else {
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "DROP TABLE edges", NULL,
		    NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
	a = list(s, NULL);
	assert_int_equal(a->rc, -EIO);
	assert_non_null(strstr(a->e.msg, "edges"));
	a = list(s, NULL);		/* asked again: answered again */
	assert_int_equal(a->rc, -EIO);
	store_close(s);
}


static void
on_added(int rc, const struct err *e, void *arg)
{
	struct answer *a = arg;

	a->done = true;
	a->rc = rc;
	a->e = *e;
}

static void
on_instrs(int rc, const struct store_instruction *v, size_t n,
    const struct err *e, void *arg)
{
	struct answer *a = arg;
	size_t i;

	a->done = true;
	a->rc = rc;
	a->e = *e;
	a->n = n;
	if (rc == 0 && n > 0)
		memcpy(a->in, v, (n < 128 ? n : 128) * sizeof(*v));
	/* the strings are valid during the call only */
	for (i = 0; rc == 0 && i < n && i < 128; i++) {
		a->in[i].args = NULL;
		a->in[i].result = v[i].result != NULL ?
		    strdup(v[i].result) : NULL;
		if (v[i].args != NULL)
			assert_true(strcmp(v[i].args, "[\"x\"]") == 0 ||
			    strcmp(v[i].args, "[]") == 0);
	}
}

static void
answer_free(struct answer *a)
{
	size_t i;

	for (i = 0; i < a->n && i < 128; i++)
		free(a->in[i].result);
	memset(a, 0, sizeof(*a));
}

/* Adds an instruction for tenant A, issued at issued, expiring at
 * expires; the store's answer. */
static int
add(struct store *s, const char *id, const char *edge, int64_t issued,
    int64_t expires)
{
	struct store_instruction in;
	struct answer a;

	memset(&in, 0, sizeof(in));
	memset(&a, 0, sizeof(a));
	snprintf(in.id, sizeof(in.id), "%s", id);
	snprintf(in.tenant, sizeof(in.tenant), "A");
	snprintf(in.edge, sizeof(in.edge), "%s", edge);
	snprintf(in.kind, sizeof(in.kind), "status");
	snprintf(in.issuer, sizeof(in.issuer), "alice");
	in.args = strcmp(edge, "agw") == 0 ? "[\"x\"]" : NULL;
	in.issued = issued;
	in.expires = expires;
	assert_int_equal(store_instruction_add(s, &in, on_added, &a), 0);
	await(&a);
	return a.rc;
}

static struct answer *
waiting(struct store *s, const char *edge, int64_t now)
{
	static struct answer a;

	answer_free(&a);
	assert_int_equal(store_instructions_waiting(s, "A", edge, now,
	    on_instrs, &a), 0);
	await(&a);
	assert_int_equal(a.rc, 0);
	return &a;
}

static struct answer *
sweep(struct store *s, int64_t now)
{
	static struct answer a;

	answer_free(&a);
	assert_int_equal(store_instructions_sweep(s, now, on_instrs, &a), 0);
	await(&a);
	assert_int_equal(a.rc, 0);
	return &a;
}

static struct answer *
audit(struct store *s, const char *edge, const char *id, int64_t since,
    unsigned limit)
{
	static struct answer a;
	struct store_audit_filter f;

	answer_free(&a);
	memset(&f, 0, sizeof(f));
	snprintf(f.edge, sizeof(f.edge), "%s", edge != NULL ? edge : "");
	snprintf(f.id, sizeof(f.id), "%s", id != NULL ? id : "");
	f.since = since;
	f.limit = limit;
	assert_int_equal(store_audit(s, &f, on_instrs, &a), 0);
	await(&a);
	assert_int_equal(a.rc, 0);
	return &a;
}

static void
test_instructions(void **state)
{
	char path[512], id[33];
	struct store_stats st;
	struct store *s;
	struct answer *a;
	struct err e;
	int i;

	(void)state;
	state_of(path, sizeof(path), "state.db");
	assert_int_equal(store_open(base, path, &s, &e), 0);

	/* recorded; an id is unique */
	assert_int_equal(add(s, "a1", "agw", 1000, 2000), 0);
	assert_int_equal(add(s, "a2", "agw", 1001, 2000), 0);
	assert_int_equal(add(s, "a1", "agw", 1002, 2000), -EEXIST);
	assert_int_equal(add(s, "a3", "agw", 1003, 1200), 0);

	/* an edge holds at most STORE_WAITING_MAX waiting */
	for (i = 0; i < STORE_WAITING_MAX; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		assert_int_equal(add(s, id, "bgw", 1000, 5000), 0);
	}
	assert_int_equal(add(s, "bx", "bgw", 1000, 5000), -ENOSPC);
	assert_int_equal(add(s, "c1", "cgw", 1000, 5000), 0);

	/* its stream opens: past expiry goes, the rest oldest first */
	a = waiting(s, "agw", 1300);
	assert_int_equal(a->n, 2);
	assert_string_equal(a->in[0].id, "a1");
	assert_string_equal(a->in[1].id, "a2");
	assert_true(a->in[0].seq < a->in[1].seq);
	assert_string_equal(a->in[0].state, STORE_STATE_WAITING);
	assert_string_equal(a->in[0].kind, "status");
	assert_string_equal(a->in[0].issuer, "alice");
	assert_int_equal(a->in[0].issued, 1000);
	assert_int_equal(a->in[0].expires, 2000);
	a = audit(s, NULL, "a3", 0, 0);
	assert_int_equal(a->n, 1);
	assert_string_equal(a->in[0].state, "expired");
	assert_int_equal(a->in[0].done, 1300);

	/* delivered, answered: the first outcome wins */
	assert_int_equal(store_instruction_sent(s, "a1", 1400, 1460), 0);
	assert_int_equal(store_instruction_done(s, "a1", "ok",
	    "{\"up\":true}", NULL, 1410), 0);
	assert_int_equal(store_instruction_done(s, "a1", "error", NULL,
	    "too late", 1420), 0);
	assert_int_equal(store_instruction_sent(s, "a1", 1430, 1490), 0);
	a = audit(s, NULL, "a1", 0, 0);
	assert_int_equal(a->n, 1);
	assert_string_equal(a->in[0].state, "ok");
	assert_int_equal(a->in[0].sent, 1400);
	assert_int_equal(a->in[0].answer_by, 1460);
	assert_int_equal(a->in[0].done, 1410);
	assert_string_equal(a->in[0].result, "{\"up\":true}");
	assert_string_equal(a->in[0].error, "");
	a = waiting(s, "agw", 1400);
	assert_int_equal(a->n, 1);
	assert_string_equal(a->in[0].id, "a2");

	/* the sweep: sent past its answer deadline times out, waiting
	 * past expiry expires; each is changed once */
	assert_int_equal(store_instruction_sent(s, "a2", 1500, 1560), 0);
	assert_int_equal(add(s, "c2", "cgw", 1500, 1600), 0);
	a = sweep(s, 1550);
	assert_int_equal(a->n, 0);
	a = sweep(s, 1600);
	assert_int_equal(a->n, 2);
	assert_string_equal(a->in[0].id, "a2");
	assert_string_equal(a->in[0].state, "timeout");
	assert_int_equal(a->in[0].done, 1600);
	assert_string_equal(a->in[1].id, "c2");
	assert_string_equal(a->in[1].state, "expired");
	a = sweep(s, 1700);
	assert_int_equal(a->n, 0);
	/* a result after the timeout changes nothing */
	assert_int_equal(store_instruction_done(s, "a2", "ok", "{}", NULL,
	    1700), 0);
	a = audit(s, NULL, "a2", 0, 0);
	assert_string_equal(a->in[0].state, "timeout");
	assert_null(a->in[0].result);

	/* the audit log: newest first, filtered */
	a = audit(s, NULL, NULL, 0, 0);
	assert_int_equal(a->n, 3 + STORE_WAITING_MAX + 2);
	assert_string_equal(a->in[0].id, "c2");
	assert_string_equal(a->in[a->n - 1].id, "a1");
	a = audit(s, "agw", NULL, 0, 0);
	assert_int_equal(a->n, 3);
	assert_string_equal(a->in[0].id, "a3");
	a = audit(s, NULL, NULL, 1001, 0);
	assert_int_equal(a->n, 3);	/* a2, a3, c2 */
	a = audit(s, "bgw", NULL, 0, 5);
	assert_int_equal(a->n, 5);
	assert_string_equal(a->in[0].id, "b99");
	a = audit(s, "zgw", NULL, 0, 0);
	assert_int_equal(a->n, 0);
	answer_free(a);

	store_get_stats(s, &st);
	assert_true(st.available);
	assert_true(st.ops > 0);
	assert_true(st.op_us_max > 0);
	assert_true(st.op_us_sum >= st.op_us_max);
	assert_int_equal(st.dropped, 0);
	store_close(s);
}

/* A store that is not there records no instruction: answered -EIO at
 * once, never queued behind it. */
static void
test_instruction_store_unavailable(void **state)
{
	char path[512];
	struct store_stats st;
	struct store *s;
	struct err e;
	int64_t t0;

	(void)state;
	if (pg != NULL)
		snprintf(path, sizeof(path), "postgresql://u:secret@/db?"
		    "host=%s/none&connect_timeout=2", dir);
	else
		path_of(path, sizeof(path), "none/state.db");
	assert_int_equal(store_open(base, path, &s, &e), 0);
	assert_null(strstr(e.msg, "secret"));
	store_get_stats(s, &st);
	assert_false(st.available);
	t0 = time(NULL);
	assert_int_equal(add(s, "a1", "agw", 1000, 2000), -EIO);
	assert_true(time(NULL) - t0 <= 1);
	/* the outcomes wait like registry events */
	assert_int_equal(store_instruction_done(s, "a1", "ok", NULL, NULL,
	    1001), 0);
	store_get_stats(s, &st);
	assert_int_equal(st.queued, 1);
	store_close(s);
}

/* PostgreSQL: two replicas on one database. The second open finds the
 * schema made; instructions added through both get one order, and both
 * see each other's writes. */
static void
test_two_replicas(void **state)
{
	struct store_stats st;
	struct store *s1, *s2;
	struct answer *a;
	struct err e;
	char id[33];
	int i;

	(void)state;
	if (pg == NULL)
		skip();
	assert_int_equal(store_open(base, pg, &s1, &e), 0);
	assert_int_equal(store_open(base, pg, &s2, &e), 0);
	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		assert_int_equal(add(i % 2 ? s2 : s1, id, "agw", 1000 + i,
		    5000), 0);
	}
	event(s1, "A", "agw", true, 1000, NULL);
	event(s2, "A", "bgw", true, 1001, NULL);
	assert_int_equal(store_instruction_done(s2, "r0", "ok", NULL, NULL,
	    1100), 0);
	for (i = 0; i < 1000; i++) {	/* s1's writes are its own queue's */
		store_get_stats(s1, &st);
		if (st.queued == 0)
			break;
		spin(10);
	}
	a = list(s2, "A");		/* s2's: written before it reads */
	assert_int_equal(a->n, 2);
	a = audit(s1, "agw", NULL, 0, 0);
	assert_int_equal(a->n, 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(a->in[i].seq, 10 - i);
	answer_free(a);
	store_close(s2);
	store_close(s1);
}

/* --- Readiness results ----------------------------------------------- */

/* Records instruction id (kind, issuer) for tenant's edge. */
static void
instr(struct store *s, const char *tenant, const char *edge, const char *id,
    const char *kind, const char *issuer)
{
	struct store_instruction in;
	struct answer a;

	memset(&in, 0, sizeof(in));
	memset(&a, 0, sizeof(a));
	snprintf(in.id, sizeof(in.id), "%s", id);
	snprintf(in.tenant, sizeof(in.tenant), "%s", tenant);
	snprintf(in.edge, sizeof(in.edge), "%s", edge);
	snprintf(in.kind, sizeof(in.kind), "%s", kind);
	snprintf(in.issuer, sizeof(in.issuer), "%s", issuer);
	in.issued = 10;
	in.expires = 1000000;
	assert_int_equal(store_instruction_add(s, &in, on_added, &a), 0);
	await(&a);
	assert_int_equal(a.rc, 0);
}

/* A result for id from tenant's edge, its JSON naming verdict and at;
 * big: MANAGE_RESULT_MAX bytes of it instead. store_readiness_add's
 * answer. */
static int
result(struct store *s, const char *tenant, const char *edge,
    const char *id, int64_t at, const char *verdict, bool late, bool big)
{
	static char json[MANAGE_RESULT_MAX + 1];
	struct store_readiness r;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.tenant, sizeof(r.tenant), "%s", tenant);
	snprintf(r.edge, sizeof(r.edge), "%s", edge);
	snprintf(r.profile, sizeof(r.profile), "voice");
	snprintf(r.issuer, sizeof(r.issuer), "mallory");	/* not read */
	snprintf(r.verdict, sizeof(r.verdict), "%s", verdict);
	r.at = at;
	r.received = at + 24;
	r.late = late;
	if (big) {
		memset(json, 'x', MANAGE_RESULT_MAX);
		json[0] = json[MANAGE_RESULT_MAX - 1] = '"';
		json[MANAGE_RESULT_MAX] = '\0';
	} else {
		snprintf(json, sizeof(json), "{\"verdict\":\"%s\",\"at\":%lld}",
		    verdict, (long long)at);
	}
	r.result = json;
	return store_readiness_add(s, &r);
}

struct results {
	bool done;
	int rc;
	struct err e;
	size_t n;
	struct store_readiness v[64];	/* the first ones */
	char json[64][64];		/* their results ("" for NULL) */
	size_t nulls;			/* results left out */
	size_t first;			/* the first with a result */
	bool ordered;			/* by at, oldest first */
};

static void
on_results(int rc, const struct store_readiness *v, size_t n,
    const struct err *e, void *arg)
{
	struct results *a = arg;
	size_t i;

	memset(a, 0, sizeof(*a));
	a->done = true;
	a->rc = rc;
	a->e = *e;
	a->n = n;
	a->first = n;
	a->ordered = true;
	if (rc != 0)
		print_message("answered %d: %s\n", rc, e->msg);
	for (i = 0; rc == 0 && i < n; i++) {
		if (i > 0 && v[i].at < v[i - 1].at)
			a->ordered = false;
		if (v[i].result == NULL)
			a->nulls++;
		else if (a->first == n)
			a->first = i;
		if (v[i].result != NULL &&
		    strlen(v[i].result) == MANAGE_RESULT_MAX)
			assert_int_equal(v[i].result[MANAGE_RESULT_MAX - 2],
			    'x');
		if (i >= 64)
			continue;
		a->v[i] = v[i];
		a->v[i].result = NULL;	/* valid during the call only */
		snprintf(a->json[i], sizeof(a->json[i]), "%s",
		    v[i].result != NULL ? v[i].result : "");
	}
}

static struct results *
results(struct store *s, const char *tenant, const char *edge,
    int64_t since, unsigned limit)
{
	static struct results a;
	struct store_readiness_filter f;
	int i;

	memset(&a, 0, sizeof(a));
	memset(&f, 0, sizeof(f));
	snprintf(f.tenant, sizeof(f.tenant), "%s", tenant != NULL ? tenant :
	    "");
	snprintf(f.edge, sizeof(f.edge), "%s", edge != NULL ? edge : "");
	f.since = since;
	f.limit = limit;
	assert_int_equal(store_readiness_list(s, &f, on_results, &a), 0);
	for (i = 0; i < 3000 && !a.done; i++)	/* 30 s: 64 MiB of them */
		spin(10);
	assert_true(a.done);
	return &a;
}

/* The ids of a list, in its order, as "r1 r2 ...". */
static const char *
ids(const struct results *a)
{
	static char buf[512];
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < a->n && i < 64; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
		    i > 0 ? " " : "", a->v[i].id);
	return buf;
}

static void
test_readiness(void **state)
{
	char path[512];
	struct store_stats st, st2;
	struct results *a;
	struct store *s;
	struct err e;

	(void)state;
	state_of(path, sizeof(path), "state.db");
	assert_int_equal(store_open(base, path, &s, &e), 0);
	instr(s, "A", "agw", "r1", MANAGE_K_READINESS, "alice");
	instr(s, "A", "agw", "r2", MANAGE_K_READINESS, "schedule");
	instr(s, "A", "bgw", "r3", MANAGE_K_READINESS, "schedule");
	instr(s, "A", "agw", "s1", MANAGE_K_STATUS, "alice");
	instr(s, "B", "agw", "r4", MANAGE_K_READINESS, "bob");
	instr(s, "A", "agw", "r5", MANAGE_K_READINESS, "schedule");

	/* stored for a readiness instruction of that edge, once */
	assert_int_equal(result(s, "A", "agw", "r1", 100, "pass", false,
	    false), 0);
	assert_int_equal(result(s, "A", "agw", "zz", 100, "pass", false,
	    false), 0);			/* unknown id */
	assert_int_equal(result(s, "A", "agw", "r3", 100, "pass", false,
	    false), 0);			/* another edge's */
	assert_int_equal(result(s, "B", "agw", "r1", 100, "pass", false,
	    false), 0);			/* another tenant's edge of that name */
	assert_int_equal(result(s, "A", "agw", "s1", 100, "pass", false,
	    false), 0);			/* not a readiness test */
	assert_int_equal(result(s, "A", "agw", "r1", 999, "fail", true,
	    false), 0);			/* a second delivery */
	assert_int_equal(result(s, "A", "agw", "r2", 300, "warn", true,
	    false), 0);
	assert_int_equal(result(s, "A", "bgw", "r3", 200, "fail", false,
	    false), 0);
	assert_int_equal(result(s, "B", "agw", "r4", 250, "pass", false,
	    false), 0);
	assert_int_equal(result(s, "A", "agw", "r5", 400, "pass", false,
	    false), 0);
	store_get_stats(s, &st);

	a = results(s, NULL, NULL, 0, 0);
	assert_int_equal(a->rc, 0);
	assert_string_equal(ids(a), "r1 r3 r4 r2 r5");
	assert_string_equal(a->v[0].tenant, "A");
	assert_string_equal(a->v[0].edge, "agw");
	assert_string_equal(a->v[0].profile, "voice");
	assert_string_equal(a->v[0].issuer, "alice");
	assert_int_equal(a->v[0].at, 100);
	assert_int_equal(a->v[0].received, 124);
	assert_string_equal(a->v[0].verdict, "pass");
	assert_false(a->v[0].late);
	assert_string_equal(a->json[0], "{\"verdict\":\"pass\",\"at\":100}");
	assert_string_equal(a->v[3].issuer, "schedule");
	assert_string_equal(a->v[3].verdict, "warn");
	assert_true(a->v[3].late);
	assert_string_equal(a->v[2].issuer, "bob");
	assert_string_equal(a->v[2].tenant, "B");

	/* the filters; the newest limit, oldest first */
	assert_string_equal(ids(results(s, "A", NULL, 0, 0)),
	    "r1 r3 r2 r5");
	assert_string_equal(ids(results(s, "A", "agw", 0, 0)), "r1 r2 r5");
	assert_string_equal(ids(results(s, NULL, "agw", 0, 0)),
	    "r1 r4 r2 r5");
	assert_string_equal(ids(results(s, NULL, NULL, 250, 0)),
	    "r4 r2 r5");
	assert_string_equal(ids(results(s, NULL, NULL, 0, 2)), "r2 r5");
	assert_string_equal(ids(results(s, "A", "agw", 200, 1)), "r5");
	assert_int_equal(results(s, "Z", NULL, 0, 0)->n, 0);

	/* counted as the store's round trips; nothing dropped or failed */
	store_get_stats(s, &st2);
	assert_true(st2.ops >= st.ops + 7);
	assert_int_equal(st2.dropped, 0);
	assert_int_equal(st2.errors, 0);
	assert_true(st2.available);

	/* what the store refuses to queue */
	{
		struct store_readiness r;
		char *big = malloc(MANAGE_RESULT_MAX + 2);

		assert_non_null(big);
		memset(&r, 0, sizeof(r));
		snprintf(r.id, sizeof(r.id), "r5");
		snprintf(r.tenant, sizeof(r.tenant), "A");
		snprintf(r.edge, sizeof(r.edge), "agw");
		assert_int_equal(store_readiness_add(s, &r), -EINVAL);
		memset(big, ' ', MANAGE_RESULT_MAX + 1);
		big[MANAGE_RESULT_MAX + 1] = '\0';
		r.result = big;
		assert_int_equal(store_readiness_add(s, &r), -EMSGSIZE);
		free(big);
	}
	store_close(s);

	/* a restart keeps them */
	assert_int_equal(store_open(base, path, &s, &e), 0);
	a = results(s, NULL, NULL, 0, 0);
	assert_string_equal(ids(a), "r1 r3 r4 r2 r5");
	assert_string_equal(a->v[0].verdict, "pass");
	assert_string_equal(a->json[4], "{\"verdict\":\"pass\",\"at\":400}");
	store_close(s);
}

/* A store written by the isthmus before readiness results (schema
 * version 2, an instruction in it) is migrated when opened, its rows
 * kept, and takes results for them. */
static void
test_readiness_migration_from_v2(void **state)
{
	char path[512], sql[4096];
	struct store_stats st;
	struct results *a;
	struct answer *au;
	struct store *s;
	sqlite3_stmt *q;
	int version, nindex;
	sqlite3 *db;
	struct err e;

	(void)state;
	assert_true(store_nmigrations >= 3);
	snprintf(sql, sizeof(sql), "%s; %s; CREATE TABLE isthmus_schema "
	    "(version INTEGER NOT NULL); INSERT INTO isthmus_schema VALUES "
	    "(2); INSERT INTO instructions (seq, id, tenant, edge, kind, "
	    "issuer, issued, expires, state) VALUES (1, 'old1', 'A', 'agw', "
	    "'readiness', 'schedule', 10, 20, 'timeout')",
	    store_migrations[0].sql, store_migrations[1].sql);
	assert_int_equal(store_migrations[1].version, 2);
	state_of(path, sizeof(path), "v2.db");
	if (pg != NULL) {
		pg_exec(sql);
	} else {
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
	}

	assert_int_equal(store_open(base, path, &s, &e), 0);
	store_get_stats(s, &st);
	assert_true(st.available);
	au = audit(s, NULL, "old1", 0, 0);
	assert_int_equal(au->n, 1);
	assert_string_equal(au->in[0].state, "timeout");
	answer_free(au);
	/* a late result for it: after its timeout, still its test's */
	assert_int_equal(result(s, "A", "agw", "old1", 15, "pass", true,
	    false), 0);
	a = results(s, NULL, NULL, 0, 0);
	assert_string_equal(ids(a), "old1");
	assert_string_equal(a->v[0].issuer, "schedule");
	assert_true(a->v[0].late);
	store_close(s);

	if (pg != NULL) {
		pg_exec("DO $$ BEGIN IF (SELECT MAX(version) FROM "
		    "isthmus_schema) <> 3 THEN RAISE EXCEPTION 'not 3'; "
		    "END IF; END $$");
		return;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT MAX(version) "
	    "FROM isthmus_schema), (SELECT COUNT(*) FROM sqlite_master WHERE "
	    "type = 'index' AND name LIKE 'readiness_%')", -1, &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	version = sqlite3_column_int(q, 0);
	nindex = sqlite3_column_int(q, 1);
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_int_equal(version, 3);
	assert_int_equal(nindex, 3);
}

/* A store that is down: results wait (bounded in bytes: a few hundred
 * of the largest, not 4,096), the list says so, and the one for a real
 * test lands once the store is back. */
static void
test_readiness_away_and_back(void **state)
{
	const char *stop = getenv("ISTHMUS_TEST_PG_STOP");
	const char *start = getenv("ISTHMUS_TEST_PG_START");
	char sub[96], away[112], path[512], id[33];
	struct store_stats st;
	struct results *a;
	struct store *s;
	struct err e;
	size_t fit = 0;
	int i, rc;

	(void)state;
	if (pg != NULL && (stop == NULL || start == NULL))
		skip();
	path_of(sub, sizeof(sub), "later");
	snprintf(away, sizeof(away), "%s.away", sub);
	snprintf(path, sizeof(path), "%s/state.db", sub);
	if (pg != NULL)
		snprintf(path, sizeof(path), "%s", pg);
	else
		assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(store_open(base, path, &s, &e), 0);
	instr(s, "A", "agw", "r1", MANAGE_K_READINESS, "schedule");
	store_close(s);

	/* away: its directory moved, or its server stopped */
	if (pg != NULL)
		assert_int_equal(system(stop), 0);
	else
		assert_int_equal(rename(sub, away), 0);
	assert_int_equal(store_open(base, path, &s, &e), 0);
	store_get_stats(s, &st);
	assert_false(st.available);
	assert_int_equal(result(s, "A", "agw", "r1", 100, "warn", true,
	    false), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "big%d", i);
		rc = result(s, "A", "agw", id, 50, "pass", false, true);
		if (rc == -ENOBUFS)
			break;
		assert_int_equal(rc, 0);
		fit++;
	}
	assert_int_equal(fit, (STORE_QUEUE_BYTES_MAX - 64) /
	    (MANAGE_RESULT_MAX + 1));
	store_get_stats(s, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.queued, fit + 1);
	a = results(s, NULL, NULL, 0, 0);
	assert_int_equal(a->rc, -EIO);

	/* back: written by itself */
	if (pg != NULL)
		assert_int_equal(system(start), 0);
	else
		assert_int_equal(rename(away, sub), 0);
	for (i = 0; i < 1500; i++) {
		store_get_stats(s, &st);
		if (st.queued == 0)
			break;
		spin(10);
	}
	assert_int_equal(st.queued, 0);
	assert_true(st.available);
	a = results(s, NULL, NULL, 0, 0);
	assert_int_equal(a->rc, 0);
	assert_string_equal(ids(a), "r1");	/* the others were no test */
	assert_string_equal(a->v[0].verdict, "warn");
	assert_true(a->v[0].late);
	store_close(s);
}

/* A list's answer holds at most STORE_READINESS_BYTES_MAX of results:
 * the newest that fit, the older ones without theirs. */
static void
test_readiness_list_is_bounded(void **state)
{
	size_t fit = STORE_READINESS_BYTES_MAX / MANAGE_RESULT_MAX;
	size_t total = fit + 4, i, k;
	char path[512], id[33], sql[512];
	struct store_stats st;
	sqlite3 *db;
	struct results *a;
	struct store *s;
	struct err e;

	(void)state;
	state_of(path, sizeof(path), "state.db");
	assert_int_equal(store_open(base, path, &s, &e), 0);
	/* their instructions, t0 ... in one statement (the store's own
	 * adds are one round trip each) */
	snprintf(sql, sizeof(sql), "WITH RECURSIVE n (k) AS (SELECT 0 "
	    "UNION ALL SELECT k + 1 FROM n WHERE k < %zu) INSERT INTO "
	    "instructions (seq, id, tenant, edge, kind, issuer, issued, "
	    "expires, state) SELECT k + 1, 't' || k, 'A', 'agw', "
	    "'readiness', 'schedule', 10, 20, 'ok' FROM n", total - 1);
	if (pg != NULL) {
		pg_exec(sql);
	} else {
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		sqlite3_busy_timeout(db, 5000);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
	}
	for (i = 0; i < total; i += 100) {
		for (k = i; k < total && k < i + 100; k++) {
			snprintf(id, sizeof(id), "t%zu", k);
			assert_int_equal(result(s, "A", "agw", id,
			    1000 + (int64_t)k, "pass", false, true), 0);
		}
		for (k = 0; k < 3000; k++) {	/* under the queue's bytes */
			store_get_stats(s, &st);
			if (st.queued == 0)
				break;
			spin(10);
		}
		assert_int_equal(st.queued, 0);
	}
	a = results(s, "A", "agw", 0, STORE_READINESS_LIMIT_MAX);
	assert_int_equal(a->rc, 0);
	assert_int_equal(a->n, total);
	assert_true(a->ordered);
	assert_int_equal(a->nulls, total - fit);
	assert_int_equal(a->first, total - fit);	/* the oldest go */
	assert_string_equal(a->v[0].id, "t0");
	assert_int_equal(a->v[0].at, 1000);
	assert_string_equal(a->json[0], "");
	/* fewer rows asked: all with their results */
	a = results(s, "A", "agw", 0, 10);
	assert_int_equal(a->n, 10);
	assert_int_equal(a->nulls, 0);
	assert_int_equal(a->v[0].at, 1000 + (int64_t)total - 10);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_newer_schema_is_refused_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_away_and_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_read_is_answered,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_instructions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_instruction_store_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_replicas, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_readiness, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_readiness_migration_from_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readiness_away_and_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_readiness_list_is_bounded, setup, teardown),
	};

	pg = getenv("ISTHMUS_TEST_PG");
	if (pg != NULL && pg[0] == '\0')
		pg = NULL;

	return cmocka_run_group_tests(tests, NULL, NULL);
}
