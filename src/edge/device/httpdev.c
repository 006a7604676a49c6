/*
 * An HTTP-mode device's connection (httpdev.h says what it does): its
 * pipeline (one request at a time, parsed with http-parser, the rules in
 * devreq.c), its timers and backpressure, and the three places an answer
 * comes from: the tunnel (the relay's callbacks), the cache (its reader
 * ops) and the store-and-forward queue (its done callback; the request's
 * body, key and the edge's answers are sfwd.c's). Over 1,000 lines because
 * those are one state machine over struct httpdev: the answer's sources
 * end, resume and close the connection they serve, so cutting them apart
 * would only make files that call each other.
 */
#include "edge/device/httpdev.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <http_parser.h>

#include "common/hdrs.h"
#include "common/http1.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/relay.h"
#include "common/timeval.h"
#include "edge/cache/cache.h"
#include "edge/daemon.h"
#include "edge/device/device-int.h"
#include "edge/device/devtls.h"
#include "edge/device/listener.h"
#include "edge/device/pending.h"
#include "edge/queue/queue.h"
#include "edge/uplink/uplink.h"

/* Device output: acknowledge response body to the tunnel once the socket
 * took it down to this much. */
#define DEV_OUT_LOW (16u * 1024)
/* Device output: read more of a cached body below this much queued. */
#define DEV_OUT_HIGH (256u * 1024)
/* Input held while a pipelined request waits for the one before it. */
#define DEV_IN_SLACK (64u * 1024)

enum phase {
	P_IDLE,		/* between requests */
	P_HEAD,		/* request line and headers */
	P_BODY,		/* request body */
	P_SENT,		/* request read whole; its response is on the way */
};

/* Where a store-and-forward request is (docs/queue.md). Its next step is
 * always taken from the loop (the timer at 0), never from inside the
 * parser or a relay callback. */
enum sf_state {
	SFS_NONE,	/* not one, or its answer goes to the device as is */
	SFS_READING,	/* its body is read whole before anything else */
	SFS_WHOLE,	/* read: sent straight through or queued */
	SFS_DIRECT,	/* on the tunnel: an answer head due within
			 * response_timeout */
	SFS_FAILED,	/* that attempt failed (502, 503, 504, lost): to
			 * the queue instead */
	SFS_WRITING,	/* the queue has it until it is on disk */
};

struct httpdev {
	struct edge_listener *li;
	char service[NAME_MAX_LEN + 1];
	struct httpdev *next, **pprev;	/* e->httpdevs */
	struct bufferevent *bev;
	struct event *timer;
	http_parser p;
	char device[64];
	char mac[18];
	enum phase phase;
	struct devreq q;		/* the request being read */
	/* its stream, or its answer from the cache */
	struct relay *r;
	struct cache_reader *cr;
	struct evbuffer *scratch;	/* a cached body's chunk */
	struct pending wait;		/* for the tunnel */
	struct sfwd sf;			/* a store-and-forward request */
	enum sf_state sfs;
	bool resp_head, resp_done;
	enum framing framing;
	size_t unacked;
	/* the connection */
	bool paused;			/* parser stopped until an event */
	bool body_full;			/* ... because the stream is full */
	bool tunnel_paused;		/* ... until the tunnel is up */
	bool peer_eof;			/* the device half-closed */
	bool closing;			/* flush, then free */
	bool in_parse;			/* inside http_parser_execute */
};

static const int error_status[HD_ERR_COUNT] = {
	[HD_ERR_400] = 400, [HD_ERR_408] = 408, [HD_ERR_413] = 413,
	[HD_ERR_431] = 431, [HD_ERR_501] = 501, [HD_ERR_502] = 502,
	[HD_ERR_503] = 503, [HD_ERR_505] = 505,
};

int
httpdev_error_status(enum httpdev_error e)
{
	return (unsigned)e < HD_ERR_COUNT ? error_status[e] : 0;
}

static void dev_submit(struct httpdev *d);
static const struct pending_ops wait_ops;
static void dev_vanished(struct httpdev *d);
static void sf_step(struct httpdev *d);
static void sf_queue(struct httpdev *d);

static void
arm(struct httpdev *d, uint64_t ms)
{
	struct timeval tv;

	tv_ms(&tv, ms);
	evtimer_add(d->timer, &tv);
}

/* Whether the queue takes requests now. A failed direct attempt goes to
 * it only then; else the device gets the failure, as it would without
 * store and forward (docs/queue.md, "A file that is not a queue"). */
static bool
queue_up(const struct edge *e)
{
	return sfq_takes(e->queue);
}

