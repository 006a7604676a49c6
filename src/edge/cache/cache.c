#include "edge/cache/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/fsutil.h"
#include "common/http1.h"
#include "common/json.h"
#include "common/log.h"
#include "edge/cache/file.h"
#include "edge/cache/policy.h"

#define NBUCKETS 1024
/* Digest checked per loop turn, so a big entry does not stall the
 * gateway. */
#define VERIFY_CHUNK (4u << 20)
#define VERIFY_BUF (256u << 10)
/* Copied per read from a body still being fetched. */
#define READ_CHUNK (256u << 10)

enum ce_state { CE_FILLING, CE_READY, CE_DEAD };

struct verify;
struct fill;

struct centry {
	struct cache *c;
	struct centry *hnext;		/* bucket */
	struct centry *lprev, *lnext;	/* LRU, most recent first */
	uint64_t khash;
	char id[CACHE_ID_LEN + 1];
	struct cache_meta m;		/* m.length: bytes so far when filling */
	enum ce_state state;
	bool indexed, on_lru;
	unsigned refs;			/* the index, readers, its fill */
	int64_t declared;		/* Content-Length, -1 */
	uint64_t disk, meta_bytes;
	uint64_t hits;
	/* the body file as last found to match the digest */
	bool checked;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec ctime;
	struct verify *verify;
	struct cache_reader *readers;
	struct fill *fill;
};

struct fill {
	struct cache *c;
	struct fill *next, **pprev;	/* c->fills, then c->ended */
	char *service, *url;
	uint64_t khash;
	struct relay *r;
	struct hdrs req;		/* what went upstream, for Vary */
	struct centry *ce;		/* after a storable head */
	struct centry *old;		/* the stale entry being revalidated */
	struct cache_reader *waiters;	/* waiting for the head */
	struct cache_reader *owner;	/* its request went upstream */
	int fd;
	EVP_MD_CTX *md;
	int64_t request_time;
	bool authenticated;		/* the owner's request (cache.h) */
	bool headed, failed;
	struct event *ev;		/* deferred abort and free */
};

struct verify {
	struct verify *next, **pprev;	/* c->verifies */
	struct centry *ce;		/* holds a reference */
	int fd;
	EVP_MD_CTX *md;
	uint64_t off;
	struct stat st;
	struct event *ev;
	uint8_t *buf;
};

struct cache_reader {
	struct cache *c;
	struct cache_reader *next, **pprev;	/* fill->waiters, ce->readers */
	const struct cache_reader_ops *ops;
	void *arg;
	struct cache_request q;
	char *url;
	uint64_t khash;
	bool head_only;
	struct centry *ce;
	struct fill *fill;
	enum cache_result result;
	struct event *kick;
	bool headed, pass, failed, verifying, starved;
	int fd;
	uint64_t off, end;		/* end UINT64_MAX: the whole body */
	struct stat st;
};

struct cache {
	struct event_base *base;
	char *dir;
	struct centry *buckets[NBUCKETS];
	struct centry *lru_head, *lru_tail;
	struct fill *fills;
	struct fill *ended;		/* to be freed from the loop */
	struct verify *verifies;
	struct cache_stats stats;
};

static const char *const result_names[CR_COUNT] = {
	"hit", "miss", "coalesced", "revalidated", "stale", "bypass",
};

const char *
cache_result_name(enum cache_result r)
{
	return (unsigned)r < CR_COUNT ? result_names[r] : "?";
}

static int lookup(struct cache_reader *cr);
static void kick(struct cache_reader *cr);

static uint64_t
key_hash(const char *service, const char *url)
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

/* Entries: index, LRU, files */

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

static void
lru_front(struct centry *ce)
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

static void
entry_free(struct centry *ce)
{
	cache_meta_free(&ce->m);
	free(ce);
}

static void
entry_unref(struct centry *ce)
{
	if (--ce->refs == 0)
		entry_free(ce);
}

static void
unlink_files(struct centry *ce)
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
static void
entry_drop(struct centry *ce)
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
	unlink_files(ce);
	c->stats.size -= ce->disk;
	c->stats.entries--;
	ce->disk = 0;
	if (ce->state == CE_READY)
		ce->state = CE_DEAD;
	entry_unref(ce);
}

static void
entry_index(struct cache *c, struct centry *ce)
{
	struct centry **b = &c->buckets[ce->khash % NBUCKETS];

	ce->hnext = *b;
	*b = ce;
	ce->indexed = true;
	ce->refs++;
	c->stats.entries++;
}

