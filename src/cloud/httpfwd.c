/* HTTP mode: a request stream to a backend as HTTP/1.1 and its answer
 * back (httpfwd.h). */
#include "cloud/httpfwd.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <http_parser.h>
#include <nghttp2/nghttp2.h>

#include "cloud/backpool.h"
#include "cloud/dial.h"
#include "cloud/refuse.h"
#include "cloud/tunnel-int.h"
#include "common/hdrs.h"
#include "common/http1.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/relay.h"
#include "common/stat.h"
#include "common/timeval.h"

/* Backend output: acknowledge request body once the socket took it down
 * to this much. */
#define BACK_OUT_LOW (16u * 1024)
/* The most read from a backend ahead of the parser. */
#define BACK_IN_HIGH (64u * 1024)
/* The most of a backend's head we read before calling it broken. */
#define BACK_HEAD_MAX (64u * 1024)

struct fwd {
	struct tunnel *t;
	struct worker *w;
	struct relay *r;
	struct cloud_conf *conf;	/* a reference: svc lives in it */
	struct cloud_service *svc;
	struct dial dial;
	struct bufferevent *bev;	/* the backend, once connected */
	bool reused;
	struct event *timer;		/* response_timeout */
	/* the request */
	bool req_chunked;		/* we frame its body in chunks */
	bool req_done;			/* written whole to the backend */
	bool req_body;			/* a body was (being) written */
	size_t unacked;
	/* the response */
	http_parser p;
	struct hdrs resp;
	struct hdrs_reader rd;
	size_t head_bytes;
	bool head_sent, resp_done, any_byte, head_method;
	bool in_parse;
	bool paused;			/* the stream's body is full */
};

static void fwd_release(struct fwd *f, bool keep);
static void fwd_free(struct fwd *f);
static void move_body(struct fwd *f);

static void
arm(struct fwd *f)
{
	struct timeval tv;

	tv_ms(&tv, f->svc->response_timeout);
	evtimer_add(f->timer, &tv);
}

#define NV(n, v) ((nghttp2_nv){ (uint8_t *)(uintptr_t)(n), \
	(uint8_t *)(uintptr_t)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE })

/* The most fields service_marks adds. */
#define SERVICE_MARKS 2

/* What every answer of the service tells the edge of it, the cloud's own
 * 502 and 504 included: an edge learns a service's store_forward from
 * its answers (docs/queue.md), and a failing backend must not read as
 * "no longer store and forward" just when the queue is needed. Returns
 * the fields added to nv. */
static size_t
service_marks(const struct cloud_service *svc, nghttp2_nv *nv)
{
	size_t n = 0;

	if (svc->confidential)
		nv[n++] = NV(HTTP_CONFIDENTIAL_FIELD, "1");
	if (svc->store_forward != CSF_OFF)
		nv[n++] = NV(HTTP_STORE_FORWARD_FIELD,
		    svc->store_forward == CSF_ALWAYS ? "always" : "on");
	return n;
}

/* The cloud's own answer when the backend failed: 502 or 504, or a reset
 * when the response had begun. */
static void
fwd_fail(struct fwd *f, int status, const char *why)
{
	const char *backend = f->dial.idx >= 0 ?
	    f->svc->be[f->dial.idx].addr : "-";
	char len[24], body[96];

	STAT_ADD(f->svc->http_failed[status == 504 ? HTTPF_TIMEOUT :
	    HTTPF_BAD_GATEWAY], 1);
	log_limited(f->w->lim_backend, LOG_INFO, "cloud", "http_failed",
	    "tenant=%s service=%s backend=%s status=%d reason=%s",
	    f->svc->tenant_name, f->svc->name, backend, status, why);
	fwd_release(f, false);
	if (f->head_sent) {
		/* The edge sees a cut answer; an aborted relay calls no
		 * more, so f goes now. */
		relay_abort(f->r);
		fwd_free(f);
		return;
	}
	f->head_sent = true;
	snprintf(body, sizeof(body), "%s\n", why);
	snprintf(len, sizeof(len), "%zu", strlen(body));
	nghttp2_nv nv[2 + SERVICE_MARKS] = {
		NV("content-type", "text/plain"),
		NV("content-length", len),
	};
	if (relay_http_respond(f->r, status, nv, 2 + service_marks(f->svc,
	    nv + 2), true) != 0 ||
	    relay_body_write(f->r, body, strlen(body)) != 0) {
		relay_abort(f->r);
		fwd_free(f);
		return;
	}
	relay_body_end(f->r);
	move_body(f);		/* a body still arriving is dropped */
}

