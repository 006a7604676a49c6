/*
 * One tunnel stream (relay.h): its life, its headers, the session's
 * events for it, and the CONNECT pipe that moves its bytes to and from
 * one TCP peer. A stream in HTTP mode takes those events through its
 * relay_mode (relayhttp.c); see h2conn-int.h for the layers.
 */
#include "common/h2conn-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "common/timeval.h"

/* The most unsent bytes we hold from a peer before we stop reading it. */
#define PEER_IN_HIGH (64u * 1024)
/* Acknowledge stream data to HTTP/2 once the peer's socket took it down
 * to this much. */
#define PEER_OUT_LOW (16u * 1024)
/* Stream data shorter than this goes straight to an idle peer socket. */
#define PEER_WRITE_THROUGH 8192
/* The most written to a peer's socket in one call. */
#define PEER_OUT_MAX (256u * 1024)
const struct relay_info *
relay_info(const struct relay *r)
{
	return &r->info;
}

const struct hdrs *
relay_hdrs(const struct relay *r)
{
	return &r->hdrs;
}

const char *
relay_path(const struct relay *r)
{
	return r->path;
}

/* A byte (or an end) moved either way: the idle timer measures from the
 * last one. A clock read, no timer reset: this runs for every chunk. */
static void
touch(struct relay *r)
{
	if (r->idle_ev != NULL)
		r->last_active = mono_us();
}

static void
peer_close(struct relay *r)
{
	if (r->rev != NULL)
		event_free(r->rev);
	r->rev = NULL;
	if (r->peer != NULL)
		bufferevent_free(r->peer);
	r->peer = NULL;
}

/* The read event is armed when reading is wanted and the input has room. */
static void
peer_reading(struct relay *r)
{
	if (r->rev == NULL)
		return;
	if (r->want_read && !r->paused)
		event_add(r->rev, NULL);
	else
		event_del(r->rev);
}

static void
peer_want_read(struct relay *r, bool on)
{
	r->want_read = on;
	peer_reading(r);
}

/* The session's list of its streams, which h2conn_free ends. */
static void
conn_link(struct h2conn *c, struct relay *r)
{
	struct relay_link *l = malloc(sizeof(*l));

	if (l == NULL)
		abort();	/* 16 bytes; see relay_alloc for the error path */
	l->r = r;
	l->next = c->relays;
	c->relays = l;
	STAT_ADD(c->stats.streams_open, 1);
	STAT_ADD(c->stats.streams_opened, 1);
	if (c->cbs->stream != NULL)
		c->cbs->stream(c, true, c->arg);
}

static void
conn_unlink(struct h2conn *c, struct relay *r)
{
	struct relay_link **pp, *l;

	for (pp = &c->relays; (l = *pp) != NULL; pp = &l->next) {
		if (l->r == r) {
			*pp = l->next;
			free(l);
			if (r->flags & R_CONTROL)
				return;		/* uncounted already */
			STAT_SUB(c->stats.streams_open, 1);
			if (c->cbs->stream != NULL)
				c->cbs->stream(c, false, c->arg);
			return;
		}
	}
}

void
relay_free(struct relay *r)
{
	if (r->unacked > 0) {
		nghttp2_session_consume_connection(h2conn_session(r->conn),
		    r->unacked);
		r->unacked = 0;
		h2conn_flush(r->conn);
	}
	conn_unlink(r->conn, r);
	if (r->mode != NULL)
		r->mode->done(r);
	else if (r->done != NULL)
		r->done(r, r->done_arg);
	peer_close(r);
	if (r->idle_ev != NULL)
		event_free(r->idle_ev);
	if (r->early != NULL)
		evbuffer_free(r->early);
	hdrs_free(&r->hdrs);
	free(r->path);
	if (r->bin != NULL)
		evbuffer_free(r->bin);
	if (r->bout != NULL)
		evbuffer_free(r->bout);
	free(r);
}

static void
peer_shutdown_if_done(struct relay *r)
{
	if ((r->flags & R_H2_EOF) && !(r->flags & R_PEER_SHUT) &&
	    r->peer != NULL &&
	    evbuffer_get_length(bufferevent_get_output(r->peer)) == 0) {
		shutdown(bufferevent_getfd(r->peer), SHUT_WR);
		r->flags |= R_PEER_SHUT;
	}
}

/* The stream is gone and the peer's output is flushed: free it all. */
static void
maybe_finish(struct relay *r)
{
	if (!(r->flags & R_CLOSED) || (r->flags & R_PENDING))
		return;
	if (r->peer != NULL &&
	    evbuffer_get_length(bufferevent_get_output(r->peer)) > 0 &&
	    !(r->flags & R_PEER_SHUT))
		return;		/* let the last bytes reach the peer */
	relay_free(r);
}

