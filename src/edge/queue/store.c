/*
 * The queue file (qstore.h): opening it, one process at a time, without
 * ever writing to a file that is not ours, and the statements' helpers
 * the other store files share. Changes are in store-write.c, reading in
 * store-read.c.
 */
#include "edge/queue/qstore-int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/sqlfile.h"

#define QSTORE_SCHEMA 1
#define QSTORE_SCHEMA_STR "1"
/* PRAGMA application_id: "ISQ1", so that no other program's SQLite
 * file is taken for a queue. */
#define QSTORE_APP_ID 0x49535131
#define QSTORE_APP_ID_STR "1230197041"
/* Only this process opens the file (queue.lock); the wait covers the
 * short moments SQLite itself takes locks, e.g. at a checkpoint. */
#define QSTORE_BUSY_MS 2000

/* SQLite's write-ahead log: a 32-byte header, then frames of a
 * 24-byte header and one page. */
#define WAL_HEADER 32
#define WAL_FRAME_HEADER 24

static const char schema_sql[] =
"BEGIN IMMEDIATE;"
"CREATE TABLE entries ("
" id INTEGER PRIMARY KEY AUTOINCREMENT,"	/* never reused */
" key TEXT NOT NULL,"
" listener TEXT NOT NULL,"
" service TEXT NOT NULL,"
" device TEXT NOT NULL,"
" mac TEXT NOT NULL DEFAULT '',"
" method TEXT NOT NULL,"
" target TEXT NOT NULL,"
" accepted_ms INTEGER NOT NULL,"
" bytes INTEGER NOT NULL,"
" state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting',"
"  'dead')),"
" attempts INTEGER NOT NULL DEFAULT 0,"
" last_status INTEGER,"
" last_error TEXT,"
" reason TEXT CHECK (reason IN ('refused', 'expired', 'corrupt')),"
" dead_ms INTEGER,"
" sum BLOB NOT NULL,"
" fields BLOB NOT NULL,"
" body BLOB NOT NULL);"
"CREATE INDEX entries_state ON entries (state, id);"
"CREATE TABLE services ("
" name TEXT PRIMARY KEY,"
" mode TEXT NOT NULL,"
" confidential INTEGER NOT NULL,"
" learned_ms INTEGER NOT NULL);"
"PRAGMA application_id = " QSTORE_APP_ID_STR ";"
"PRAGMA user_version = " QSTORE_SCHEMA_STR ";"
"COMMIT;";

/*
 * synchronous = FULL: a commit is on disk (the WAL fsynced) when it
 * returns, which is what "accepted" promises. The WAL is checkpointed
 * into the file every 256 pages (1 MiB at 4 KiB pages) and cut back to
 * 4 MiB afterwards, so a small disk is not eaten by the log.
 * secure_delete: an acknowledged request's bytes are overwritten when
 * it is deleted, not left in a free page (docs/queue.md: bodies are
 * deleted once acknowledged), whatever SQLite's build defaults to.
 */
#define QSTORE_WAL_LIMIT 4194304
#define QSTORE_WAL_LIMIT_STR "4194304"

static const char pragmas_sql[] =
"PRAGMA journal_mode = WAL;"
"PRAGMA synchronous = FULL;"
"PRAGMA secure_delete = ON;"
"PRAGMA wal_autocheckpoint = 256;"
"PRAGMA journal_size_limit = " QSTORE_WAL_LIMIT_STR ";"
"PRAGMA foreign_keys = OFF;";

static const char *const stmt_sql[QST_COUNT] = {
	[QST_ADD] = "INSERT INTO entries (key, listener, service, device, "
	    "mac, method, target, accepted_ms, bytes, sum, fields, body) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[QST_DELETE] = "DELETE FROM entries WHERE id = ?",
	[QST_ATTEMPTED] = "UPDATE entries SET attempts = attempts + 1, "
	    "last_status = ?, last_error = ? WHERE id = ? AND "
	    "state = 'waiting'",
	[QST_KILL] = "UPDATE entries SET state = 'dead', reason = ?, "
	    "attempts = attempts + ?, last_status = coalesce(?, "
	    "last_status), last_error = coalesce(?, last_error), "
	    "dead_ms = ? WHERE id = ? AND state = 'waiting'",
};

int
qstore_db_error(struct qstore *s, struct err *e, const char *what)
{
	int code = sqlite3_extended_errcode(s->db) & 0xff;

	return err_set(e, code == SQLITE_FULL ? -ENOSPC : -EIO, "%s: %s: %s",
	    s->path, what, sqlite3_errmsg(s->db));
}

int
qstore_prepare(struct qstore *s, const char *sql, sqlite3_stmt **q,
    struct err *e)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, q, NULL) != SQLITE_OK)
		return qstore_db_error(s, e, "cannot prepare a statement");
	return 0;
}