/* Done with the backend connection: back to the pool when the exchange
 * ended cleanly, closed otherwise. */
static void
fwd_release(struct fwd *f, bool keep)
{
	struct cloud_backend *be;

	evtimer_del(f->timer);
	if (f->bev == NULL)
		return;
	be = &f->svc->be[f->dial.idx];
	STAT_SUB(be->active, 1);
	if (keep)
		backpool_put(f->w, f->svc, &be->ss, f->bev,
		    f->svc->pool_idle_timeout, f->svc->pool_max_idle);
	else
		bufferevent_free(f->bev);
	f->bev = NULL;
}

/* Request body from the stream to the backend, framed. */
static void
move_body(struct fwd *f)
{
	struct evbuffer *in = relay_body_in(f->r);
	struct evbuffer *out;
	size_t n = evbuffer_get_length(in);

	if (f->bev == NULL) {
		if (f->head_sent) {	/* answered: the rest goes nowhere */
			evbuffer_drain(in, n);
			relay_body_ack(f->r, n);
		}
		return;
	}
	out = bufferevent_get_output(f->bev);
	if (n > 0) {
		f->req_body = true;
		if (f->req_chunked)
			evbuffer_add_printf(out, "%zx\r\n", n);
		evbuffer_remove_buffer(in, out, n);
		if (f->req_chunked)
			evbuffer_add(out, "\r\n", 2);
		f->unacked += n;
	}
	if (relay_body_in_done(f->r) && !f->req_done) {
		f->req_done = true;
		if (f->req_chunked)
			evbuffer_add(out, "0\r\n\r\n", 5);
		/* The answer is due from now (an upload takes its time; the
		 * edge times out a device whose body stalls). */
		if (!f->head_sent)
			arm(f);
	}
}

/* The request line and head, as the backend should see them. */
/* What the edge itself says of a request, in isthmus-* fields a device
 * cannot send (the edge drops every one of a device's): a collector's
 * delivery (docs/trust.md, "Collectors"), each as "x-" and its name, and
 * the time a queued request was accepted (docs/queue.md), as
 * HTTP_ID_ACCEPTED. The backend gets them whatever identity_headers
 * says: they are about the data, not who sent it. */
static void
edge_fields(struct evbuffer *out, const struct hdrs *h)
{
	static const char *const names[] = { HTTP_COLLECTOR_FIELD,
		HTTP_COLLECTOR_URL, HTTP_COLLECTOR_FP, HTTP_COLLECTOR_STATUS,
		HTTP_COLLECTOR_TIME };
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((v = hdrs_get(h, names[i])) != NULL)
			evbuffer_add_printf(out, "%s%s: %s\r\n",
			    HTTP_ID_COLLECTOR_PREFIX, names[i], v);
	if ((v = hdrs_get(h, HTTP_ACCEPTED_FIELD)) != NULL)
		evbuffer_add_printf(out, "%s: %s\r\n", HTTP_ID_ACCEPTED, v);
}

