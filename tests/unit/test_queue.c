/*
 * The store-and-forward queue (edge/queue/) on real files, real SQLite
 * and its real thread: the file's creation, lock and refusals (a file
 * that is not a queue stays byte for byte as it was), checksums and a
 * torn write-ahead log found at start, the commands' JSON; then the
 * loop's side driven by a real event loop: durability, group commit,
 * the bounds, the commands through the thread, expiry.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/relay.h"
#include "common/timeval.h"
#include "common/proto.h"
#include "edge/queue/qstore.h"
#include "edge/queue/queue-int.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_queue.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	/* a directory the store makes itself */
	snprintf(path, sizeof(path), "%s/state/queue.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* A request as a device would hand it over: body "reading N". */
static struct qrecord *
make_record(int n, const char *device)
{
	struct qrecord *r = calloc(1, sizeof(*r));
	struct hdrs h;
	char body[64], key[64];

	assert_non_null(r);
	hdrs_init(&h);
	snprintf(key, sizeof(key), "\"key-%d\"", n);
	assert_int_equal(hdrs_add(&h, "content-type", 12, "text/plain",
	    10), 0);
	assert_int_equal(hdrs_add(&h, "authorization", 13, "Bearer s3cret",
	    13), 0);
	assert_int_equal(hdrs_add(&h, HTTP_IDEMPOTENCY_KEY,
	    strlen(HTTP_IDEMPOTENCY_KEY), key, strlen(key)), 0);
	assert_int_equal(qrecord_set_fields(r, &h), 0);
	hdrs_free(&h);
	snprintf(body, sizeof(body), "reading %d", n);
	r->key = strdup(key);
	r->listener = strdup("meters");
	r->service = strdup("telemetry");
	r->device = strdup(device);
	r->mac = strdup("");
	r->method = strdup("POST");
	r->target = strdup("/v1/readings");
	r->body = (uint8_t *)strdup(body);
	r->body_len = strlen(body);
	r->accepted_ms = 1796412184000LL + n;
	qrecord_seal(r);
	return r;
}

static struct qstore *
open_store(void)
{
	struct qstore *s = NULL;
	uint64_t torn = 1;
	struct err e;

	if (qstore_open(path, true, &s, &torn, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(torn, 0);
	return s;
}

/* Stores n records in one transaction; the first id. */
static int64_t
add_records(struct qstore *s, int from, int n)
{
	struct qrecord *r;
	struct err e;
	int64_t first = 0;
	int i;

	assert_int_equal(qstore_begin(s, &e), 0);
	for (i = from; i < from + n; i++) {
		r = make_record(i, "192.0.2.7:40000");
		assert_int_equal(qstore_add(s, r, &e), 0);
		if (first == 0)
			first = r->id;
		qrecord_free(r);
	}
	assert_int_equal(qstore_commit(s, &e), 0);
	return first;
}

static void
test_store_create_lock(void **state)
{
	struct qstore *s, *s2 = NULL;
	struct stat st;
	struct err e;
	uint64_t torn;
	char sdir[96];

	(void)state;
	assert_int_equal(qstore_open(path, false, &s2, &torn, &e), -ENOENT);
	s = open_store();
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(sdir, sizeof(sdir), "%s/state", dir);
	assert_int_equal(stat(sdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* one process per queue: the lock is held while open */
	assert_int_equal(qstore_open(path, true, &s2, &torn, &e), -EBUSY);
	assert_null(s2);
	assert_non_null(strstr(e.msg, "queue.lock"));
	qstore_close(s);
	s = open_store();
	qstore_close(s);
}

static void
test_store_roundtrip(void **state)
{
	struct qindex *v, *bad;
	struct qrecord *r;
	const char *name, *value;
	size_t n, nbad, pos = 0;
	struct qstore *s;
	struct err e;
	int64_t id;

	(void)state;
	s = open_store();
	id = add_records(s, 1, 3);
	assert_int_equal(qstore_fetch(s, id + 1, &r, &e), 0);
	assert_string_equal(r->key, "\"key-2\"");
	assert_int_equal(r->body_len, 9);
	assert_memory_equal(r->body, "reading 2", 9);
	assert_true(qrecord_next_field(r, &pos, &name, &value));
	assert_string_equal(name, "content-type");
	assert_string_equal(value, "text/plain");
	qrecord_free(r);
	/* a 4xx: a dead letter, never fetched again */
	assert_int_equal(qstore_begin(s, &e), 0);
	assert_int_equal(qstore_kill(s, id, QR_REFUSED, 422, "bad\nreading",
	    11, true, 1796412185000LL, &e), 0);
	assert_int_equal(qstore_delete(s, id + 2, &e), 0);
	assert_int_equal(qstore_commit(s, &e), 0);
	assert_int_equal(qstore_fetch(s, id, &r, &e), -ENOENT);
	qstore_close(s);
	s = open_store();
	assert_int_equal(qstore_load(s, &v, &n, &bad, &nbad, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(nbad, 0);
	assert_int_equal(v[0].id, id);
	assert_int_equal(v[0].state, QS_DEAD);
	assert_int_equal(v[1].id, id + 1);
	assert_int_equal(v[1].state, QS_WAITING);
	assert_string_equal(v[1].service, "telemetry");
	r = make_record(2, "192.0.2.7:40000");
	assert_int_equal(v[1].bytes, 4 + 12 + r->fields_len + 9);
	assert_int_equal(r->fields_len, 76);
	qrecord_free(r);
	qindex_free(v, n);
	assert_int_equal(qstore_get(s, id, &r, &e), 0);
	assert_int_equal(r->last_status, 422);
	assert_int_equal(r->attempts, 1);
	assert_string_equal(r->last_error, "bad?reading");
	assert_int_equal(r->reason, QR_REFUSED);
	qrecord_free(r);
	qstore_close(s);
}

/* Runs sql on the queue file behind the store's back. */
static void
tamper(const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_store_corrupt(void **state)
{
	struct qindex *v, *bad;
	struct qrecord *r;
	size_t n, nbad;
	struct qstore *s;
	struct err e;
	int64_t id;

	(void)state;
	s = open_store();
	id = add_records(s, 1, 3);
	qstore_close(s);
	tamper("UPDATE entries SET body = CAST('reading 9' AS BLOB) "
	    "WHERE body = CAST('reading 2' AS BLOB)");
	s = open_store();
	assert_int_equal(qstore_load(s, &v, &n, &bad, &nbad, &e), 0);
	assert_int_equal(nbad, 1);
	assert_int_equal(bad[0].id, id + 1);
	assert_string_equal(bad[0].service, "telemetry");
	assert_int_equal(n, 2);
	qindex_free(v, n);
	qindex_free(bad, nbad);
	/* a dead letter now, never handed out */
	assert_int_equal(qstore_fetch(s, id + 1, &r, &e), -ENOENT);
	assert_int_equal(qstore_get(s, id + 1, &r, &e), 0);
	assert_int_equal(r->state, QS_DEAD);
	assert_int_equal(r->reason, QR_CORRUPT);
	qrecord_free(r);
	/* and found when about to be sent, too */
	qstore_close(s);
	tamper("UPDATE entries SET target = '/v1/other' WHERE key = "
	    "'\"key-3\"'");
	s = open_store();
	assert_int_equal(qstore_fetch(s, id + 2, &r, &e), -EBADMSG);
	assert_null(r);
	assert_int_equal(qstore_get(s, id + 2, &r, &e), 0);
	assert_int_equal(r->reason, QR_CORRUPT);
	qrecord_free(r);
	qstore_close(s);
}

/* A child stores records and dies without closing: its WAL stays, as
 * after a power cut. */
static void
crash_after_adding(int n)
{
	struct qstore *s;
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		s = open_store();
		add_records(s, 1, n);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_store_torn_tail(void **state)
{
	struct qindex *v, *bad;
	struct qstore *s = NULL;
	size_t n, nbad;
	char wal[160], junk[300];
	uint64_t torn = 0;
	struct stat st;
	struct err e;
	FILE *f;

	(void)state;
	crash_after_adding(5);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > 32);
	/* a write cut in the middle of its frame */
	memset(junk, 0x5a, sizeof(junk));
	assert_non_null(f = fopen(wal, "ab"));
	assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);
	assert_int_equal(qstore_open(path, true, &s, &torn, &e), 0);
	assert_int_equal(torn, sizeof(junk));
	assert_int_equal(qstore_load(s, &v, &n, &bad, &nbad, &e), 0);
	assert_int_equal(n, 5);
	assert_int_equal(nbad, 0);
	qindex_free(v, n);
	qstore_close(s);
}

/* The bytes of file p, for comparing. */
static char *
slurp(const char *p, size_t *len)
{
	char *buf = malloc(1 << 16);
	FILE *f = fopen(p, "rb");

	assert_non_null(buf);
	assert_non_null(f);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static void
refused_unchanged(const char *why)
{
	struct qstore *s = NULL;
	size_t len1, len2;
	char *before, *after;
	uint64_t torn;
	struct err e;

	/* Owner-only, as a queue's file must be: refused for what it is,
	 * not for its mode. */
	assert_int_equal(chmod(path, 0600), 0);
	before = slurp(path, &len1);
	assert_int_equal(qstore_open(path, true, &s, &torn, &e), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(e.msg, why));
	after = slurp(path, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(before, after, len1);
	free(before);
	free(after);
}

static void
test_store_not_ours(void **state)
{
	char sdir[96];
	sqlite3 *db;
	FILE *f;

	(void)state;
	snprintf(sdir, sizeof(sdir), "%s/state", dir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	assert_non_null(f = fopen(path, "w"));
	fputs("temperature,21.5\nhumidity,40\n", f);
	fclose(f);
	refused_unchanged("not an SQLite database");
	/* another program's database */
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE entries (x);"
	    "INSERT INTO entries VALUES (1)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	refused_unchanged("another application");
}

/* qcmd_run with up to three words. */
static int
run(struct qstore *s, json_t **res, const char *a, const char *b)
{
	const char *args[2] = { a, b };
	struct err e;

	return qcmd_run(s, args, b != NULL ? 2 : 1, res, &e);
}

static void
test_store_commands(void **state)
{
	json_t *res, *ent, *f;
	struct qstore *s;
	struct err e;
	char idtext[32];
	int64_t id;
	size_t i;
	bool hid = false;

	(void)state;
	s = open_store();
	id = add_records(s, 1, 3);
	assert_int_equal(qstore_begin(s, &e), 0);
	assert_int_equal(qstore_kill(s, id, QR_REFUSED, 404, "no such "
	    "meter", 13, true, 1796412185000LL, &e), 0);
	assert_int_equal(qstore_commit(s, &e), 0);

	assert_int_equal(run(s, &res, "list", NULL), 0);
	assert_string_equal(json_string_value(json_object_get(res, "kind")),
	    "queue");
	assert_string_equal(json_string_value(json_object_get(res, "state")),
	    "waiting");
	assert_int_equal(json_integer_value(json_object_get(res, "total")), 2);
	assert_false(json_is_true(json_object_get(res, "truncated")));
	ent = json_array_get(json_object_get(res, "entries"), 0);
	assert_int_equal(json_integer_value(json_object_get(ent, "id")),
	    id + 1);
	assert_string_equal(json_string_value(json_object_get(ent,
	    "device")), "192.0.2.7:40000");
	assert_true(json_is_null(json_object_get(ent, "mac")));
	assert_true(json_is_null(json_object_get(ent, "reason")));
	assert_string_equal(json_string_value(json_object_get(ent,
	    "accepted")), "2026-12-04T19:23:04.002Z");
	json_decref(res);

	assert_int_equal(run(s, &res, "list", "dead"), 0);
	ent = json_array_get(json_object_get(res, "entries"), 0);
	assert_string_equal(json_string_value(json_object_get(ent, "reason")),
	    "refused");
	assert_int_equal(json_integer_value(json_object_get(ent,
	    "last_status")), 404);
	assert_true(json_is_string(json_object_get(ent, "dead_at")));
	json_decref(res);

	snprintf(idtext, sizeof(idtext), "%lld", (long long)id + 1);
	assert_int_equal(run(s, &res, "show", idtext), 0);
	ent = json_object_get(res, "entry");
	assert_string_equal(json_string_value(json_object_get(ent, "body")),
	    "reading 2");
	assert_string_equal(json_string_value(json_object_get(ent, "key")),
	    "\"key-2\"");
	f = json_object_get(ent, "fields");
	for (i = 0; i < json_array_size(f); i++)
		if (strcmp(json_string_value(json_array_get(json_array_get(f,
		    i), 0)), "authorization") == 0) {
			assert_string_equal(json_string_value(json_array_get(
			    json_array_get(f, i), 1)), "(hidden)");
			hid = true;
		}
	assert_true(hid);
	json_decref(res);

	/* retry: the dead letter waits again, in its old place */
	assert_int_equal(run(s, &res, "retry", idtext), -EALREADY);
	assert_int_equal(run(s, &res, "retry", "dead"), 0);
	assert_string_equal(json_string_value(json_object_get(res,
	    "command")), "retry");
	assert_int_equal(json_integer_value(json_object_get(res, "count")), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(
	    res, "ids"), 0)), id);
	json_decref(res);
	assert_int_equal(run(s, &res, "drop", idtext), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "count")), 1);
	json_decref(res);
	assert_int_equal(run(s, &res, "drop", idtext), -ENOENT);
	assert_int_equal(run(s, &res, "drop", "x1"), -EINVAL);
	assert_int_equal(run(s, &res, "frob", NULL), -EINVAL);
	assert_int_equal(run(s, &res, "list", NULL), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "total")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(res, "entries"), 0), "id")), id);
	json_decref(res);
	/* no file yet: an empty list */
	assert_int_equal(run(NULL, &res, "list", NULL), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "total")), 0);
	json_decref(res);
	qstore_close(s);
}

