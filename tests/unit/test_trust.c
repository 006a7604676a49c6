/*
 * The trust store (edge/trust/tstore.h) on real files: its creation and
 * permissions, the bounds, the decisions and their conditions, the
 * commands' JSON, and files that are not a trust store, which must be
 * refused and left byte for byte as they were.
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
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "common/proto.h"
#include "common/tls.h"
#include "edge/trust/trust.h"
#include "edge/trust/tstore.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_trust.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	/* a directory the store makes itself */
	snprintf(path, sizeof(path), "%s/state/trust.db", dir);
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

/* A self-signed certificate with that common name. */
static X509 *
make_cert(const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;

	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	return x;
}

/* Records cert for (kind, peer) as the edge would; the rc. */
static int
record(struct tstore *s, int kind, const char *peer, X509 *x,
    struct trust_entry *ent)
{
	unsigned char *der = NULL;
	struct err e;
	int len, rc;

	memset(ent, 0, sizeof(*ent));
	ent->kind = kind;
	snprintf(ent->peer, sizeof(ent->peer), "%s", peer);
	snprintf(ent->address, sizeof(ent->address), "192.0.2.1:443");
	snprintf(ent->scope, sizeof(ent->scope), "meter-1");
	assert_int_equal(tls_cert_sha256(x, ent->cert_sha256), 0);
	assert_int_equal(tls_spki_sha256(x, ent->spki_sha256), 0);
	tls_name_line(X509_get_subject_name(x), ent->subject,
	    sizeof(ent->subject));
	ent->not_before = tls_time_epoch(X509_get0_notBefore(x));
	ent->not_after = tls_time_epoch(X509_get0_notAfter(x));
	ent->first_seen = ent->last_seen = 1796412184;
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	rc = tstore_record(s, ent, der, (size_t)len, &e);
	OPENSSL_free(der);
	return rc;
}

static struct tstore *
open_new(void)
{
	struct tstore *s = NULL;
	struct err e;

	assert_int_equal(tstore_open(path, true, &s, &e), 0);
	return s;
}

