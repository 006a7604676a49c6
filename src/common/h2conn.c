/*
 * The tunnel's HTTP/2 session: nghttp2's callbacks, all registered in
 * h2conn_create, which hand each stream's frames to its relay (relay.c),
 * and the session's life. The TLS I/O under it is h2tls.c's; the layers
 * are drawn in h2conn-int.h.
 */
#include "common/h2conn-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "common/stat.h"
#include "common/timeval.h"

/* Per-stream receive window: what a peer may send before we acknowledge
 * it, i.e. the most one stream can buffer towards a slow TCP peer. */
#define H2_STREAM_WINDOW (512 * 1024)
#define H2_CONN_WINDOW (16 * 1024 * 1024)
#define H2_MAX_STREAMS 10000
/* DATA frames up to this size (the peer's SETTINGS permitting): each
 * frame costs nghttp2 and us a round of callbacks, whatever its size. */
#define H2_MAX_FRAME (256 * 1024)

/* The counters are read from another thread (the cloud's status). */
void
h2conn_stats(const struct h2conn *c, struct h2conn_stats *st)
{
	st->bytes_in = STAT_GET(c->stats.bytes_in);
	st->bytes_out = STAT_GET(c->stats.bytes_out);
	st->streams_opened = STAT_GET(c->stats.streams_opened);
	st->streams_open = STAT_GET(c->stats.streams_open);
}

static int
on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2conn *c = arg;
	struct relay *r;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat !=
	    NGHTTP2_HCAT_REQUEST)
		return 0;
	if (!c->server) {
		/* The edge never accepts a stream from the cloud. */
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id,
		    NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	r = relay_new_incoming(c, f->hd.stream_id);
	if (r == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, r);
	return 0;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
    size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct relay *r = nghttp2_session_get_stream_user_data(s,
	    f->hd.stream_id);

	(void)flags;
	(void)arg;
	if (r != NULL && f->hd.type == NGHTTP2_HEADERS)
		relay_header(r, name, nlen, value, vlen);
	return 0;
}

static int
on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2conn *c = arg;
	struct relay *r = nghttp2_session_get_stream_user_data(s,
	    f->hd.stream_id);

	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (r == NULL)
			break;
		if (c->server && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
			/* The owner learns at once whether a body follows. */
			if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
				relay_on_end_stream(r);
			c->cbs->request(c, r, c->arg);
			break;
		}
		if (!c->server && f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
			relay_on_response(r);
			if (c->cbs->response != NULL)
				c->cbs->response(c, r, relay_info(r)->status,
				    c->arg);
		}
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
			relay_on_end_stream(r);
		break;
	case NGHTTP2_DATA:
		if (r != NULL && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			relay_on_end_stream(r);
		break;
	case NGHTTP2_PING:
		if ((f->hd.flags & NGHTTP2_FLAG_ACK) && c->cbs->pong != NULL)
			c->cbs->pong(c, f->ping.opaque_data, c->arg);
		break;
	case NGHTTP2_SETTINGS:
		/* Reported from on_read, outside nghttp2's callbacks. */
		if (!(f->hd.flags & NGHTTP2_FLAG_ACK) && !c->got_settings)
			c->got_settings = c->settings_pending = true;
		break;
	default:
		break;
	}
	return 0;
}

static int
on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct relay *r = nghttp2_session_get_stream_user_data(s, id);

	(void)flags;
	(void)arg;
	if (r == NULL) {
		/* No one to deliver to: still give the window back. */
		nghttp2_session_consume(s, id, len);
		return 0;
	}
	relay_on_data(r, data, len);
	return 0;
}

/* How much payload the next DATA frame may carry: all that flow control
 * and the peer's frame size allow, not nghttp2's default 16 KB. */
static ssize_t
data_length(nghttp2_session *s, uint8_t type, int32_t id,
    int32_t session_window, int32_t stream_window, uint32_t max_frame,
    void *arg)
{
	ssize_t n = session_window < stream_window ? session_window :
	    stream_window;

	(void)s;
	(void)type;
	(void)id;
	(void)arg;
	if ((uint32_t)n > max_frame)
		n = (ssize_t)max_frame;
	return n;
}

