/*
 * What the tunnel's HTTP/2 files share, private to them (libevent's
 * *-internal.h pattern): the session's and the stream's layouts, and the
 * calls between the layers. The public headers, h2conn.h and relay.h,
 * keep only what the edge and the cloud call.
 *
 * The layers, from the bottom; each calls only the ones below it:
 *   h2tls.c     the session's TLS I/O: bytes between the socket and
 *               nghttp2 (mem_recv/mem_send), h2conn_flush;
 *   relay.c     one stream: its life, its headers, and the CONNECT pipe
 *               to a TCP peer; it reads the session through the inline
 *               accessors below;
 *   relayhttp.c a stream in HTTP mode, which relay.c reaches only
 *               through the relay_mode table that relayhttp.c sets;
 *   h2conn.c    the session: nghttp2's callbacks, which hand each
 *               stream's frames to relay.c, and the session's life.
 */
#ifndef ISTHMUS_H2CONN_INT_H
#define ISTHMUS_H2CONN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "common/h2conn.h"
#include "common/hdrs.h"
#include "common/relay.h"
#include "common/stat.h"

struct relay_link {
	struct relay *r;
	struct relay_link *next;
};

struct h2conn {
	nghttp2_session *session;
	/* The TLS bufferevent did the handshake; it stays, disabled, as the
	 * owner of the socket and the SSL, and is freed with us. After the
	 * handshake we do the TLS I/O ourselves (h2tls.c). */
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
	struct relay_link *relays;	/* linked and unlinked by relay.c */
	struct h2conn_stats stats;
	bool got_settings, settings_pending;
	bool started;		/* the first read ran */
	int64_t last_rx;	/* mono_us() of the last bytes read */
};

/* Inline: the streams ask for these on every DATA chunk. */
static inline nghttp2_session *
h2conn_session(struct h2conn *c)
{
	return c->session;
}

static inline struct event_base *
h2conn_base(struct h2conn *c)
{
	return bufferevent_get_base(c->bev);
}

static inline void
h2conn_count_bytes(struct h2conn *c, uint64_t in, uint64_t out)
{
	if (c == NULL)
		return;
	if (in > 0)
		STAT_ADD(c->stats.bytes_in, in);
	if (out > 0)
		STAT_ADD(c->stats.bytes_out, out);
}

/* h2tls.c: takes over the TLS I/O of c's bufferevent (c->bev, c->ssl
 * set) and asks for the first read from the loop. 0, -EINVAL (not a
 * TLS bufferevent) or -ENOMEM, with nothing of it left. */
int h2tls_start(struct h2conn *c);
void h2tls_free(struct h2conn *c);

enum {
	R_OPEN = 1u << 0,	/* 2xx sent/received: bytes flow */
	R_PEER_EOF = 1u << 1,	/* peer sent FIN: END_STREAM follows */
	R_H2_EOF = 1u << 2,	/* stream sent END_STREAM: FIN the peer */
	R_PEER_SHUT = 1u << 3,	/* shutdown(SHUT_WR) done */
	R_DEFERRED = 1u << 4,	/* data provider waits for peer bytes */
	R_CLOSED = 1u << 5,	/* the stream is gone */
	R_PENDING = 1u << 6,	/* server: the owner is connecting a peer */
	R_RESET = 1u << 7,	/* closed with an error code */
	R_BODY_EOF = 1u << 8,	/* HTTP mode: the owner ended its body */
	R_WANT_DRAIN = 1u << 9,	/* HTTP mode: tell the owner at low mark */
	R_CONTROL = 1u << 10,	/* the tunnel's own: not in the counters */
};

/*
 * How a stream in HTTP mode takes the session's events (relayhttp.c sets
 * it); a CONNECT pipe has none, and relay.c handles its events itself,
 * so the pipe's data path calls no pointer. A table rather than calls
 * because relayhttp.c is above relay.c.
 */
struct relay_mode {
	/* Stream data, already counted. */
	void (*data)(struct relay *r, const uint8_t *data, size_t len);
	/* Moves len body bytes to out (a DATA frame's payload); -1 when
	 * they are not there, for nghttp2's callback. */
	int (*send)(struct relay *r, struct evbuffer *out, size_t len);
	void (*end_stream)(struct relay *r);
	void (*response)(struct relay *r);
	/* relay_reset: the owner forgets r. */
	void (*reset)(struct relay *r);
	/* relay_free: the owner's done. */
	void (*done)(struct relay *r);
};

struct relay {
	struct h2conn *conn;
	int32_t id;
	struct bufferevent *peer;	/* writes, and owns the socket */
	struct event *rev;		/* reads: see peer_readable */
	bool want_read, paused;		/* reading allowed / input full */
	unsigned flags;
	/* Received stream data not yet given back to HTTP/2 (written to
	 * the peer, or held by the HTTP-mode owner). Whatever is left when
	 * the relay goes is given back to the connection's window, or the
	 * tunnel would slowly stop carrying anything. */
	size_t unacked;
	struct relay_info info;
	struct hdrs hdrs;	/* regular headers received */
	char *path;		/* :path received */
	relay_done_fn done;
	void *done_arg;
	/* HTTP mode (NULL: a CONNECT pipe) */
	const struct relay_mode *mode;
	const struct relay_http_ops *ops;
	void *ops_arg;
	struct evbuffer *bin, *bout;	/* body received / to send */
	/* Server: stream data that came while the owner connected the
	 * peer. Unacknowledged (in unacked), so the stream's window bounds
	 * it; written to the peer first once there is one. */
	struct evbuffer *early;
	/* relay_idle_timeout: the timer and when a byte last moved */
	struct event *idle_ev;
	uint64_t idle_ms;
	int64_t last_active;	/* mono_us */
};

/* The session whose payload counters r's bytes go to: NULL for a
 * control stream (relay_set_control). */
static inline struct h2conn *
relay_counted(const struct relay *r)
{
	return (r->flags & R_CONTROL) ? NULL : r->conn;
}

/* relay.c, for relayhttp.c: a new stream on c (linked, no id yet), and
 * the nudge that tells nghttp2 a deferred stream has bytes again. */
struct relay *relay_alloc(struct h2conn *c);
void relay_resume(struct relay *r);
/* The body of nghttp2's data provider for a stream whose next bytes,
 * have of them, wait in a buffer; eof: nothing follows them. The length
 * of the next DATA frame, or NGHTTP2_ERR_DEFERRED until relay_resume. */
ssize_t relay_provide(struct relay *r, size_t have, bool eof, size_t len,
    uint32_t *data_flags);

/* relay.c, for h2conn.c's nghttp2 callbacks. */
struct relay *relay_new_incoming(struct h2conn *c, int32_t stream_id);
void relay_header(struct relay *r, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen);
void relay_on_data(struct relay *r, const uint8_t *data, size_t len);
/* Moves len bytes of the peer's input to out: the payload of a DATA frame
 * whose header h2conn just wrote there. -1 for nghttp2's callback. */
int relay_send_data(struct relay *r, struct evbuffer *out, size_t len);
void relay_on_end_stream(struct relay *r);
void relay_on_response(struct relay *r);
void relay_on_close(struct relay *r, uint32_t error_code);
/* Frees r without touching the (dying) session. */
void relay_free(struct relay *r);

#endif
