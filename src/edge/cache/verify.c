/*
 * The cache's digest checks: an entry's body is read a piece per loop
 * turn and its SHA-256 compared with the one stored, before it is served
 * from a file not checked since (after a restart, or changed on disk). A
 * damaged entry is dropped; the end of each check goes to c->verified,
 * which the readers' side answers.
 */
#include "edge/cache/cache-int.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "edge/cache/file.h"

/* Digest checked per loop turn, so a big entry does not stall the
 * gateway. */
#define VERIFY_CHUNK (4u << 20)
#define VERIFY_BUF (256u << 10)

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
		index_unref(v->ce);
	}
	free(v);
}

static void
verify_failed(struct centry *ce, const char *why)
{
	log_warn("cache", "entry_damaged", "url=%s id=%s reason=%s",
	    ce->m.url, ce->id, why);
	ce->c->stats.corrupt++;
	ce->refs++;
	index_drop(ce);
	ce->c->verified(ce, false);
	index_unref(ce);
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
		ce->c->verified(ce, false);	/* dropped meanwhile */
	else if (got != ce->m.length || memcmp(md, ce->m.sha256, 32) != 0)
		verify_failed(ce, got != ce->m.length ? "short body" :
		    "body digest mismatch");
	else {
		ce->checked = true;
		ce->dev = st.st_dev;
		ce->ino = st.st_ino;
		ce->size = st.st_size;
		ce->ctime = st.st_ctim;
		ce->c->verified(ce, true);
	}
	index_unref(ce);
}

void
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
		index_unref(ce);
		return;
	}
	verify_again(v);
}

void
verify_free_all(struct cache *c)
{
	while (c->verifies != NULL)
		verify_free(c->verifies);
}
