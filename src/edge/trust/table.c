/*
 * The trust store's entries in memory (table.h): a hash table on (kind,
 * peer) over the array tstore_load gives, built on the store's thread
 * and then only read (and last_seen updated) by the loop.
 */
#include "edge/trust/table.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a over the kind and the peer: peers are chosen by the site
 * (collector URLs) or read from certificates, and a chain is at most the
 * entries of a few peers, so a keyed hash buys nothing here. */
static size_t
hash(int kind, const char *peer)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)kind;

	for (; *peer != '\0'; peer++) {
		h ^= (unsigned char)*peer;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

struct ttable *
ttable_new(struct trust_entry *ents, size_t n)
{
	struct ttable *t = calloc(1, sizeof(*t));
	size_t i, b;

	if (t == NULL) {
		free(ents);
		return NULL;
	}
	t->ents = ents;
	t->n = n;
	for (t->nb = 16; t->nb < n; t->nb *= 2)
		;
	t->bucket = malloc(t->nb * sizeof(*t->bucket));
	t->next = calloc(n + 1, sizeof(*t->next));
	t->logged_day = calloc(n + 1, sizeof(*t->logged_day));
	if (t->bucket == NULL || t->next == NULL || t->logged_day == NULL) {
		ttable_free(t);
		return NULL;
	}
	for (b = 0; b < t->nb; b++)
		t->bucket[b] = TTABLE_NONE;
	/* backwards, so that each chain is in id order */
	for (i = n; i-- > 0;) {
		b = hash(ents[i].kind, ents[i].peer) & (t->nb - 1);
		t->next[i] = t->bucket[b];
		t->bucket[b] = i;
	}
	return t;
}

void
ttable_free(struct ttable *t)
{
	if (t == NULL)
		return;
	free(t->ents);
	free(t->logged_day);
	free(t->bucket);
	free(t->next);
	free(t);
}

/* i, or the next index of its chain that is (kind, peer). */
static size_t
match(const struct ttable *t, size_t i, int kind, const char *peer)
{
	while (i != TTABLE_NONE && (t->ents[i].kind != kind ||
	    strcmp(t->ents[i].peer, peer) != 0))
		i = t->next[i];
	return i;
}

size_t
ttable_first(const struct ttable *t, int kind, const char *peer)
{
	if (t == NULL || peer == NULL)
		return TTABLE_NONE;
	return match(t, t->bucket[hash(kind, peer) & (t->nb - 1)], kind,
	    peer);
}

size_t
ttable_next(const struct ttable *t, size_t i)
{
	return match(t, t->next[i], t->ents[i].kind, t->ents[i].peer);
}

void
ttable_carry(struct ttable *to, const struct ttable *from)
{
	size_t i, j;

	if (to == NULL || from == NULL)
		return;
	for (i = 0; i < to->n; i++)
		for (j = ttable_first(from, to->ents[i].kind,
		    to->ents[i].peer); j != TTABLE_NONE;
		    j = ttable_next(from, j))
			if (from->ents[j].id == to->ents[i].id) {
				to->logged_day[i] = from->logged_day[j];
				if (from->ents[j].last_seen >
				    to->ents[i].last_seen)
					to->ents[i].last_seen =
					    from->ents[j].last_seen;
			}
}
