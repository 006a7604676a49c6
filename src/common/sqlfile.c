/*
 * Checks of the edge's SQLite files before they are used (sqlfile.h).
 */
#include "common/sqlfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every SQLite database starts with these 16 bytes. */
static const char sqlite_magic[16] = "SQLite format 3";

int
sqlfile_probe(const char *path, const char **why)
{
	char head[16];
	struct stat st;
	ssize_t n;
	int fd;

	/* Neither a FIFO (an open that would wait for a writer) nor a
	 * link to a file elsewhere, perhaps one others may read. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	    O_NOFOLLOW)) < 0) {
		if (errno != ELOOP)
			return -errno;
		*why = "a symbolic link, which is not followed here";
		return -EINVAL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*why = "not a regular file";
		return -EINVAL;
	}
	/* It holds requests and their credentials: its owner's alone. */
	if (st.st_mode & 077) {
		close(fd);
		*why = "others than its owner may read or write it: chmod 600 "
		    "it if it is yours";
		return -EINVAL;
	}
	n = read(fd, head, sizeof(head));
	close(fd);
	if (st.st_size == 0)
		return SQLFILE_EMPTY;
	if (n != (ssize_t)sizeof(head) ||
	    memcmp(head, sqlite_magic, sizeof(head)) != 0) {
		*why = "not an SQLite database";
		return -EINVAL;
	}
	return SQLFILE_DB;
}

int
sqlfile_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

bool
sqlfile_quick_check(sqlite3 *db)
{
	const unsigned char *ok;
	sqlite3_stmt *q;
	bool good;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &q, NULL) !=
	    SQLITE_OK)
		return false;
	ok = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_text(q, 0) :
	    NULL;
	good = ok != NULL && strcmp((const char *)ok, "ok") == 0;
	sqlite3_finalize(q);
	return good;
}