static void
write_head(struct fwd *f)
{
	struct evbuffer *out = bufferevent_get_output(f->bev);
	const struct hdrs *h = relay_hdrs(f->r);
	const struct relay_info *ri = relay_info(f->r);
	const char *host = hdrs_get(h, HTTP_HOST_HEADER);
	const char *mac = hdrs_get(h, HTTP_MAC_HEADER);
	size_t i;

	evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nhost: %s\r\n", ri->method,
	    relay_path(f->r), host != NULL ? host :
	    f->svc->be[f->dial.idx].addr);
	for (i = 0; i < h->n; i++) {
		const struct hdr *x = &h->v[i];

		if (http_hop_by_hop(h, x->name) ||
		    http_identity_field(x->name) || strcmp(x->name,
		    "host") == 0)
			continue;
		evbuffer_add_printf(out, "%s: %s\r\n", x->name, x->value);
	}
	if (f->svc->identity_headers) {
		/* RFC 7239: an address with a port (or IPv6) is quoted. */
		evbuffer_add_printf(out, "forwarded: for=\"%s\"\r\n"
		    "%s: %s\r\n%s: %s\r\n", ri->device, HTTP_ID_TENANT,
		    tunnel_tenant(f->t), HTTP_ID_EDGE, tunnel_edge(f->t));
		if (mac != NULL)
			evbuffer_add_printf(out, "%s: %s\r\n", HTTP_ID_MAC,
			    mac);
	}
	edge_fields(out, h);
	f->req_chunked = hdrs_get(h, "content-length") == NULL &&
	    !(relay_body_in_done(f->r) &&
	    evbuffer_get_length(relay_body_in(f->r)) == 0);
	if (f->req_chunked)
		evbuffer_add(out, "transfer-encoding: chunked\r\n", 28);
	evbuffer_add(out, "\r\n", 2);
}

/* Response parsing (http-parser callbacks). */

static int
back_head_bytes(struct fwd *f, size_t n)
{
	f->head_bytes += n;
	return f->head_bytes > BACK_HEAD_MAX ? -1 : 0;
}

static int
on_message_begin(http_parser *p)
{
	struct fwd *f = p->data;

	hdrs_clear(&f->resp);
	hdrs_reader_reset(&f->rd);
	f->head_bytes = 0;
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t n)
{
	struct fwd *f = p->data;

	if (back_head_bytes(f, n) != 0)
		return -1;
	return hdrs_reader_field(&f->rd, &f->resp, RELAY_HEADERS_COUNT - 2,
	    at, n);
}

static int
on_header_value(http_parser *p, const char *at, size_t n)
{
	struct fwd *f = p->data;

	if (back_head_bytes(f, n) != 0)
		return -1;
	return hdrs_reader_value(&f->rd, at, n);
}

static int
on_headers_complete(http_parser *p)
{
	struct fwd *f = p->data;
	nghttp2_nv *nv;
	size_t n = 0, i;
	bool body;
	int rc;

	if (hdrs_reader_end(&f->rd, &f->resp, RELAY_HEADERS_COUNT - 2) != 0)
		return -1;
	if (p->status_code < 200)
		return p->status_code == 101 ? -1 : 0;	/* 1xx: skipped */
	for (i = 0; i < f->resp.n; i++)
		if (!http_name_ok(f->resp.v[i].name, f->resp.v[i].nlen) ||
		    !http_value_ok(f->resp.v[i].value, f->resp.v[i].vlen))
			return -1;	/* not for HTTP/2: 502 */
	body = !(f->head_method || p->status_code == 204 ||
	    p->status_code == 304);
	nv = calloc(f->resp.n + SERVICE_MARKS, sizeof(*nv));
	if (nv == NULL)
		return -1;
	for (i = 0; i < f->resp.n; i++) {
		const struct hdr *x = &f->resp.v[i];

		/* A backend speaks for neither the tunnel nor a peer. */
		if (http_hop_by_hop(&f->resp, x->name) || strncmp(x->name,
		    HTTP_TUNNEL_PREFIX, sizeof(HTTP_TUNNEL_PREFIX) - 1) == 0)
			continue;
		nv[n++] = NV(x->name, x->value);
	}
	n += service_marks(f->svc, nv + n);
	rc = relay_http_respond(f->r, (int)p->status_code, nv, n, body);
	free(nv);
	if (rc != 0)
		return -1;
	f->head_sent = true;
	return body ? 0 : 1;	/* 1: no body follows (HEAD, 204, 304) */
}