static struct centry *
entry_new(struct cache *c, uint64_t khash)
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
static void
evict(struct cache *c, uint64_t more, const struct centry *keep)
{
	struct centry *ce = c->lru_tail;

	while (c->stats.size + more > c->stats.max_size && ce != NULL) {
		struct centry *prev = ce->lprev;

		if (ce != keep) {
			log_info("cache", "evicted", "url=%s bytes=%llu",
			    ce->m.url, (unsigned long long)ce->m.length);
			c->stats.evictions++;
			entry_drop(ce);
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

static bool
vary_matches(const struct centry *ce, const struct hdrs *req)
{
	struct vary_ctx v = { req, NULL, &ce->m.vary };

	return cache_vary_each(&ce->m.resp, vary_match_one, &v);
}

/* Readers */

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

static void
reader_link(struct cache_reader **head, struct cache_reader *cr)
{
	cr->next = *head;
	if (cr->next != NULL)
		cr->next->pprev = &cr->next;
	cr->pprev = head;
	*head = cr;
}

/* Lets go of the entry or fill it was attached to. */
static void
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
		entry_unref(cr->ce);
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

static void
kick(struct cache_reader *cr)
{
	cr->starved = false;
	event_active(cr->kick, 0, 0);
}

/* Not served from here: the device sends its request itself. */
static void
reader_pass(struct cache_reader *cr)
{
	reader_detach(cr);
	cr->pass = true;
	kick(cr);
}

static bool
stat_same(const struct centry *ce, const struct stat *st)
{
	return ce->checked && ce->dev == st->st_dev && ce->ino == st->st_ino &&
	    ce->size == st->st_size &&
	    ce->ctime.tv_sec == st->st_ctim.tv_sec &&
	    ce->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void verify_start(struct centry *ce);

/* Attaches cr to ce: it reads the body file through its own descriptor,
 * so the entry may be replaced or evicted under it. -1: the body is gone
 * (the entry is dropped; look again). */
static int
attach(struct cache_reader *cr, struct centry *ce, enum cache_result res)
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
			entry_drop(ce);
		}
		return -1;
	}
	cr->ce = ce;
	ce->refs++;
	reader_link(&ce->readers, cr);
	cr->result = res;
	if (ce->state == CE_READY) {
		ce->hits++;
		lru_front(ce);
		if (!stat_same(ce, &cr->st)) {
			cr->verifying = true;
			verify_start(ce);
			return 0;
		}
	}
	kick(cr);
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

/* Digest checks */

static void
verify_free(struct verify *v)
{
	if (v->pprev != NULL) {
		*v->pprev = v->next;
		if (v->next != NULL)
			v->next->pprev = v->pprev;
	}
	if (v->fd >= 0)
		close(v->fd);
	EVP_MD_CTX_free(v->md);
	if (v->ev != NULL)
		event_free(v->ev);
	free(v->buf);
	if (v->ce != NULL) {
		v->ce->verify = NULL;
		entry_unref(v->ce);
	}
	free(v);
}

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
	entry_unref(ce);
}

static void
verify_failed(struct centry *ce, const char *why)
{
	log_warn("cache", "entry_damaged", "url=%s id=%s reason=%s",
	    ce->m.url, ce->id, why);
	ce->c->stats.corrupt++;
	ce->refs++;
	entry_drop(ce);
	relookup_verifying(ce);
	entry_unref(ce);
}

/* Runs from a zero timeout, not event_active: the loop polls its sockets
 * between two steps, so a big entry does not stall the gateway. */
static void
verify_again(struct verify *v)
{
	static const struct timeval now = { 0, 0 };

	event_add(v->ev, &now);
}

static void
verify_step(evutil_socket_t fd, short what, void *arg)
{
	struct verify *v = arg;
	struct centry *ce = v->ce;
	uint8_t md[32];
	unsigned mdlen = 0;
	uint64_t done = 0, got;
	struct cache_reader *cr;
	struct stat st;

	(void)fd;
	(void)what;
	while (ce->state == CE_READY && v->off < (uint64_t)v->st.st_size &&
	    done < VERIFY_CHUNK) {
		ssize_t n = pread(v->fd, v->buf, VERIFY_BUF, (off_t)v->off);

		if (n <= 0)
			break;
		EVP_DigestUpdate(v->md, v->buf, (size_t)n);
		v->off += (uint64_t)n;
		done += (uint64_t)n;
	}
	if (ce->state == CE_READY && done > 0 &&
	    v->off < (uint64_t)v->st.st_size) {
		verify_again(v);
		return;
	}
	EVP_DigestFinal_ex(v->md, md, &mdlen);
	got = v->off;
	st = v->st;
	ce->refs++;		/* past verify_free */
	verify_free(v);
	if (ce->state != CE_READY)
		relookup_verifying(ce);	/* dropped meanwhile */
	else if (got != ce->m.length || memcmp(md, ce->m.sha256, 32) != 0)
		verify_failed(ce, got != ce->m.length ? "short body" :
		    "body digest mismatch");
	else {
		ce->checked = true;
		ce->dev = st.st_dev;
		ce->ino = st.st_ino;
		ce->size = st.st_size;
		ce->ctime = st.st_ctim;
		for (cr = ce->readers; cr != NULL; cr = cr->next)
			if (cr->verifying) {
				cr->verifying = false;
				kick(cr);
			}
	}
	entry_unref(ce);
}

static void
verify_start(struct centry *ce)
{
	struct cache *c = ce->c;
	struct verify *v;
	char *p;

	if (ce->verify != NULL)
		return;
	v = calloc(1, sizeof(*v));
	p = cachefile_path(c->dir, ce->id, "body");
	if (v == NULL || p == NULL) {
		free(v);
		free(p);
		verify_failed(ce, "out of memory");
		return;
	}
	v->ce = ce;
	ce->refs++;
	ce->verify = v;
	v->next = c->verifies;
	if (v->next != NULL)
		v->next->pprev = &v->next;
	v->pprev = &c->verifies;
	c->verifies = v;
	v->fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	v->md = EVP_MD_CTX_new();
	v->buf = malloc(VERIFY_BUF);
	v->ev = evtimer_new(c->base, verify_step, v);
	if (v->fd < 0 || fstat(v->fd, &v->st) != 0 || v->md == NULL ||
	    v->buf == NULL || v->ev == NULL ||
	    EVP_DigestInit_ex(v->md, EVP_sha256(), NULL) != 1) {
		ce->refs++;
		verify_free(v);
		verify_failed(ce, "cannot read the body");
		entry_unref(ce);
		return;
	}
	verify_again(v);
}

/* Fills: one upstream request for everyone asking */

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
		entry_unref(f->ce);
	}
	if (f->old != NULL)
		entry_unref(f->old);
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

