/*
 * A tunnel stream in HTTP mode (relay.h): one request and its response,
 * whose bodies the owner moves, bounded both ways. It takes the
 * session's events through http_mode, which relay.c calls for it; it
 * calls relay.c for the stream itself (h2conn-int.h draws the layers).
 */
#include "common/h2conn-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

/* HTTP mode: the owner stops adding body at this much unsent, and is
 * told to go on below the low mark. */
#define BODY_OUT_HIGH (64u * 1024)
#define BODY_OUT_LOW (16u * 1024)

static void
detached_event(struct relay *r, void *arg)
{
	(void)r;
	(void)arg;
}

static void
detached_done(struct relay *r, bool complete, void *arg)
{
	(void)r;
	(void)complete;
	(void)arg;
}

/* What an aborted HTTP-mode relay calls until its reset is out: its owner
 * has forgotten it. */
static const struct relay_http_ops detached_ops = {
	.head = detached_event,
	.body = detached_event,
	.drained = detached_event,
	.done = detached_done,
};

static void
http_data(struct relay *r, const uint8_t *data, size_t len)
{
	nghttp2_session *s = h2conn_session(r->conn);

	if (r->ops == &detached_ops || evbuffer_add(r->bin, data, len) != 0) {
		/* Nobody takes it (aborted), or out of memory: the owner
		 * hears of the reset through done. */
		nghttp2_session_consume(s, r->id, len);
		if (r->ops != &detached_ops && !(r->flags & R_RESET)) {
			r->flags |= R_RESET;
			nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, r->id,
			    NGHTTP2_INTERNAL_ERROR);
		}
		return;
	}
	r->unacked += len;
	r->ops->body(r, r->ops_arg);
}

static int
http_send(struct relay *r, struct evbuffer *out, size_t len)
{
	if (evbuffer_remove_buffer(r->bout, out, len) != (int)len)
		return -1;
	h2conn_count_bytes(relay_counted(r), 0, len);
	if ((r->flags & R_WANT_DRAIN) &&
	    evbuffer_get_length(r->bout) < BODY_OUT_LOW) {
		r->flags &= ~R_WANT_DRAIN;
		if (r->ops->drained != NULL)
			r->ops->drained(r, r->ops_arg);
	}
	return 0;
}

static void
http_end_stream(struct relay *r)
{
	r->ops->body(r, r->ops_arg);
}

static void
http_response(struct relay *r)
{
	if (r->info.status >= 200)	/* 1xx: the final one follows */
		r->ops->head(r, r->ops_arg);
}

static void
http_reset(struct relay *r)
{
	/* The owner forgets r: what it held is given back now. */
	r->ops = &detached_ops;
	if (r->bin != NULL)
		evbuffer_drain(r->bin, evbuffer_get_length(r->bin));
	if (r->unacked > 0) {
		nghttp2_session_consume_connection(h2conn_session(r->conn),
		    r->unacked);
		r->unacked = 0;
	}
}

static void
http_done(struct relay *r)
{
	r->ops->done(r, (r->flags & (R_CLOSED | R_RESET | R_H2_EOF |
	    R_BODY_EOF)) == (R_CLOSED | R_H2_EOF | R_BODY_EOF) &&
	    evbuffer_get_length(r->bout) == 0, r->ops_arg);
}

static const struct relay_mode http_mode = {
	.data = http_data,
	.send = http_send,
	.end_stream = http_end_stream,
	.response = http_response,
	.reset = http_reset,
	.done = http_done,
};

/* nghttp2's data provider for the body to send. */
static ssize_t
body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *data_flags, nghttp2_data_source *src, void *arg)
{
	struct relay *r = src->ptr;

	return relay_provide(r, evbuffer_get_length(r->bout),
	    (r->flags & R_BODY_EOF) != 0, len, data_flags);
}