/*
 * The bytes stay where they are (the peer's input, the HTTP body to
 * send): relay_send_data moves them to the TLS output (NO_COPY), chains
 * rather than copies.
 */
ssize_t
relay_provide(struct relay *r, size_t have, bool eof, size_t len,
    uint32_t *data_flags)
{
	size_t n = have < len ? have : len;

	if (n > 0)
		*data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (n == have && eof) {
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
		return (ssize_t)n;
	}
	if (n == 0) {
		r->flags |= R_DEFERRED;
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

static ssize_t
provider_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *data_flags, nghttp2_data_source *src, void *arg)
{
	struct relay *r = src->ptr;

	(void)s;
	(void)id;
	(void)arg;
	(void)buf;
	if (r->peer == NULL || !(r->flags & R_OPEN)) {
		r->flags |= R_DEFERRED;
		return NGHTTP2_ERR_DEFERRED;
	}
	return relay_provide(r, evbuffer_get_length(bufferevent_get_input(
	    r->peer)), (r->flags & R_PEER_EOF) != 0, len, data_flags);
}

int
relay_send_data(struct relay *r, struct evbuffer *out, size_t len)
{
	touch(r);
	if (r->mode != NULL)
		return r->mode->send(r, out, len);
	if (r->peer == NULL || evbuffer_remove_buffer(bufferevent_get_input(
	    r->peer), out, len) != (int)len)
		return -1;
	h2conn_count_bytes(relay_counted(r), 0, len);
	if (r->paused) {	/* the input has room again */
		r->paused = false;
		peer_reading(r);
	}
	return 0;
}

void
relay_resume(struct relay *r)
{
	if (r->flags & R_DEFERRED) {
		r->flags &= ~R_DEFERRED;
		nghttp2_session_resume_data(h2conn_session(r->conn), r->id);
	}
	h2conn_flush(r->conn);
}

static void peer_eof(struct relay *r);

/*
 * The peer's socket is read here, not by its bufferevent: libevent 2.1
 * reads at most 4 KB per loop turn (EVBUFFER_MAX_READ), with a FIONREAD
 * first, which made 4 KB DATA frames and TLS records and an ACK to the
 * peer per 4 KB. One readv takes what the input has room for (up to
 * PEER_IN_HIGH); a full input pauses reading until the stream took some.
 */
static void
peer_readable(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	struct evbuffer *in = bufferevent_get_input(r->peer);
	size_t have = evbuffer_get_length(in), want, left;
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	ssize_t got;
	int i, n;

	(void)what;
	if (have >= PEER_IN_HIGH) {
		r->paused = true;
		peer_reading(r);
		return;
	}
	want = PEER_IN_HIGH - have;
	/* The bufferevent keeps its input's end frozen: this read is ours. */
	evbuffer_unfreeze(in, 0);
	n = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
	for (i = 0, left = want; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len < left ? v[i].iov_len : left;
		left -= iov[i].iov_len;
	}
	got = n > 0 ? readv(fd, iov, n) : -1;
	if (got > 0) {
		for (i = 0, left = (size_t)got; i < n; i++) {
			v[i].iov_len = iov[i].iov_len < left ?
			    iov[i].iov_len : left;
			left -= v[i].iov_len;
		}
		evbuffer_commit_space(in, v, n);
	}
	evbuffer_freeze(in, 0);
	if (got > 0)
		relay_resume(r);
	else if (got == 0)
		peer_eof(r);
	else if (n <= 0 || (errno != EAGAIN && errno != EINTR))
		relay_abort(r);
}

static void
peer_write(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;
	size_t pending = evbuffer_get_length(bufferevent_get_output(bev));

	touch(r);
	/* What left the output buffer reached the peer's socket: give that
	 * much window back to the stream. */
	if (r->unacked > pending && !(r->flags & R_CLOSED)) {
		nghttp2_session_consume(h2conn_session(r->conn), r->id,
		    r->unacked - pending);
		r->unacked = pending;
		h2conn_flush(r->conn);
	}
	peer_shutdown_if_done(r);
	maybe_finish(r);
}

static void
peer_event(struct bufferevent *bev, short what, void *arg)
{
	struct relay *r = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		relay_abort(r);		/* a write failed */
}

/* The peer sent FIN. */
static void
peer_eof(struct relay *r)
{
	r->flags |= R_PEER_EOF;
	touch(r);
	peer_want_read(r, false);
	if (r->flags & R_CLOSED) {
		maybe_finish(r);
		return;
	}
	/* Remaining bytes and END_STREAM go out via the provider. */
	r->flags |= R_DEFERRED;
	relay_resume(r);
}

static int
attach_peer(struct relay *r, struct bufferevent *peer)
{
	r->peer = peer;
	/* libevent writes 16 KB per event by default: one syscall and one
	 * loop turn per 16 KB. Let a turn move what the buffer holds. */
	bufferevent_set_max_single_write(peer, PEER_OUT_MAX);
	bufferevent_setwatermark(peer, EV_WRITE, PEER_OUT_LOW, 0);
	bufferevent_setcb(peer, NULL, peer_write, peer_event, r);
	bufferevent_disable(peer, EV_READ);
	r->rev = event_new(bufferevent_get_base(peer), bufferevent_getfd(peer),
	    EV_READ | EV_PERSIST, peer_readable, r);
	return r->rev != NULL ? 0 : -ENOMEM;
}

struct relay *
relay_alloc(struct h2conn *c)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r != NULL) {
		r->conn = c;
		conn_link(c, r);
	}
	return r;
}