/* --- The loop's side: a real event loop and the real thread --------- */

struct rig {
	struct event_base *base;
	struct edge_conf cf;
	struct edge_listener_conf lc;
	struct edge_listener_conf *lcs[1];
	char state[96];
	struct sfq *q;
	FILE *log;
};

static struct h2conn *
no_tunnel(void *arg)
{
	(void)arg;
	return NULL;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Turns the loop until *flag or 5 s; whether flag came. */
static bool
turn_until(struct rig *g, bool (*cond)(struct rig *, void *), void *arg)
{
	struct timeval tv = { 0, 5000 };
	struct event *t = event_new(g->base, -1, EV_PERSIST, tick, NULL);
	int i;

	event_add(t, &tv);
	for (i = 0; i < 1000 && !cond(g, arg); i++)
		event_base_loop(g->base, EVLOOP_ONCE);
	event_free(t);
	return cond(g, arg);
}

static bool
is_up(struct rig *g, void *arg)
{
	struct sfq_stats st;

	(void)arg;
	sfq_stats(g->q, &st);
	return st.up;
}

static bool
flag_set(struct rig *g, void *arg)
{
	(void)g;
	return *(int *)arg != 0;
}

static void
rig_open(struct rig *g)
{
	struct sfq_env env = { g->base, no_tunnel, NULL };
	struct err e;

	assert_int_equal(sfq_open(&env, &g->cf, &g->q, &e), 0);
	assert_true(turn_until(g, is_up, NULL));
}

static void
rig_init(struct rig *g, int mode)
{
	memset(g, 0, sizeof(*g));
	assert_non_null(g->base = event_base_new());
	snprintf(g->state, sizeof(g->state), "%s/state", dir);
	g->cf.state_dir = g->state;
	g->cf.queue_max_size = 1 << 20;
	g->cf.queue_max_age = 7LL * 24 * 3600 * 1000;
	g->cf.queue_max_body = 1 << 20;
	g->cf.replay_streams = 8;
	snprintf(g->lc.name, sizeof(g->lc.name), "meters");
	g->lc.mode = LISTEN_HTTP;
	g->lc.store_forward = mode;
	g->lcs[0] = &g->lc;
	g->cf.listeners = g->lcs;
	g->cf.nlisteners = 1;
	assert_non_null(g->log = tmpfile());
	log_set_stream(g->log);
}

static void
rig_close(struct rig *g)
{
	sfq_close(g->q);
	g->q = NULL;
}

static void
rig_free(struct rig *g)
{
	rig_close(g);
	event_base_free(g->base);
	log_set_stream(NULL);
	fclose(g->log);
}

/* Whether the log holds text. */
static bool
logged(struct rig *g, const char *text)
{
	char line[1024];
	bool found = false;

	fflush(g->log);
	rewind(g->log);
	while (!found && fgets(line, sizeof(line), g->log) != NULL)
		found = strstr(line, text) != NULL;
	fseek(g->log, 0, SEEK_END);
	return found;
}

struct submitted {
	int done, rc;
};

static void
on_done(void *arg, int rc)
{
	struct submitted *s = arg;

	s->done++;
	s->rc = rc;
}

/* Queues reading n as a device would; the refusal or 0. */
static int
submit(struct rig *g, int n, struct submitted *s)
{
	struct evbuffer *body = evbuffer_new();
	struct sfq_ticket *t;
	struct hdrs h;
	struct sfq_req r;
	char key[64];
	int rc;

	hdrs_init(&h);
	snprintf(key, sizeof(key), "\"key-%d\"", n);
	assert_int_equal(hdrs_add(&h, RELAY_DEVICE_HEADER,
	    strlen(RELAY_DEVICE_HEADER), "192.0.2.7:40000", 15), 0);
	assert_int_equal(hdrs_add(&h, HTTP_IDEMPOTENCY_KEY,
	    strlen(HTTP_IDEMPOTENCY_KEY), key, strlen(key)), 0);
	evbuffer_add_printf(body, "reading %d", n);
	memset(&r, 0, sizeof(r));
	r.listener = "meters";
	r.service = "telemetry";
	r.device = "192.0.2.7:40000";
	r.mac = "";
	r.method = "POST";
	r.target = "/v1/readings";
	r.fields = &h;
	r.key = key;
	r.body = body;
	rc = sfq_submit(g->q, &r, on_done, s, &t);
	assert_true(rc != 0 || t != NULL);
	/* the caller's buffers are its own again at once */
	hdrs_free(&h);
	evbuffer_free(body);
	return rc;
}

static void
test_durable(void **state)
{
	struct submitted s = { 0, -1 };
	struct sfq_stats st;
	struct rig g;

	(void)state;
	rig_init(&g, SF_ON);
	rig_open(&g);
	assert_true(logged(&g, "event=queue_open"));
	assert_int_equal(submit(&g, 1, &s), 0);
	assert_int_equal(s.done, 0);	/* never from inside the caller */
	assert_true(turn_until(&g, flag_set, &s.done));
	assert_int_equal(s.rc, 0);
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 1);
	assert_int_equal(st.accepted, 1);
	assert_true(st.bytes > 0);
	rig_close(&g);
	/* after a restart, still there */
	rig_open(&g);
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 1);
	assert_true(logged(&g, "waiting=1"));
	rig_free(&g);
}

