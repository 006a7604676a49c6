/*
 * The queue file's internals, shared by its files: store.c (opening,
 * the statements' helpers), store-write.c (the changes) and
 * store-read.c (reading).
 */
#ifndef ISTHMUS_EDGE_QUEUE_QSTORE_INT_H
#define ISTHMUS_EDGE_QUEUE_QSTORE_INT_H

#include <sqlite3.h>

#include "edge/queue/qstore.h"

/* The columns qstore_read_row takes, in its order: the small ones
 * first, the blobs last, so that reading the index or a listing never
 * walks a body's overflow pages. */
#define QSTORE_COLS "id, key, listener, service, device, mac, method, " \
	"target, accepted_ms, bytes, state, attempts, last_status, " \
	"last_error, reason, dead_ms, sum"
#define QSTORE_NCOLS 17
#define QSTORE_BLOBS ", fields, body"

/* The statements a batch runs again and again, prepared once. */
enum qstmt { QST_ADD, QST_DELETE, QST_ATTEMPTED, QST_KILL, QST_COUNT };

struct qstore {
	sqlite3 *db;
	char *path;
	int lock_fd;			/* STATE_DIR/queue.lock, flocked */
	sqlite3_stmt *stmt[QST_COUNT];
};

/* The error of the last call on s->db: -ENOSPC for SQLITE_FULL, else
 * -EIO, with e saying what failed. */
int qstore_db_error(struct qstore *s, struct err *e, const char *what);
int qstore_prepare(struct qstore *s, const char *sql, sqlite3_stmt **q,
    struct err *e);
/* One of the statements above, reset and unbound, for one use. */
int qstore_stmt(struct qstore *s, enum qstmt which, sqlite3_stmt **q,
    struct err *e);
/* A row of QSTORE_COLS (then fields and body when blobs) into a new
 * record; NULL when out of memory. */
struct qrecord *qstore_read_row(sqlite3_stmt *q, bool blobs);

#endif
