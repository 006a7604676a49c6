/*
 * The cache's fills: a request that misses sends one upstream request
 * (through the device connection's fetch) and every device asking for
 * the same URL meanwhile waits for its head. A storable response is
 * written to a new entry's .part file, its digest computed on the way,
 * and becomes the entry when complete; the readers read it as it grows.
 * A 304 refreshes the stale entry being revalidated; a response that may
 * not be stored is handed to the device whose request fetched it.
 */
#include "edge/cache/cache-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/http1.h"
#include "common/log.h"
#include "common/proto.h"
#include "edge/cache/file.h"
#include "edge/cache/policy.h"

static void
fill_free(struct fill *f)
{
	struct cache_reader *cr;

	while ((cr = f->waiters) != NULL) {
		reader_pass(cr);
	}
	if (f->pprev != NULL) {
		*f->pprev = f->next;
		if (f->next != NULL)
			f->next->pprev = f->pprev;
	}
	if (f->r != NULL)
		relay_abort(f->r);
	if (f->ce != NULL) {
		f->ce->fill = NULL;
		index_unref(f->ce);
	}
	if (f->old != NULL)
		index_unref(f->old);
	if (f->fd >= 0)
		close(f->fd);
	EVP_MD_CTX_free(f->md);
	hdrs_free(&f->req);
	if (f->ev != NULL)
		event_free(f->ev);
	free(f->service);
	free(f->url);
	free(f);
}

static void
fill_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fill_free(arg);
}

/* Frees f from the loop (we may be inside its relay's callback); no
 * one finds it meanwhile. */
static void
fill_end(struct fill *f)
{
	struct cache *c = f->c;

	if (f->pprev != NULL) {
		*f->pprev = f->next;
		if (f->next != NULL)
			f->next->pprev = f->pprev;
	}
	f->next = c->ended;
	if (f->next != NULL)
		f->next->pprev = &f->next;
	f->pprev = &c->ended;
	c->ended = f;
	event_active(f->ev, 0, 0);
}

static void fill_head(struct relay *r, void *arg);
static void fill_body(struct relay *r, void *arg);
static void fill_drained(struct relay *r, void *arg);
static void fill_done(struct relay *r, bool complete, void *arg);

static const struct relay_http_ops fill_ops = {
	.head = fill_head,
	.body = fill_body,
	.drained = fill_drained,
	.done = fill_done,
};

struct fill *
fill_find(struct cache *c, uint64_t h, const char *service, const char *url)
{
	struct fill *f;

	for (f = c->fills; f != NULL; f = f->next)
		if (!f->headed && f->khash == h &&
		    strcmp(f->service, service) == 0 &&
		    strcmp(f->url, url) == 0)
			return f;
	return NULL;
}

void
fill_wait(struct fill *f, struct cache_reader *cr)
{
	cr->fill = f;
	reader_link(&f->waiters, cr);
}

/* The validators of a stale entry, for a conditional request. */
static int
validators(const struct centry *old, struct hdrs *extra)
{
	const char *etag = hdrs_get(&old->m.resp, "etag");
	const char *lm = hdrs_get(&old->m.resp, "last-modified");

	if (etag != NULL && hdrs_add(extra, "if-none-match", 13, etag,
	    strlen(etag)) != 0)
		return -ENOMEM;
	if (lm != NULL && hdrs_add(extra, "if-modified-since", 17, lm,
	    strlen(lm)) != 0)
		return -ENOMEM;
	return 0;
}

int
fill_start(struct cache_reader *cr, struct centry *old)
{
	struct cache *c = cr->c;
	struct fill *f = calloc(1, sizeof(*f));
	struct hdrs extra;
	size_t i;
	int rc = -ENOMEM;

	hdrs_init(&extra);
	if (f == NULL)
		return -ENOMEM;
	f->c = c;
	f->fd = -1;
	hdrs_init(&f->req);
	f->service = strdup(cr->q.service);
	f->url = strdup(cr->url);
	f->khash = cr->khash;
	f->request_time = time(NULL);
	f->ev = event_new(c->base, -1, 0, fill_later, f);
	if (f->service == NULL || f->url == NULL || f->ev == NULL ||
	    (old != NULL && validators(old, &extra) != 0))
		goto fail;
	for (i = 0; i < cr->q.req->n; i++)
		if (hdrs_add(&f->req, cr->q.req->v[i].name,
		    cr->q.req->v[i].nlen, cr->q.req->v[i].value,
		    cr->q.req->v[i].vlen) != 0)
			goto fail;
	f->authenticated = cr->q.authenticated;
	rc = cr->ops->fetch(cr->arg, old != NULL ? &extra : NULL, &fill_ops, f,
	    &f->r);
	if (rc != 0)
		goto fail;
	hdrs_free(&extra);
	f->next = c->fills;
	if (f->next != NULL)
		f->next->pprev = &f->next;
	f->pprev = &c->fills;
	c->fills = f;
	f->owner = cr;
	fill_wait(f, cr);
	if (old != NULL) {
		f->old = old;
		old->refs++;
	}
	return 0;
fail:
	hdrs_free(&extra);
	f->r = NULL;
	fill_free(f);
	return rc;
}