static int
on_body(http_parser *p, const char *at, size_t n)
{
	struct fwd *f = p->data;

	if (relay_body_write(f->r, at, n) != 0)
		return -1;
	if (relay_body_full(f->r)) {
		/* The edge's side is slow, not the backend: no timeout
		 * until the stream takes more. */
		f->paused = true;
		evtimer_del(f->timer);
		http_parser_pause(p, 1);
	}
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct fwd *f = p->data;

	if (p->status_code < 200)
		return 0;		/* the final answer follows */
	f->resp_done = true;
	relay_body_end(f->r);
	http_parser_pause(p, 1);	/* nothing more is ours */
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* After the answer: the connection is kept when both messages ended
 * cleanly, the backend allows it, and nothing more came. */
static void
answered(struct fwd *f)
{
	bool keep = f->req_done && http_should_keep_alive(&f->p) &&
	    evbuffer_get_length(bufferevent_get_input(f->bev)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(f->bev)) == 0;

	fwd_release(f, keep);
	move_body(f);		/* a body still arriving is dropped */
}

static void
parse(struct fwd *f, bool eof)
{
	struct evbuffer *in = bufferevent_get_input(f->bev);
	size_t len, n;
	enum http_errno err;

	f->any_byte |= evbuffer_get_length(in) > 0;
	while (!f->paused && !f->resp_done) {
		const char *data = NULL;

		len = evbuffer_get_contiguous_space(in);
		if (len == 0 && !eof)
			break;
		if (len > 0)
			data = (const char *)evbuffer_pullup(in,
			    (ev_ssize_t)len);
		f->in_parse = true;
		n = http_parser_execute(&f->p, &parser_settings, data, len);
		f->in_parse = false;
		evbuffer_drain(in, n);
		err = HTTP_PARSER_ERRNO(&f->p);
		if (err == HPE_PAUSED)
			break;
		if (err != HPE_OK) {
			fwd_fail(f, 502, "the backend's answer is not valid "
			    "HTTP/1.1");
			return;
		}
		if (len == 0)
			break;		/* EOF given to the parser */
	}
	if (f->resp_done) {
		answered(f);
		return;
	}
	if (f->head_sent)
		arm(f);		/* the body must keep coming */
	if (eof)
		fwd_fail(f, 502, f->any_byte ? "the backend closed "
		    "mid-answer" : "the backend closed without an answer");
}

static void
back_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	parse(arg, false);
}

static void
back_write(struct bufferevent *bev, void *arg)
{
	struct fwd *f = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_output(bev));

	if (f->unacked > pending) {
		relay_body_ack(f->r, f->unacked - pending);
		f->unacked = pending;
	}
}

static void
back_event(struct bufferevent *bev, short what, void *arg)
{
	struct fwd *f = arg;

	(void)bev;
	if (!f->any_byte && !f->head_sent && f->reused && !f->req_body &&
	    http_idempotent(relay_info(f->r)->method) &&
	    evbuffer_get_length(bufferevent_get_input(f->bev)) == 0) {
		/* A kept-alive connection the backend had just closed: the
		 * request goes again, on a fresh connection. */
		fwd_release(f, false);
		f->req_done = false;
		dial_again(&f->dial);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		parse(f, true);
		return;
	}
	fwd_fail(f, 502, "the backend connection failed");
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fwd *f = arg;

	(void)fd;
	(void)what;
	fwd_fail(f, 504, f->head_sent ? "the backend's answer stalled" :
	    "the backend did not answer in time");
}