static void
test_group_commit(void **state)
{
	struct submitted s[200];
	struct sfq_stats st;
	uint64_t commits;
	struct rig g;
	int i, all = 0;

	(void)state;
	rig_init(&g, SF_ALWAYS);
	rig_open(&g);
	memset(s, 0, sizeof(s));
	for (i = 0; i < 200; i++)
		assert_int_equal(submit(&g, i, &s[i]), 0);
	for (i = 0; i < 200; i++) {
		assert_true(turn_until(&g, flag_set, &s[i].done));
		all += s[i].rc == 0;
	}
	assert_int_equal(all, 200);
	pthread_mutex_lock(&g.q->mu);
	commits = g.q->commits;
	pthread_mutex_unlock(&g.q->mu);
	print_message("200 requests, %llu commits\n",
	    (unsigned long long)commits);
	assert_true(commits >= 1 && commits <= 20);
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 200);
	rig_free(&g);
}

static void
test_bounds(void **state)
{
	struct submitted s[3];
	struct sfq_stats st;
	struct rig g;

	(void)state;
	rig_init(&g, SF_ON);
	memset(s, 0, sizeof(s));
	rig_open(&g);
	assert_int_equal(submit(&g, 1, &s[0]), 0);
	sfq_stats(g.q, &st);
	/* what is on its way to the file counts already */
	g.q->max_size = g.q->pending_bytes * 2;
	assert_int_equal(submit(&g, 2, &s[1]), 0);
	assert_int_equal(submit(&g, 3, &s[2]), SFQ_REFUSED_FULL);
	assert_true(turn_until(&g, flag_set, &s[1].done));
	assert_int_equal(s[2].done, 0);	/* a refusal never calls done */
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 2);
	assert_int_equal(st.refused[SFQ_REFUSED_FULL], 1);
	assert_true(logged(&g, "reason=full"));
	assert_true(sfq_retry_after(g.q, SFQ_REFUSED_FULL) > 0);
	rig_close(&g);
	rig_open(&g);
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 2);
	rig_free(&g);
}