/* A DATA frame whose payload the relay provides without a copy. */
static int
on_send_data(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd,
    size_t length, nghttp2_data_source *src, void *arg)
{
	struct h2conn *c = arg;

	(void)s;
	if (f->data.padlen > 0 || evbuffer_add(c->out, framehd, 9) != 0 ||
	    relay_send_data(src->ptr, c->out, length) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int
on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code,
    void *arg)
{
	struct relay *r = nghttp2_session_get_stream_user_data(s, id);

	(void)arg;
	if (r != NULL) {
		nghttp2_session_set_stream_user_data(s, id, NULL);
		relay_on_close(r, error_code);
	}
	return 0;
}

static int
h2conn_create(struct bufferevent *bev, bool server, uint32_t max_streams,
    const struct h2conn_cbs *cbs, void *arg, struct h2conn **out)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	struct h2conn *c;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_MAX_FRAME_SIZE, H2_MAX_FRAME },
	};
	int rc;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	if (nghttp2_session_callbacks_new(&cb) != 0) {
		free(c);
		return -ENOMEM;
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    on_stream_close);
	nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
	nghttp2_session_callbacks_set_data_source_read_length_callback(cb,
	    data_length);
	rc = nghttp2_option_new(&opt);
	if (rc == 0) {
		/* We acknowledge received data ourselves, once the TCP peer
		 * took it: that is the backpressure. */
		nghttp2_option_set_no_auto_window_update(opt, 1);
		rc = server ?
		    nghttp2_session_server_new2(&c->session, cb, c, opt) :
		    nghttp2_session_client_new2(&c->session, cb, c, opt);
		nghttp2_option_del(opt);
	}
	nghttp2_session_callbacks_del(cb);
	if (rc != 0) {
		free(c);
		return -ENOMEM;
	}
	c->bev = bev;
	c->ssl = bufferevent_openssl_get_ssl(bev);
	c->server = server;
	c->cbs = cbs;
	c->arg = arg;
	c->last_rx = mono_us();
	rc = h2tls_start(c);
	if (rc != 0) {
		nghttp2_session_del(c->session);
		free(c);
		return rc;
	}
	nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv,
	    sizeof(iv) / sizeof(iv[0]));
	nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0,
	    H2_CONN_WINDOW);
	*out = c;
	return 0;
}

int
h2conn_new(struct bufferevent *bev, bool server, const struct h2conn_cbs *cbs,
    void *arg, struct h2conn **out)
{
	return h2conn_create(bev, server, H2_MAX_STREAMS, cbs, arg, out);
}

int
h2conn_new_server(struct bufferevent *bev, uint32_t max_streams,
    const struct h2conn_cbs *cbs, void *arg, struct h2conn **out)
{
	return h2conn_create(bev, true, max_streams, cbs, arg, out);
}

void
h2conn_free(struct h2conn *c)
{
	if (c == NULL)
		return;
	while (c->relays != NULL)
		relay_free(c->relays->r);	/* unlinks itself */
	nghttp2_session_del(c->session);
	h2tls_free(c);
	bufferevent_free(c->bev);	/* closes the socket, frees the SSL */
	free(c);
}

int
h2conn_ping(struct h2conn *c)
{
	static const uint8_t zeros[8];

	return h2conn_ping_data(c, zeros);
}

int
h2conn_ping_data(struct h2conn *c, const uint8_t opaque[8])
{
	int rc = nghttp2_submit_ping(c->session, NGHTTP2_FLAG_NONE, opaque);

	h2conn_flush(c);
	return rc == 0 ? 0 : -ENOMEM;
}

void
h2conn_shutdown(struct h2conn *c)
{
	/* GOAWAY naming the last stream we took: those finish, no new one
	 * starts, and the session ends when they are done. */
	nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(c->session),
	    NGHTTP2_NO_ERROR, NULL, 0);
	h2conn_flush(c);
}
