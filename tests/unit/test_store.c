/* The cloud's state store on a real SQLite file (cloud/store/): the
 * registry as events make it, kept across a restart, a history that stays
 * bounded, a newer schema refused untouched, and a store that is not
 * there: events wait in bounded memory, reads say so, and everything is
 * written once it is back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "cloud/store/store.h"

static char dir[64];
static struct event_base *base;

struct answer {
	bool done;
	int rc;
	struct err e;
	struct store_edge edges[64];
	struct store_history hist[64];
	size_t n;
};

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/isthmus-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	base = event_base_new();
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

static void
keep(struct answer *a, int rc, const void *v, size_t n, size_t size,
    void *dst, const struct err *e)
{
	a->done = true;
	a->rc = rc;
	a->e = *e;
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
	char path[128];
	struct store *s;
	struct answer *a, h;
	struct stat st;
	struct err e;
	int i;

	(void)state;
	path_of(path, sizeof(path), "state.db");
	assert_int_equal(store_open(base, path, &s, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

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

	/* a restart: the registry is kept, and no tunnel is up any more */
	assert_int_equal(store_open(base, path, &s, &e), 0);
	a = list(s, NULL);
	assert_int_equal(a->n, 2);
	assert_string_equal(a->edges[1].edge, "bgw");
	assert_false(a->edges[1].up);
	assert_string_equal(a->edges[1].last_reason, "cloud_restarted");
	assert_int_equal(a->edges[0].first_seen, 1000);
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
	char sub[96], path[128];
	struct store_stats st;
	struct store *s;
	struct answer *a;
	struct err e;
	int i, rc;

	(void)state;
	/* its directory is not there yet: the store starts unavailable */
	path_of(sub, sizeof(sub), "later");
	snprintf(path, sizeof(path), "%s/state.db", sub);
	assert_int_equal(store_open(base, path, &s, &e), 0);
	store_get_stats(s, &st);
	assert_false(st.available);
	a = list(s, NULL);
	assert_int_equal(a->rc, -EIO);
	assert_non_null(strstr(a->e.msg, "later/state.db"));

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
	assert_int_equal(mkdir(sub, 0700), 0);
	for (i = 0; i < 1000; i++) {
		store_get_stats(s, &st);
		if (st.queued == 0)
			break;
		usleep(10000);
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
	char path[128];
	struct store *s;
	struct answer *a;
	sqlite3 *db;
	struct err e;

	(void)state;
	path_of(path, sizeof(path), "state.db");
	assert_int_equal(store_open(base, path, &s, &e), 0);
	a = list(s, NULL);
	assert_int_equal(a->rc, 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE edges", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	a = list(s, NULL);
	assert_int_equal(a->rc, -EIO);
	assert_non_null(strstr(a->e.msg, "edges"));
	a = list(s, NULL);		/* asked again: answered again */
	assert_int_equal(a->rc, -EIO);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