struct answer {
	int done, rc;
	json_t *result;
};

static void
on_exec(int rc, json_t *result, const char *error, void *arg)
{
	struct answer *a = arg;

	(void)error;
	a->done++;
	a->rc = rc;
	a->result = result;
}

static int
exec2(struct rig *g, struct answer *a, const char *w1, const char *w2)
{
	const char *args[2] = { w1, w2 };

	memset(a, 0, sizeof(*a));
	assert_int_equal(sfq_exec(g->q, args, w2 != NULL ? 2 : 1,
	    "local:tester", on_exec, a), 0);
	assert_true(turn_until(g, flag_set, &a->done));
	return a->rc;
}

static void
fill(struct rig *g, int n)
{
	struct submitted s = { 0, -1 };
	int i;

	for (i = 1; i <= n; i++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(submit(g, i, &s), 0);
		assert_true(turn_until(g, flag_set, &s.done));
		assert_int_equal(s.rc, 0);
	}
}

static void
test_expiry_and_commands(void **state)
{
	struct sfq_stats st;
	struct answer a, b;
	struct rig g;
	json_t *ent;
	char id[32];

	(void)state;
	rig_init(&g, SF_ON);
	rig_open(&g);
	fill(&g, 3);
	rig_close(&g);
	usleep(5000);
	g.cf.queue_max_age = 1;
	rig_open(&g);
	/* Old by the wall clock, but this run met them just now: they
	 * wait until they are as old by its own clock too. */
	sfq_stats(g.q, &st);
	assert_int_equal(st.dead, 0);
	usleep(5000);
	sfq_expire(g.q);
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.dead, 3);
	assert_int_equal(st.dead_lettered[QR_EXPIRED], 3);
	assert_true(logged(&g, "event=queue_expired"));
	/* the file says so too, once the thread wrote it */
	assert_int_equal(exec2(&g, &a, "list", "dead"), 0);
	assert_int_equal(json_integer_value(json_object_get(a.result,
	    "total")), 3);
	ent = json_array_get(json_object_get(a.result, "entries"), 0);
	assert_string_equal(json_string_value(json_object_get(ent,
	    "reason")), "expired");
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(
	    json_object_get(ent, "id")));
	json_decref(a.result);
	g.q->max_age = 0;
	assert_int_equal(exec2(&g, &a, "retry", "dead"), 0);
	assert_int_equal(json_integer_value(json_object_get(a.result,
	    "count")), 3);
	json_decref(a.result);
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 3);
	assert_int_equal(st.dead, 0);
	assert_true(logged(&g, "event=queue_retry id=dead count=3 "
	    "by=local:tester"));
	assert_int_equal(exec2(&g, &a, "drop", id), 0);
	json_decref(a.result);
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 2);
	assert_true(logged(&g, "event=queue_dropped"));
	assert_int_equal(exec2(&g, &a, "show", id), -ENOENT);
	assert_null(a.result);
	/* a caller that gave up hears nothing */
	memset(&b, 0, sizeof(b));
	{
		const char *args[1] = { "list" };

		assert_int_equal(sfq_exec(g.q, args, 1, "local:tester",
		    on_exec, &b), 0);
		sfq_exec_cancel(g.q, &b);
		assert_int_equal(exec2(&g, &a, "list", NULL), 0);
		json_decref(a.result);
		assert_int_equal(b.done, 0);
	}
	rig_close(&g);
	/* with no edge running */
	{
		const char *args[1] = { "list" };
		json_t *res = NULL;
		struct err e;

		assert_int_equal(sfq_exec_offline(&g.cf, args, 1, "local:x",
		    &res, &e), 0);
		assert_int_equal(json_integer_value(json_object_get(res,
		    "total")), 2);
		json_decref(res);
	}
	rig_free(&g);
}