/* The response may not be stored: the device whose request it answers
 * takes the stream; the others ask for themselves. */
static void
fill_hand_over(struct fill *f, struct relay *r)
{
	struct cache_reader *owner = f->owner, *cr;

	while ((cr = f->waiters) != NULL) {
		reader_detach(cr);
		if (cr != owner) {
			reader_pass(cr);
		}
	}
	f->r = NULL;
	if (owner != NULL) {
		const struct cache_reader_ops *ops = owner->ops;
		void *arg = owner->arg;

		owner->c->stats.requests[CR_BYPASS]++;
		cache_reader_free(owner);
		ops->adopt(arg, r);
	} else {
		f->r = r;	/* nobody wants it: reset from the loop */
	}
	fill_end(f);
}

/* A 304 for a stale entry: it is fresh again, and everyone waiting reads
 * it. */
static void
fill_revalidated(struct fill *f, const struct hdrs *h)
{
	struct centry *old = f->old;
	struct cache_reader *cr;
	struct hdrs merged;
	const char *why = NULL;
	struct err er;
	uint64_t bytes;
	size_t i;

	/* The entry as the 304 updates it must still be storable: the
	 * origin may have said no-store since, or the cloud confidential. */
	hdrs_init(&merged);
	for (i = 0; i < old->m.resp.n && why == NULL; i++)
		if (hdrs_add(&merged, old->m.resp.v[i].name,
		    old->m.resp.v[i].nlen, old->m.resp.v[i].value,
		    old->m.resp.v[i].vlen) != 0)
			why = "out of memory";
	if (why == NULL && cache_update_headers(&merged, h) != 0)
		why = "out of memory";
	if (why == NULL && hdrs_get(h, HTTP_CONFIDENTIAL_FIELD) != NULL)
		why = "confidential";
	if (why == NULL)
		why = cache_response_unstorable(old->m.status, &merged,
		    f->authenticated);
	if (why != NULL) {
		hdrs_free(&merged);
		f->c->stats.uncacheable++;
		log_info("cache", "not_stored", "url=%s status=304 reason=%s",
		    old->m.url, why);
		index_drop(old);
		while ((cr = f->waiters) != NULL) {
			reader_pass(cr);
		}
		return;
	}
	hdrs_free(&old->m.resp);
	old->m.resp = merged;
	old->m.request_time = f->request_time;
	old->m.response_time = time(NULL);
	if (old->indexed && cachefile_write_meta(f->c->dir, old->id, &old->m,
	    &bytes, &er) != 0) {
		log_warn("cache", "meta_write_failed", "url=%s", old->m.url);
	} else if (old->indexed) {
		f->c->stats.size += bytes - old->meta_bytes;
		old->disk += bytes - old->meta_bytes;
		old->meta_bytes = bytes;
	}
	while ((cr = f->waiters) != NULL) {
		reader_detach(cr);
		if (old->state != CE_READY || !index_vary_matches(old, cr->q.req) ||
		    reader_attach(cr, old, CR_REVALIDATED) != 0) {
			reader_pass(cr);
		}
	}
}

static int64_t
content_length(const struct hdrs *h)
{
	const char *v = hdrs_get(h, "content-length");
	char *end;
	long long n;

	if (v == NULL)
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	return errno == 0 && *end == '\0' && end != v && n >= 0 ? n : -1;
}