int
qstore_stmt(struct qstore *s, enum qstmt which, sqlite3_stmt **q,
    struct err *e)
{
	if (s->stmt[which] == NULL && sqlite3_prepare_v3(s->db,
	    stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[which],
	    NULL) != SQLITE_OK)
		return qstore_db_error(s, e, "cannot prepare a statement");
	sqlite3_reset(s->stmt[which]);
	sqlite3_clear_bindings(s->stmt[which]);
	*q = s->stmt[which];
	return 0;
}

/* The refusal of a file that is not a queue: it stays as it is. */
static int
not_ours(const char *path, const char *why, struct err *e)
{
	return err_set(e, -EINVAL, "%s is not a usable queue (%s); it is "
	    "left as it is: move it aside to start afresh (what it held is "
	    "then not sent)", path, why);
}

/* A state_dir others may write to could have queue.db, its log or its
 * lock replaced under the edge: refused, as OpenSSH refuses such a
 * home. A missing one is the caller's -ENOENT. */
static int
dir_private(const char *dir, struct err *e)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return errno == ENOENT ? 0 : err_set(e, -errno,
		    "cannot look at %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, -ENOTDIR, "%s is not a directory", dir);
	if ((st.st_mode & 022) != 0)
		return err_set(e, -EPERM, "%s may be written by others than "
		    "its owner (mode %04o): chmod 700 it", dir,
		    (unsigned)(st.st_mode & 07777));
	return 0;
}

/* STATE_DIR (made 0700 when create) and its queue.lock, flocked: one
 * process per queue. */
