/*
 * The trust store's file (tstore.h): opening it without ever writing to
 * a file that is not ours, and reading its entries. The changes (record,
 * touch, the decisions) are in store-write.c; both use the statements'
 * helpers of tstore-int.h.
 */
#include "edge/trust/tstore-int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/sqlfile.h"
#include "common/tls.h"

static const char schema_sql[] =
"PRAGMA journal_mode=WAL;"
"BEGIN IMMEDIATE;"
"CREATE TABLE entries ("
" id INTEGER PRIMARY KEY AUTOINCREMENT,"	/* never reused */
" kind TEXT NOT NULL CHECK (kind IN ('api', 'device')),"
" peer TEXT NOT NULL,"
" address TEXT NOT NULL DEFAULT '',"
" mac TEXT,"
" scope TEXT NOT NULL DEFAULT '',"
" cert_sha256 TEXT NOT NULL,"
" spki_sha256 TEXT NOT NULL,"
" subject TEXT NOT NULL DEFAULT '',"
" issuer TEXT NOT NULL DEFAULT '',"
" not_before INTEGER NOT NULL,"
" not_after INTEGER NOT NULL,"
" first_seen INTEGER NOT NULL,"
" last_seen INTEGER NOT NULL,"
" state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected',"
"  'changed')),"
" replaces INTEGER,"
" decided_by TEXT,"
" decided_at INTEGER,"
" cert BLOB NOT NULL,"
" UNIQUE (kind, peer, cert_sha256));"
"CREATE INDEX entries_peer ON entries (kind, peer);"
"PRAGMA user_version = " TSTORE_SCHEMA_STR ";"
"COMMIT;";

static const char *const kind_names[TK_COUNT] = { "api", "device" };
static const char *const state_names[TS_COUNT] = {
	"pending", "approved", "rejected", "changed" };

const char *
trust_kind_name(enum trust_kind k)
{
	return (unsigned)k < TK_COUNT ? kind_names[k] : "?";
}

const char *
trust_state_name(enum trust_state s)
{
	return (unsigned)s < TS_COUNT ? state_names[s] : "?";
}

int
tstore_name_index(const char *s, bool state)
{
	const char *const *names = state ? state_names : kind_names;
	int i, n = state ? TS_COUNT : TK_COUNT;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
tstore_db_error(struct tstore *s, struct err *e, const char *what)
{
	return err_set(e, -EIO, "%s: %s: %s", s->path, what,
	    sqlite3_errmsg(s->db));
}

int
tstore_prepare(struct tstore *s, const char *sql, sqlite3_stmt **q,
    struct err *e)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, q, NULL) != SQLITE_OK)
		return tstore_db_error(s, e, "cannot prepare a statement");
	return 0;
}

/* The refusal of a file that is not a trust store: it stays as it is. */
static int
not_ours(const char *path, const char *why, struct err *e)
{
	return err_set(e, -EINVAL, "%s is not a usable trust store (%s); it "
	    "is left as it is: move it aside to start afresh (every device "
	    "is then learned again)", path, why);
}

/* A missing file: made empty (0600, its directory 0700), so SQLite
 * finds a new database there; -ENOENT without create. */