static struct fill *
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

static void
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

static int
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
		entry_drop(old);
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
		if (old->state != CE_READY || !vary_matches(old, cr->q.req) ||
		    attach(cr, old, CR_REVALIDATED) != 0) {
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

/* Drops the entries this one replaces: same URL, same variant. */
static void
drop_replaced(struct cache *c, const struct centry *ce)
{
	struct centry *e, *next;

	for (e = c->buckets[ce->khash % NBUCKETS]; e != NULL; e = next) {
		next = e->hnext;
		if (e != ce && same_key(e, ce->khash, ce->m.service,
		    ce->m.url) && (e->state != CE_FILLING) &&
		    vary_matches(e, &ce->m.vary))
			entry_drop(e);
	}
}

static int
fill_store_begin(struct fill *f, int status, const struct hdrs *h)
{
	struct cache *c = f->c;
	struct centry *ce = entry_new(c, f->khash);
	struct vary_ctx v;
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
		if (strncmp(h->v[i].name, "isthmus-", 8) != 0 &&
		    hdrs_add(&ce->m.resp, h->v[i].name, h->v[i].nlen,
		    h->v[i].value, h->v[i].vlen) != 0)
			goto fail;
	v.req = &f->req;
	v.out = &ce->m.vary;
	v.stored = NULL;
	if (!cache_vary_each(&ce->m.resp, vary_record_one, &v))
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
		unlink_files(ce);
		goto fail;
	}
	drop_replaced(c, ce);
	if (f->old != NULL)
		entry_drop(f->old);
	if (ce->declared > 0)
		evict(c, (uint64_t)ce->declared, NULL);
	ce->fill = f;
	ce->refs++;		/* the fill's */
	f->ce = ce;
	entry_index(c, ce);
	ce->refs++;		/* held across attaching the waiters */
	return 0;
fail:
	entry_free(ce);
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
			entry_drop(f->old);	/* the origin answered anew */
		fill_hand_over(f, r);
		return;
	}
	while ((cr = f->waiters) != NULL) {
		bool own = cr == f->owner;

		reader_detach(cr);
		if (!vary_matches(f->ce, cr->q.req) ||
		    attach(cr, f->ce, own ? CR_MISS : CR_COALESCED) != 0) {
			reader_pass(cr);
		}
	}
	entry_unref(f->ce);
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
		kick(cr);
	}
	entry_drop(ce);
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
		entry_drop(ce);
	} else if (ce->indexed && ce->declared >= 0 &&
	    c->stats.size > c->stats.max_size)
		evict(c, 0, ce);	/* other fills took the room it made */
	for (cr = ce->readers; cr != NULL; cr = cr->next)
		if (cr->starved)
			kick(cr);
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
		entry_drop(ce);
		return;
	}
	ce->checked = true;
	ce->dev = st.st_dev;
	ce->ino = st.st_ino;
	ce->size = st.st_size;
	ce->ctime = st.st_ctim;
	ce->disk += ce->meta_bytes;
	c->stats.size += ce->meta_bytes;
	lru_front(ce);
	log_info("cache", "stored", "url=%s service=%s status=%d bytes=%llu",
	    ce->m.url, ce->m.service, ce->m.status,
	    (unsigned long long)ce->m.length);
	evict(c, 0, ce);
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
			    attach(cr, old, CR_STALE) != 0) {
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
				kick(cr);
		}
	}
	fill_end(f);
}

