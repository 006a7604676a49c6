/*
 * The trust store's file (docs/trust.md, "The trust store"): an SQLite
 * database at STATE_DIR/trust.db, WAL, the file 0600 in a 0700
 * directory, that both the running edge (through trust.h, on its own
 * thread) and `isthmus trust` (directly, edge running or not) open.
 * Every change is one transaction whose WHERE says what it expects
 * (an approval names the certificate, a state change the state it
 * leaves), so two writers never undo each other.
 *
 * Blocking calls: never from the edge's event loop.
 */
#ifndef ISTHMUS_EDGE_TRUST_TSTORE_H
#define ISTHMUS_EDGE_TRUST_TSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "common/mac.h"

/* Bounds: the whole store, and the entries waiting for a person
 * (pending or changed) per device. Past either, a new certificate is
 * refused without being recorded (and logged, counted). */
#define TRUST_ENTRIES_MAX 100000
#define TRUST_WAITING_PER_PEER 8
#define TRUST_PEER_MAX 300		/* "host:port", a MAC or a subject */
#define TRUST_TEXT_MAX 256		/* subject, issuer: cut there */
#define TRUST_BY_MAX 96			/* "local:USER", "cloud:ISSUER" */
#define TRUST_DER_MAX (64u * 1024)	/* a certificate, DER */

enum trust_kind { TK_API, TK_DEVICE, TK_COUNT };
enum trust_state { TS_PENDING, TS_APPROVED, TS_REJECTED, TS_CHANGED,
	TS_COUNT };

/* "api", "device"; "pending", "approved", "rejected", "changed" */
const char *trust_kind_name(enum trust_kind k);
const char *trust_state_name(enum trust_state s);

struct trust_entry {
	int64_t id;			/* > 0 once stored */
	int kind;			/* enum trust_kind */
	/* Who the device is: a collector's "host:port" as configured; a
	 * connecting device's MAC (aa:bb:cc:dd:ee:ff) when its certificate
	 * carries one where the listener's mac_from looks, else its
	 * subject (RFC 2253), else "sha256:HEX" of its certificate. */
	char peer[TRUST_PEER_MAX];
	char address[64];		/* where it was last met, ip:port */
	char mac[MAC_STR_LEN];		/* "" when none */
	char scope[64];			/* the collector or listener that met it */
	uint8_t cert_sha256[32], spki_sha256[32];
	char subject[TRUST_TEXT_MAX], issuer[TRUST_TEXT_MAX];
	int64_t not_before, not_after;	/* Unix seconds */
	int64_t first_seen, last_seen;
	int state;			/* enum trust_state */
	int64_t replaces;		/* changed: the approved entry's id */
	char decided_by[TRUST_BY_MAX];	/* "" until a person decided */
	int64_t decided_at;
};

struct tstore;

/* Opens path; create: make it (and its directory, 0700) when missing,
 * else -ENOENT. A file that is not a trust store (not SQLite, another
 * schema, corrupt: PRAGMA quick_check) is -EINVAL with e naming it and
 * saying to move it aside; it is never written to then. */
int tstore_open(const char *path, bool create, struct tstore **out,
    struct err *e);
void tstore_close(struct tstore *s);

/* Whether another connection changed the file since the last call
 * (PRAGMA data_version): the edge reloads its table then. */
bool tstore_changed(struct tstore *s);

/* Every entry (der not read), in id order; *out malloc'd. */
int tstore_load(struct tstore *s, struct trust_entry **out, size_t *n,
    struct err *e);
/* One entry and, when der is not NULL, its certificate (DER,
 * malloc'd). -ENOENT when there is no such id. */
int tstore_get(struct tstore *s, int64_t id, struct trust_entry *out,
    uint8_t **der, size_t *derlen, struct err *e);

/* Records a certificate met for the first time: state pending, or
 * changed (with replaces) when the device has an approved entry.
 * -ENOSPC past the bounds above; -EEXIST when that (kind, peer,
 * certificate) is already there (its last_seen and address are
 * updated). Sets ent->id. */
int tstore_record(struct tstore *s, struct trust_entry *ent,
    const uint8_t *der, size_t derlen, struct err *e);
/* last_seen and address of an entry the edge met again (the edge does
 * this at most hourly per entry). */
int tstore_touch(struct tstore *s, int64_t id, const char *address,
    int64_t when, struct err *e);

/*
 * A person's decision on entry id, by who ("local:USER", "cloud:ISSUER"):
 * approve needs cert_sha256 to be the entry's (else -EACCES, nothing
 * changed); it makes the entry approved and removes the approved entry
 * it replaces (a changed one's), whose id goes in *removed (0: none).
 * reject makes it rejected (an approved one too: that device is no
 * longer trusted). forget deletes it. -ENOENT: no such id; -EALREADY:
 * already in that state.
 */
int tstore_approve(struct tstore *s, int64_t id, const uint8_t fp[32],
    const char *who, int64_t now, int64_t *removed, struct err *e);
int tstore_reject(struct tstore *s, int64_t id, const char *who,
    int64_t now, struct err *e);
int tstore_forget(struct tstore *s, int64_t id, struct err *e);

/*
 * The command set `isthmus trust` and the `trust` instruction share
 * (docs/trust.md): args[0] is list, show, approve, reject or forget;
 * list takes "pending" (only pending and changed), show/reject/forget
 * an ID, approve an ID and "sha256:HEX". who decides. *result is the
 * JSON answer (docs/trust.md, "JSON"): {"entries": [...], "counts":
 * {...}} for list (at most max_list entries, newest first, then
 * "truncated": true and "total"), {"entry": {...}} with "pem" for show,
 * {"action", "entry", "removed"} for the decisions. Errors: -EINVAL a
 * bad argument, -ENOENT no such entry, -EACCES wrong fingerprint,
 * -EALREADY, else the store's; e says which in a sentence.
 */
int trust_command(struct tstore *s, const char *const *args, size_t nargs,
    const char *who, size_t max_list, json_t **result, struct err *e);

/* One entry as JSON (docs/trust.md): times as Unix seconds, fingerprints
 * as sha256:HEX, null for what is not set; "expired" from now. */
json_t *trust_entry_json(const struct trust_entry *ent, int64_t now);

#endif