struct relay *
relay_new_incoming(struct h2conn *c, int32_t stream_id)
{
	struct relay *r = relay_alloc(c);

	if (r != NULL)
		r->id = stream_id;
	return r;
}

int
relay_open(struct h2conn *c, struct bufferevent *peer, const char *service,
    const char *device, relay_done_fn done, void *arg, struct relay **out)
{
	nghttp2_session *s = h2conn_session(c);
	struct relay *r;
	nghttp2_data_provider prd;
	int32_t id;

	r = relay_alloc(c);
	if (r == NULL)
		return -ENOMEM;
	snprintf(r->info.method, sizeof(r->info.method), "CONNECT");
	snprintf(r->info.authority, sizeof(r->info.authority), "%s", service);
	snprintf(r->info.device, sizeof(r->info.device), "%s", device);
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)r->info.method, 7, 7,
		    NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)":authority", (uint8_t *)r->info.authority, 10,
		    strlen(r->info.authority), NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)RELAY_DEVICE_HEADER, (uint8_t *)r->info.device,
		    sizeof(RELAY_DEVICE_HEADER) - 1, strlen(r->info.device),
		    NGHTTP2_NV_FLAG_NONE },
	};
	prd.source.ptr = r;
	prd.read_callback = provider_read;
	id = nghttp2_submit_request(s, NULL, nv, sizeof(nv) / sizeof(nv[0]),
	    &prd, r);
	if (id < 0) {
		conn_unlink(c, r);
		free(r);
		return -EAGAIN;
	}
	r->id = id;
	r->done = done;
	r->done_arg = arg;
	*out = r;
	if (attach_peer(r, peer) != 0) {
		relay_abort(r);		/* the stream ends; peer is ours */
		return 0;
	}
	/* Device bytes wait in the kernel until the cloud says 2xx. */
	bufferevent_enable(peer, EV_WRITE);
	h2conn_flush(c);
	return 0;
}

void
relay_on_response(struct relay *r)
{
	if (r->mode != NULL) {
		r->mode->response(r);
		return;
	}
	if (r->info.status >= 200 && r->info.status < 300) {
		r->flags |= R_OPEN;
		peer_want_read(r, true);
		r->flags |= R_DEFERRED;
		nghttp2_session_resume_data(h2conn_session(r->conn), r->id);
		return;
	}
	/* Refused: our side of the stream ends too, and the device's
	 * connection with it. */
	nghttp2_submit_rst_stream(h2conn_session(r->conn), NGHTTP2_FLAG_NONE,
	    r->id, NGHTTP2_CANCEL);
}

void
relay_pending(struct relay *r, relay_done_fn done, void *arg)
{
	r->flags |= R_PENDING;
	r->done = done;
	r->done_arg = arg;
}