/* Looking up */

static struct centry *
find_entry(struct cache *c, const struct cache_reader *cr)
{
	struct centry *ce, *best = NULL;

	for (ce = c->buckets[cr->khash % NBUCKETS]; ce != NULL;
	    ce = ce->hnext)
		if (same_key(ce, cr->khash, cr->q.service, cr->url) &&
		    vary_matches(ce, cr->q.req) && (best == NULL ||
		    ce->m.response_time > best->m.response_time))
			best = ce;
	return best;
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
		ce = find_entry(c, cr);
		if (ce != NULL && ce->state == CE_FILLING) {
			if (attach(cr, ce, CR_COALESCED) == 0)
				return 1;
			continue;
		}
		if (ce != NULL && !cache_needs_revalidation(&ce->m.resp,
		    cr->q.req, ce->m.request_time, ce->m.response_time,
		    time(NULL))) {
			if (attach(cr, ce, CR_HIT) == 0)
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
		    attach(cr, ce, CR_STALE) == 0) {
			log_info("cache", "served_stale", "url=%s reason=%s",
			    ce->m.url, "the cloud is out of reach");
			return 1;
		}
		return 0;
	}
	return 0;
}

/* The cache key's URL: http://host/path. */
static char *
make_url(const struct cache_request *q)
{
	size_t n = strlen(q->host) + strlen(q->path) + 8;
	char *u = malloc(n);

	if (u != NULL)
		snprintf(u, n, "http://%s%s", q->host, q->path);
	return u;
}

