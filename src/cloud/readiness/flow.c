/*
 * The throughput streams of a readiness test (readiness.h;
 * docs/protocol.md, section 6), on the edge's own tunnel, in its worker:
 *
 *   GET  READY_PATH_DOWN  the cloud sends exactly isthmus-bytes body
 *                         bytes, a window at a time (refilled as the
 *                         relay drains: the body is never all in memory);
 *   POST READY_PATH_UP    the cloud counts the body, gives its window back
 *                         as it goes, times it from the first byte to the
 *                         last, and answers once it ended.
 *
 * Only for a live test issued to this tunnel's edge, once per direction,
 * and for no more than the test's bytes that way. Refusals are a status
 * with isthmus-refused: bad_request (the contract names no label of its
 * own for these; the status says which).
 */
#include "cloud/readiness/readiness-int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "cloud/tunnel-int.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/readiness.h"
#include "common/relay.h"
#include "common/stat.h"
#include "common/timeval.h"

/* What one refill writes at most before asking relay_body_full again. */
#define CHUNK (16u * 1024)

struct flow {
	struct ready *rd;
	struct relay *r;
	struct worker *w;
	char id[MANAGE_ID_MAX + 1];
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	bool up;
	uint64_t want;			/* N, as the request said */
	uint64_t moved;			/* down: written; up: received */
	int64_t first_us, last_us;	/* up: its first and last byte */
	/* Relay calls the relay's callbacks may not make: run next turn. */
	struct event *kick;
	bool ended;			/* down: the whole body is written */
	bool over;			/* up: more than N came: reset */
	bool complete;			/* up: its body ended: answer */
	bool answered;
};

static const uint8_t zeros[CHUNK];

#define NV(n, v) ((nghttp2_nv){ (uint8_t *)(uintptr_t)(n), \
	(uint8_t *)(uintptr_t)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE })

static void
flow_free(struct flow *f)
{
	if (f->kick != NULL)
		event_free(f->kick);
	free(f);
}

/* A relay in HTTP mode that is aborted calls nothing more: f goes now. */
static void
flow_abort(struct flow *f, uint32_t code)
{
	relay_reset(f->r, code);
	flow_free(f);
}

/* down: writes until the relay's buffer is at its mark (drained brings
 * us back) or the body is all written. */
static void
fill(struct flow *f)
{
	size_t n;

	while (f->moved < f->want && !relay_body_full(f->r)) {
		n = f->want - f->moved < CHUNK ? (size_t)(f->want - f->moved) :
		    CHUNK;
		if (relay_body_write(f->r, zeros, n) != 0) {
			flow_abort(f, NGHTTP2_INTERNAL_ERROR);
			return;
		}
		f->moved += n;
		STAT_ADD(f->rd->bytes_down, n);
	}
	if (f->moved == f->want && !f->ended) {
		f->ended = true;
		relay_body_end(f->r);
	}
}

/* up: its body ended with what it counted. */
static void
answer_up(struct flow *f)
{
	char bytes[24], usec[24];

	f->answered = true;
	snprintf(bytes, sizeof(bytes), "%" PRIu64, f->moved);
	snprintf(usec, sizeof(usec), "%" PRId64, f->moved > 0 ?
	    f->last_us - f->first_us : 0);
	nghttp2_nv nv[] = {
		NV(READY_FIELD_BYTES, bytes),
		NV(READY_FIELD_USEC, usec),
		NV("content-length", "0"),
	};

	if (relay_http_respond(f->r, 200, nv, 3, false) != 0)
		flow_abort(f, NGHTTP2_INTERNAL_ERROR);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;

	(void)fd;
	(void)what;
	if (!f->up) {
		fill(f);
	} else if (f->over) {
		log_limited(f->w->lim_stream, LOG_INFO, "cloud",
		    "readiness_flow_reset", "edge=%s tenant=%s test=%s "
		    "direction=up bytes=%llu received=%llu reason=%s",
		    f->edge, f->tenant, f->id, (unsigned long long)f->want,
		    (unsigned long long)f->moved,
		    "body longer than isthmus-bytes");
		flow_abort(f, NGHTTP2_PROTOCOL_ERROR);
	} else if (f->complete && !f->answered) {
		answer_up(f);
	}
}

static void
on_body(struct relay *r, void *arg)
{
	struct flow *f = arg;
	struct evbuffer *in = relay_body_in(r);
	size_t n = evbuffer_get_length(in);

	if (n > 0) {
		f->last_us = mono_us();
		if (f->moved == 0)
			f->first_us = f->last_us;
		f->moved += n;
		STAT_ADD(f->rd->bytes_up, n);
		evbuffer_drain(in, n);
		relay_body_ack(r, n);	/* the window moves on */
	}
	if (!f->up || f->over || f->answered)
		return;		/* a GET's body (none) is dropped */
	if (f->moved > f->want)
		f->over = true;
	else if (relay_body_in_done(r))
		f->complete = true;
	else
		return;
	event_active(f->kick, EV_TIMEOUT, 0);
}