/* HTTP mode starts only with both buffers: callers rely on them. */
static int
http_buffers(struct relay *r, const struct relay_http_ops *ops, void *arg)
{
	r->bin = evbuffer_new();
	r->bout = evbuffer_new();
	if (r->bin == NULL || r->bout == NULL)
		return -ENOMEM;
	r->mode = &http_mode;
	r->ops = ops;
	r->ops_arg = arg;
	r->flags |= R_OPEN;
	return 0;
}

int
relay_http_request(struct h2conn *c, const nghttp2_nv *nv, size_t n,
    bool body, const struct relay_http_ops *ops, void *arg,
    struct relay **out)
{
	struct relay *r = relay_alloc(c);
	nghttp2_data_provider prd;
	int32_t id;

	if (r == NULL)
		return -ENOMEM;
	if (http_buffers(r, ops, arg) != 0) {
		relay_free(r);
		return -ENOMEM;
	}
	prd.source.ptr = r;
	prd.read_callback = body_read;
	id = nghttp2_submit_request(h2conn_session(c), NULL, nv, n,
	    body ? &prd : NULL, r);
	if (id < 0) {
		r->mode = NULL;	/* no done: the caller hears the error */
		relay_free(r);
		return -EAGAIN;
	}
	r->id = id;
	if (!body)
		r->flags |= R_BODY_EOF;
	*out = r;
	h2conn_flush(c);
	return 0;
}

void
relay_http_rebind(struct relay *r, const struct relay_http_ops *ops,
    void *arg)
{
	r->ops = ops;
	r->ops_arg = arg;
}

int
relay_http_take(struct relay *r, const struct relay_http_ops *ops, void *arg)
{
	return http_buffers(r, ops, arg);
}

int
relay_http_respond(struct relay *r, int status, const nghttp2_nv *nv,
    size_t n, bool body)
{
	nghttp2_nv all[RELAY_HEADERS_COUNT + 1];
	nghttp2_data_provider prd;
	char code[8];

	if (n > RELAY_HEADERS_COUNT || status < 100 || status > 599)
		return -EINVAL;
	snprintf(code, sizeof(code), "%d", status);
	all[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)code, 7, 3,
	    NGHTTP2_NV_FLAG_NONE };
	if (n > 0)
		memcpy(all + 1, nv, n * sizeof(*nv));
	prd.source.ptr = r;
	prd.read_callback = body_read;
	if (!body)
		r->flags |= R_BODY_EOF;
	if (nghttp2_submit_response(h2conn_session(r->conn), r->id, all, n + 1,
	    body ? &prd : NULL) != 0)
		return -EIO;
	h2conn_flush(r->conn);
	return 0;
}

struct evbuffer *
relay_body_in(struct relay *r)
{
	return r->bin;
}

bool
relay_body_in_done(const struct relay *r)
{
	return (r->flags & R_H2_EOF) != 0;
}

void
relay_body_ack(struct relay *r, size_t n)
{
	if (n > r->unacked)
		n = r->unacked;
	if (n == 0)
		return;
	r->unacked -= n;
	nghttp2_session_consume(h2conn_session(r->conn), r->id, n);
	h2conn_flush(r->conn);
}

int
relay_body_write(struct relay *r, const void *data, size_t len)
{
	if (evbuffer_add(r->bout, data, len) != 0)
		return -ENOMEM;
	relay_resume(r);
	return 0;
}

void
relay_body_drop(struct relay *r, void *arg)
{
	struct evbuffer *in = relay_body_in(r);
	size_t n = evbuffer_get_length(in);

	(void)arg;
	evbuffer_drain(in, n);
	relay_body_ack(r, n);
}

void
relay_body_end(struct relay *r)
{
	r->flags |= R_BODY_EOF;
	relay_resume(r);
}

bool
relay_body_full(struct relay *r)
{
	if (evbuffer_get_length(r->bout) < BODY_OUT_HIGH)
		return false;
	r->flags |= R_WANT_DRAIN;
	return true;
}
