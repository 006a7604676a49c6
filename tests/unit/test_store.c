/* The cloud's state store on a real SQLite file (cloud/store/): the
 * registry as events make it, kept across a restart, a history that stays
 * bounded, a newer schema refused untouched, and a store that is not
 * there: events wait in bounded memory, reads say so, and everything is
 * written once it is back. Instructions: recorded with a bound per edge,
 * delivered, answered once (the first outcome wins), expired and timed
 * out, read back as the audit log.
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

#include "cloud/store/store.h"

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
	};

	pg = getenv("ISTHMUS_TEST_PG");
	if (pg != NULL && pg[0] == '\0')
		pg = NULL;

	return cmocka_run_group_tests(tests, NULL, NULL);
}