static int
take_lock(const char *path, bool create, int *fd, struct err *e)
{
	char *copy = strdup(path), *dir, *lock = NULL;
	int rc = 0;

	*fd = -1;
	if (copy == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	dir = dirname(copy);
	if (create && (rc = fs_mkdir_p(dir, 0700, e)) != 0)
		goto out;
	if ((rc = dir_private(dir, e)) != 0)
		goto out;
	if ((lock = fs_join(dir, "queue.lock")) == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	*fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0) {
		rc = err_set(e, errno == ENOENT && !create ? -ENOENT : -errno,
		    "cannot open %s: %s", lock, strerror(errno));
		goto out;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? err_set(e, -EBUSY, "%s is held by "
		    "another process (an edge runs on this state_dir)", lock) :
		    err_set(e, -errno, "cannot lock %s: %s", lock,
		    strerror(errno));
		close(*fd);
		*fd = -1;
	}
out:
	free(lock);
	free(copy);
	return rc;
}

/* Before SQLite sees it: a file that does not start as a database is
 * refused. A missing one is made empty (0600) with create; zero bytes
 * is a queue to set up. */
static int
check_header(const char *path, bool create, struct err *e)
{
	const char *why = "";
	int rc, fd;

	rc = sqlfile_probe(path, &why);
	if (rc == -ENOENT && create) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		rc = fd >= 0 ? SQLFILE_EMPTY : -errno;
	}
	if (rc == -ENOENT)
		return err_set(e, -ENOENT, "there is no queue at %s", path);
	if (rc == -EINVAL)
		return not_ours(path, why, e);
	if (rc < 0)
		return err_set(e, rc, "cannot open the queue %s: %s", path,
		    strerror(-rc));
	return 0;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* The bytes of a partial frame at the end of path's WAL: a write cut
 * before its commit frame reached the disk, so before any device heard
 * "accepted". SQLite ignores them when it opens the file; this only
 * tells. 0 when there is no WAL or it ends on a frame. */
static uint64_t
torn_tail(const char *path)
{
	uint8_t head[WAL_HEADER];
	uint32_t magic, page;
	struct stat st;
	char *wal;
	ssize_t n;
	int fd;

	if (asprintf(&wal, "%s-wal", path) < 0)
		return 0;
	fd = open(wal, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	free(wal);
	if (fd < 0)
		return 0;
	n = fstat(fd, &st) == 0 ? read(fd, head, sizeof(head)) : -1;
	close(fd);
	/* A log SQLite cut back to journal_size_limit after a checkpoint
	 * ends wherever the limit falls, on no frame: not a torn write. */
	if (n < 0 || st.st_size == 0 || st.st_size == QSTORE_WAL_LIMIT)
		return 0;
	if (n < (ssize_t)sizeof(head))
		return (uint64_t)st.st_size;	/* not even its header */
	magic = be32(head);
	page = be32(head + 8);
	if (page == 1)
		page = 65536;	/* as the database header spells it */
	if ((magic != 0x377f0682 && magic != 0x377f0683) || page < 512 ||
	    page > 65536 || (page & (page - 1)) != 0)
		return 0;	/* not a log SQLite would read: it resets it */
	return (uint64_t)(st.st_size - WAL_HEADER) %
	    (WAL_FRAME_HEADER + page);
}

/*
 * Reads only, on a read-only connection (which never checkpoints
 * another program's log into its file when it closes): the application
 * id, the schema version, the tables, quick_check. *fresh: an empty
 * database, to be set up.
 */
static int
check_schema(const char *path, bool *fresh, struct err *e)
{
	int64_t app = -1, version = -1, tables = -1;
	sqlite3 *db = NULL;
	int rc = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = not_ours(path, db != NULL ? sqlite3_errmsg(db) :
		    "out of memory", e);
		goto out;
	}
	sqlite3_busy_timeout(db, QSTORE_BUSY_MS);
	if (sqlfile_int(db, "PRAGMA application_id", &app) != 0 ||
	    sqlfile_int(db, "PRAGMA user_version", &version) != 0 ||
	    sqlfile_int(db, "SELECT count(*) FROM sqlite_master", &tables) !=
	    0) {
		rc = not_ours(path, sqlite3_errmsg(db), e);
		goto out;
	}
	*fresh = app == 0 && version == 0 && tables == 0;
	if (*fresh)
		goto out;
	if (app != QSTORE_APP_ID)
		rc = not_ours(path, "another application's database", e);
	else if (version != QSTORE_SCHEMA)
		rc = not_ours(path, "a schema version this isthmus does not "
		    "know", e);
	else if (sqlfile_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name IN ('entries', 'services')", &tables) !=
	    0 || tables != 2)
		rc = not_ours(path, "another schema", e);
	else if (!sqlfile_quick_check(db))
		rc = not_ours(path, "it fails SQLite's quick_check", e);
out:
	sqlite3_close(db);
	return rc;
}

static int
exec_sql(struct qstore *s, const char *sql, const char *what,
    struct err *e)
{
	char *msg = NULL;
	int rc;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	rc = err_set(e, (sqlite3_extended_errcode(s->db) & 0xff) ==
	    SQLITE_FULL ? -ENOSPC : -EIO, "%s: %s: %s", s->path, what,
	    msg != NULL ? msg : "out of memory");
	sqlite3_free(msg);
	return rc;
}

/* The connection the store keeps, on a file proved to be ours (or
 * empty: then the schema is made). */
static int
connect(struct qstore *s, bool fresh, struct err *e)
{
	int rc;

	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return err_set(e, -EIO, "cannot open the queue %s: %s",
		    s->path, s->db != NULL ? sqlite3_errmsg(s->db) :
		    "out of memory");
	sqlite3_busy_timeout(s->db, QSTORE_BUSY_MS);
	sqlite3_extended_result_codes(s->db, 1);
	if ((rc = exec_sql(s, pragmas_sql, "cannot set it up", e)) != 0)
		return rc;
	if (fresh && (rc = exec_sql(s, schema_sql, "cannot set it up",
	    e)) != 0) {
		qstore_rollback(s);
		return rc;
	}
	return 0;
}

int
qstore_open(const char *path, bool create, struct qstore **out,
    uint64_t *torn, struct err *e)
{
	struct qstore *s;
	bool fresh = false;
	int rc;

	*out = NULL;
	*torn = 0;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return err_set(e, -ENOMEM, "out of memory");
	}
	s->lock_fd = -1;
	/* Nothing is written before the lock is ours and the file proved
	 * to be a queue. */
	if ((rc = take_lock(path, create, &s->lock_fd, e)) != 0 ||
	    (rc = check_header(path, create, e)) != 0)
		goto fail;
	*torn = torn_tail(path);
	if ((rc = check_schema(path, &fresh, e)) != 0 ||
	    (rc = connect(s, fresh, e)) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	qstore_close(s);
	return rc;
}

void
qstore_close(struct qstore *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < QST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);	/* the lock goes with it */
	free(s->path);
	free(s);
}

int
qstore_begin(struct qstore *s, struct err *e)
{
	return exec_sql(s, "BEGIN IMMEDIATE", "cannot begin a transaction",
	    e);
}

int
qstore_commit(struct qstore *s, struct err *e)
{
	return exec_sql(s, "COMMIT", "cannot commit", e);
}

int64_t
qstore_room(const struct qstore *s)
{
	struct statvfs v;

	if (statvfs(s->path, &v) != 0)
		return -1;
	return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

int
qstore_checkpoint(struct qstore *s, struct err *e)
{
	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL) != SQLITE_OK)
		return qstore_db_error(s, e, "cannot checkpoint the log");
	return 0;
}

void
qstore_rollback(struct qstore *s)
{
	/* After SQLITE_FULL SQLite may have rolled back already. */
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}
