/*
 * The trust store's changes (tstore.h): what the edge records, and a
 * person's decisions. Each is one transaction (BEGIN IMMEDIATE, so two
 * writers queue instead of failing halfway), and each UPDATE says in its
 * WHERE the state it expects, so a decision made meanwhile by the other
 * writer is never undone.
 */
#include "edge/trust/tstore-int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/tls.h"

static int
begin(struct tstore *s, struct err *e)
{
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return tstore_db_error(s, e, "cannot start a transaction");
	return 0;
}

/* Commits when rc is 0, else rolls back; returns rc (or the commit's
 * failure). */
static int
finish(struct tstore *s, int rc, struct err *e)
{
	if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK)
		rc = tstore_db_error(s, e, "cannot commit");
	if (rc != 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Runs a statement with up to three int64 / text parameters, given as a
 * format: 'i' int64, 't' text, 'n' null. *v gets the first column of the
 * first row when v is not NULL (-ENOENT: no row). */
static int
run1(struct tstore *s, const char *sql, const char *fmt, const void *a,
    const void *b, const void *c, int64_t *v, struct err *e)
{
	const void *args[3] = { a, b, c };
	sqlite3_stmt *q;
	int rc, i;

	if ((rc = tstore_prepare(s, sql, &q, e)) != 0)
		return rc;
	for (i = 0; fmt[i] != '\0' && i < 3; i++) {
		if (fmt[i] == 'i')
			sqlite3_bind_int64(q, i + 1, *(const int64_t *)args[i]);
		else if (fmt[i] == 't')
			sqlite3_bind_text(q, i + 1, args[i], -1,
			    SQLITE_TRANSIENT);
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && v != NULL)
		*v = sqlite3_column_int64(q, 0);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = rc == SQLITE_DONE && v != NULL ? -ENOENT : 0;
	else
		rc = tstore_db_error(s, e, "cannot write");
	sqlite3_finalize(q);
	return rc;
}

/* Is already there: its last_seen and address. */
static int
record_again(struct tstore *s, struct trust_entry *ent, char fp[TLS_FP_LEN],
    struct err *e)
{
	const char *kind = trust_kind_name(ent->kind);
	sqlite3_stmt *q;
	int rc;

	if ((rc = tstore_prepare(s, "UPDATE entries SET last_seen = ?, "
	    "address = ? WHERE kind = ? AND peer = ? AND cert_sha256 = ? "
	    "RETURNING id", &q, e)) != 0)
		return rc;
	sqlite3_bind_int64(q, 1, ent->last_seen);
	sqlite3_bind_text(q, 2, ent->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, ent->peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, fp, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		ent->id = sqlite3_column_int64(q, 0);
	rc = rc == SQLITE_ROW ? -EEXIST : rc == SQLITE_DONE ? 0 :
	    tstore_db_error(s, e, "cannot update an entry");
	sqlite3_finalize(q);
	if (rc == -EEXIST)
		err_set(e, rc, "that certificate of %s is already entry %lld",
		    ent->peer, (long long)ent->id);
	return rc;
}

/* Whether there is room: the whole store, and the entries waiting for
 * that peer. */
static int
record_room(struct tstore *s, const struct trust_entry *ent, struct err *e)
{
	int64_t n = 0;
	int rc;

	if ((rc = run1(s, "SELECT count(*) FROM entries", "", NULL, NULL,
	    NULL, &n, e)) != 0)
		return rc;
	if (n >= TRUST_ENTRIES_MAX)
		return err_set(e, -ENOSPC, "the trust store is full (%d "
		    "entries)", TRUST_ENTRIES_MAX);
	if ((rc = run1(s, "SELECT count(*) FROM entries WHERE kind = ? AND "
	    "peer = ? AND state IN ('pending', 'changed')", "tt",
	    trust_kind_name(ent->kind), ent->peer, NULL, &n, e)) != 0)
		return rc;
	if (n >= TRUST_WAITING_PER_PEER)
		return err_set(e, -ENOSPC, "%s already has %d certificates "
		    "waiting for a decision", ent->peer,
		    TRUST_WAITING_PER_PEER);
	return 0;
}

static int
record_insert(struct tstore *s, struct trust_entry *ent,
    const char fp[TLS_FP_LEN], const uint8_t *der, size_t derlen,
    struct err *e)
{
	char spki[TLS_FP_LEN];
	sqlite3_stmt *q;
	int rc;

	tls_fp_format(ent->spki_sha256, spki);
	if ((rc = tstore_prepare(s, "INSERT INTO entries (kind, peer, "
	    "address, mac, scope, cert_sha256, spki_sha256, subject, issuer, "
	    "not_before, not_after, first_seen, last_seen, state, replaces, "
	    "cert) VALUES (?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, NULLIF(?, 0), ?)", &q, e)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, trust_kind_name(ent->kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ent->peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ent->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, ent->mac, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, ent->scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, spki, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, ent->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 9, ent->issuer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 10, ent->not_before);
	sqlite3_bind_int64(q, 11, ent->not_after);
	sqlite3_bind_int64(q, 12, ent->first_seen);
	sqlite3_bind_int64(q, 13, ent->last_seen);
	sqlite3_bind_text(q, 14, trust_state_name(ent->state), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(q, 15, ent->replaces);
	sqlite3_bind_blob(q, 16, der, (int)derlen, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 :
	    tstore_db_error(s, e, "cannot record a certificate");
	sqlite3_finalize(q);
	if (rc == 0)
		ent->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

int
tstore_record(struct tstore *s, struct trust_entry *ent,
    const uint8_t *der, size_t derlen, struct err *e)
{
	char fp[TLS_FP_LEN];
	int64_t approved = 0;
	int rc;

	if ((unsigned)ent->kind >= TK_COUNT || ent->peer[0] == '\0' ||
	    der == NULL || derlen == 0 || derlen > TRUST_DER_MAX)
		return err_set(e, -EINVAL, "not an entry to record");
	tls_fp_format(ent->cert_sha256, fp);
	if ((rc = begin(s, e)) != 0)
		return rc;
	if ((rc = record_again(s, ent, fp, e)) == 0 &&
	    (rc = record_room(s, ent, e)) == 0) {
		rc = run1(s, "SELECT id FROM entries WHERE kind = ? AND "
		    "peer = ? AND state = 'approved'", "tt",
		    trust_kind_name(ent->kind), ent->peer, NULL, &approved, e);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (rc == 0) {
		ent->state = approved != 0 ? TS_CHANGED : TS_PENDING;
		ent->replaces = approved;
		ent->decided_by[0] = '\0';
		ent->decided_at = 0;
		rc = record_insert(s, ent, fp, der, derlen, e);
	}
	if (rc == -EEXIST)
		return finish(s, 0, e) != 0 ? -EIO : -EEXIST;
	return finish(s, rc, e);
}

int
tstore_touch(struct tstore *s, int64_t id, const char *address,
    int64_t when, struct err *e)
{
	return run1(s, "UPDATE entries SET last_seen = max(last_seen, ?), "
	    "address = ? WHERE id = ?", "iti", &when, address, &id, NULL, e);
}

/* The entry's state in *state, under the transaction; -ENOENT. */
static int
state_of(struct tstore *s, int64_t id, struct trust_entry *ent,
    struct err *e)
{
	int rc = tstore_get(s, id, ent, NULL, NULL, e);

	if (rc == 0 && (ent->state < 0 || ent->kind < 0))
		rc = err_set(e, -EIO, "%s: entry %lld has an unknown kind or "
		    "state", s->path, (long long)id);
	return rc;
}

/* The entries waiting for ent's peer point at its approved one (or none:
 * they are pending again). */
static int
repoint(struct tstore *s, const struct trust_entry *ent, int64_t approved,
    struct err *e)
{
	const char *kind = trust_kind_name(ent->kind);
	sqlite3_stmt *q;
	int rc;

	if ((rc = tstore_prepare(s, "UPDATE entries SET state = CASE WHEN "
	    "?1 = 0 THEN 'pending' ELSE 'changed' END, replaces = "
	    "NULLIF(?1, 0) WHERE kind = ?2 AND peer = ?3 AND state IN "
	    "('pending', 'changed') AND id != ?1", &q, e)) != 0)
		return rc;
	sqlite3_bind_int64(q, 1, approved);
	sqlite3_bind_text(q, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ent->peer, -1, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 :
	    tstore_db_error(s, e, "cannot update the waiting entries");
	sqlite3_finalize(q);
	return rc;
}

/* Sets the state of id, expecting it to be still in from. */
static int
set_state(struct tstore *s, int64_t id, int from, int to, const char *who,
    int64_t now, struct err *e)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = tstore_prepare(s, "UPDATE entries SET state = ?, "
	    "replaces = NULL, decided_by = ?, decided_at = ? WHERE id = ? AND "
	    "state = ?", &q, e)) != 0)
		return rc;
	sqlite3_bind_text(q, 1, trust_state_name(to), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, who, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, now);
	sqlite3_bind_int64(q, 4, id);
	sqlite3_bind_text(q, 5, trust_state_name(from), -1, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 :
	    tstore_db_error(s, e, "cannot record the decision");
	if (rc == 0 && sqlite3_changes(s->db) != 1)
		rc = err_set(e, -EAGAIN, "entry %lld changed meanwhile; look "
		    "again", (long long)id);
	sqlite3_finalize(q);
	return rc;
}

static int
approve_locked(struct tstore *s, int64_t id, const uint8_t fp[32],
    const char *who, int64_t now, int64_t *removed, struct err *e)
{
	struct trust_entry ent;
	int64_t old = 0;
	int rc;

	if ((rc = state_of(s, id, &ent, e)) != 0)
		return rc;
	if (CRYPTO_memcmp(ent.cert_sha256, fp, 32) != 0)
		return err_set(e, -EACCES, "the fingerprint does not match "
		    "entry %lld's certificate; see isthmus trust show %lld",
		    (long long)id, (long long)id);
	if (ent.state == TS_APPROVED)
		return err_set(e, -EALREADY, "entry %lld is already approved",
		    (long long)id);
	/* One approved certificate per peer: the one it replaces goes. */
	rc = run1(s, "DELETE FROM entries WHERE kind = ? AND peer = ? AND "
	    "state = 'approved' RETURNING id", "tt",
	    trust_kind_name(ent.kind), ent.peer, NULL, &old, e);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		rc = set_state(s, id, ent.state, TS_APPROVED, who, now, e);
	if (rc == 0)
		rc = repoint(s, &ent, id, e);
	*removed = rc == 0 ? old : 0;
	return rc;
}

int
tstore_approve(struct tstore *s, int64_t id, const uint8_t fp[32],
    const char *who, int64_t now, int64_t *removed, struct err *e)
{
	int rc;

	*removed = 0;
	if ((rc = begin(s, e)) != 0)
		return rc;
	return finish(s, approve_locked(s, id, fp, who, now, removed, e), e);
}

int
tstore_reject(struct tstore *s, int64_t id, const char *who, int64_t now,
    struct err *e)
{
	struct trust_entry ent;
	int rc;

	if ((rc = begin(s, e)) != 0)
		return rc;
	rc = state_of(s, id, &ent, e);
	if (rc == 0 && ent.state == TS_REJECTED)
		rc = err_set(e, -EALREADY, "entry %lld is already rejected",
		    (long long)id);
	if (rc == 0)
		rc = set_state(s, id, ent.state, TS_REJECTED, who, now, e);
	/* A rejected approved one leaves its peer with none: those that
	 * waited as changed wait as pending. */
	if (rc == 0 && ent.state == TS_APPROVED)
		rc = repoint(s, &ent, 0, e);
	return finish(s, rc, e);
}

int
tstore_forget(struct tstore *s, int64_t id, struct err *e)
{
	struct trust_entry ent;
	int rc;

	if ((rc = begin(s, e)) != 0)
		return rc;
	rc = state_of(s, id, &ent, e);
	if (rc == 0)
		rc = run1(s, "DELETE FROM entries WHERE id = ?", "i", &id,
		    NULL, NULL, NULL, e);
	if (rc == 0 && ent.state == TS_APPROVED)
		rc = repoint(s, &ent, 0, e);
	return finish(s, rc, e);
}
