#include "common/h2conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/relay.h"
#include "common/stat.h"
#include "common/timeval.h"

/* Stop producing frames while this much is queued for TLS; produce more
 * when the socket took it. Bounds memory per tunnel. */
#define H2_OUT_HIGH (256u * 1024)
/* Per-stream receive window: what a peer may send before we acknowledge
 * it, i.e. the most one stream can buffer towards a slow TCP peer. */
#define H2_STREAM_WINDOW (512 * 1024)
#define H2_CONN_WINDOW (16 * 1024 * 1024)
#define H2_MAX_STREAMS 10000
/* DATA frames up to this size (the peer's SETTINGS permitting): each
 * frame costs nghttp2 and us a round of callbacks, whatever its size. */
#define H2_MAX_FRAME (256 * 1024)
/* TLS: one read() takes up to this much (several records), and one loop
 * turn decrypts at most H2_TLS_TURN before letting other sockets run. */
#define H2_TLS_READ_BUF (64 * 1024)
#define H2_TLS_RECORD 16384
#define H2_TLS_WRITE_BUF (64 * 1024)
#define H2_TLS_TURN (512 * 1024)

struct relay_link {
	struct relay *r;
	struct relay_link *next;
};

struct h2conn {
	nghttp2_session *session;
	/* The TLS bufferevent did the handshake; it stays, disabled, as the
	 * owner of the socket and the SSL, and is freed with us. After the
	 * handshake we do the TLS I/O ourselves (see drain_tls, tls_write). */
	struct bufferevent *bev;
	SSL *ssl;
	struct event *rev;	/* persistent: the socket is readable */
	struct event *wev;	/* once: the socket takes writes again */
	struct event *more_ev;	/* TLS bytes left after a full turn */
	struct event *pump_ev;	/* frames to send, at the end of this turn */
	struct evbuffer *out;	/* frames not yet given to SSL_write */
	int wretry;		/* an SSL_write to repeat with this length */
	unsigned long tls_err;	/* what OpenSSL said when the session broke */
	bool server;
	bool closing;		/* the session is over */
	const char *why;
	/* The closed callback runs from its own event, never from inside
	 * nghttp2 or a bufferevent callback, so the owner may free c in it. */
	struct event *close_ev;
	const struct h2conn_cbs *cbs;
	void *arg;
	struct relay_link *relays;
	struct h2conn_stats stats;
	bool got_settings, settings_pending;
	bool started;		/* the first read ran */
	int64_t last_rx;	/* mono_us() of the last bytes read */
};

int64_t
h2conn_last_read(const struct h2conn *c)
{
	return c->last_rx;
}

nghttp2_session *
h2conn_session(struct h2conn *c)
{
	return c->session;
}

struct event_base *
h2conn_base(struct h2conn *c)
{
	return bufferevent_get_base(c->bev);
}

SSL *
h2conn_ssl(struct h2conn *c)
{
	return c->ssl;
}

unsigned long
h2conn_tls_error(const struct h2conn *c)
{
	return c->tls_err;
}

/* The counters are read from another thread (the cloud's status). */
void
h2conn_stats(const struct h2conn *c, struct h2conn_stats *st)
{
	st->bytes_in = STAT_GET(c->stats.bytes_in);
	st->bytes_out = STAT_GET(c->stats.bytes_out);
	st->streams_opened = STAT_GET(c->stats.streams_opened);
	st->streams_open = STAT_GET(c->stats.streams_open);
}

void
h2conn_count_bytes(struct h2conn *c, uint64_t in, uint64_t out)
{
	if (in > 0)
		STAT_ADD(c->stats.bytes_in, in);
	if (out > 0)
		STAT_ADD(c->stats.bytes_out, out);
}

void
h2conn_link(struct h2conn *c, struct relay *r)
{
	struct relay_link *l = malloc(sizeof(*l));

	if (l == NULL)
		abort();	/* 16 bytes; see relay.c for the error path */
	l->r = r;
	l->next = c->relays;
	c->relays = l;
	STAT_ADD(c->stats.streams_open, 1);
	STAT_ADD(c->stats.streams_opened, 1);
	if (c->cbs->stream != NULL)
		c->cbs->stream(c, true, c->arg);
}

void
h2conn_unlink(struct h2conn *c, struct relay *r)
{
	struct relay_link **pp, *l;

	for (pp = &c->relays; (l = *pp) != NULL; pp = &l->next) {
		if (l->r == r) {
			*pp = l->next;
			free(l);
			STAT_SUB(c->stats.streams_open, 1);
			if (c->cbs->stream != NULL)
				c->cbs->stream(c, false, c->arg);
			return;
		}
	}
}

static void
deliver_closed(evutil_socket_t fd, short what, void *arg)
{
	struct h2conn *c = arg;

	(void)fd;
	(void)what;
	c->cbs->closed(c, c->why, c->arg);
}

