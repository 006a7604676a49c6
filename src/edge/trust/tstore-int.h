/*
 * The trust store's internals, shared by its two files: store.c (the
 * file, reading) and store-write.c (the changes).
 */
#ifndef ISTHMUS_EDGE_TRUST_TSTORE_INT_H
#define ISTHMUS_EDGE_TRUST_TSTORE_INT_H

#include <sqlite3.h>

#include "edge/trust/tstore.h"

#define TSTORE_SCHEMA 1
#define TSTORE_SCHEMA_STR "1"
/* Two writers (the edge's thread, `isthmus trust`) wait for each other
 * this long at most; each holds the file for a few milliseconds. */
#define TSTORE_BUSY_MS 2000

/* The columns tstore_read_row takes, in its order. */
#define TSTORE_COLS "id, kind, peer, address, mac, scope, cert_sha256, " \
	"spki_sha256, subject, issuer, not_before, not_after, first_seen, " \
	"last_seen, state, replaces, decided_by, decided_at"
#define TSTORE_NCOLS 18

struct tstore {
	sqlite3 *db;
	char *path;
	int64_t data_version;
};

/* The index of a kind's (state false) or a state's name, or -1. */
int tstore_name_index(const char *s, bool state);
int tstore_db_error(struct tstore *s, struct err *e, const char *what);
int tstore_prepare(struct tstore *s, const char *sql, sqlite3_stmt **q,
    struct err *e);
void tstore_read_row(sqlite3_stmt *q, struct trust_entry *ent);

#endif
