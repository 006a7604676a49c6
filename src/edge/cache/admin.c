/*
 * The admin socket's "cache list [json]" and "cache purge [URL]": the
 * entries as text or JSON, and dropping them. It reads the index through
 * index_each and the entries' fields; the engine itself prints nothing.
 */
#include "edge/cache/cache-int.h"

#include <string.h>
#include <time.h>

#include "common/jsonw.h"
#include "common/log.h"
#include "edge/cache/policy.h"

struct list_ctx {
	bool json;
	FILE *f;
	struct jw j;
	int64_t now;
};

static void
list_one(struct centry *ce, void *arg)
{
	struct list_ctx *l = arg;
	struct jw *j = &l->j;
	int64_t age = cache_current_age(&ce->m.resp, ce->m.request_time,
	    ce->m.response_time, l->now);
	int64_t life = cache_freshness_lifetime(&ce->m.resp,
	    ce->m.response_time);
	const char *state = ce->state == CE_FILLING ? "filling" :
	    age < life ? "fresh" : "stale";

	if (!l->json) {
		fprintf(l->f, "%-8s %-6d %12llu %7llds %7llds %6llu  %s (%s)\n",
		    state, ce->m.status, (unsigned long long)ce->m.length,
		    (long long)age, (long long)(life - age),
		    (unsigned long long)ce->hits, ce->m.url, ce->m.service);
		return;
	}
	jw_begin_object(j);
	jw_key(j, "url");
	jw_string(j, ce->m.url);
	jw_key(j, "service");
	jw_string(j, ce->m.service);
	jw_key(j, "state");
	jw_string(j, state);
	jw_key(j, "status");
	jw_int(j, ce->m.status);
	jw_key(j, "bytes");
	jw_int(j, (int64_t)ce->m.length);
	jw_key(j, "age");
	jw_int(j, age);
	jw_key(j, "fresh_for");
	jw_int(j, life - age);
	jw_key(j, "hits");
	jw_int(j, (int64_t)ce->hits);
	jw_key(j, "etag");
	jw_string(j, hdrs_get(&ce->m.resp, "etag"));
	jw_key(j, "id");
	jw_string(j, ce->id);
	jw_end_object(j);
}

void
cache_list(struct cache *c, bool json, FILE *f)
{
	struct list_ctx l = { .json = json, .f = f, .now = time(NULL) };

	if (json) {
		jw_init(&l.j, f);
		jw_begin_object(&l.j);
		jw_key(&l.j, "entries");
		jw_begin_array(&l.j);
	} else
		fprintf(f, "%-8s %-6s %12s %8s %8s %6s  %s\n", "STATE",
		    "STATUS", "BYTES", "AGE", "FRESH", "HITS", "URL (service)");
	index_each(c, list_one, &l);
	if (json) {
		jw_end_array(&l.j);
		jw_key(&l.j, "bytes");
		jw_int(&l.j, (int64_t)c->stats.size);
		jw_key(&l.j, "max_size");
		jw_int(&l.j, (int64_t)c->stats.max_size);
		jw_end_object(&l.j);
		fputc('\n', f);
	} else
		fprintf(f, "%llu entries, %llu of %llu bytes\n",
		    (unsigned long long)c->stats.entries,
		    (unsigned long long)c->stats.size,
		    (unsigned long long)c->stats.max_size);
}

static bool
url_matches(const struct centry *ce, const char *url)
{
	const char *path;

	if (url == NULL)
		return true;
	if (url[0] != '/')
		return strcmp(ce->m.url, url) == 0;
	path = strchr(ce->m.url + 7, '/');	/* after "http://host" */
	return path != NULL && strcmp(path, url) == 0;
}

struct purge_ctx {
	const char *url;
	unsigned long long n, bytes;
};

static void
purge_one(struct centry *ce, void *arg)
{
	struct purge_ctx *p = arg;

	if (!url_matches(ce, p->url))
		return;
	p->n++;
	p->bytes += ce->m.length;
	log_info("cache", "purged", "url=%s service=%s", ce->m.url,
	    ce->m.service);
	index_drop(ce);
}

uint64_t
cache_purge_count(struct cache *c, const char *url, uint64_t *bytes)
{
	struct purge_ctx p = { .url = url, .n = 0, .bytes = 0 };

	index_each(c, purge_one, &p);
	if (bytes != NULL)
		*bytes = p.bytes;
	return p.n;
}

void
cache_purge(struct cache *c, const char *url, FILE *f)
{
	uint64_t bytes, n = cache_purge_count(c, url, &bytes);

	fprintf(f, "purged %llu entries (%llu bytes)\n",
	    (unsigned long long)n, (unsigned long long)bytes);
}
