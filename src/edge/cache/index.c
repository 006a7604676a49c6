/*
 * The cache's index (cache-int.h): its entries by key in a hash table and
 * on an LRU list, with their files; eviction to stay within
 * cache_max_size; loading cache_dir at start, after removing what an
 * interrupted run left. Nothing here knows of readers or fills.
 */
#include "edge/cache/cache-int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "edge/cache/file.h"
#include "edge/cache/policy.h"

uint64_t
index_key_hash(const char *service, const char *url)
{
	uint64_t h = 1469598103934665603ull;
	const char *p;

	for (p = service; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ '\n') * 1099511628211ull;
	for (p = url; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

static bool
same_key(const struct centry *ce, uint64_t h, const char *service,
    const char *url)
{
	return ce->khash == h && strcmp(ce->m.service, service) == 0 &&
	    strcmp(ce->m.url, url) == 0;
}

static void
lru_unlink(struct centry *ce)
{
	struct cache *c = ce->c;

	if (!ce->on_lru)
		return;
	if (ce->lprev != NULL)
		ce->lprev->lnext = ce->lnext;
	else
		c->lru_head = ce->lnext;
	if (ce->lnext != NULL)
		ce->lnext->lprev = ce->lprev;
	else
		c->lru_tail = ce->lprev;
	ce->lprev = ce->lnext = NULL;
	ce->on_lru = false;
}

void
index_touch(struct centry *ce)
{
	struct cache *c = ce->c;

	lru_unlink(ce);
	ce->lnext = c->lru_head;
	if (c->lru_head != NULL)
		c->lru_head->lprev = ce;
	else
		c->lru_tail = ce;
	c->lru_head = ce;
	ce->on_lru = true;
}

void
index_entry_free(struct centry *ce)
{
	cache_meta_free(&ce->m);
	free(ce);
}

void
index_unref(struct centry *ce)
{
	if (--ce->refs == 0)
		index_entry_free(ce);
}

void
index_unlink_files(struct centry *ce)
{
	static const char *const suffix[] = { "body", "meta", "part" };
	size_t i;

	for (i = 0; i < 3; i++) {
		char *p = cachefile_path(ce->c->dir, ce->id, suffix[i]);

		if (p != NULL)
			(void)unlink(p);
		free(p);
	}
}

/* Out of the index and off the disk. Readers that have the body open
 * finish reading it; nobody finds it again. */
void
index_drop(struct centry *ce)
{
	struct cache *c = ce->c;
	struct centry **pp;

	if (!ce->indexed)
		return;
	for (pp = &c->buckets[ce->khash % NBUCKETS]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == ce) {
			*pp = ce->hnext;
			break;
		}
	ce->indexed = false;
	lru_unlink(ce);
	index_unlink_files(ce);
	c->stats.size -= ce->disk;
	c->stats.entries--;
	ce->disk = 0;
	if (ce->state == CE_READY)
		ce->state = CE_DEAD;
	index_unref(ce);
}

void
index_add(struct cache *c, struct centry *ce)
{
	struct centry **b = &c->buckets[ce->khash % NBUCKETS];

	ce->hnext = *b;
	*b = ce;
	ce->indexed = true;
	ce->refs++;
	c->stats.entries++;
}

struct centry *
index_entry_new(struct cache *c, uint64_t khash)
{
	struct centry *ce = calloc(1, sizeof(*ce));

	if (ce == NULL)
		return NULL;
	ce->c = c;
	ce->khash = khash;
	ce->declared = -1;
	cache_meta_init(&ce->m);
	if (cachefile_new_id(ce->id) != 0) {
		free(ce);
		return NULL;
	}
	return ce;
}

/* Makes room for more bytes by dropping the least recently used entries
 * (never one being fetched). */
void
index_evict(struct cache *c, uint64_t more, const struct centry *keep)
{
	struct centry *ce = c->lru_tail;

	while (c->stats.size + more > c->stats.max_size && ce != NULL) {
		struct centry *prev = ce->lprev;

		if (ce != keep) {
			log_info("cache", "evicted", "url=%s bytes=%llu",
			    ce->m.url, (unsigned long long)ce->m.length);
			c->stats.evictions++;
			index_drop(ce);
		}
		ce = prev;
	}
}

/* Vary: the request fields a stored response depends on */

struct vary_ctx {
	const struct hdrs *req;
	struct hdrs *out;		/* record */
	const struct hdrs *stored;	/* match */
};

/* cache_vary_each's callbacks: bool, go on or stop (out of memory, or
 * no match). */
static bool
vary_record_one(const char *name, void *arg)
{
	struct vary_ctx *v = arg;
	const char *val = hdrs_get(v->req, name);

	return val == NULL || hdrs_get(v->out, name) != NULL ||
	    hdrs_add(v->out, name, strlen(name), val, strlen(val)) == 0;
}

static bool
vary_match_one(const char *name, void *arg)
{
	struct vary_ctx *v = arg;
	const char *a = hdrs_get(v->req, name);
	const char *b = hdrs_get(v->stored, name);

	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
index_vary_matches(const struct centry *ce, const struct hdrs *req)
{
	struct vary_ctx v = { req, NULL, &ce->m.vary };

	return cache_vary_each(&ce->m.resp, vary_match_one, &v);
}

bool
index_vary_record(struct centry *ce, const struct hdrs *req)
{
	struct vary_ctx v;

	v.req = req;
	v.out = &ce->m.vary;
	v.stored = NULL;
	return cache_vary_each(&ce->m.resp, vary_record_one, &v);
}

/* The cache key's URL: http://host/path. */
char *
index_make_url(const struct cache_request *q)
{
	size_t n = strlen(q->host) + strlen(q->path) + 8;
	char *u = malloc(n);

	if (u != NULL)
		snprintf(u, n, "http://%s%s", q->host, q->path);
	return u;
}

/* Drops the entries this one replaces: same URL, same variant. */
void
index_drop_replaced(struct cache *c, const struct centry *ce)
{
	struct centry *e, *next;

	for (e = c->buckets[ce->khash % NBUCKETS]; e != NULL; e = next) {
		next = e->hnext;
		if (e != ce && same_key(e, ce->khash, ce->m.service,
		    ce->m.url) && (e->state != CE_FILLING) &&
		    index_vary_matches(e, &ce->m.vary))
			index_drop(e);
	}
}

struct centry *
index_find(struct cache *c, uint64_t h, const char *service,
    const char *url, const struct hdrs *req)
{
	struct centry *ce, *best = NULL;

	for (ce = c->buckets[h % NBUCKETS]; ce != NULL; ce = ce->hnext)
		if (same_key(ce, h, service, url) &&
		    index_vary_matches(ce, req) && (best == NULL ||
		    ce->m.response_time > best->m.response_time))
			best = ce;
	return best;
}

void
index_invalidate(struct cache *c, const char *service, const char *url)
{
	uint64_t h = index_key_hash(service, url);
	struct centry *ce, *next;

	for (ce = c->buckets[h % NBUCKETS]; ce != NULL; ce = next) {
		next = ce->hnext;
		if (same_key(ce, h, service, url)) {
			log_info("cache", "invalidated", "url=%s", url);
			index_drop(ce);
		}
	}
}

void
index_each(struct cache *c, void (*fn)(struct centry *ce, void *arg),
    void *arg)
{
	struct centry *ce, *next;
	size_t i;

	for (i = 0; i < NBUCKETS; i++)
		for (ce = c->buckets[i]; ce != NULL; ce = next) {
			next = ce->hnext;
			fn(ce, arg);
		}
}

/* Loading at start */

static int
entry_load(struct cache *c, const char *id, struct centry ***all, size_t *n)
{
	char *mp = cachefile_path(c->dir, id, "meta");
	char *bp = cachefile_path(c->dir, id, "body");
	struct centry *ce = index_entry_new(c, 0), **nv;
	struct stat st;
	struct err er;
	int rc = -ENOMEM;

	if (mp == NULL || bp == NULL || ce == NULL)
		goto out;
	memcpy(ce->id, id, sizeof(ce->id));
	rc = cachefile_read_meta(mp, &ce->m, &ce->meta_bytes, &er);
	if (rc == 0 && (stat(bp, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != ce->m.length)) {
		snprintf(er.msg, sizeof(er.msg), "%s: body missing or of the "
		    "wrong size", bp);
		rc = -EINVAL;
	}
	if (rc != 0) {
		log_warn("cache", "entry_dropped", "id=%s reason=%s", id,
		    er.msg);
		c->stats.corrupt++;
		(void)unlink(mp);
		(void)unlink(bp);
		goto out;
	}
	nv = realloc(*all, (*n + 1) * sizeof(*nv));
	rc = -ENOMEM;
	if (nv == NULL)
		goto out;
	*all = nv;
	ce->khash = index_key_hash(ce->m.service, ce->m.url);
	ce->state = CE_READY;
	ce->disk = ce->m.length + ce->meta_bytes;
	nv[(*n)++] = ce;
	ce = NULL;
	rc = 0;
out:
	if (ce != NULL)
		index_entry_free(ce);
	free(mp);
	free(bp);
	return rc;
}

static int
by_age(const void *a, const void *b)
{
	const struct centry *x = *(struct centry *const *)a;
	const struct centry *y = *(struct centry *const *)b;

	return (x->m.response_time > y->m.response_time) -
	    (x->m.response_time < y->m.response_time);
}

/* Removes what an interrupted run left: bodies being fetched, temporary
 * metadata, bodies without metadata. */
static void
sweep(struct cache *c, bool bodies)
{
	DIR *d = opendir(c->dir);
	struct dirent *de;
	char id[CACHE_ID_LEN + 1];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int kind = cachefile_kind(de->d_name, id);
		char *p, *mp;

		if (kind == 'b' && bodies) {
			mp = cachefile_path(c->dir, id, "meta");
			if (mp == NULL || fs_exists(mp)) {
				free(mp);
				continue;
			}
			free(mp);
		} else if (kind != 'p' && kind != 't')
			continue;
		p = fs_join(c->dir, de->d_name);
		if (p != NULL)
			(void)unlink(p);
		free(p);
	}
	closedir(d);
}

int
index_load(struct cache *c, struct err *e)
{
	struct centry **all = NULL;
	size_t n = 0, i;
	struct dirent *de;
	DIR *d = opendir(c->dir);

	if (d == NULL)
		return err_set(e, -errno, "cannot open cache_dir %s: %s",
		    c->dir, strerror(errno));
	sweep(c, false);
	while ((de = readdir(d)) != NULL) {
		char id[CACHE_ID_LEN + 1];

		if (cachefile_kind(de->d_name, id) == 'm')
			(void)entry_load(c, id, &all, &n);
	}
	closedir(d);
	sweep(c, true);
	if (n > 1)
		qsort(all, n, sizeof(*all), by_age);
	for (i = 0; i < n; i++) {
		index_drop_replaced(c, all[i]);	/* a newer copy wins */
		index_add(c, all[i]);
		c->stats.size += all[i]->disk;
		index_touch(all[i]);
	}
	free(all);
	index_evict(c, 0, NULL);
	return 0;
}

void
index_clear(struct cache *c)
{
	size_t i;

	for (i = 0; i < NBUCKETS; i++)
		while (c->buckets[i] != NULL) {
			struct centry *ce = c->buckets[i];

			c->buckets[i] = ce->hnext;
			index_entry_free(ce);
		}
}