static void
test_corrupt_at_start(void **state)
{
	struct sfq_stats st;
	struct rig g;

	(void)state;
	rig_init(&g, SF_ON);
	rig_open(&g);
	fill(&g, 3);
	rig_close(&g);
	tamper("UPDATE entries SET body = CAST('reading 7' AS BLOB) "
	    "WHERE body = CAST('reading 2' AS BLOB)");
	rig_open(&g);
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 2);
	assert_int_equal(st.dead, 1);
	assert_int_equal(st.dead_lettered[QR_CORRUPT], 1);
	assert_true(logged(&g, "event=queue_corrupt"));
	rig_free(&g);
}

static void
test_torn_at_start(void **state)
{
	struct sfq_stats st;
	char wal[160], junk[100];
	struct rig g;
	FILE *f;

	(void)state;
	crash_after_adding(4);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	memset(junk, 0xa5, sizeof(junk));
	assert_non_null(f = fopen(wal, "ab"));
	assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);
	rig_init(&g, SF_ON);
	rig_open(&g);
	assert_true(logged(&g, "event=queue_torn_tail"));
	assert_true(logged(&g, "bytes=100"));
	sfq_stats(g.q, &st);
	assert_int_equal(st.depth, 4);
	rig_free(&g);
}

static bool
has_error(struct rig *g, void *arg)
{
	struct sfq_stats st;

	sfq_stats(g->q, &st);
	return strstr(st.error, (const char *)arg) != NULL;
}

