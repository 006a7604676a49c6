/*
 * prefetch URL: fills the edge's cache with URL through the tunnel, as a
 * device's GET on a cache = on listener would (cache.h), so that the
 * devices then read it from the LAN; answered once the whole body is in
 * the cache. URL is http://HOST/PATH as the devices ask for it (HOST is
 * their Host field); its service is the cache = on listener's whose
 * service HOST names, else the one service the cache = on listeners
 * carry.
 */
#include "edge/manage/manage-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "edge/cache/cache.h"
#include "edge/daemon.h"
#include "edge/uplink/uplink.h"

#define NV(n, v) ((nghttp2_nv){ (uint8_t *)(uintptr_t)(n), \
	(uint8_t *)(uintptr_t)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE })

struct prefetch {
	struct manage_job *j;
	char *host, *path, *service;
	char *why;			/* failed: the sentence */
	bool finished;			/* answer from the loop */
	struct hdrs req;		/* none: a plain GET */
	struct cache_reader *cr;
	struct relay *r;		/* adopted: not for the cache */
	struct evbuffer *sink;
	struct event *timer;
	uint64_t bytes;
};

static void
prefetch_free(struct prefetch *p)
{
	if (p->cr != NULL)
		cache_reader_free(p->cr);
	if (p->r != NULL)
		relay_abort(p->r);
	if (p->sink != NULL)
		evbuffer_free(p->sink);
	if (p->timer != NULL)
		event_free(p->timer);
	hdrs_free(&p->req);
	free(p->host);
	free(p->path);
	free(p->service);
	free(p->why);
	free(p);
}

/* Answers the job from the loop (the cache's and the relay's callbacks
 * may not free what called them). */
static void
prefetch_end(struct prefetch *p)
{
	struct manage_job *j = p->j;

	j->state = NULL;
	j->cancel = NULL;
	prefetch_free(p);
}

static void
prefetch_cancel(struct manage_job *j)
{
	prefetch_end(j->state);
}

/* Ends from the loop: the cache's and the relay's callbacks may not
 * free what called them. why: the failure, or NULL when the body is in
 * the cache. */
static void
finish_later(struct prefetch *p, const char *why)
{
	struct timeval now = { 0, 0 };

	if (p->finished)
		return;
	p->finished = true;
	if (why != NULL && (p->why = strdup(why)) == NULL)
		p->why = NULL;
	p->bytes = why != NULL ? UINT64_MAX : p->bytes;
	evtimer_add(p->timer, &now);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct prefetch *p = arg;
	struct manage_job *j = p->j;
	char msg[MANAGE_ERROR_MAX];
	json_t *res;

	(void)fd;
	(void)what;
	if (p->finished && p->bytes != UINT64_MAX) {
		res = json_pack("{s:s,s:i,s:I,s:b}", "url", j->in.args[0],
		    "status", 200, "bytes", (json_int_t)p->bytes, "cached", 1);
		prefetch_end(p);
		if (res == NULL)
			mjob_fail(j, "out of memory");
		else
			mjob_answer(j, MO_OK, res, NULL);
		return;
	}
	if (!p->finished)
		snprintf(msg, sizeof(msg), "the fill of %s did not end within "
		    "%d s", j->in.args[0], MANAGE_PREFETCH_TIMEOUT_S);
	else
		snprintf(msg, sizeof(msg), "%s", p->why != NULL ? p->why :
		    "out of memory");
	prefetch_end(p);
	mjob_fail(j, "%s", msg);
}

static void
drain(struct prefetch *p)
{
	bool eof = false;
	long n;

	while (p->cr != NULL) {
		n = cache_read(p->cr, p->sink, 65536, &eof);
		evbuffer_drain(p->sink, evbuffer_get_length(p->sink));
		if (n < 0) {
			cache_reader_free(p->cr);
			p->cr = NULL;
			finish_later(p, "the cache entry broke while it was "
			    "written; try again");
			return;
		}
		p->bytes += (uint64_t)n;
		if (eof) {
			cache_reader_free(p->cr);
			p->cr = NULL;
			finish_later(p, NULL);
			return;
		}
		if (n == 0)
			return;
	}
}

static void
cr_head(void *arg, int status, const struct hdrs *h)
{
	struct prefetch *p = arg;
	char msg[200];

	(void)h;
	if (status != 200) {
		cache_reader_free(p->cr);
		p->cr = NULL;
		snprintf(msg, sizeof(msg), "the cloud answered %d for it: "
		    "nothing to prefetch", status);
		finish_later(p, msg);
		return;
	}
	drain(p);
}

static void
cr_ready(void *arg)
{
	drain(arg);
}

static void
cr_pass(void *arg)
{
	struct prefetch *p = arg;

	p->cr = NULL;
	finish_later(p, "the cache does not keep it (a request the cache "
	    "passes on)");
}

static void
cr_failed(void *arg)
{
	struct prefetch *p = arg;

	p->cr = NULL;
	finish_later(p, "the fill failed (the tunnel, or the cache's disk): "
	    "try again");
}

/* The adopted stream: its answer may not be stored; read it to its end
 * and say so. */
static void
adopted_head(struct relay *r, void *arg)
{
	(void)r;
	(void)arg;
}

static void
adopted_done(struct relay *r, bool complete, void *arg)
{
	struct prefetch *p = arg;
	char msg[200];
	int status = relay_info(r)->status;

	(void)complete;
	p->r = NULL;
	if (status != 200)
		snprintf(msg, sizeof(msg), "the cloud answered %d for it: "
		    "nothing to prefetch", status);
	else
		snprintf(msg, sizeof(msg), "not cached: the answer may not be "
		    "stored (confidential, no-store or private)");
	finish_later(p, msg);
}