static void
invalidate(struct cache *c, const char *service, const char *url)
{
	uint64_t h = key_hash(service, url);
	struct centry *ce, *next;

	for (ce = c->buckets[h % NBUCKETS]; ce != NULL; ce = next) {
		next = ce->hnext;
		if (same_key(ce, h, service, url)) {
			log_info("cache", "invalidated", "url=%s", url);
			entry_drop(ce);
		}
	}
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
			char *u = make_url(q);

			if (u != NULL && strcmp(q->method, "OPTIONS") != 0 &&
			    strcmp(q->method, "TRACE") != 0)
				invalidate(c, q->service, u);
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
	cr->c = c;
	cr->q = *q;
	cr->ops = ops;
	cr->arg = arg;
	cr->fd = -1;
	cr->head_only = strcmp(q->method, "HEAD") == 0;
	cr->url = make_url(q);
	cr->kick = event_new(c->base, -1, 0, reader_run, cr);
	if (cr->url == NULL || cr->kick == NULL) {
		cache_reader_free(cr);
		c->stats.requests[CR_BYPASS]++;
		return 0;
	}
	cr->khash = key_hash(q->service, cr->url);
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

/* Opening and listing */

static int
entry_load(struct cache *c, const char *id, struct centry ***all, size_t *n)
{
	char *mp = cachefile_path(c->dir, id, "meta");
	char *bp = cachefile_path(c->dir, id, "body");
	struct centry *ce = entry_new(c, 0), **nv;
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
	ce->khash = key_hash(ce->m.service, ce->m.url);
	ce->state = CE_READY;
	ce->disk = ce->m.length + ce->meta_bytes;
	nv[(*n)++] = ce;
	ce = NULL;
	rc = 0;
out:
	if (ce != NULL)
		entry_free(ce);
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
cache_open(struct event_base *base, const char *dir, uint64_t max_size,
    struct cache **out, struct err *e)
{
	struct cache *c = calloc(1, sizeof(*c));
	struct centry **all = NULL;
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;
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
	rc = fs_mkdir_p(dir, 0700, e);
	if (rc == 0 && (d = opendir(dir)) == NULL)
		rc = err_set(e, -errno, "cannot open cache_dir %s: %s", dir,
		    strerror(errno));
	if (rc != 0) {
		cache_free(c);
		return rc;
	}
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
		drop_replaced(c, all[i]);	/* a newer copy wins */
		entry_index(c, all[i]);
		c->stats.size += all[i]->disk;
		lru_front(all[i]);
	}
	free(all);
	evict(c, 0, NULL);
	log_info("cache", "opened", "dir=%s entries=%llu bytes=%llu "
	    "max_size=%llu", dir, (unsigned long long)c->stats.entries,
	    (unsigned long long)c->stats.size, (unsigned long long)max_size);
	*out = c;
	return 0;
}

void
cache_free(struct cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	while (c->verifies != NULL)
		verify_free(c->verifies);
	while (c->fills != NULL) {
		struct fill *f = c->fills;

		if (f->ce != NULL && f->ce->indexed)
			entry_drop(f->ce);	/* incomplete: not kept */
		fill_end(f);
	}
	while (c->ended != NULL)
		fill_free(c->ended);
	for (i = 0; i < NBUCKETS; i++)
		while (c->buckets[i] != NULL) {
			struct centry *ce = c->buckets[i];

			c->buckets[i] = ce->hnext;
			entry_free(ce);
		}
	free(c->dir);
	free(c);
}

const struct cache_stats *
cache_stats(struct cache *c)
{
	return &c->stats;
}

void
cache_list(struct cache *c, bool json, FILE *f)
{
	int64_t now = time(NULL);
	struct json j;
	struct centry *ce;
	size_t i;

	if (json) {
		json_init(&j, f);
		json_begin_object(&j);
		json_key(&j, "entries");
		json_begin_array(&j);
	} else
		fprintf(f, "%-8s %-6s %12s %8s %8s %6s  %s\n", "STATE",
		    "STATUS", "BYTES", "AGE", "FRESH", "HITS", "URL (service)");
	for (i = 0; i < NBUCKETS; i++)
		for (ce = c->buckets[i]; ce != NULL; ce = ce->hnext) {
			int64_t age = cache_current_age(&ce->m.resp,
			    ce->m.request_time, ce->m.response_time, now);
			int64_t life = cache_freshness_lifetime(&ce->m.resp,
			    ce->m.response_time);
			const char *state = ce->state == CE_FILLING ?
			    "filling" : age < life ? "fresh" : "stale";

			if (!json) {
				fprintf(f, "%-8s %-6d %12llu %7llds %7llds "
				    "%6llu  %s (%s)\n", state, ce->m.status,
				    (unsigned long long)ce->m.length,
				    (long long)age, (long long)(life - age),
				    (unsigned long long)ce->hits, ce->m.url,
				    ce->m.service);
				continue;
			}
			json_begin_object(&j);
			json_key(&j, "url");
			json_string(&j, ce->m.url);
			json_key(&j, "service");
			json_string(&j, ce->m.service);
			json_key(&j, "state");
			json_string(&j, state);
			json_key(&j, "status");
			json_int(&j, ce->m.status);
			json_key(&j, "bytes");
			json_int(&j, (int64_t)ce->m.length);
			json_key(&j, "age");
			json_int(&j, age);
			json_key(&j, "fresh_for");
			json_int(&j, life - age);
			json_key(&j, "hits");
			json_int(&j, (int64_t)ce->hits);
			json_key(&j, "etag");
			json_string(&j, hdrs_get(&ce->m.resp, "etag"));
			json_key(&j, "id");
			json_string(&j, ce->id);
			json_end_object(&j);
		}
	if (json) {
		json_end_array(&j);
		json_key(&j, "bytes");
		json_int(&j, (int64_t)c->stats.size);
		json_key(&j, "max_size");
		json_int(&j, (int64_t)c->stats.max_size);
		json_end_object(&j);
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

void
cache_purge(struct cache *c, const char *url, FILE *f)
{
	unsigned long long n = 0, bytes = 0;
	struct centry *ce, *next;
	size_t i;

	for (i = 0; i < NBUCKETS; i++)
		for (ce = c->buckets[i]; ce != NULL; ce = next) {
			next = ce->hnext;
			if (!url_matches(ce, url))
				continue;
			n++;
			bytes += ce->m.length;
			log_info("cache", "purged", "url=%s service=%s",
			    ce->m.url, ce->m.service);
			entry_drop(ce);
		}
	fprintf(f, "purged %llu entries (%llu bytes)\n", n, bytes);
}
