/*
 * The cache's readers: one device's request answered from an entry, its
 * head (304, 206 and 416 from the stored response, policy.h) and
 * its body read from the body file at the device's pace, also while a
 * fill is still writing it. A reader tells its device what changed from
 * the loop (reader_run), never from inside the caller's stack.
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

#include "common/log.h"
#include "edge/cache/file.h"
#include "edge/cache/policy.h"

/* Copied per read from a body still being fetched. */
#define READ_CHUNK (256u << 10)

static void
reader_unlink(struct cache_reader *cr)
{
	if (cr->pprev == NULL)
		return;
	*cr->pprev = cr->next;
	if (cr->next != NULL)
		cr->next->pprev = cr->pprev;
	cr->next = NULL;
	cr->pprev = NULL;
}

void
reader_link(struct cache_reader **head, struct cache_reader *cr)
{
	cr->next = *head;
	if (cr->next != NULL)
		cr->next->pprev = &cr->next;
	cr->pprev = head;
	*head = cr;
}

/* Lets go of the entry or fill it was attached to. */
void
reader_detach(struct cache_reader *cr)
{
	reader_unlink(cr);
	if (cr->fill != NULL && cr->fill->owner == cr)
		cr->fill->owner = NULL;
	cr->fill = NULL;
	if (cr->fd >= 0)
		close(cr->fd);
	cr->fd = -1;
	if (cr->ce != NULL)
		index_unref(cr->ce);
	cr->ce = NULL;
	cr->verifying = cr->starved = false;
}

void
cache_reader_free(struct cache_reader *cr)
{
	if (cr == NULL)
		return;
	reader_detach(cr);
	if (cr->kick != NULL)
		event_free(cr->kick);
	free(cr->url);
	free(cr);
}

void
reader_kick(struct cache_reader *cr)
{
	cr->starved = false;
	event_active(cr->kick, 0, 0);
}

/* Not served from here: the device sends its request itself. */
void
reader_pass(struct cache_reader *cr)
{
	reader_detach(cr);
	cr->pass = true;
	reader_kick(cr);
}

static bool
stat_same(const struct centry *ce, const struct stat *st)
{
	return ce->checked && ce->dev == st->st_dev && ce->ino == st->st_ino &&
	    ce->size == st->st_size &&
	    ce->ctime.tv_sec == st->st_ctim.tv_sec &&
	    ce->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* Attaches cr to ce: it reads the body file through its own descriptor,
 * so the entry may be replaced or evicted under it. -ENOENT: the body is
 * gone (the entry is dropped; look again). */
int
reader_attach(struct cache_reader *cr, struct centry *ce,
    enum cache_result res)
{
	if (ce->state == CE_FILLING) {
		cr->fd = dup(ce->fill->fd);
	} else {
		char *p = cachefile_path(cr->c->dir, ce->id, "body");

		cr->fd = p != NULL ? open(p, O_RDONLY | O_CLOEXEC) : -1;
		free(p);
		if (cr->fd >= 0 && (fstat(cr->fd, &cr->st) != 0 ||
		    (uint64_t)cr->st.st_size != ce->m.length)) {
			close(cr->fd);
			cr->fd = -1;
		}
	}
	if (cr->fd < 0) {
		if (ce->state == CE_READY) {
			log_warn("cache", "entry_lost", "url=%s id=%s "
			    "reason=%s", ce->m.url, ce->id,
			    "body file missing or of the wrong size");
			cr->c->stats.corrupt++;
			index_drop(ce);
		}
		return -ENOENT;
	}
	cr->ce = ce;
	ce->refs++;
	reader_link(&ce->readers, cr);
	cr->result = res;
	if (ce->state == CE_READY) {
		ce->hits++;
		index_touch(ce);
		if (!stat_same(ce, &cr->st)) {
			cr->verifying = true;
			verify_start(ce);
			return 0;
		}
	}
	reader_kick(cr);
	return 0;
}

/* The head a stored (or arriving) response gives this request. */
static int
serve_head(struct cache_reader *cr, struct hdrs *h)
{
	const struct centry *ce = cr->ce;
	const struct hdrs *req = cr->q.req;
	bool known = ce->state != CE_FILLING || ce->declared >= 0;
	uint64_t len = ce->state != CE_FILLING ? ce->m.length :
	    (uint64_t)ce->declared;
	uint64_t a, b;
	char buf[96];
	int64_t age = cache_current_age(&ce->m.resp, ce->m.request_time,
	    ce->m.response_time, time(NULL));
	int status = ce->m.status;
	size_t i;

	cr->off = 0;
	cr->end = known ? len : UINT64_MAX;
	if (status == 200 && cache_not_modified(req, &ce->m.resp)) {
		static const char *const keep[] = { "cache-control",
		    "content-location", "date", "etag", "expires", "vary",
		    "last-modified" };

		for (i = 0; i < ce->m.resp.n; i++) {
			size_t k;

			for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
				if (strcmp(ce->m.resp.v[i].name, keep[k]) == 0 &&
				    hdrs_add(h, keep[k], strlen(keep[k]),
				    ce->m.resp.v[i].value,
				    ce->m.resp.v[i].vlen) != 0)
					return -ENOMEM;
		}
		status = 304;
		cr->end = 0;
		goto age;
	}
	for (i = 0; i < ce->m.resp.n; i++) {
		const struct hdr *f = &ce->m.resp.v[i];

		if (strcmp(f->name, "age") == 0 ||
		    strcmp(f->name, "content-length") == 0 ||
		    strcmp(f->name, "transfer-encoding") == 0)
			continue;
		if (hdrs_add(h, f->name, f->nlen, f->value, f->vlen) != 0)
			return -ENOMEM;
	}
	if (status == 200 && known) {
		switch (cache_range(req, &ce->m.resp, len, &a, &b)) {
		case RANGE_PART:
			status = 206;
			snprintf(buf, sizeof(buf), "bytes %llu-%llu/%llu",
			    (unsigned long long)a, (unsigned long long)b,
			    (unsigned long long)len);
			if (hdrs_add(h, "content-range", 13, buf,
			    strlen(buf)) != 0)
				return -ENOMEM;
			cr->off = a;
			cr->end = b + 1;
			len = b + 1 - a;
			break;
		case RANGE_UNSATISFIABLE:
			status = 416;
			snprintf(buf, sizeof(buf), "bytes */%llu",
			    (unsigned long long)len);
			if (hdrs_add(h, "content-range", 13, buf,
			    strlen(buf)) != 0)
				return -ENOMEM;
			cr->end = 0;
			len = 0;
			break;
		case RANGE_WHOLE:
			break;
		}
	}
	if (known && status != 204) {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)len);
		if (hdrs_add(h, "content-length", 14, buf, strlen(buf)) != 0)
			return -ENOMEM;
	}
	if (cr->head_only)
		cr->end = cr->off;
