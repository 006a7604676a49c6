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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/proto.h"
#include "edge/queue/qstore.h"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