static void
request_reset(struct httpdev *d)
{
	devreq_reset(&d->q);
	sfwd_reset(&d->sf);	/* a request being written still is */
	d->sfs = SFS_NONE;
	d->tunnel_paused = false;
	d->resp_head = d->resp_done = false;
	d->framing = FR_NONE;
	d->unacked = 0;
}

/* The request being read and who sends it, as forward.c and the queue
 * take it. */
static void
dev_forward(const struct httpdev *d, struct forward *f)
{
	f->q = &d->q;
	f->method = http_method_str(d->p.method);
	f->service = d->service;
	f->device = d->device;
	f->mac = d->mac;
}

/* Ends the request's stream, if it has one: an aborted relay calls
 * nothing more, so its count goes here. */
static void
drop_stream(struct httpdev *d)
{
	if (d->r == NULL)
		return;
	relay_abort(d->r);
	d->r = NULL;
	d->li->stats.open--;
}

static void
dev_free(struct httpdev *d)
{
	struct edge_listener *li = d->li;

	drop_stream(d);
	cache_reader_free(d->cr);
	if (d->scratch != NULL)
		evbuffer_free(d->scratch);
	pending_cancel(&d->wait);
	*d->pprev = d->next;
	if (d->next != NULL)
		d->next->pprev = d->pprev;
	request_reset(d);
	devreq_free(&d->q);
	if (d->timer != NULL)
		event_free(d->timer);
	bufferevent_free(d->bev);
	free(d);
	edge_listener_release(li);
}

/* Ends the connection once what is queued reached the device. */
static void
dev_close(struct httpdev *d)
{
	pending_cancel(&d->wait);	/* no request goes out any more */
	d->closing = true;
	d->paused = true;
	bufferevent_disable(d->bev, EV_READ);
	drop_stream(d);
	cache_reader_free(d->cr);
	d->cr = NULL;
	if (evbuffer_get_length(bufferevent_get_output(d->bev)) == 0 &&
	    !d->in_parse) {
		dev_free(d);
		return;
	}
	/* dev_parse or dev_write frees it; the timer if the device stopped
	 * reading. */
	arm(d, d->li->lc->idle_timeout);
}

static enum httpdev_error
error_index(int status)
{
	int i;

	for (i = 0; i < HD_ERR_COUNT; i++)
		if (error_status[i] == status)
			return (enum httpdev_error)i;
	return HD_ERR_400;
}

/* The edge answers the request itself, and the connection ends: after a
 * bad request or a lost stream we cannot know where the next one starts. */
static void
dev_fail(struct httpdev *d, int status, const char *why)
{
	struct edge_listener *li = d->li;

	li->stats.http_errors[error_index(status)]++;
	log_limited(li->e->lim_device, LOG_INFO, "edge", "http_refused",
	    "listener=%s service=%s device=%s status=%d reason=%s",
	    li->lc->name, d->service, d->device, status, why);
	if (!d->resp_head)
		http_error_response(bufferevent_get_output(d->bev), status, why);
	dev_close(d);
}

static void
pause_parser(struct httpdev *d)
{
	d->paused = true;
	http_parser_pause(&d->p, 1);
}