static const struct relay_http_ops adopted_ops = {
	.head = adopted_head,
	.body = relay_body_drop,
	.done = adopted_done,
};

static void
cr_adopt(void *arg, struct relay *r)
{
	struct prefetch *p = arg;

	p->cr = NULL;
	p->r = r;
	relay_http_rebind(r, &adopted_ops, p);
	relay_body_drop(r, p);
}

static int
cr_fetch(void *arg, const struct hdrs *validators,
    const struct relay_http_ops *ops, void *ops_arg, struct relay **out)
{
	struct prefetch *p = arg;
	struct h2conn *h2 = uplink_h2(p->j->env->e->up);
	nghttp2_nv nv[6 + 16];
	size_t n = 0, i;

	if (h2 == NULL)
		return -EAGAIN;
	nv[n++] = NV(":method", "GET");
	nv[n++] = NV(":scheme", "http");
	nv[n++] = NV(":authority", p->service);
	nv[n++] = NV(":path", p->path);
	nv[n++] = NV(HTTP_HOST_HEADER, p->host);
	for (i = 0; validators != NULL && i < validators->n && n < 22; i++)
		nv[n++] = (nghttp2_nv){
		    (uint8_t *)(uintptr_t)validators->v[i].name,
		    (uint8_t *)(uintptr_t)validators->v[i].value,
		    validators->v[i].nlen, validators->v[i].vlen,
		    NGHTTP2_NV_FLAG_NONE };
	return relay_http_request(h2, nv, n, false, ops, ops_arg, out);
}

static const struct cache_reader_ops prefetch_ops = {
	.head = cr_head,
	.ready = cr_ready,
	.pass = cr_pass,
	.failed = cr_failed,
	.adopt = cr_adopt,
	.fetch = cr_fetch,
};

/* The service of the cache = on listeners for host: the one it names,
 * else the only one; NULL with why. */
static const char *
pick_service(const struct edge_conf *cf, const char *host, const char **why)
{
	const char *only = NULL;
	size_t i, k, n;
	bool several = false;

	for (i = 0; i < cf->nlisteners; i++) {
		const struct edge_listener_conf *lc = cf->listeners[i];

		if (!lc->cache || lc->mode != LISTEN_HTTP)
			continue;
		n = lc->transparent ? lc->nroutes : 1;
		for (k = 0; k < n; k++) {
			const char *s = lc->transparent ?
			    lc->routes[k].service : lc->service;

			if (strcmp(s, host) == 0)
				return s;
			if (only != NULL && strcmp(only, s) != 0)
				several = true;
			only = s;
		}
	}
	if (only == NULL)
		*why = "no HTTP listener has cache = on";
	else if (several)
		*why = "its host names none of the services of the cache = on "
		    "listeners, and they carry several";
	return several ? NULL : only;
}

/* http://HOST/PATH into host and path. */
static int
split_url(const char *url, char **host, char **path)
{
	const char *h, *slash;

	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	h = url + 7;
	slash = strchr(h, '/');
	if (slash == h || *h == '\0')
		return -EINVAL;
	if (slash == NULL)
		slash = h + strlen(h);
	if (strpbrk(url, " \t\r\n#") != NULL)
		return -EINVAL;
	*host = strndup(h, (size_t)(slash - h));
	*path = strdup(*slash != '\0' ? slash : "/");
	return *host != NULL && *path != NULL ? 0 : -ENOMEM;
}

void
run_prefetch(struct manage_job *j)
{
	struct edge *e = j->env->e;
	struct timeval tv = { MANAGE_PREFETCH_TIMEOUT_S, 0 };
	struct cache_request q;
	struct prefetch *p;
	const char *why = NULL, *service;
	int rc;

	if (j->in.nargs != 1) {
		mjob_fail(j, "prefetch takes one URL");
		return;
	}
	if (e->cache == NULL) {
		mjob_fail(j, "this edge has no cache: no listener has "
		    "cache = on");
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		mjob_fail(j, "out of memory");
		return;
	}
	p->j = j;
	hdrs_init(&p->req);
	if ((rc = split_url(j->in.args[0], &p->host, &p->path)) != 0) {
		prefetch_free(p);
		mjob_fail(j, rc == -ENOMEM ? "out of memory" : "'%s' is not an "
		    "http://HOST/PATH URL", j->in.args[0]);
		return;
	}
	if ((service = pick_service(e->cf, p->host, &why)) == NULL) {
		prefetch_free(p);
		mjob_fail(j, "%s is not of an HTTP listener's service: %s",
		    j->in.args[0], why);
		return;
	}
	p->service = strdup(service);
	p->sink = evbuffer_new();
	p->timer = evtimer_new(e->base, on_timer, p);
	if (p->service == NULL || p->sink == NULL || p->timer == NULL) {
		prefetch_free(p);
		mjob_fail(j, "out of memory");
		return;
	}
	memset(&q, 0, sizeof(q));
	q.service = p->service;
	q.host = p->host;
	q.path = p->path;
	q.method = "GET";
	q.req = &p->req;
	j->state = p;
	j->cancel = prefetch_cancel;
	evtimer_add(p->timer, &tv);
	if (cache_get(e->cache, &q, &prefetch_ops, p, &p->cr) != 1) {
		p->cr = NULL;
		finish_later(p, "the cache does not take this request");
	}
}
