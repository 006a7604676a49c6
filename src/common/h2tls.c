/*
 * The TLS I/O of the tunnel's HTTP/2 session, done by us rather than by
 * libevent's TLS bufferevent (h2conn.h says why): bytes from SSL_read go
 * to nghttp2_session_mem_recv, frames from mem_send to SSL_write, and the
 * session's end reaches its owner from here. Below the streams: it knows
 * the session (h2conn-int.h), none of them.
 */
#include "common/h2conn-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/timeval.h"

/* Stop producing frames while this much is queued for TLS; produce more
 * when the socket took it. Bounds memory per tunnel. */
#define H2_OUT_HIGH (256u * 1024)
/* TLS: one read() takes up to this much (several records), and one loop
 * turn decrypts at most H2_TLS_TURN before letting other sockets run. */
#define H2_TLS_READ_BUF (64 * 1024)
#define H2_TLS_RECORD 16384
#define H2_TLS_WRITE_BUF (64 * 1024)
#define H2_TLS_TURN (512 * 1024)

int64_t
h2conn_last_read(const struct h2conn *c)
{
	return c->last_rx;
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

/* The session's events and frame buffer; the bufferevent stays. */
void
h2tls_free(struct h2conn *c)
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

int
h2tls_start(struct h2conn *c)
{
	if (c->ssl == NULL)
		return -EINVAL;
	if (io_new(c, bufferevent_get_base(c->bev),
	    bufferevent_getfd(c->bev)) != 0 || buffer_writes(c->ssl) != 0) {
		h2tls_free(c);
		return -ENOMEM;
	}
	/* Safe because drain_tls always reads until the TLS buffer is
	 * empty; the larger buffer lets one read() take several records. */
	SSL_set_default_read_buffer_len(c->ssl, H2_TLS_READ_BUF);
	SSL_set_read_ahead(c->ssl, 1);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	/* The first read comes from the loop, never from in here: the owner
	 * sets up its side after h2conn_new returns, before any callback. */
	event_active(c->more_ev, EV_READ, 0);
	return 0;
}