age:
	snprintf(buf, sizeof(buf), "%lld", (long long)age);
	if (hdrs_add(h, "age", 3, buf, strlen(buf)) != 0)
		return -ENOMEM;
	return status;
}

/* From the loop: tells the device what changed. */
static void
reader_run(evutil_socket_t fd, short what, void *arg)
{
	struct cache_reader *cr = arg;
	const struct cache_reader_ops *ops = cr->ops;
	void *oarg = cr->arg;
	struct hdrs h;
	int status;

	(void)fd;
	(void)what;
	if (cr->pass || (cr->failed && !cr->headed)) {
		cr->c->stats.requests[CR_BYPASS]++;
		cache_reader_free(cr);
		ops->pass(oarg);
		return;
	}
	if (cr->failed) {
		cache_reader_free(cr);
		ops->failed(oarg);
		return;
	}
	if (cr->ce == NULL || cr->verifying)
		return;
	if (!cr->headed) {
		hdrs_init(&h);
		status = serve_head(cr, &h);
		if (status < 0) {
			hdrs_free(&h);
			cache_reader_free(cr);
			ops->pass(oarg);
			return;
		}
		cr->headed = true;
		cr->c->stats.requests[cr->result]++;
		ops->head(oarg, status, &h);
		hdrs_free(&h);
		return;		/* the device reads from here on */
	}
	ops->ready(oarg);
}

int
reader_init(struct cache_reader *cr, struct cache *c,
    const struct cache_request *q, const struct cache_reader_ops *ops,
    void *arg)
{
	cr->c = c;
	cr->q = *q;
	cr->ops = ops;
	cr->arg = arg;
	cr->fd = -1;
	cr->head_only = strcmp(q->method, "HEAD") == 0;
	cr->url = index_make_url(q);
	cr->kick = event_new(c->base, -1, 0, reader_run, cr);
	if (cr->url == NULL || cr->kick == NULL)
		return -ENOMEM;
	return 0;
}

void
reader_resume(struct centry *ce)
{
	struct cache_reader *cr;

	for (cr = ce->readers; cr != NULL; cr = cr->next)
		if (cr->verifying) {
			cr->verifying = false;
			reader_kick(cr);
		}
}

/* long: a byte count, or -1 when the body broke, as cache.h says. */
long
cache_read(struct cache_reader *cr, struct evbuffer *out, size_t max,
    bool *eof)
{
	struct centry *ce = cr->ce;
	uint64_t have, n;

	*eof = false;
	if (cr->failed)
		return -1;
	if (ce == NULL || !cr->headed)
		return 0;	/* no head yet: ready runs when there is */
	if (ce->state != CE_FILLING && cr->end > ce->m.length)
		cr->end = ce->m.length;
	if (cr->off >= cr->end) {
		*eof = true;
		return 0;
	}
	have = ce->m.length < cr->end ? ce->m.length : cr->end;
	if (cr->off >= have) {
		cr->starved = true;	/* the fill kicks when it wrote more */
		return 0;
	}
	n = have - cr->off;
	if (ce->state != CE_FILLING && have == cr->end) {
		/* The rest, by reference: sendfile to a plain socket. */
		struct evbuffer_file_segment *seg = evbuffer_file_segment_new(
		    cr->fd, (ev_off_t)cr->off, (ev_off_t)n,
		    EVBUF_FS_CLOSE_ON_FREE);
		int rc;

		if (seg == NULL)
			return -1;
		cr->fd = -1;	/* the segment closes it */
		rc = evbuffer_add_file_segment(out, seg, 0, (ev_off_t)n);
		evbuffer_file_segment_free(seg);
		if (rc != 0)
			return -1;
	} else {
		struct evbuffer_iovec v;
		ssize_t got;

		if (n > max)
			n = max;
		if (n > READ_CHUNK)
			n = READ_CHUNK;
		if (n == 0)
			return 0;
		if (evbuffer_reserve_space(out, (ev_ssize_t)n, &v, 1) < 1)
			return -1;
		got = pread(cr->fd, v.iov_base, n, (off_t)cr->off);
		if (got <= 0)
			return -1;
		v.iov_len = (size_t)got;
		if (evbuffer_commit_space(out, &v, 1) != 0)
			return -1;
		n = (uint64_t)got;
	}
	cr->off += n;
	cr->c->stats.bytes_served += n;
	if (cr->result != CR_MISS)
		cr->c->stats.bytes_saved += n;
	if (cr->off >= cr->end && ce->state != CE_FILLING)
		*eof = true;
	else if (cr->off >= cr->end && cr->end != UINT64_MAX)
		*eof = true;
	return (long)n;
}