static int
make_file(const char *path, bool create, struct err *e)
{
	char *copy;
	int fd, rc;

	if (!create)
		return err_set(e, -ENOENT, "no trust store yet at %s", path);
	if ((copy = strdup(path)) == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	rc = fs_mkdir_p(dirname(copy), 0700, e);
	free(copy);
	if (rc != 0)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return err_set(e, -errno, "cannot create the trust store %s: "
		    "%s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Before SQLite sees it: a file that does not start as a database is
 * refused (sqlfile.h). Zero bytes is a store to set up. */
static int
check_header(const char *path, bool create, struct err *e)
{
	const char *why = "";
	int rc;

	rc = sqlfile_probe(path, &why);
	if (rc == -ENOENT) {
		if ((rc = make_file(path, create, e)) != 0)
			return rc;
		rc = sqlfile_probe(path, &why);
	}
	if (rc == -EINVAL)
		return not_ours(path, why, e);
	if (rc < 0)
		return err_set(e, rc, "cannot open the trust store %s: %s",
		    path, strerror(-rc));
	return 0;
}

static int
pragma_int(struct tstore *s, const char *sql, int64_t *v, struct err *e)
{
	if (sqlfile_int(s->db, sql, v) != 0)
		return not_ours(s->path, sqlite3_errmsg(s->db), e);
	return 0;
}

/* Reads only: the schema version, the tables, quick_check. *fresh: an
 * empty database, to be set up. */
static int
check_schema(struct tstore *s, bool *fresh, struct err *e)
{
	int64_t version = -1, tables = -1;
	int rc;

	if ((rc = pragma_int(s, "PRAGMA user_version", &version, e)) != 0 ||
	    (rc = pragma_int(s, "SELECT count(*) FROM sqlite_master", &tables,
	    e)) != 0)
		return rc;
	*fresh = version == 0 && tables == 0;
	if (*fresh)
		return 0;
	if (version != TSTORE_SCHEMA)
		return not_ours(s->path, version == 0 ? "another schema: no "
		    "trust store version" : "a schema version this isthmus "
		    "does not know", e);
	if ((rc = pragma_int(s, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name = 'entries'", &tables, e)) != 0)
		return rc;
	if (tables != 1)
		return not_ours(s->path, "another schema: no entries table", e);
	if (!sqlfile_quick_check(s->db))
		return not_ours(s->path, "it fails SQLite's quick_check", e);
	return 0;
}

int
tstore_open(const char *path, bool create, struct tstore **out,
    struct err *e)
{
	struct tstore *s;
	bool fresh = false;
	char *msg = NULL;
	int rc;

	*out = NULL;
	if ((rc = check_header(path, create, e)) != 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return err_set(e, -ENOMEM, "out of memory");
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = err_set(e, -EIO, "cannot open the trust store %s: %s",
		    path, s->db != NULL ? sqlite3_errmsg(s->db) :
		    "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, TSTORE_BUSY_MS);
	/* Nothing is written before the file proved to be ours. */
	if ((rc = check_schema(s, &fresh, e)) != 0)
		goto fail;
	if (fresh && sqlite3_exec(s->db, schema_sql, NULL, NULL, &msg) !=
	    SQLITE_OK) {
		rc = err_set(e, -EIO, "cannot set up the trust store %s: %s",
		    path, msg != NULL ? msg : "out of memory");
		sqlite3_free(msg);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	tstore_changed(s);	/* the first call sets the baseline */
	*out = s;
	return 0;
fail:
	tstore_close(s);
	return rc;
}

void
tstore_close(struct tstore *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

bool
tstore_changed(struct tstore *s)
{
	int64_t v = 0;
	bool changed;

	if (pragma_int(s, "PRAGMA data_version", &v, NULL) != 0)
		return true;	/* reading again tells what is wrong */
	changed = v != s->data_version;
	s->data_version = v;
	return changed;
}

static void
copy_text(char *dst, size_t cap, sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

/* "sha256:HEX" as stored, into 32 bytes; zeros when it does not read. */
static void
copy_fp(uint8_t out[32], sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	if (t == NULL || tls_pin_parse((const char *)t, out, NULL) != 0)
		memset(out, 0, 32);
}

void
tstore_read_row(sqlite3_stmt *q, struct trust_entry *ent)
{
	memset(ent, 0, sizeof(*ent));
	ent->id = sqlite3_column_int64(q, 0);
	ent->kind = tstore_name_index((const char *)sqlite3_column_text(q, 1),
	    false);
	copy_text(ent->peer, sizeof(ent->peer), q, 2);
	copy_text(ent->address, sizeof(ent->address), q, 3);
	copy_text(ent->mac, sizeof(ent->mac), q, 4);
	copy_text(ent->scope, sizeof(ent->scope), q, 5);
	copy_fp(ent->cert_sha256, q, 6);
	copy_fp(ent->spki_sha256, q, 7);
	copy_text(ent->subject, sizeof(ent->subject), q, 8);
	copy_text(ent->issuer, sizeof(ent->issuer), q, 9);
	ent->not_before = sqlite3_column_int64(q, 10);
	ent->not_after = sqlite3_column_int64(q, 11);
	ent->first_seen = sqlite3_column_int64(q, 12);
	ent->last_seen = sqlite3_column_int64(q, 13);
	ent->state = tstore_name_index((const char *)sqlite3_column_text(q,
	    14), true);
	ent->replaces = sqlite3_column_int64(q, 15);
	copy_text(ent->decided_by, sizeof(ent->decided_by), q, 16);
	ent->decided_at = sqlite3_column_int64(q, 17);
}

int
tstore_load(struct tstore *s, struct trust_entry **out, size_t *n,
    struct err *e)
{
	struct trust_entry *v = NULL, *grown;
	size_t cap = 0, k = 0;
	sqlite3_stmt *q;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = tstore_prepare(s, "SELECT " TSTORE_COLS " FROM entries "
	    "ORDER BY id", &q, e)) != 0)
		return rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			grown = reallocarray(v, cap, sizeof(*v));
			if (grown == NULL) {
				rc = err_set(e, -ENOMEM, "out of memory");
				goto out;
			}
			v = grown;
		}
		tstore_read_row(q, &v[k++]);
	}
	if (rc != SQLITE_DONE) {
		rc = tstore_db_error(s, e, "cannot read the entries");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(q);
	if (rc != 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

int
tstore_get(struct tstore *s, int64_t id, struct trust_entry *out,
    uint8_t **der, size_t *derlen, struct err *e)
{
	sqlite3_stmt *q;
	const void *blob;
	int rc, len;

	if (der != NULL)
		*der = NULL;
	if ((rc = tstore_prepare(s, "SELECT " TSTORE_COLS ", cert FROM "
	    "entries WHERE id = ?", &q, e)) != 0)
		return rc;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		rc = err_set(e, -ENOENT, "there is no entry %lld in the trust "
		    "store", (long long)id);
	} else if (rc != SQLITE_ROW) {
		rc = tstore_db_error(s, e, "cannot read an entry");
	} else {
		tstore_read_row(q, out);
		rc = 0;
		blob = sqlite3_column_blob(q, TSTORE_NCOLS);
		len = sqlite3_column_bytes(q, TSTORE_NCOLS);
		if (der != NULL && len > 0) {
			if ((*der = malloc((size_t)len)) == NULL)
				rc = err_set(e, -ENOMEM, "out of memory");
			else
				memcpy(*der, blob, (size_t)len);
			*derlen = (size_t)len;
		}
	}
	sqlite3_finalize(q);
	return rc;
}