static int
fill_store_begin(struct fill *f, int status, const struct hdrs *h)
{
	struct cache *c = f->c;
	struct centry *ce = index_entry_new(c, f->khash);
	size_t i;
	char *p;

	if (ce == NULL)
		return -ENOMEM;
	ce->m.service = strdup(f->service);
	ce->m.url = strdup(f->url);
	ce->m.status = status;
	ce->m.request_time = f->request_time;
	ce->m.response_time = time(NULL);
	ce->declared = content_length(h);
	ce->state = CE_FILLING;
	if (ce->m.service == NULL || ce->m.url == NULL)
		goto fail;
	for (i = 0; i < h->n; i++)
		if (strncmp(h->v[i].name, HTTP_TUNNEL_PREFIX,
		    strlen(HTTP_TUNNEL_PREFIX)) != 0 &&
		    hdrs_add(&ce->m.resp, h->v[i].name, h->v[i].nlen,
		    h->v[i].value, h->v[i].vlen) != 0)
			goto fail;
	if (!index_vary_record(ce, &f->req))
		goto fail;
	f->md = EVP_MD_CTX_new();
	p = cachefile_path(c->dir, ce->id, "part");
	if (p != NULL)
		f->fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	free(p);
	if (f->fd < 0 || f->md == NULL ||
	    EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) != 1) {
		log_warn("cache", "write_failed", "url=%s dir=%s error=%s",
		    f->url, c->dir, strerror(errno));
		c->stats.write_errors++;
		index_unlink_files(ce);
		goto fail;
	}
	index_drop_replaced(c, ce);
	if (f->old != NULL)
		index_drop(f->old);
	if (ce->declared > 0)
		index_evict(c, (uint64_t)ce->declared, NULL);
	ce->fill = f;
	ce->refs++;		/* the fill's */
	f->ce = ce;
	index_add(c, ce);
	ce->refs++;		/* held across attaching the waiters */
	return 0;
fail:
	index_entry_free(ce);
	return -EIO;
}

static void
fill_head(struct relay *r, void *arg)
{
	struct fill *f = arg;
	struct cache *c = f->c;
	int status = relay_info(r)->status;
	const struct hdrs *h = relay_hdrs(r);
	const char *why;
	struct cache_reader *cr;
	int64_t len = content_length(h);

	f->headed = true;
	if (f->old != NULL && status == 304) {
		fill_revalidated(f, h);
		return;
	}
	why = relay_info(r)->bad_headers ? "headers" :
	    cache_response_unstorable(status, h, f->authenticated);
	if (why == NULL && len >= 0 && (uint64_t)len > c->stats.max_size)
		why = "larger than cache_max_size";
	if (why == NULL && fill_store_begin(f, status, h) != 0)
		why = "cannot write to the cache";
	if (why != NULL) {
		c->stats.uncacheable++;
		log_debug("cache", "not_stored", "url=%s status=%d reason=%s",
		    f->url, status, why);
		if (f->old != NULL && status < 500)
			index_drop(f->old);	/* the origin answered anew */
		fill_hand_over(f, r);
		return;
	}
	while ((cr = f->waiters) != NULL) {
		bool own = cr == f->owner;

		reader_detach(cr);
		if (!index_vary_matches(f->ce, cr->q.req) ||
		    reader_attach(cr, f->ce, own ? CR_MISS : CR_COALESCED) != 0) {
			reader_pass(cr);
		}
	}
	index_unref(f->ce);
}

static void
fill_failed(struct fill *f, const char *why)
{
	struct centry *ce = f->ce;
	struct cache_reader *cr;

	log_info("cache", "fetch_failed", "url=%s reason=%s", f->url, why);
	f->failed = true;
	for (cr = ce->readers; cr != NULL; cr = cr->next) {
		cr->failed = true;
		reader_kick(cr);
	}
	index_drop(ce);
}