static void
test_create_and_modes(void **state)
{
	struct tstore *s = NULL;
	struct stat st;
	struct err e;
	char sdir[96];

	(void)state;
	assert_int_equal(tstore_open(path, false, &s, &e), -ENOENT);
	assert_null(s);
	assert_false(stat(path, &st) == 0);
	s = open_new();
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(sdir, sizeof(sdir), "%s/state", dir);
	assert_int_equal(stat(sdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	tstore_close(s);
	/* and again: the schema is there */
	assert_int_equal(tstore_open(path, false, &s, &e), 0);
	tstore_close(s);
}

static void
test_record_and_limits(void **state)
{
	struct tstore *s = open_new();
	struct trust_entry ent, first, got;
	struct trust_entry *all;
	X509 *x[TRUST_WAITING_PER_PEER + 1];
	size_t n, i;
	struct err e;

	(void)state;
	for (i = 0; i <= TRUST_WAITING_PER_PEER; i++) {
		char cn[32];

		snprintf(cn, sizeof(cn), "dev-%zu", i);
		x[i] = make_cert(cn);
	}
	assert_int_equal(record(s, TK_API, "192.0.2.1:443", x[0], &first), 0);
	assert_true(first.id > 0);
	assert_int_equal(first.state, TS_PENDING);
	/* the same one again: -EEXIST, the same id */
	assert_int_equal(record(s, TK_API, "192.0.2.1:443", x[0], &ent),
	    -EEXIST);
	assert_int_equal(ent.id, first.id);
	/* the same certificate for another kind is another entry */
	assert_int_equal(record(s, TK_DEVICE, "192.0.2.1:443", x[0], &ent), 0);
	for (i = 1; i < TRUST_WAITING_PER_PEER; i++)
		assert_int_equal(record(s, TK_API, "192.0.2.1:443", x[i],
		    &ent), 0);
	assert_int_equal(record(s, TK_API, "192.0.2.1:443",
	    x[TRUST_WAITING_PER_PEER], &ent), -ENOSPC);
	assert_int_equal(tstore_load(s, &all, &n, &e), 0);
	assert_int_equal(n, TRUST_WAITING_PER_PEER + 1);
	assert_int_equal(all[0].id, first.id);
	assert_string_equal(all[0].subject, "CN=dev-0");
	assert_memory_equal(all[0].cert_sha256, first.cert_sha256, 32);
	free(all);
	assert_int_equal(tstore_get(s, 9999, &got, NULL, NULL, &e), -ENOENT);
	for (i = 0; i <= TRUST_WAITING_PER_PEER; i++)
		X509_free(x[i]);
	tstore_close(s);
}

static void
test_decisions(void **state)
{
	struct tstore *s = open_new();
	struct trust_entry a, b, got;
	uint8_t wrong[32];
	X509 *xa = make_cert("dmu-a"), *xb = make_cert("dmu-b");
	int64_t removed = -1;
	struct err e;

	(void)state;
	assert_int_equal(record(s, TK_API, "192.0.2.9:443", xa, &a), 0);
	memset(wrong, 0xab, sizeof(wrong));
	assert_int_equal(tstore_approve(s, a.id, wrong, "local:t", 10,
	    &removed, &e), -EACCES);
	assert_non_null(strstr(e.msg, "does not match"));
	assert_int_equal(tstore_get(s, a.id, &got, NULL, NULL, &e), 0);
	assert_int_equal(got.state, TS_PENDING);
	assert_string_equal(got.decided_by, "");
	assert_int_equal(tstore_approve(s, a.id, a.cert_sha256, "local:t", 10,
	    &removed, &e), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(tstore_approve(s, a.id, a.cert_sha256, "local:t", 11,
	    &removed, &e), -EALREADY);
	/* another certificate for the approved peer: changed */
	assert_int_equal(record(s, TK_API, "192.0.2.9:443", xb, &b), 0);
	assert_int_equal(b.state, TS_CHANGED);
	assert_int_equal(b.replaces, a.id);
	assert_int_equal(tstore_get(s, b.id, &got, NULL, NULL, &e), 0);
	assert_int_equal(got.replaces, a.id);
	/* rejecting it keeps the old one */
	assert_int_equal(tstore_reject(s, b.id, "cloud:ops", 12, &e), 0);
	assert_int_equal(tstore_reject(s, b.id, "cloud:ops", 12, &e),
	    -EALREADY);
	assert_int_equal(tstore_get(s, a.id, &got, NULL, NULL, &e), 0);
	assert_int_equal(got.state, TS_APPROVED);
	/* approving a changed one removes the one it replaces */
	assert_int_equal(tstore_forget(s, b.id, &e), 0);
	assert_int_equal(tstore_forget(s, b.id, &e), -ENOENT);
	assert_int_equal(record(s, TK_API, "192.0.2.9:443", xb, &b), 0);
	assert_int_equal(b.state, TS_CHANGED);
	assert_int_equal(tstore_approve(s, b.id, b.cert_sha256, "local:t", 13,
	    &removed, &e), 0);
	assert_int_equal(removed, a.id);
	assert_int_equal(tstore_get(s, a.id, &got, NULL, NULL, &e), -ENOENT);
	assert_int_equal(tstore_get(s, b.id, &got, NULL, NULL, &e), 0);
	assert_int_equal(got.state, TS_APPROVED);
	assert_int_equal(got.replaces, 0);
	assert_string_equal(got.decided_by, "local:t");
	assert_int_equal(got.decided_at, 13);
	X509_free(xa);
	X509_free(xb);
	tstore_close(s);
}

/* Another connection's change is seen; one's own is not. */
static void
test_changed(void **state)
{
	struct tstore *s = open_new(), *other = open_new();
	struct trust_entry a;
	X509 *x = make_cert("watched");

	(void)state;
	assert_false(tstore_changed(s));
	assert_int_equal(record(s, TK_API, "192.0.2.3:443", x, &a), 0);
	assert_false(tstore_changed(s));
	assert_true(tstore_changed(other));
	assert_int_equal(record(other, TK_API, "192.0.2.4:443", x, &a), 0);
	assert_true(tstore_changed(s));
	assert_false(tstore_changed(s));
	X509_free(x);
	tstore_close(other);
	tstore_close(s);
}

static json_t *
command(struct tstore *s, int want, const char *a0, const char *a1,
    const char *a2)
{
	const char *args[3] = { a0, a1, a2 };
	size_t n = a2 != NULL ? 3 : a1 != NULL ? 2 : 1;
	json_t *res = NULL;
	struct err e;

	assert_int_equal(trust_command(s, args, n, "local:tester", 200, &res,
	    &e), want);
	return res;
}

static void
test_command_json(void **state)
{
	static const char *const keys[] = { "id", "kind", "peer", "address",
	    "mac", "scope", "state", "cert_sha256", "spki_sha256", "subject",
	    "issuer", "not_before", "not_after", "expired", "first_seen",
	    "last_seen", "replaces", "decided_by", "decided_at", NULL };
	struct tstore *s = open_new();
	struct trust_entry a;
	X509 *x = make_cert("DMU801-J4410123");
	char fp[TLS_FP_LEN], id[24];
	json_t *res, *ent;
	size_t i;

	(void)state;
	assert_int_equal(record(s, TK_API, "192.0.2.21:443", x, &a), 0);
	tls_fp_format(a.cert_sha256, fp);
	snprintf(id, sizeof(id), "%lld", (long long)a.id);
	res = command(s, 0, "list", NULL, NULL);
	ent = json_array_get(json_object_get(res, "entries"), 0);
	for (i = 0; keys[i] != NULL; i++)
		assert_non_null(json_object_get(ent, keys[i]));
	assert_int_equal(json_object_size(ent), 19);
	assert_string_equal(json_string_value(json_object_get(ent,
	    "cert_sha256")), fp);
	assert_true(json_is_null(json_object_get(ent, "mac")));
	assert_true(json_is_null(json_object_get(ent, "decided_by")));
	assert_true(json_is_false(json_object_get(ent, "expired")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    res, "counts"), "pending")), 1);
	assert_null(json_object_get(res, "truncated"));
	json_decref(res);
	res = command(s, 0, "show", id, NULL);
	ent = json_object_get(res, "entry");
	assert_non_null(strstr(json_string_value(json_object_get(ent, "pem")),
	    "-----BEGIN CERTIFICATE-----"));
	json_decref(res);
	assert_null(command(s, -EINVAL, "approve", id, "sha256:zz"));
	assert_null(command(s, -EINVAL, "approve", id, NULL));
	assert_null(command(s, -EINVAL, "show", "3x", NULL));
	assert_null(command(s, -EINVAL, "frobnicate", NULL, NULL));
	assert_null(command(s, -ENOENT, "reject", "777", NULL));
	fp[10] = fp[10] == 'a' ? 'b' : 'a';
	assert_null(command(s, -EACCES, "approve", id, fp));
	tls_fp_format(a.cert_sha256, fp);
	res = command(s, 0, "approve", id, fp);
	assert_string_equal(json_string_value(json_object_get(res, "action")),
	    "approve");
	assert_true(json_is_null(json_object_get(res, "removed")));
	ent = json_object_get(res, "entry");
	assert_string_equal(json_string_value(json_object_get(ent, "state")),
	    "approved");
	assert_string_equal(json_string_value(json_object_get(ent,
	    "decided_by")), "local:tester");
	json_decref(res);
	assert_null(command(s, -EALREADY, "approve", id, fp));
	res = command(s, 0, "list", "pending", NULL);
	assert_int_equal(json_array_size(json_object_get(res, "entries")), 0);
	json_decref(res);
	res = command(s, 0, "forget", id, NULL);
	assert_string_equal(json_string_value(json_object_get(res, "action")),
	    "forget");
	json_decref(res);
	X509_free(x);
	tstore_close(s);
}

/* A remote list (TRUST_LIST_REMOTE, 100 entries) of the longest entries
 * there can be, whose subject and issuer double when JSON escapes them,
 * still fits in one management result. */
static void
test_remote_list_fits_a_result(void **state)
{
	struct tstore *s = open_new();
	struct trust_entry ent;
	X509 *x = make_cert("long");
	unsigned char *der = NULL;
	const char *args[1] = { "list" };
	json_t *res = NULL;
	struct err e;
	char *text;
	int i, len;

	(void)state;
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	for (i = 0; i < 100; i++) {
		memset(&ent, 0, sizeof(ent));
		ent.kind = TK_API;
		memset(ent.peer, 'p', sizeof(ent.peer) - 1);
		snprintf(ent.peer, 8, "%06d", i);
		ent.peer[6] = 'p';
		memset(ent.address, '9', sizeof(ent.address) - 1);
		memset(ent.scope, 's', sizeof(ent.scope) - 1);
		memset(ent.subject, '\\', sizeof(ent.subject) - 1);
		memset(ent.issuer, '"', sizeof(ent.issuer) - 1);
		snprintf(ent.mac, sizeof(ent.mac), "00:11:22:33:44:55");
		assert_int_equal(tls_cert_sha256(x, ent.cert_sha256), 0);
		assert_int_equal(tls_spki_sha256(x, ent.spki_sha256), 0);
		ent.first_seen = ent.last_seen = 1796412184;
		assert_int_equal(tstore_record(s, &ent, der, (size_t)len, &e),
		    0);
	}
	assert_int_equal(trust_command(s, args, 1, "cloud:operator", 100,
	    &res, &e), 0);
	assert_int_equal(json_array_size(json_object_get(res, "entries")),
	    100);
	text = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(15));
	assert_non_null(text);
	assert_true(strlen(text) > 100 * 1500);	/* they are long */
	assert_true(strlen(text) < MANAGE_RESULT_MAX);
	free(text);
	json_decref(res);
	OPENSSL_free(der);
	X509_free(x);
	tstore_close(s);
}