static void
on_connected(struct dial *d, struct bufferevent *bev, bool reused, void *arg)
{
	struct fwd *f = arg;

	(void)d;
	if (bev == NULL) {
		f->head_sent = true;
		refuse_stream(f->t, f->r, f->svc->name, REFUSE_NO_BACKEND, 503);
		move_body(f);
		return;
	}
	f->bev = bev;
	f->reused = reused;
	f->any_byte = false;
	http_parser_init(&f->p, HTTP_RESPONSE);
	f->p.data = f;
	bufferevent_setwatermark(bev, EV_WRITE, BACK_OUT_LOW, 0);
	/* While the stream is full the parser waits, and so does reading. */
	bufferevent_setwatermark(bev, EV_READ, 0, BACK_IN_HIGH);
	bufferevent_setcb(bev, back_read, back_write, back_event, f);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	write_head(f);
	move_body(f);
}

/* The relay's callbacks (inside the HTTP/2 session). */

static void
on_req_body(struct relay *r, void *arg)
{
	(void)r;
	move_body(arg);
}

static void
on_resp_drained(struct relay *r, void *arg)
{
	struct fwd *f = arg;

	(void)r;
	if (!f->paused || f->bev == NULL)
		return;
	f->paused = false;
	arm(f);
	http_parser_pause(&f->p, 0);
	/* Parsing goes on from the loop, with what is buffered. */
	bufferevent_trigger(f->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	(void)r;
	(void)complete;
	fwd_free(arg);
}

/* Reset by the edge, tunnel gone, or all sent: a connection that is not
 * back in the pool yet is not in a known state, and is closed. */
static void
fwd_free(struct fwd *f)
{
	dial_cancel(&f->dial);
	fwd_release(f, false);
	event_free(f->timer);
	hdrs_free(&f->resp);
	hdrs_reader_reset(&f->rd);
	cloud_conf_unref(f->conf);
	free(f);
}

static const struct relay_http_ops fwd_ops = {
	.head = NULL,		/* a server gets no response */
	.body = on_req_body,
	.drained = on_resp_drained,
	.done = on_done,
};

static bool
request_ok(struct relay *r)
{
	const struct hdrs *h = relay_hdrs(r);
	const char *m = relay_info(r)->method;
	size_t i;

	if (!http_target_ok(relay_path(r), strlen(relay_path(r))) ||
	    m[0] == '\0' || strpbrk(m, " \t\r\n") != NULL)
		return false;
	for (i = 0; i < h->n; i++)
		if (!http_value_ok(h->v[i].value, h->v[i].vlen) ||
		    strpbrk(h->v[i].name, " \t\r\n:") != NULL)
			return false;
	return true;
}

void
httpfwd_start(struct tunnel *t, struct relay *r, struct cloud_service *svc)
{
	struct fwd *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->timer = evtimer_new(tunnel_worker(t)->base,
	    on_timeout, f)) == NULL) {
		free(f);
		refuse_stream(t, r, svc->name, REFUSE_INTERNAL, 503);
		return;
	}
	f->t = t;
	f->w = tunnel_worker(t);
	f->r = r;
	f->conf = cloud_conf_ref(tunnel_conf(t));
	f->svc = svc;
	f->dial.idx = -1;
	f->head_method = strcmp(relay_info(r)->method, "HEAD") == 0;
	hdrs_init(&f->resp);
	if (!request_ok(r)) {
		/* nghttp2 refuses such bytes already; the HTTP/1.1 head we
		 * write must never depend on that alone. */
		event_free(f->timer);
		cloud_conf_unref(f->conf);
		free(f);
		refuse_stream(t, r, svc->name, REFUSE_BAD_REQUEST, 400);
		return;
	}
	if (relay_http_take(r, &fwd_ops, f) != 0) {
		event_free(f->timer);
		cloud_conf_unref(f->conf);
		free(f);
		refuse_stream(t, r, svc->name, REFUSE_INTERNAL, 503);
		return;
	}
	STAT_ADD(svc->http_requests, 1);
	STAT_ADD(svc->streams_opened, 1);
	dial_start(&f->dial, f->w, svc, relay_info(r)->device, true,
	    tunnel_dial_gate(t), on_connected, f);
}