static void
on_drained(struct relay *r, void *arg)
{
	struct flow *f = arg;

	(void)r;
	event_active(f->kick, EV_TIMEOUT, 0);
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	struct flow *f = arg;

	(void)r;
	log_limited(f->w->lim_stream, LOG_INFO, "cloud", "readiness_flow_end",
	    "edge=%s tenant=%s test=%s direction=%s bytes=%llu complete=%s",
	    f->edge, f->tenant, f->id, f->up ? "up" : "down",
	    (unsigned long long)f->moved, complete ? "yes" : "no");
	flow_free(f);
}

static const struct relay_http_ops flow_ops = {
	.body = on_body,
	.drained = on_drained,
	.done = on_done,
};

static void
refuse(struct tunnel *t, struct relay *r, int status, const char *why)
{
	log_limited(t->w->lim_stream, LOG_INFO, "cloud", "readiness_refused",
	    "edge=%s tenant=%s path=%s status=%d reason=%s",
	    tunnel_edge(t), tunnel_tenant(t),
	    strcmp(relay_path(r), READY_PATH_UP) == 0 ? "up" : "down",
	    status, why);
	relay_refuse(r, status, PROTO_REFUSED_BAD_REQUEST);
}

/* isthmus-bytes: a decimal count from 1 to the most a profile has. */
static bool
parse_bytes(const char *s, uint64_t *n)
{
	size_t len = s != NULL ? strlen(s) : 0;

	if (len == 0 || len > 10 || strspn(s, "0123456789") != len)
		return false;
	*n = strtoull(s, NULL, 10);
	return *n >= 1 && *n <= READINESS_BYTES_MAX;
}

/* The direction of test id for t's edge, claimed (it runs once): 0, or
 * the status that refuses it, with why. */
static int
claim(struct ready *rd, struct tunnel *t, const char *id, bool up,
    uint64_t n, const char **why)
{
	struct ready_test *rt;
	int status = 0;

	pthread_mutex_lock(&rd->mu);
	rt = ready_find(rd, id, ready_now());
	/* Another edge's test is no test of this one's: 404 as for none. */
	if (rt == NULL || strcmp(rt->s.tenant, tunnel_tenant(t)) != 0 ||
	    strcmp(rt->s.edge, tunnel_edge(t)) != 0) {
		status = 404;
		*why = "no live test of that id for this edge";
	} else if (up ? rt->up_ran : rt->down_ran) {
		status = 409;
		*why = "that direction of the test ran already";
	} else if (n > (up ? rt->s.up : rt->s.down)) {
		status = 413;
		*why = "more bytes than the test may move that way";
	} else if (up) {
		rt->up_ran = true;
	} else {
		rt->down_ran = true;
	}
	pthread_mutex_unlock(&rd->mu);
	return status;
}

static int
begin(struct flow *f)
{
	char len[24];

	if (f->up)
		return 0;	/* answered once the body ended */
	snprintf(len, sizeof(len), "%" PRIu64, f->want);
	nghttp2_nv nv[] = {
		NV("content-type", "application/octet-stream"),
		NV("content-length", len),
	};

	if (relay_http_respond(f->r, 200, nv, 2, true) != 0)
		return -EIO;
	fill(f);	/* may end f on failure; the caller returns at once */
	return 0;
}

void
ready_flow_start(struct tunnel *t, struct relay *r)
{
	struct ready *rd = t->cl->ready;
	const struct hdrs *h = relay_hdrs(r);
	bool up = strcmp(relay_path(r), READY_PATH_UP) == 0;
	const char *id = hdrs_get(h, READY_FIELD_TEST), *why = NULL;
	struct flow *f;
	uint64_t n = 0;
	int status;

	if (strcmp(relay_info(r)->method, up ? "POST" : "GET") != 0) {
		refuse(t, r, 405, up ? "up is a POST" : "down is a GET");
		return;
	}
	if (id == NULL || strlen(id) != 32 ||
	    strspn(id, "0123456789abcdef") != 32 ||
	    !parse_bytes(hdrs_get(h, READY_FIELD_BYTES), &n)) {
		refuse(t, r, 400, "isthmus-test or isthmus-bytes missing or "
		    "bad");
		return;
	}
	if ((status = claim(rd, t, id, up, n, &why)) != 0) {
		refuse(t, r, status, why);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->kick = event_new(t->w->base, -1, 0, on_kick,
	    f)) == NULL || relay_http_take(r, &flow_ops, f) != 0) {
		if (f != NULL && f->kick != NULL)
			event_free(f->kick);
		free(f);
		relay_refuse(r, 503, PROTO_REFUSED_INTERNAL);
		return;
	}
	f->rd = rd;
	f->r = r;
	f->w = t->w;
	f->up = up;
	f->want = n;
	snprintf(f->id, sizeof(f->id), "%s", id);
	snprintf(f->tenant, sizeof(f->tenant), "%s", tunnel_tenant(t));
	snprintf(f->edge, sizeof(f->edge), "%s", tunnel_edge(t));
	log_limited(t->w->lim_stream, LOG_INFO, "cloud", "readiness_flow",
	    "edge=%s tenant=%s test=%s direction=%s bytes=%llu", f->edge,
	    f->tenant, f->id, up ? "up" : "down", (unsigned long long)n);
	if (begin(f) != 0)
		flow_abort(f, NGHTTP2_INTERNAL_ERROR);
}