static void
test_list_truncated(void **state)
{
	struct tstore *s = open_new();
	struct trust_entry a;
	X509 *x = make_cert("many");
	const char *args[1] = { "list" };
	json_t *res = NULL;
	struct err e;
	char peer[32];
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		snprintf(peer, sizeof(peer), "192.0.2.%d:443", i);
		assert_int_equal(record(s, TK_API, peer, x, &a), 0);
	}
	assert_int_equal(trust_command(s, args, 1, "local:t", 2, &res, &e), 0);
	assert_int_equal(json_array_size(json_object_get(res, "entries")), 2);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(res, "total")), 5);
	/* newest first */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(res, "entries"), 0), "id")), a.id);
	json_decref(res);
	X509_free(x);
	tstore_close(s);
}

static void
write_bytes(const char *p, const void *data, size_t len)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void
read_bytes(const char *p, unsigned char **data, size_t *len)
{
	FILE *f = fopen(p, "rb");
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	*data = malloc((size_t)n + 1);
	assert_non_null(*data);
	*len = fread(*data, 1, (size_t)n, f);
	fclose(f);
}

/* Opening p fails with -EINVAL, says to move it aside, and changes not
 * one byte. */
static void
refused_intact(const char *p)
{
	unsigned char *before, *after;
	size_t nb, na;
	struct tstore *s = NULL;
	struct err e;

	read_bytes(p, &before, &nb);
	assert_int_equal(tstore_open(p, true, &s, &e), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(e.msg, p));
	assert_non_null(strstr(e.msg, "move it aside"));
	read_bytes(p, &after, &na);
	assert_int_equal(na, nb);
	assert_memory_equal(before, after, nb);
	free(before);
	free(after);
}