static void
conn_closed(struct h2conn *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = true;
	c->why = why;
	event_del(c->rev);
	event_del(c->wev);
	event_active(c->close_ev, EV_TIMEOUT, 0);
}

/* A broken TLS session: keep OpenSSL's reason for the owner. */
static void
tls_failed(struct h2conn *c, int err)
{
	unsigned long e = ERR_peek_last_error();

	if (c->tls_err == 0)
		c->tls_err = e;
	if (err == SSL_ERROR_ZERO_RETURN ||
	    (err == SSL_ERROR_SYSCALL && e == 0 && errno == 0) ||
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		conn_closed(c, "peer closed the connection");
	else
		conn_closed(c, "connection error");
}

/* Serialized frames to c->out, up to the high mark. Returns the bytes
 * added, or -1 when the session broke. */
static ssize_t
produce(struct h2conn *c)
{
	size_t before = evbuffer_get_length(c->out);

	while (evbuffer_get_length(c->out) < H2_OUT_HIGH) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->session, &data);

		if (n < 0) {
			conn_closed(c, nghttp2_strerror((int)n));
			return -1;
		}
		if (n == 0)
			break;
		if (evbuffer_add(c->out, data, (size_t)n) != 0) {
			conn_closed(c, "out of memory");
			return -1;
		}
	}
	return (ssize_t)(evbuffer_get_length(c->out) - before);
}

/*
 * c->out to the socket, one full TLS record (16 KB) per SSL_write where
 * the bytes allow: frames of every stream that spoke in this loop turn
 * share records, and records share write() calls (see buffer_writes).
 * Returns -1 when the session broke; leaves bytes in c->out or the BIO
 * (and wev armed) when the socket is full.
 */
static int
tls_write(struct h2conn *c)
{
	size_t len;

	while ((len = evbuffer_get_length(c->out)) > 0) {
		size_t n = c->wretry > 0 ? (size_t)c->wretry :
		    len < H2_TLS_RECORD ? len : H2_TLS_RECORD;
		unsigned char *p = evbuffer_pullup(c->out, (ev_ssize_t)n);
		int r, err;

		if (p == NULL) {
			conn_closed(c, "out of memory");
			return -1;
		}
		ERR_clear_error();
		errno = 0;
		r = SSL_write(c->ssl, p, (int)n);
		if (r > 0) {
			evbuffer_drain(c->out, (size_t)r);
			c->wretry = 0;
			continue;
		}
		err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
			/* OpenSSL wants the same call again later. */
			c->wretry = (int)n;
			if (err == SSL_ERROR_WANT_WRITE)
				event_add(c->wev, NULL);
			return 0;
		}
		tls_failed(c, err);
		return -1;
	}
	/* The records sit in the write BIO's buffer: one write() for all. */
	if (BIO_flush(SSL_get_wbio(c->ssl)) <= 0) {
		if (BIO_should_retry(SSL_get_wbio(c->ssl))) {
			event_add(c->wev, NULL);
			return 0;
		}
		c->tls_err = ERR_peek_last_error();
		conn_closed(c, "connection error");
		return -1;
	}
	return 0;
}

/* Frames out until the socket is full or nghttp2 has nothing more. */
static void
pump(struct h2conn *c)
{
	if (c->closing)
		return;
	for (;;) {
		ssize_t made = produce(c);

		if (made < 0 || tls_write(c) != 0)
			return;
		if (made == 0 || evbuffer_get_length(c->out) > 0)
			break;
	}
	if (!nghttp2_session_want_read(c->session) &&
	    !nghttp2_session_want_write(c->session) &&
	    evbuffer_get_length(c->out) == 0 &&
	    BIO_wpending(SSL_get_wbio(c->ssl)) == 0)
		conn_closed(c, "session finished");
}

static void
on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

/* Runs once the current loop turn has handled every ready socket, so one
 * record carries what many streams queued in that turn. */
void
h2conn_flush(struct h2conn *c)
{
	if (!c->closing)
		event_active(c->pump_ev, EV_WRITE, 0);
}