static void
test_second_edge(void **state)
{
	struct sfq_env env;
	struct submitted s = { 0, -1 };
	struct sfq *first;
	struct sfq_stats st;
	struct rig g;
	struct err e;

	(void)state;
	rig_init(&g, SF_ON);
	rig_open(&g);
	first = g.q;
	env = (struct sfq_env){ g.base, no_tunnel, NULL };
	assert_int_equal(sfq_open(&env, &g.cf, &g.q, &e), 0);
	assert_true(turn_until(&g, has_error, "queue.lock"));
	sfq_stats(g.q, &st);
	assert_false(st.up);
	assert_true(logged(&g, "event=queue_unavailable"));
	assert_int_equal(submit(&g, 1, &s), SFQ_REFUSED_UNAVAILABLE);
	sfq_close(g.q);
	g.q = first;
	rig_free(&g);
}

static void
test_learn(void **state)
{
	struct edge_listener_conf on;
	struct rig g;

	(void)state;
	rig_init(&g, SF_SERVICE);
	g.q = NULL;
	{
		struct sfq_env env = { g.base, no_tunnel, NULL };
		struct err e;

		assert_int_equal(sfq_open(&env, &g.cf, &g.q, &e), 0);
	}
	/* nothing heard: not queued, and no file made for it */
	assert_int_equal(sfq_mode(g.q, &g.lc, "telemetry"), SF_OFF);
	assert_false(fs_exists(path));
	sfq_learn(g.q, "telemetry", SF_ON, false);
	assert_int_equal(sfq_mode(g.q, &g.lc, "telemetry"), SF_ON);
	assert_true(logged(&g, "event=store_forward_learned "
	    "service=telemetry mode=on"));
	assert_true(turn_until(&g, is_up, NULL));	/* made now */
	/* a confidential service is never queued, whatever lc says */
	sfq_learn(g.q, "secrets", SF_OFF, true);
	on = g.lc;
	on.store_forward = SF_ALWAYS;
	assert_int_equal(sfq_mode(g.q, &on, "secrets"), SF_OFF);
	assert_int_equal(sfq_mode(g.q, &on, "secrets"), SF_OFF);
	assert_true(logged(&g, "event=store_forward_refused service=secrets"));
	rig_close(&g);
	/* kept in the file: it holds from the start */
	rig_open(&g);
	assert_int_equal(sfq_mode(g.q, &g.lc, "telemetry"), SF_ON);
	assert_int_equal(sfq_mode(g.q, &on, "secrets"), SF_OFF);
	rig_free(&g);
}