static void
fill_body(struct relay *r, void *arg)
{
	struct fill *f = arg;
	struct cache *c = f->c;
	struct evbuffer *in = relay_body_in(r);
	size_t n = evbuffer_get_length(in);
	struct centry *ce = f->ce;
	struct cache_reader *cr;

	if (ce == NULL || f->failed) {
		evbuffer_drain(in, n);		/* a 304's, or a failed fill */
		relay_body_ack(r, n);
		return;
	}
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		ssize_t w;

		evbuffer_peek(in, -1, NULL, &v, 1);
		w = pwrite(f->fd, v.iov_base, v.iov_len, (off_t)ce->m.length);
		if (w <= 0) {
			c->stats.write_errors++;
			log_warn("cache", "write_failed", "url=%s dir=%s "
			    "error=%s", f->url, c->dir,
			    w < 0 ? strerror(errno) : "short write");
			evbuffer_drain(in, evbuffer_get_length(in));
			relay_body_ack(r, n);
			fill_failed(f, "the cache could not write the body");
			fill_end(f);	/* the rest is not wanted */
			return;
		}
		EVP_DigestUpdate(f->md, v.iov_base, (size_t)w);
		evbuffer_drain(in, (size_t)w);
		ce->m.length += (uint64_t)w;
		if (ce->indexed) {
			ce->disk += (uint64_t)w;
			c->stats.size += (uint64_t)w;
		}
		c->stats.bytes_fetched += (uint64_t)w;
	}
	relay_body_ack(r, n);
	if (ce->indexed && ce->m.length > c->stats.max_size) {
		/* A body of unknown length outgrew the whole cache: not
		 * stored. Nothing was evicted for it: room is made when such
		 * a body is complete and known to fit. Its readers keep
		 * reading the unlinked file. */
		c->stats.uncacheable++;
		log_info("cache", "not_stored", "url=%s reason=%s", f->url,
		    "larger than cache_max_size");
		index_drop(ce);
	} else if (ce->indexed && ce->declared >= 0 &&
	    c->stats.size > c->stats.max_size)
		index_evict(c, 0, ce);	/* other fills took the room it made */
	for (cr = ce->readers; cr != NULL; cr = cr->next)
		if (cr->starved)
			reader_kick(cr);
}

static void
fill_drained(struct relay *r, void *arg)
{
	(void)r;
	(void)arg;
}

/* The whole body is on disk: it becomes a stored entry. */
static void
fill_finish(struct fill *f)
{
	struct cache *c = f->c;
	struct centry *ce = f->ce;
	unsigned mdlen = 0;
	struct err er;
	char *part = cachefile_path(c->dir, ce->id, "part");
	char *body = cachefile_path(c->dir, ce->id, "body");
	struct stat st;
	int rc = -ENOMEM;

	EVP_DigestFinal_ex(f->md, ce->m.sha256, &mdlen);
	if (part != NULL && body != NULL && ce->indexed) {
		rc = rename(part, body) == 0 && stat(body, &st) == 0 ? 0 :
		    -errno;
		if (rc == 0)
			rc = cachefile_write_meta(c->dir, ce->id, &ce->m,
			    &ce->meta_bytes, &er);
	}
	free(part);
	free(body);
	ce->state = CE_READY;
	if (!ce->indexed)
		return;		/* purged or replaced meanwhile */
	if (rc != 0) {
		c->stats.write_errors++;
		log_warn("cache", "write_failed", "url=%s dir=%s", f->url,
		    c->dir);
		index_drop(ce);
		return;
	}
	ce->checked = true;
	ce->dev = st.st_dev;
	ce->ino = st.st_ino;
	ce->size = st.st_size;
	ce->ctime = st.st_ctim;
	ce->disk += ce->meta_bytes;
	c->stats.size += ce->meta_bytes;
	index_touch(ce);
	log_info("cache", "stored", "url=%s service=%s status=%d bytes=%llu",
	    ce->m.url, ce->m.service, ce->m.status,
	    (unsigned long long)ce->m.length);
	index_evict(c, 0, ce);
}

static void
fill_done(struct relay *r, bool complete, void *arg)
{
	struct fill *f = arg;
	struct centry *ce = f->ce;
	struct cache_reader *cr, *next;

	(void)r;
	f->r = NULL;
	if (!f->headed) {
		/* No answer at all (tunnel down, stream reset): a stale
		 * entry may still serve (RFC 9111 4.2.4), the others ask for
		 * themselves. */
		struct centry *old = f->old;

		for (cr = f->waiters; cr != NULL; cr = next) {
			next = cr->next;
			reader_detach(cr);
			if (old == NULL || old->state != CE_READY ||
			    !cache_may_serve_stale(&old->m.resp) ||
			    reader_attach(cr, old, CR_STALE) != 0) {
				reader_pass(cr);
			}
		}
		fill_end(f);
		return;
	}
	if (ce != NULL && !f->failed) {
		if (!complete || (ce->declared >= 0 &&
		    ce->m.length != (uint64_t)ce->declared))
			fill_failed(f, complete ? "body shorter than declared" :
			    "stream lost");
		else {
			fill_finish(f);
			for (cr = ce->readers; cr != NULL; cr = cr->next)
				reader_kick(cr);
		}
	}
	fill_end(f);
}

void
fill_free_all(struct cache *c)
{
	while (c->fills != NULL) {
		struct fill *f = c->fills;

		if (f->ce != NULL && f->ce->indexed)
			index_drop(f->ce);	/* incomplete: not kept */
		fill_end(f);
	}
	while (c->ended != NULL)
		fill_free(c->ended);
}