static void
test_not_a_store(void **state)
{
	unsigned char junk[4096];
	char other[160], sql[200];
	sqlite3 *db;
	size_t i;

	(void)state;
	assert_int_equal(mkdir(dir, 0700) == 0 || errno == EEXIST, 1);
	snprintf(other, sizeof(other), "%s/junk.db", dir);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	write_bytes(other, junk, sizeof(junk));
	refused_intact(other);
	/* an SQLite header on junk */
	memcpy(junk, "SQLite format 3", 16);
	write_bytes(other, junk, sizeof(junk));
	refused_intact(other);
	/* a good database of another schema */
	snprintf(other, sizeof(other), "%s/other.db", dir);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "CREATE TABLE t (x); INSERT INTO t "
	    "VALUES (1);");
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	refused_intact(other);
	/* ours, from a newer isthmus */
	snprintf(other, sizeof(other), "%s/newer.db", dir);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE entries (id); "
	    "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	refused_intact(other);
}

/* The running side (trust.h) on a real loop and thread. */
struct exec_answer {
	bool called;
	int rc;
	json_t *result;
};

static void
on_exec(int rc, json_t *result, const char *error, void *arg)
{
	struct exec_answer *a = arg;

	(void)error;
	a->called = true;
	a->rc = rc;
	a->result = result;
}

static bool
store_up(const struct trust *t)
{
	struct trust_stats st;

	trust_stats(t, &st);
	return st.store_up;
}

static uint64_t
pending(const struct trust *t)
{
	struct trust_stats st;

	trust_stats(t, &st);
	return st.entries[TS_PENDING];
}

/* Turns the loop until cond or 5 s. */
#define SPIN(base, cond) do {						\
	int spin_;							\
	for (spin_ = 0; spin_ < 500 && !(cond); spin_++) {		\
		event_base_loop(base, EVLOOP_NONBLOCK);			\
		usleep(10000);						\
	}								\
	assert_true(cond);						\
} while (0)