int
relay_accept(struct relay *r, struct bufferevent *peer)
{
	nghttp2_nv nv[] = {
		{ (uint8_t *)":status", (uint8_t *)"200", 7, 3,
		    NGHTTP2_NV_FLAG_NONE },
	};
	nghttp2_data_provider prd;

	r->flags &= ~R_PENDING;
	if (r->flags & R_CLOSED) {
		/* The edge gave up while we connected. */
		r->peer = peer;
		relay_free(r);
		return -ECONNRESET;
	}
	r->flags |= R_OPEN;
	prd.source.ptr = r;
	prd.read_callback = provider_read;
	/* What the edge sent before this answer goes first (after what the
	 * owner wrote, a PROXY header); peer_write acknowledges it. */
	if (attach_peer(r, peer) != 0 || nghttp2_submit_response(
	    h2conn_session(r->conn), r->id, nv, 1, &prd) != 0 ||
	    (r->early != NULL && bufferevent_write_buffer(peer,
	    r->early) != 0)) {
		relay_abort(r);
		return -EIO;
	}
	bufferevent_enable(peer, EV_WRITE);
	peer_want_read(r, true);
	peer_shutdown_if_done(r);
	h2conn_flush(r->conn);
	return 0;
}

void
relay_refuse(struct relay *r, int status, const char *reason)
{
	char code[8];
	nghttp2_nv nv[] = {
		{ (uint8_t *)":status", (uint8_t *)code, 7, 3,
		    NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)HTTP_REFUSED_FIELD, (uint8_t *)(uintptr_t)reason,
		    sizeof(HTTP_REFUSED_FIELD) - 1, strlen(reason),
		    NGHTTP2_NV_FLAG_NONE },
		/* an HTTP request's answer has no body */
		{ (uint8_t *)"content-length", (uint8_t *)"0", 14, 1,
		    NGHTTP2_NV_FLAG_NONE },
	};

	r->flags &= ~R_PENDING;
	if (r->flags & R_CLOSED) {
		relay_free(r);
		return;
	}
	if (r->early != NULL && r->unacked > 0) {
		/* Bytes for a peer there will not be: window back. */
		evbuffer_drain(r->early, evbuffer_get_length(r->early));
		nghttp2_session_consume(h2conn_session(r->conn), r->id,
		    r->unacked);
		r->unacked = 0;
	}
	if (status < 100 || status > 599)
		status = 500;
	snprintf(code, sizeof(code), "%d", status);
	r->flags |= R_BODY_EOF;
	nghttp2_submit_response(h2conn_session(r->conn), r->id, nv,
	    strcmp(r->info.method, "CONNECT") == 0 ? 2 : 3, NULL);
	h2conn_flush(r->conn);
}

void
relay_set_control(struct relay *r)
{
	struct h2conn *c = r->conn;

	if (r->flags & R_CONTROL)
		return;
	r->flags |= R_CONTROL;
	STAT_SUB(c->stats.streams_open, 1);
	STAT_SUB(c->stats.streams_opened, 1);
	if (c->cbs->stream != NULL)	/* as if it had ended */
		c->cbs->stream(c, false, c->arg);
}

void
relay_abort(struct relay *r)
{
	relay_reset(r, NGHTTP2_CANCEL);
}

void
relay_reset(struct relay *r, uint32_t code)
{
	peer_close(r);
	r->flags |= R_RESET;
	if (r->mode != NULL)
		r->mode->reset(r);
	if (r->flags & R_CLOSED) {
		relay_free(r);
		return;
	}
	nghttp2_submit_rst_stream(h2conn_session(r->conn), NGHTTP2_FLAG_NONE,
	    r->id, code);
	h2conn_flush(r->conn);
}

static void
idle_arm(struct relay *r, uint64_t ms)
{
	struct timeval tv;

	tv_ms(&tv, ms);
	evtimer_add(r->idle_ev, &tv);
}

/* Due once per idle_ms: ends the stream if nothing moved since the last
 * byte that long ago, else waits for the rest of the period. */
static void
idle_fired(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	uint64_t idle = (uint64_t)(mono_us() - r->last_active) / 1000;

	(void)fd;
	(void)what;
	if (idle < r->idle_ms) {
		idle_arm(r, r->idle_ms - idle);
		return;
	}
	r->info.idle = true;
	relay_abort(r);
}

int
relay_idle_timeout(struct relay *r, uint64_t ms)
{
	if (ms == 0 || r->idle_ev != NULL)
		return 0;
	r->idle_ev = evtimer_new(h2conn_base(r->conn), idle_fired, r);
	if (r->idle_ev == NULL)
		return -ENOMEM;
	r->idle_ms = ms;
	r->last_active = mono_us();
	idle_arm(r, ms);
	return 0;
}