/* --- Replay over a real HTTP/2 session (a socketpair, no TLS) -------- */

#define BACKEND_MAX 16

/* The cloud's side, reduced to a backend that answers from a script. */
struct backend {
	struct event_base *base;
	const int *script;		/* statuses, in order; then 200 */
	size_t nscript, seen;
	char keys[BACKEND_MAX][64];
	char bodies[BACKEND_MAX][64];
	bool accepted[BACKEND_MAX];
	int64_t at_ms[BACKEND_MAX];
};

struct exchange {
	struct backend *b;
	struct relay *r;
	struct event *ev;
	int status;
	size_t idx;
};

static void
ex_answer(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *x = arg;
	static const char text[] = "no such meter\n";
	nghttp2_nv nv[1] = { { (uint8_t *)"retry-after", (uint8_t *)"0", 11,
	    1, NGHTTP2_NV_FLAG_NONE } };

	(void)fd;
	(void)what;
	if (x->r == NULL)
		return;
	assert_int_equal(relay_http_respond(x->r, x->status, nv,
	    x->status == 503 ? 1 : 0, true), 0);
	assert_int_equal(relay_body_write(x->r, text, strlen(text)), 0);
	relay_body_end(x->r);
}

static void
ex_body(struct relay *r, void *arg)
{
	struct exchange *x = arg;
	struct evbuffer *in = relay_body_in(r);
	size_t n = evbuffer_get_length(in);
	char *dst = x->b->bodies[x->idx];
	size_t have = strlen(dst);

	if (have + n < sizeof(x->b->bodies[0]))
		evbuffer_copyout(in, dst + have, n);
	relay_body_drop(r, NULL);
	if (relay_body_in_done(r))
		event_active(x->ev, EV_TIMEOUT, 1);
}

static void
ex_done(struct relay *r, bool complete, void *arg)
{
	struct exchange *x = arg;

	(void)r;
	(void)complete;
	event_free(x->ev);
	free(x);
}

static const struct relay_http_ops backend_ops = {
	.body = ex_body,
	.done = ex_done,
};

static void
on_request(struct h2conn *c, struct relay *r, void *arg)
{
	struct backend *b = arg;
	struct exchange *x = calloc(1, sizeof(*x));
	const struct hdrs *h = relay_hdrs(r);
	const char *key = hdrs_get(h, HTTP_IDEMPOTENCY_KEY);

	(void)c;
	assert_non_null(x);
	assert_true(b->seen < BACKEND_MAX);
	x->b = b;
	x->r = r;
	x->idx = b->seen++;
	x->status = x->idx < b->nscript ? b->script[x->idx] : 200;
	x->ev = event_new(b->base, -1, 0, ex_answer, x);
	snprintf(b->keys[x->idx], sizeof(b->keys[0]), "%s", key != NULL ?
	    key : "");
	b->accepted[x->idx] = hdrs_get(h, HTTP_ACCEPTED_FIELD) != NULL;
	b->at_ms[x->idx] = mono_us() / 1000;
	assert_string_equal(relay_path(r), "/v1/readings");
	assert_string_equal(relay_info(r)->authority, "telemetry");
	assert_int_equal(relay_http_take(r, &backend_ops, x), 0);
}

static void
h2_closed(struct h2conn *c, const char *why, void *arg)
{
	(void)c;
	(void)why;
	(void)arg;
}

static struct h2conn *tunnel;

/* A TLS 1.3 pair on a socketpair, past its handshake, as h2conn wants
 * them: a self-signed server certificate, the client trusting all. */
struct tls_pair {
	SSL_CTX *sctx, *cctx;
	struct bufferevent *c, *s;
	int up;
};

