/*
 * The cache's public face (cache.h): a device's request looked up in the
 * index, joined to a fill or sent on one, or passed upstream; opening and
 * freeing the cache; its counters. The work is in the files below it
 * (cache-int.h names them).
 */
#include "edge/cache/cache-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "edge/cache/policy.h"

static const char *const result_names[CR_COUNT] = {
	"hit", "miss", "coalesced", "revalidated", "stale", "bypass",
};

const char *
cache_result_name(enum cache_result r)
{
	return (unsigned)r < CR_COUNT ? result_names[r] : "?";
}

static int lookup(struct cache_reader *cr);

/* The readers that waited for a check of an entry that is gone (damaged,
 * or dropped meanwhile) look again: they fetch it anew. */
static void
relookup_verifying(struct centry *ce)
{
	struct cache_reader *cr, *next;

	ce->refs++;
	for (cr = ce->readers; cr != NULL; cr = next) {
		next = cr->next;
		if (!cr->verifying)
			continue;
		reader_detach(cr);
		if (lookup(cr) == 0) {
			reader_pass(cr);
		}
	}
	index_unref(ce);
}

/* c->verified: the end of a digest check, for the readers waiting for
 * it. */
static void
cache_verified(struct centry *ce, bool ok)
{
	if (ok)
		reader_resume(ce);
	else
		relookup_verifying(ce);
}

/* 1: cr waits on a fill or reads an entry; 0: it goes upstream itself. */
static int
lookup(struct cache_reader *cr)
{
	struct cache *c = cr->c;
	struct centry *ce;
	struct fill *f;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		ce = index_find(c, cr->khash, cr->q.service, cr->url,
		    cr->q.req);
		if (ce != NULL && ce->state == CE_FILLING) {
			if (reader_attach(cr, ce, CR_COALESCED) == 0)
				return 1;
			continue;
		}
		if (ce != NULL && !cache_needs_revalidation(&ce->m.resp,
		    cr->q.req, ce->m.request_time, ce->m.response_time,
		    time(NULL))) {
			if (reader_attach(cr, ce, CR_HIT) == 0)
				return 1;
			continue;
		}
		if (cr->head_only)
			return 0;
		f = fill_find(c, cr->khash, cr->q.service, cr->url);
		if (f != NULL) {
			fill_wait(f, cr);
			return 1;
		}
		if (fill_start(cr, ce) == 0)
			return 1;
		if (ce != NULL && cache_may_serve_stale(&ce->m.resp) &&
		    reader_attach(cr, ce, CR_STALE) == 0) {
			log_info("cache", "served_stale", "url=%s reason=%s",
			    ce->m.url, "the cloud is out of reach");
			return 1;
		}
		return 0;
	}
	return 0;
}

int
cache_get(struct cache *c, const struct cache_request *q,
    const struct cache_reader_ops *ops, void *arg, struct cache_reader **out)
{
	struct cache_reader *cr;
	const char *why = cache_request_bypass(q->method, q->req);

	if (why != NULL) {
		if (strcmp(why, "method") == 0) {
			/* An unsafe method may change what the URL holds
			 * (RFC 9111 4.4). */
			char *u = index_make_url(q);

			if (u != NULL && strcmp(q->method, "OPTIONS") != 0 &&
			    strcmp(q->method, "TRACE") != 0)
				index_invalidate(c, q->service, u);
			free(u);
		}
		c->stats.requests[CR_BYPASS]++;
		return 0;
	}
	if (q->has_body) {
		c->stats.requests[CR_BYPASS]++;
		return 0;
	}
	cr = calloc(1, sizeof(*cr));
	if (cr == NULL)
		return 0;
	if (reader_init(cr, c, q, ops, arg) != 0) {
		cache_reader_free(cr);
		c->stats.requests[CR_BYPASS]++;
		return 0;
	}
	cr->khash = index_key_hash(q->service, cr->url);
	cr->result = CR_MISS;
	if (lookup(cr) == 0) {
		cache_reader_free(cr);
		c->stats.requests[CR_BYPASS]++;
		return 0;
	}
	if (cr->fill != NULL && cr->fill->owner != cr)
		cr->result = CR_COALESCED;
	*out = cr;
	return 1;
}

int
cache_open(struct event_base *base, const char *dir, uint64_t max_size,
    struct cache **out, struct err *e)
{
	struct cache *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	c->base = base;
	c->stats.max_size = max_size;
	c->dir = strdup(dir);
	if (c->dir == NULL) {
		free(c);
		return err_set(e, -ENOMEM, "out of memory");
	}
	c->verified = cache_verified;
	rc = fs_mkdir_p(dir, 0700, e);
	if (rc == 0)
		rc = index_load(c, e);
	if (rc != 0) {
		cache_free(c);
		return rc;
	}
	log_info("cache", "opened", "dir=%s entries=%llu bytes=%llu "
	    "max_size=%llu", dir, (unsigned long long)c->stats.entries,
	    (unsigned long long)c->stats.size, (unsigned long long)max_size);
	*out = c;
	return 0;
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	verify_free_all(c);
	fill_free_all(c);
	index_clear(c);
	free(c->dir);
	free(c);
}

const struct cache_stats *
cache_stats(struct cache *c)
{
	return &c->stats;
}

