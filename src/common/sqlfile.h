/*
 * What the edge's own SQLite files (the trust store, the queue) check
 * before they use a file: that it is an SQLite database at all, before
 * SQLite opens it (SQLite would refuse to write to another file too,
 * but says less), and that SQLite finds it sound. Both only read.
 */
#ifndef ISTHMUS_SQLFILE_H
#define ISTHMUS_SQLFILE_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

enum sqlfile_kind { SQLFILE_EMPTY, SQLFILE_DB };

/* SQLFILE_EMPTY (zero bytes: a database to set up) or SQLFILE_DB (it
 * starts as an SQLite database); -ENOENT when missing, -errno when it
 * cannot be read; -EINVAL with *why ("not a regular file", "not an
 * SQLite database") when it is something else. */
int sqlfile_probe(const char *path, const char **why);
/* The integer a one-row statement (a PRAGMA) answers: 0, or -EIO. */
int sqlfile_int(sqlite3 *db, const char *sql, int64_t *v);
/* Whether PRAGMA quick_check says "ok". */
bool sqlfile_quick_check(sqlite3 *db);

#endif