static void
tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct tls_pair *p = arg;

	(void)bev;
	assert_true(what & BEV_EVENT_CONNECTED);
	p->up++;
}

static bool
pair_up(struct rig *g, void *arg)
{
	(void)g;
	return ((struct tls_pair *)arg)->up == 2;
}

static void
tls_pair_open(struct rig *g, struct tls_pair *p)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	int sv[2];

	memset(p, 0, sizeof(*p));
	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"cloud", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_non_null(p->sctx = SSL_CTX_new(TLS_server_method()));
	assert_non_null(p->cctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(SSL_CTX_use_certificate(p->sctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(p->sctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(sv[1]);
	p->c = bufferevent_openssl_socket_new(g->base, sv[0],
	    SSL_new(p->cctx), BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	p->s = bufferevent_openssl_socket_new(g->base, sv[1],
	    SSL_new(p->sctx), BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(p->c);
	assert_non_null(p->s);
	bufferevent_setcb(p->c, NULL, NULL, tls_event, p);
	bufferevent_setcb(p->s, NULL, NULL, tls_event, p);
	bufferevent_enable(p->c, EV_READ | EV_WRITE);
	bufferevent_enable(p->s, EV_READ | EV_WRITE);
	assert_true(turn_until(g, pair_up, p));
}

static struct h2conn *
the_tunnel(void *arg)
{
	(void)arg;
	return tunnel;
}

static bool
replayed(struct rig *g, void *arg)
{
	struct sfq_stats st;

	sfq_stats(g->q, &st);
	return st.depth == 0 && st.inflight == 0 && st.replayed ==
	    *(uint64_t *)arg;
}

static void
test_replay(void **state)
{
	static const int script[] = { 503, 200, 422 };
	struct backend b = { .script = script, .nscript = 3 };
	struct h2conn_cbs ccbs = { .closed = h2_closed };
	struct h2conn_cbs scbs = { .request = on_request, .closed = h2_closed };
	struct sfq_env env;
	struct tls_pair tp;
	struct h2conn *server;
	struct sfq_stats st;
	struct answer a;
	uint64_t want = 2;
	struct rig g;
	json_t *ent;

	(void)state;
	rig_init(&g, SF_ON);
	b.base = g.base;
	env = (struct sfq_env){ g.base, the_tunnel, NULL };
	tunnel = NULL;
	assert_int_equal(sfq_open(&env, &g.cf, &g.q, &(struct err){ "" }),
	    0);
	assert_true(turn_until(&g, is_up, NULL));
	fill(&g, 3);		/* while the tunnel is down */
	tls_pair_open(&g, &tp);
	assert_int_equal(h2conn_new(tp.c, false, &ccbs, NULL, &tunnel), 0);
	assert_int_equal(h2conn_new_server(tp.s, 100, &scbs, &b, &server),
	    0);
	sfq_kick(g.q);
	assert_true(turn_until(&g, replayed, &want));
	/* one at a time, in order: the 503 sent again after its back-off,
	 * the 422 a dead letter, the one behind it delivered */
	assert_int_equal(b.seen, 4);
	assert_string_equal(b.keys[0], "\"key-1\"");
	assert_string_equal(b.keys[1], "\"key-1\"");
	assert_string_equal(b.keys[2], "\"key-2\"");
	assert_string_equal(b.keys[3], "\"key-3\"");
	assert_string_equal(b.bodies[1], "reading 1");
	assert_string_equal(b.bodies[3], "reading 3");
	assert_true(b.accepted[0] && b.accepted[3]);
	assert_true(b.at_ms[1] - b.at_ms[0] >= SFQ_BACKOFF_MIN_MS - 50);
	sfq_stats(g.q, &st);
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.dead, 1);
	assert_int_equal(st.dead_lettered[QR_REFUSED], 1);
	assert_true(logged(&g, "event=queue_dead"));
	assert_int_equal(exec2(&g, &a, "list", "dead"), 0);
	ent = json_array_get(json_object_get(a.result, "entries"), 0);
	assert_int_equal(json_integer_value(json_object_get(ent,
	    "last_status")), 422);
	assert_string_equal(json_string_value(json_object_get(ent,
	    "last_error")), "no such meter?");
	assert_int_equal(json_integer_value(json_object_get(ent,
	    "attempts")), 1);
	json_decref(a.result);
	rig_close(&g);
	h2conn_free(tunnel);
	h2conn_free(server);
	SSL_CTX_free(tp.sctx);
	SSL_CTX_free(tp.cctx);
	tunnel = NULL;
	rig_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_create_lock, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_corrupt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_torn_tail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_not_ours, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_commands, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_and_commands,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_at_start, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_torn_at_start, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_second_edge, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_learn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