void
relay_header(struct relay *r, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen)
{
	char *dst = NULL;
	size_t cap = 0;

	if (nlen == 7 && memcmp(name, ":status", 7) == 0)
		hdrs_clear(&r->hdrs);	/* a new response head (after 1xx) */
	if (r->hdrs.bytes + nlen + vlen > RELAY_HEADERS_MAX ||
	    r->hdrs.n >= RELAY_HEADERS_COUNT) {
		r->info.bad_headers = true;
		return;
	}
	if (nlen > 0 && name[0] != ':') {
		if (hdrs_add(&r->hdrs, (const char *)name, nlen,
		    (const char *)value, vlen) != 0)
			r->info.bad_headers = true;
		/* the device's address also goes to info, below */
	} else if (nlen == 5 && memcmp(name, ":path", 5) == 0) {
		free(r->path);
		r->path = strndup((const char *)value, vlen);
		if (r->path == NULL)
			r->info.bad_headers = true;
		r->hdrs.bytes += vlen;
		return;
	}
	if (nlen == 7 && memcmp(name, ":method", 7) == 0) {
		dst = r->info.method;
		cap = sizeof(r->info.method);
	} else if (nlen == 10 && memcmp(name, ":authority", 10) == 0) {
		dst = r->info.authority;
		cap = sizeof(r->info.authority);
	} else if (nlen == sizeof(RELAY_DEVICE_HEADER) - 1 &&
	    memcmp(name, RELAY_DEVICE_HEADER, nlen) == 0) {
		dst = r->info.device;
		cap = sizeof(r->info.device);
	} else if (nlen == 7 && memcmp(name, ":status", 7) == 0 && vlen == 3) {
		r->info.status = (value[0] - '0') * 100 + (value[1] - '0') * 10 +
		    (value[2] - '0');
		return;
	}
	if (dst == NULL)
		return;
	if (vlen >= cap)
		vlen = cap - 1;	/* over-long: the lookup will fail cleanly */
	memcpy(dst, value, vlen);
	dst[vlen] = '\0';
}

/* Holds stream data that came before the peer; unacknowledged, so at most
 * the stream's receive window of it. */
static int
early_add(struct relay *r, const uint8_t *data, size_t len)
{
	if (r->early == NULL && (r->early = evbuffer_new()) == NULL)
		return -ENOMEM;
	if (evbuffer_add(r->early, data, len) != 0)
		return -ENOMEM;
	r->unacked += len;
	return 0;
}

void
relay_on_data(struct relay *r, const uint8_t *data, size_t len)
{
	nghttp2_session *s = h2conn_session(r->conn);

	touch(r);
	h2conn_count_bytes(relay_counted(r), len, 0);
	if (r->mode != NULL) {
		r->mode->data(r, data, len);
		return;
	}
	if (r->flags & R_PENDING) {
		/* The edge did not wait for our 200: the bytes wait for the
		 * peer, or the stream ends (never a silent drop). */
		if (early_add(r, data, len) != 0) {
			nghttp2_session_consume(s, r->id, len);
			r->flags |= R_RESET;
			nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, r->id,
			    NGHTTP2_INTERNAL_ERROR);
		}
		return;
	}
	if (r->peer == NULL || !(r->flags & R_OPEN) ||
	    (r->flags & R_PEER_SHUT)) {
		/* Nowhere to put it (refused, reset, or after our FIN):
		 * drop it but keep the connection window open. */
		nghttp2_session_consume(s, r->id, len);
		return;
	}
	if (len < PEER_WRITE_THROUGH &&
	    evbuffer_get_length(bufferevent_get_output(r->peer)) == 0) {
		/* A small message and nothing queued: write it now. Through
		 * the bufferevent it would cost two epoll_ctl calls and a
		 * loop turn before reaching the peer. */
		ssize_t n = write(bufferevent_getfd(r->peer), data, len);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			relay_abort(r);
			return;
		}
		if (n > 0) {
			nghttp2_session_consume(s, r->id, (size_t)n);
			data += n;
			len -= (size_t)n;
		}
		if (len == 0)
			return;
	}
	if (bufferevent_write(r->peer, data, len) != 0) {
		relay_abort(r);
		return;
	}
	r->unacked += len;
}

void
relay_on_end_stream(struct relay *r)
{
	r->flags |= R_H2_EOF;
	touch(r);
	if (r->mode != NULL) {
		r->mode->end_stream(r);
		return;
	}
	peer_shutdown_if_done(r);
}

void
relay_on_close(struct relay *r, uint32_t error_code)
{
	r->flags |= R_CLOSED;
	if (error_code != NGHTTP2_NO_ERROR) {
		r->flags |= R_RESET;
		peer_close(r);	/* reset: the peer gets no more bytes */
	}
	if (r->mode != NULL) {
		relay_free(r);	/* the owner holds what it still needs */
		return;
	}
	peer_want_read(r, false);
	maybe_finish(r);
}