static void
test_runtime(void **state)
{
	struct event_base *base = event_base_new();
	struct trust *t = NULL;
	struct trust_meet m = { TK_API, "192.0.2.30:443", "192.0.2.30:443",
	    NULL, "meter-1" };
	struct exec_answer ans = { false, 0, NULL };
	X509 *x = make_cert("runtime"), *y = make_cert("impostor");
	uint8_t digest[32];
	char fp[TLS_FP_LEN], id[24];
	const char *args[3] = { "approve", id, fp };
	struct trust_stats st;
	struct err e;
	int64_t eid;

	(void)state;
	assert_non_null(base);
	assert_int_equal(trust_new(base, path, true, &t, &e), 0);
	SPIN(base, store_up(t));
	/* a peek records nothing and counts nothing */
	assert_int_equal(trust_peek(t, &m, x), TV_LEARNED);
	assert_int_equal(trust_peek(t, &m, x), TV_LEARNED);
	assert_int_equal(trust_check(t, &m, x, &eid), TV_LEARNED);
	/* recorded once: waiting meanwhile, and once the table shows it */
	assert_int_equal(trust_check(t, &m, x, &eid), TV_WAITING);
	SPIN(base, pending(t) == 1);
	assert_int_equal(trust_check(t, &m, x, &eid), TV_WAITING);
	assert_int_equal(tls_cert_sha256(x, digest), 0);
	tls_fp_format(digest, fp);
	snprintf(id, sizeof(id), "1");
	assert_int_equal(trust_exec(t, args, 3, "cloud:ops", on_exec, &ans),
	    0);
	assert_false(ans.called);	/* never from inside trust_exec */
	SPIN(base, ans.called);
	assert_int_equal(ans.rc, 0);
	json_decref(ans.result);
	assert_int_equal(trust_check(t, &m, x, &eid), TV_TRUSTED);
	assert_int_equal(eid, 1);
	assert_int_equal(trust_peek(t, &m, x), TV_TRUSTED);
	assert_int_equal(trust_peek(t, &m, y), TV_MISMATCH);
	assert_int_equal(trust_check(t, &m, y, &eid), TV_MISMATCH);
	assert_int_equal(eid, 0);
	assert_int_equal(trust_peek(t, &m, y), TV_WAITING);
	trust_stats(t, &st);
	assert_int_equal(st.learned[TK_API], 1);
	assert_int_equal(st.mismatches[TK_API], 1);
	assert_int_equal(st.refused[TK_API][TV_WAITING], 2);
	{
		/* eight certificates wait for one peer; a ninth has no
		 * room: full, while the store is up */
		struct trust_meet m2 = { TK_API, "192.0.2.31:443",
		    "192.0.2.31:443", NULL, "meter-2" };
		X509 *c[9];
		int i;

		for (i = 0; i < 9; i++) {
			c[i] = make_cert("crowd");
			assert_int_equal(trust_check(t, &m2, c[i], &eid),
			    i < 8 ? TV_LEARNED : TV_FULL);
			X509_free(c[i]);
		}
		trust_stats(t, &st);
		assert_true(st.store_up);
		assert_int_equal(st.refused[TK_API][TV_FULL], 1);
		assert_int_equal(st.refused[TK_API][TV_UNAVAILABLE], 0);
	}
	trust_free(t);
	event_base_free(base);
	X509_free(x);
	X509_free(y);
}

/* A file that is not a store: the edge runs on, refusing, and the file
 * stays as it was. */
static void
test_runtime_unavailable(void **state)
{
	struct event_base *base = event_base_new();
	struct trust *t = NULL;
	struct trust_meet m = { TK_DEVICE, "aa:bb:cc:dd:ee:ff",
	    "192.0.2.31:5000", "aa:bb:cc:dd:ee:ff", "sensors" };
	X509 *x = make_cert("dev");
	unsigned char junk[2048], *after;
	struct trust_stats st;
	struct err e;
	int64_t eid;
	size_t n;

	(void)state;
	memset(junk, 0x5a, sizeof(junk));
	snprintf(path, sizeof(path), "%s/junk.db", dir);
	write_bytes(path, junk, sizeof(junk));
	assert_int_equal(trust_new(base, path, true, &t, &e), 0);
	SPIN(base, (trust_stats(t, &st), strstr(st.error, "move it aside") !=
	    NULL));
	assert_false(st.store_up);
	assert_int_equal(trust_check(t, &m, x, &eid), TV_UNAVAILABLE);
	trust_free(t);
	event_base_free(base);
	read_bytes(path, &after, &n);
	assert_int_equal(n, sizeof(junk));
	assert_memory_equal(after, junk, n);
	free(after);
	X509_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_modes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_record_and_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_decisions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_changed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_command_json, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_remote_list_fits_a_result,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_truncated, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_a_store, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_runtime, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_runtime_unavailable,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