static int
feed(struct h2conn *c, const uint8_t *data, size_t len)
{
	while (!c->closing && len > 0) {
		ssize_t n = nghttp2_session_mem_recv(c->session, data, len);

		if (n < 0) {
			conn_closed(c, nghttp2_strerror((int)n));
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return c->closing ? -1 : 0;
}

/*
 * Reads and decrypts what the socket holds, with read-ahead so one read()
 * brings several records, and hands it to nghttp2. We stop only at
 * WANT_READ (socket and TLS buffer both empty, so no byte is stranded
 * where epoll cannot see it) or after H2_TLS_TURN bytes, when more_ev
 * brings us back next turn and other sockets get theirs meanwhile.
 */
static void
drain_tls(struct h2conn *c)
{
	uint8_t buf[16384];
	size_t turn = 0;
	int n, err;

	while (!c->closing) {
		if (turn >= H2_TLS_TURN) {
			event_active(c->more_ev, EV_READ, 0);
			return;
		}
		ERR_clear_error();
		errno = 0;
		n = SSL_read(c->ssl, buf, sizeof(buf));
		if (n > 0) {
			if (turn == 0)
				c->last_rx = mono_us();
			turn += (size_t)n;
			if (feed(c, buf, (size_t)n) != 0)
				return;
			continue;
		}
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			return;
		tls_failed(c, err);
		return;
	}
}

static void after_read(struct h2conn *c);

/* Bytes the handshake's bufferevent read past the handshake's end. */
static void
feed_early(struct h2conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len;

	while ((len = evbuffer_get_contiguous_space(in)) > 0) {
		if (feed(c, evbuffer_pullup(in, (ev_ssize_t)len), len) != 0)
			return;
		evbuffer_drain(in, len);
	}
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct h2conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->started) {
		c->started = true;
		feed_early(c);
	}
	drain_tls(c);
	after_read(c);
	if (c->wretry > 0 && !c->closing)
		h2conn_flush(c);	/* a write that waited on a read */
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void
after_read(struct h2conn *c)
{
	if (c->settings_pending && !c->closing) {
		c->settings_pending = false;
		if (c->cbs->settings != NULL)
			c->cbs->settings(c, c->arg);
	}
	h2conn_flush(c);
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
			c->cbs->pong(c, c->arg);
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

/*
 * Records go through a buffering BIO, so one write() carries up to
 * H2_TLS_WRITE_BUF of them: on loopback or a LAN the kernel's cost is per
 * call much more than per byte.
 */
static int
buffer_writes(SSL *ssl)
{
	BIO *sock = SSL_get_wbio(ssl), *buf = BIO_new(BIO_f_buffer());

	if (buf == NULL || BIO_set_write_buffer_size(buf,
	    H2_TLS_WRITE_BUF) <= 0 || !BIO_up_ref(sock)) {
		BIO_free(buf);
		return -ENOMEM;
	}
	/* The socket BIO is also the rbio: the chain holds its own
	 * reference, which SSL_set0_wbio's release of the old one leaves. */
	BIO_push(buf, sock);
	SSL_set0_wbio(ssl, buf);
	return 0;
}

static int
io_new(struct h2conn *c, struct event_base *base, evutil_socket_t fd)
{
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, c);
	c->wev = event_new(base, fd, EV_WRITE, on_writable, c);
	c->more_ev = event_new(base, -1, 0, on_readable, c);
	c->pump_ev = event_new(base, -1, 0, on_pump, c);
	c->close_ev = event_new(base, -1, 0, deliver_closed, c);
	c->out = evbuffer_new();
	if (c->rev == NULL || c->wev == NULL || c->more_ev == NULL ||
	    c->pump_ev == NULL || c->close_ev == NULL || c->out == NULL ||
	    event_add(c->rev, NULL) != 0)
		return -ENOMEM;
	return 0;
}

static void
io_free(struct h2conn *c)
{
	struct event **evs[] = { &c->rev, &c->wev, &c->more_ev, &c->pump_ev,
	    &c->close_ev };
	size_t i;

	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		if (*evs[i] != NULL)
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
	if (c->out != NULL)
		evbuffer_free(c->out);
	c->out = NULL;
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
	if (c->ssl == NULL || io_new(c, bufferevent_get_base(bev),
	    bufferevent_getfd(bev)) != 0 || buffer_writes(c->ssl) != 0) {
		rc = c->ssl == NULL ? -EINVAL : -ENOMEM;
		io_free(c);
		nghttp2_session_del(c->session);
		free(c);
		return rc;
	}
	/* Safe because drain_tls always reads until the TLS buffer is
	 * empty; the larger buffer lets one read() take several records. */
	SSL_set_default_read_buffer_len(c->ssl, H2_TLS_READ_BUF);
	SSL_set_read_ahead(c->ssl, 1);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv,
	    sizeof(iv) / sizeof(iv[0]));
	nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0,
	    H2_CONN_WINDOW);
	*out = c;
	/* The first read comes from the loop, never from in here: the owner
	 * sets up its side after we return, before any callback. */
	event_active(c->more_ev, EV_READ, 0);
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
	io_free(c);
	bufferevent_free(c->bev);	/* closes the socket, frees the SSL */
	free(c);
}

int
h2conn_ping(struct h2conn *c)
{
	int rc = nghttp2_submit_ping(c->session, NGHTTP2_FLAG_NONE, NULL);

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