/* Parsing goes on from the loop, never from inside a relay callback. */
static void
resume_parser(struct httpdev *d)
{
	if (d->closing)
		return;
	d->paused = false;
	d->body_full = false;
	http_parser_pause(&d->p, 0);
	bufferevent_enable(d->bev, EV_READ);
	bufferevent_trigger(d->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

/* A request and its answer are both done: next request, or the end. */
static void
exchange_done(struct httpdev *d)
{
	d->phase = P_IDLE;
	if (!d->q.keepalive || d->li->e->draining || d->li->closed ||
	    (d->peer_eof &&
	    evbuffer_get_length(bufferevent_get_input(d->bev)) == 0)) {
		dev_close(d);
		return;
	}
	request_reset(d);
	arm(d, d->li->lc->idle_timeout);
	resume_parser(d);
}

/* The relay's callbacks (inside the HTTP/2 session). */

/* The response head to the device, from the tunnel or the cache; its
 * framing follows from the request and Content-Length. */
static void
write_head(struct httpdev *d, int status, const struct hdrs *h)
{
	d->resp_head = true;
	if (d->phase != P_SENT)
		d->q.keepalive = false;	/* answered before the body was read */
	d->framing = response_head(bufferevent_get_output(d->bev), status, h,
	    d->q.head_method, d->p.http_minor, &d->q.keepalive);
}

static void
on_resp_head(struct relay *r, void *arg)
{
	struct httpdev *d = arg;
	const struct hdrs *h = relay_hdrs(r);
	int status = relay_info(r)->status;
	const char *refused = hdrs_get(h, HTTP_REFUSED_FIELD);

	sfwd_learn(d->li->e->queue, d->service, h);
	if (refused != NULL) {
		d->li->stats.refused[edge_refusal_of(status)]++;
		log_limited(d->li->e->lim_device, LOG_INFO, "edge",
		    "stream_refused", "listener=%s service=%s device=%s "
		    "status=%d reason=%s", d->li->lc->name, d->service,
		    d->device, status, refused);
	}
	if (d->sfs == SFS_DIRECT) {
		if (sfwd_retryable(status) && queue_up(d->li->e)) {
			/* The device never sees this answer: the queue
			 * takes the request from the loop. */
			d->sfs = SFS_FAILED;
			arm(d, 0);
			return;
		}
		evtimer_del(d->timer);		/* response_timeout */
		d->sfs = SFS_NONE;
		d->li->stats.sf_direct++;
	}
	write_head(d, status, h);
}

static void
on_resp_body(struct relay *r, void *arg)
{
	struct httpdev *d = arg;
	struct evbuffer *out = bufferevent_get_output(d->bev);
	struct evbuffer *in = relay_body_in(r);
	size_t n = evbuffer_get_length(in);

	if (d->sfs == SFS_FAILED) {
		relay_body_drop(r, d);	/* an answer the device never sees */
		return;
	}
	if (n > 0) {
		if (d->framing == FR_NONE) {
			evbuffer_drain(in, n);	/* HEAD: no body goes out */
			relay_body_ack(r, n);
		} else {
			response_body(out, d->framing, in, n);
			d->unacked += n;
		}
	}
	if (relay_body_in_done(r) && !d->resp_done) {
		d->resp_done = true;
		response_end(out, d->framing);
	}
}

static void
on_req_drained(struct relay *r, void *arg)
{
	struct httpdev *d = arg;

	(void)r;
	if (!d->body_full)
		return;
	if (d->phase == P_BODY)
		arm(d, d->li->lc->request_timeout);
	resume_parser(d);
}

static void
on_stream_done(struct relay *r, bool complete, void *arg)
{
	struct httpdev *d = arg;

	(void)r;
	d->r = NULL;
	d->li->stats.open--;
	if (d->sfs == SFS_FAILED)
		return;		/* sf_step queues it */
	if (d->sfs == SFS_DIRECT) {
		/* Lost before its answer head. */
		d->sfs = SFS_NONE;
		if (queue_up(d->li->e)) {
			d->sfs = SFS_FAILED;
			arm(d, 0);
			return;
		}
	}
	if (!complete || !d->resp_done) {
		/* Reset, or the tunnel went down. */
		if (!d->resp_head)
			dev_fail(d, 502, "the stream to the cloud was lost");
		else
			dev_close(d);	/* the device sees a cut answer */
		return;
	}
	if (d->phase != P_SENT) {
		dev_close(d);	/* answered early: the rest is not read */
		return;
	}
	exchange_done(d);
}

static const struct relay_http_ops dev_ops = {
	.head = on_resp_head,
	.body = on_resp_body,
	.drained = on_req_drained,
	.done = on_stream_done,
};

/* Answers from the cache (cache.h); these run from the loop. */

static int submit_request(struct httpdev *d, enum submit kind,
    const struct hdrs *extra, const struct relay_http_ops *ops, void *arg,
    struct relay **out);

/* Moves the cached body to the device while its socket takes it. */
static void
pump(struct httpdev *d)
{
	struct evbuffer *out = bufferevent_get_output(d->bev);
	bool eof = false;
	long n;

	/* Only once the head went out: until then the device's output may
	 * still drain the answer before. */
	while (d->cr != NULL && d->resp_head && !d->closing &&
	    evbuffer_get_length(out) < DEV_OUT_HIGH) {
		if (d->framing == FR_LENGTH || d->framing == FR_UNTIL_CLOSE)
			n = cache_read(d->cr, out, DEV_OUT_HIGH, &eof);
		else {
			n = cache_read(d->cr, d->scratch, DEV_OUT_HIGH, &eof);
			if (n > 0 && d->framing == FR_CHUNKED)
				response_body(out, FR_CHUNKED, d->scratch,
				    (size_t)n);
			evbuffer_drain(d->scratch,
			    evbuffer_get_length(d->scratch));
		}
		if (n < 0) {
			dev_close(d);	/* the device sees a cut answer */
			return;
		}
		if (eof) {
			cache_reader_free(d->cr);
			d->cr = NULL;
			d->resp_done = true;
			response_end(out, d->framing);
			exchange_done(d);
			return;
		}
		if (n == 0)
			return;		/* ready runs when there is more */
	}
}

static void
cache_head(void *arg, int status, const struct hdrs *h)
{
	struct httpdev *d = arg;

	write_head(d, status, h);
	pump(d);
}

static void
cache_ready(void *arg)
{
	pump(arg);
}

static void
cache_pass(void *arg)
{
	struct httpdev *d = arg;

	d->cr = NULL;
	dev_submit(d);
}

static void
cache_failed(void *arg)
{
	struct httpdev *d = arg;

	d->cr = NULL;
	dev_close(d);
}

static void
cache_adopt(void *arg, struct relay *r)
{
	struct httpdev *d = arg;

	d->cr = NULL;
	d->r = r;
	relay_http_rebind(r, &dev_ops, d);
	d->li->stats.open++;
	on_resp_head(r, d);
}

static int
cache_fetch(void *arg, const struct hdrs *validators,
    const struct relay_http_ops *ops, void *ops_arg, struct relay **out)
{
	return submit_request(arg, validators != NULL ? SUBMIT_REVALIDATE :
	    SUBMIT_FILL, validators, ops, ops_arg, out);
}

static const struct cache_reader_ops cache_ops = {
	.head = cache_head,
	.ready = cache_ready,
	.pass = cache_pass,
	.failed = cache_failed,
	.adopt = cache_adopt,
	.fetch = cache_fetch,
};

/* Whether the cache answers (or will) the request just read. */
static bool
from_cache(struct httpdev *d)
{
	struct edge *e = d->li->e;
	const char *host = hdrs_get(&d->q.req, "host");
	struct cache_request q;

	if (!d->li->lc->cache || e->cache == NULL)
		return false;
	if (d->scratch == NULL && (d->scratch = evbuffer_new()) == NULL)
		return false;
	q.service = d->service;
	q.host = host != NULL ? host : "";
	q.path = d->q.url;
	q.method = http_method_str(d->p.method);
	q.req = &d->q.req;
	q.has_body = d->q.has_body;
	q.authenticated = d->mac[0] != '\0';
	return cache_get(e->cache, &q, &cache_ops, d, &d->cr) == 1;
}

/* http-parser callbacks: the request's rules are devreq.c's; these add
 * what the connection does. Their return: 0 goes on, non-zero stops
 * the parser (http-parser's contract). */

static int
on_message_begin(http_parser *p)
{
	struct httpdev *d = p->data;

	d->phase = P_HEAD;
	/* The whole head must come within request_timeout: a device
	 * trickling one byte at a time gets no longer. */
	arm(d, d->li->lc->request_timeout);
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t n)
{
	struct httpdev *d = p->data;

	return devreq_url(&d->q, d->li->lc, at, n);
}

static int
on_header_field(http_parser *p, const char *at, size_t n)
{
	struct httpdev *d = p->data;

	return devreq_field(&d->q, d->li->lc, at, n);
}

static int
on_header_value(http_parser *p, const char *at, size_t n)
{
	struct httpdev *d = p->data;

	return devreq_value(&d->q, d->li->lc, at, n);
}

/* Who a store-and-forward request is, for the queue's log. */
static void
sf_who(const struct httpdev *d, struct sfq_req *who)
{
	memset(who, 0, sizeof(*who));
	who->listener = d->li->lc->name;
	who->service = d->service;
	who->device = d->device;
}

/* Its body would go past queue_max_memory (the queue counted and logged
 * it): 503 with Retry-After, and the connection ends, the rest of the
 * body unread. Inside the parser: its caller stops it. */
static int
sf_no_memory(struct httpdev *d)
{
	struct edge_listener *li = d->li;

	li->stats.sf_refused++;
	li->stats.http_errors[HD_ERR_503]++;
	d->q.keepalive = false;
	if (!d->resp_head)
		(void)sfwd_refused(bufferevent_get_output(d->bev), li->e->queue,
		    SFQ_REFUSED_MEMORY, &d->q, d->p.http_minor);
	d->resp_head = true;
	dev_close(d);
	return -1;
}

/* A store-and-forward request (mode on or always): its body is read
 * whole before it goes anywhere, so bounds more apply to it: its size,
 * the memory all of them hold, and its time (the whole request within
 * request_timeout, armed at its first byte and not again). */
static int
sf_begin(struct httpdev *d, int mode, const http_parser *p)
{
	uint64_t length = (p->flags & F_CHUNKED) ||
	    p->content_length == ULLONG_MAX ? 0 : p->content_length;
	struct sfq_req who;
	int rc;

	sf_who(d, &who);
	rc = sfwd_begin(&d->sf, d->li->e->queue, &who, mode, &d->q, length,
	    d->li->e->cf->queue_max_body);
	if (rc == -ENOBUFS)
		return sf_no_memory(d);
	if (rc != 0) {
		d->q.error = rc == -E2BIG ? 413 : rc == -EINVAL ? 400 :
		    rc == -EMSGSIZE ? 431 : 503;
		d->q.why = rc == -E2BIG ? "request body too large to be stored "
		    "and forwarded (queue_max_body)" : rc == -EINVAL ?
		    "Idempotency-Key must be one non-empty quoted string "
		    "(draft-ietf-httpapi-idempotency-key-header)" :
		    rc == -EMSGSIZE ? "request head too large for the tunnel "
		    "(62 KiB of fields, 248 fields): it could never be "
		    "delivered" : "out of memory";
		return -1;
	}
	d->sfs = SFS_READING;
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct httpdev *d = p->data;
	int mode;

	if (devreq_head(&d->q, d->li->lc, p) != 0)
		return -1;
	if (d->q.has_body && p->http_minor >= 1 &&
	    hdrs_has_token(&d->q.req, "expect", "100-continue"))
		evbuffer_add(bufferevent_get_output(d->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	d->phase = d->q.has_body ? P_BODY : P_SENT;
	d->li->stats.http_requests++;
	mode = sfwd_mode(d->li->e->queue, d->li->lc, d->service,
	    http_method_str(p->method));
	if (mode != SF_OFF)
		return sf_begin(d, mode, p);	/* on_message_complete goes on */
	if (from_cache(d)) {
		evtimer_del(d->timer);
		return 0;
	}
	dev_submit(d);
	if (d->closing)
		return -1;	/* answered already: parse nothing more */
	if (d->r == NULL) {
		/* Waiting for the tunnel: the body waits in the socket. */
		d->tunnel_paused = true;
		pause_parser(d);
	}
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t n)
{
	struct httpdev *d = p->data;

	if (devreq_body(&d->q, d->li->lc, n) != 0)
		return -1;
	if (d->sfs == SFS_READING) {
		struct sfq_req who;
		int rc;

		sf_who(d, &who);
		rc = sfwd_body(&d->sf, &who, at, n,
		    d->li->e->cf->queue_max_body);
		if (rc == 0)
			return 0;
		if (rc == -ENOBUFS)
			return sf_no_memory(d);
		d->q.error = rc == -ENOMEM ? 503 : 413;
		if (rc == -ENOMEM) {
			d->q.why = "out of memory";
			return -1;
		}
		d->q.why = "request body too large to be stored and forwarded "
		    "(queue_max_body)";
		return -1;
	}
	if (d->r == NULL)
		return 0;	/* the stream ended early: the rest is dropped */
	if (relay_body_write(d->r, at, n) != 0)
		return -1;
	if (relay_body_full(d->r)) {
		/* The cloud is slow, not the device: no body timeout. */
		d->body_full = true;
		evtimer_del(d->timer);
		pause_parser(d);
	}
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct httpdev *d = p->data;

	evtimer_del(d->timer);
	if (d->phase == P_BODY && d->r != NULL)
		relay_body_end(d->r);
	d->phase = P_SENT;
	/* The next request waits for this one's answer. */
	pause_parser(d);
	if (d->sfs == SFS_READING) {
		d->sfs = SFS_WHOLE;
		arm(d, 0);		/* sf_step, once out of the parser */
	}
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* The request on the tunnel (forward.c), or -EAGAIN while it is down. */
static int
submit_request(struct httpdev *d, enum submit kind, const struct hdrs *extra,
    const struct relay_http_ops *ops, void *arg, struct relay **out)
{
	struct h2conn *h2 = uplink_h2(d->li->e->up);
	struct forward f;

	dev_forward(d, &f);
	if (h2 == NULL)
		return -EAGAIN;
	return forward_request(h2, &f, kind, extra, ops, arg, out);
}

/* The tunnel is up: the request that waited for it goes out. */
static void
wait_ready(void *arg)
{
	struct httpdev *d = arg;

	if (d->sfs == SFS_WHOLE) {
		arm(d, 0);	/* decided again: the tunnel may be down again */
		return;
	}
	dev_submit(d);
	if (d->r != NULL && d->tunnel_paused) {
		/* Only a request paused in its head goes on; one that
		 * was read whole waits for its answer. */
		d->tunnel_paused = false;
		resume_parser(d);
	}
}

static void
wait_expired(void *arg)
{
	struct httpdev *d = arg;

	d->li->stats.dropped++;
	dev_fail(d, 503, "the tunnel to the cloud is down");
}

/* Draining leaves it waiting: it gets its 503 when the wait runs out. */
static const struct pending_ops wait_ops = {
	.ready = wait_ready,
	.expired = wait_expired,
	.drop = NULL,
};

static void
dev_submit(struct httpdev *d)
{
	struct edge *e = d->li->e;
	int rc;

	if (uplink_h2(e->up) == NULL) {
		if (pending_waiting(&d->wait))
			return;
		/* The wait has its own timer (pending_timeout). */
		evtimer_del(d->timer);
		if (pending_wait(e, &d->wait, &wait_ops, d) != 0) {
			d->li->stats.dropped++;
			dev_fail(d, 503, "the tunnel to the cloud is down");
		}
		return;
	}
	rc = submit_request(d, SUBMIT_DEVICE, NULL, &dev_ops, d, &d->r);
	if (rc != 0) {
		d->r = NULL;
		if (d->sfs == SFS_WHOLE && queue_up(e))
			sf_queue(d);	/* a failed path, as a 503 is */
		else
			dev_fail(d, 503, "the tunnel cannot take a stream now");
		return;
	}
	d->li->stats.open++;
	if (d->sfs == SFS_WHOLE) {
		/* Read whole already: all of it goes now, and its answer is
		 * due within response_timeout, else the queue takes it. */
		if (d->q.has_body && sfwd_send(&d->sf, d->r) != 0) {
			dev_fail(d, 503, "out of memory");
			return;
		}
		d->sfs = SFS_DIRECT;
		arm(d, d->li->lc->response_timeout);
		return;
	}
	if (d->phase == P_BODY)
		arm(d, d->li->lc->request_timeout);
	else
		evtimer_del(d->timer);
}

/* The edge's own answer to a store-and-forward request went out whole:
 * the connection goes on as after any answer. */
static void
sf_answered(struct httpdev *d, int rc)
{
	d->sfs = SFS_NONE;
	d->resp_head = d->resp_done = true;
	if (rc != 0)
		dev_close(d);		/* out of memory: cut */
	else
		exchange_done(d);
}

/* The queue did not take it: 503 and Retry-After, before anything was
 * accepted (docs/queue.md, "Bounds"). */
static void
sf_refuse(struct httpdev *d, int why)
{
	struct edge_listener *li = d->li;

	li->stats.sf_refused++;
	li->stats.http_errors[HD_ERR_503]++;
	/* The queue logs its refusals (queue_refused); only ours here. */
	if (why < 0)
		log_limited(li->e->lim_device, LOG_INFO, "edge",
		    "http_refused", "listener=%s service=%s device=%s "
		    "status=%d reason=%s", li->lc->name, d->service,
		    d->device, 503, "out of memory");
	sf_answered(d, sfwd_refused(bufferevent_get_output(d->bev),
	    li->e->queue, why, &d->q, d->p.http_minor));
}

/* The queue's answer (from the loop): on disk, or refused. */
static void
sf_written(void *arg, int rc)
{
	struct httpdev *d = arg;

	d->sf.ticket = NULL;
	if (rc != 0) {
		sf_refuse(d, rc);
		return;
	}
	d->li->stats.sf_queued++;
	sf_answered(d, sfwd_accepted(bufferevent_get_output(d->bev),
	    (int)d->li->lc->store_forward_status, &d->q, d->p.http_minor));
}

static void
sf_queue(struct httpdev *d)
{
	struct forward f;
	int rc;

	dev_forward(d, &f);
	rc = sfwd_submit(&d->sf, d->li->e->queue, &f, d->li->lc->name,
	    sf_written, d);
	if (rc == 0)
		d->sfs = SFS_WRITING;
	else
		sf_refuse(d, rc);
}

/* A store-and-forward request's next step, from the loop: always, to the
 * queue; on, straight through while the path is healthy, to the queue at
 * once while the tunnel is down (no pending_timeout wait), and to the
 * queue when the direct attempt failed. While requests of its lane
 * wait in the queue (its service's, or its device's: replay_order), or
 * the queue is still being opened at the start, an on request goes
 * behind them, so that a device's readings reach the backend in the
 * order it sent them. Without a queue that
 * takes requests an on request goes as it would without store and
 * forward. */
static void
sf_step(struct httpdev *d)
{
	struct edge *e = d->li->e;

	switch (d->sfs) {
	case SFS_WHOLE:
		if (d->sf.mode == SF_ALWAYS || (queue_up(e) &&
		    (uplink_h2(e->up) == NULL || sfq_waiting(e->queue,
		    d->service, d->device, d->mac))))
			sf_queue(d);
		else
			dev_submit(d);
		return;
	case SFS_DIRECT:
		/* No answer head within response_timeout. */
		if (!queue_up(e)) {
			d->sfs = SFS_NONE;	/* the cloud's 504 comes */
			return;
		}
		drop_stream(d);
		sf_queue(d);
		return;
	case SFS_FAILED:
		drop_stream(d);		/* the failed answer's, if still on */
		sf_queue(d);
		return;
	case SFS_NONE:
	case SFS_READING:
	case SFS_WRITING:
		return;
	}
}

static void
dev_parse(struct httpdev *d)
{
	struct evbuffer *in = bufferevent_get_input(d->bev);
	size_t len, n;
	enum http_errno err;

	while (!d->paused && !d->closing &&
	    (len = evbuffer_get_contiguous_space(in)) > 0) {
		const char *data = (const char *)evbuffer_pullup(in,
		    (ev_ssize_t)len);

		d->in_parse = true;
		n = http_parser_execute(&d->p, &parser_settings, data, len);
		d->in_parse = false;
		if (d->closing) {
			/* A callback ended it; d waited for us to return. */
			if (evbuffer_get_length(bufferevent_get_output(
			    d->bev)) == 0)
				dev_free(d);
			return;
		}
		evbuffer_drain(in, n);
		err = HTTP_PARSER_ERRNO(&d->p);
		if (err == HPE_PAUSED)
			break;
		if (err != HPE_OK) {
			devreq_parse_error(&d->q, err);
			dev_fail(d, d->q.error, d->q.why);
			return;
		}
		/* A body going straight through may take as long as it
		 * keeps coming; one read whole (store and forward) is held
		 * in memory, and has its first byte's deadline. */
		if (d->phase == P_BODY && d->r != NULL)
			arm(d, d->li->lc->request_timeout);
	}
	if (d->peer_eof && !d->paused && (d->phase == P_HEAD ||
	    d->phase == P_BODY))
		dev_vanished(d);	/* half-closed inside a request */
	else if (d->peer_eof && !d->paused && !d->closing &&
	    d->phase == P_IDLE)
		dev_close(d);		/* every request it sent is answered */
}

/* Gone inside a request: its stream is reset, the backend sees the
 * request abandoned. */
static void
dev_vanished(struct httpdev *d)
{
	log_limited(d->li->e->lim_device, LOG_INFO, "edge",
	    "device_vanished", "listener=%s service=%s device=%s phase=%s",
	    d->li->lc->name, d->service, d->device,
	    d->phase == P_HEAD ? "head" : "body");
	dev_free(d);
}

static void
dev_read(struct bufferevent *bev, void *arg)
{
	struct httpdev *d = arg;

	(void)bev;
	if (d->closing) {
		evbuffer_drain(bufferevent_get_input(d->bev),
		    evbuffer_get_length(bufferevent_get_input(d->bev)));
		return;
	}
	dev_parse(d);
}

static void
dev_write(struct bufferevent *bev, void *arg)
{
	struct httpdev *d = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_output(bev));

	if (d->r != NULL && d->unacked > pending) {
		relay_body_ack(d->r, d->unacked - pending);
		d->unacked = pending;
	}
	if (d->cr != NULL) {
		pump(d);	/* may end d */
		return;
	}
	if (d->closing && pending == 0)
		dev_free(d);
}

static void
dev_event(struct bufferevent *bev, short what, void *arg)
{
	struct httpdev *d = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		log_limited(d->li->e->lim_device, LOG_INFO, "edge",
		    "device_stalled", "listener=%s service=%s device=%s "
		    "reason=%s", d->li->lc->name, d->service,
		    d->device, "took no answer bytes for idle_timeout");
		dev_free(d);
		return;
	}
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    !d->closing && (d->phase == P_SENT || evbuffer_get_length(
	    bufferevent_get_input(d->bev)) > 0)) {
		/* Half-closed after its request (or with bytes we have not
		 * parsed yet): the answer still goes. */
		d->peer_eof = true;
		return;
	}
	if (d->phase == P_HEAD || d->phase == P_BODY) {
		dev_vanished(d);
		return;
	}
	dev_free(d);
}

static void
dev_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct httpdev *d = arg;

	(void)fd;
	(void)what;
	if (d->closing) {
		dev_free(d);		/* the device stopped reading */
		return;
	}
	switch (d->phase) {
	case P_IDLE:
		dev_free(d);		/* keep-alive ran out: no answer due */
		return;
	case P_HEAD:
		dev_fail(d, 408, "request head not received in time");
		return;
	case P_BODY:
		dev_fail(d, 408, d->sfs == SFS_READING ? "store-and-forward "
		    "request not received whole in time" :
		    "request body stalled");
		return;
	case P_SENT:
		sf_step(d);		/* the only timer of a request sent */
		return;
	}
}

int
httpdev_start(struct edge_listener *li, struct bufferevent *bev,
    const char *service, const char *device, const char *mac)
{
	struct edge *e = li->e;
	struct httpdev *d = calloc(1, sizeof(*d));
	struct timeval tv;

	if (d == NULL) {
		bufferevent_free(bev);
		return -ENOMEM;
	}
	d->timer = evtimer_new(e->base, dev_timeout, d);
	if (d->timer == NULL) {
		free(d);
		bufferevent_free(bev);
		return -ENOMEM;
	}
	d->li = li;
	edge_listener_hold(li);
	snprintf(d->service, sizeof(d->service), "%s", service);
	d->bev = bev;
	devreq_init(&d->q);
	snprintf(d->device, sizeof(d->device), "%s", device);
	if (mac != NULL)
		snprintf(d->mac, sizeof(d->mac), "%s", mac);
	/* Our own limit (max_header_size) applies first; the library's
	 * compiled-in one (80 KB) must not cut it short. */
	http_parser_set_max_header_size(2 * 1024 * 1024);
	http_parser_init(&d->p, HTTP_REQUEST);
	d->p.data = d;
	d->next = e->httpdevs;
	if (d->next != NULL)
		d->next->pprev = &d->next;
	d->pprev = &e->httpdevs;
	e->httpdevs = d;
	/* Reading stops at the head's limit plus some slack while parsing
	 * waits (a pipelined request behind a slow answer). */
	bufferevent_setwatermark(bev, EV_READ, 0,
	    li->lc->max_header_size + DEV_IN_SLACK);
	bufferevent_setwatermark(bev, EV_WRITE, DEV_OUT_LOW, 0);
	bufferevent_setcb(bev, dev_read, dev_write, dev_event, d);
	/* An answer the device stops taking holds a share of the tunnel's
	 * window: idle_timeout without progress ends the connection. */
	tv_ms(&tv, li->lc->idle_timeout);
	bufferevent_set_timeouts(bev, NULL, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	arm(d, li->lc->idle_timeout);
	return 0;
}

void
httpdev_drain(struct edge *e, struct edge_listener *li)
{
	struct httpdev *d, *next;

	for (d = e->httpdevs; d != NULL; d = next) {
		next = d->next;
		if (li != NULL && d->li != li)
			continue;
		if (d->phase == P_IDLE && !d->closing)
			dev_free(d);
		else
			d->q.keepalive = false;
	}
}

bool
httpdev_answering(const struct edge *e)
{
	const struct httpdev *d;

	for (d = e->httpdevs; d != NULL; d = d->next)
		if (d->closing && d->sf.mode != SF_OFF && evbuffer_get_length(
		    bufferevent_get_output(d->bev)) > 0)
			return true;
	return false;
}

void
httpdev_free_all(struct edge *e)
{
	while (e->httpdevs != NULL)
		dev_free(e->httpdevs);
}

void
httpdev_recheck_tls(struct edge *e)
{
	struct httpdev *d, *next;
	SSL *ssl;
	int why;

	for (d = e->httpdevs; d != NULL; d = next) {
		struct devtls_meet at = { &e->trust, d->device,
		    d->li->lc->name };

		next = d->next;
		if (d->li->devtls == NULL || d->li->closed ||
		    (ssl = bufferevent_openssl_get_ssl(d->bev)) == NULL ||
		    (why = devtls_recheck(d->li->devtls, ssl, d->mac,
		    &at)) < 0)
			continue;
		d->li->stats.tls_revoked++;
		log_info("edge", "device_revoked", "listener=%s device=%s "
		    "mac=%s reason=%s action=%s", d->li->lc->name, d->device,
		    d->mac[0] ? d->mac : "-", devtls_refusal_name(why),
		    "disconnected");
		dev_free(d);
	}
}
