/*
 * The trust store's entries in memory (trust.c's): found by kind and
 * peer without touching the file, so a TLS verify callback on the loop
 * never waits.
 */
#ifndef ISTHMUS_EDGE_TRUST_TABLE_H
#define ISTHMUS_EDGE_TRUST_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "edge/trust/tstore.h"

#define TTABLE_NONE SIZE_MAX

struct ttable {
	struct trust_entry *ents;	/* in id order */
	int64_t *logged_day;		/* trust_expired was logged that day */
	size_t n;
	size_t nb;			/* buckets, a power of two */
	size_t *bucket, *next;		/* TTABLE_NONE ends a chain */
};

/* Takes ents (malloc'd, as tstore_load gives them); NULL when out of
 * memory (ents freed then too). */
struct ttable *ttable_new(struct trust_entry *ents, size_t n);
void ttable_free(struct ttable *t);
/* The entries of (kind, peer): the first's index, then the next's, then
 * TTABLE_NONE. */
size_t ttable_first(const struct ttable *t, int kind, const char *peer);
size_t ttable_next(const struct ttable *t, size_t i);
/* What the old table remembered per entry (when trust_expired was
 * logged) carried over to its successor. */
void ttable_carry(struct ttable *to, const struct ttable *from);

#endif
