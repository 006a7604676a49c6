/*
 * The tunnel's HTTP/2 session (nghttp2) on a TLS connection. nghttp2 is
 * used as an I/O-free state machine: bytes move between SSL_read/SSL_write
 * and nghttp2_session_mem_recv/mem_send, and every callback is registered
 * in one function (h2conn.c). The TLS I/O (h2tls.c) is ours, not
 * libevent's TLS bufferevent's: that one moves one 16 KB record per loop
 * turn and one record per write, where we read several records per read()
 * and pack the frames of every stream that spoke in a turn into full
 * records. Each HTTP/2 stream is a struct relay (relay.h) that pipes
 * bytes between the stream and one TCP connection, with flow control both
 * ways so memory stays bounded whatever either peer does.
 *
 * The edge is the client: only it opens streams (CONNECT). The cloud is the
 * server and never opens one; a server push or a stream from the wrong side
 * is a protocol error.
 */
#ifndef ISTHMUS_H2CONN_H
#define ISTHMUS_H2CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

struct h2conn;
struct relay;

struct h2conn_cbs {
	/* Server: a CONNECT request's headers are complete. The callee
	 * answers later with relay_accept()/relay_refuse(). */
	void (*request)(struct h2conn *c, struct relay *r, void *arg);
	/* Client: the response to r arrived (2xx: r now relays). Server
	 * sessions leave it NULL; clients never get request. */
	void (*response)(struct h2conn *c, struct relay *r, int status,
	    void *arg);
	/* The peer's first SETTINGS arrived: it speaks HTTP/2 to us. For a
	 * TLS 1.3 client this is the proof that the server accepted its
	 * certificate (a refusal comes as an alert after our Finished). */
	void (*settings)(struct h2conn *c, void *arg);
	/* A PING we sent was acknowledged; opaque is the PING's data (all
	 * zeros for h2conn_ping's), so that an owner sending PINGs for
	 * several purposes tells their answers apart. Runs from inside
	 * the session: take the time and return. */
	void (*pong)(struct h2conn *c, const uint8_t opaque[8], void *arg);
	/* Server: a stream of the peer's began (open) or ended; NULL for
	 * an owner that does not count them. */
	void (*stream)(struct h2conn *c, bool open, void *arg);
	/* The session is over (peer closed, protocol error, I/O error);
	 * why says which. The owner must h2conn_free(c) (not from inside
	 * this callback's caller: it is safe to call it here). */
	void (*closed)(struct h2conn *c, const char *why, void *arg);
};

struct h2conn_stats {
	uint64_t bytes_in, bytes_out;	/* payload (DATA) bytes */
	uint64_t streams_opened;
	unsigned streams_open;
};

/* Takes ownership of bev: a TLS bufferevent past its handshake. It stays
 * as the owner of the socket and the SSL; h2conn does the I/O itself. */
int h2conn_new(struct bufferevent *bev, bool server,
    const struct h2conn_cbs *cbs, void *arg, struct h2conn **out);
/* A server session that lets the peer open at most max_streams at once
 * (SETTINGS_MAX_CONCURRENT_STREAMS; nghttp2 refuses the ones past it). */
int h2conn_new_server(struct bufferevent *bev, uint32_t max_streams,
    const struct h2conn_cbs *cbs, void *arg, struct h2conn **out);
/* When bytes last came from the peer (mono_us), or when the session
 * began: a quiet tunnel is one to probe. */
int64_t h2conn_last_read(const struct h2conn *c);
/* Ends every stream (closing their TCP peers) and the session. */
void h2conn_free(struct h2conn *c);
/* Sends what nghttp2 has queued, as far as the TLS output allows. */
void h2conn_flush(struct h2conn *c);
/* A PING with all-zero data (the keepalive's). */
int h2conn_ping(struct h2conn *c);
/* A PING carrying opaque, which its answer echoes (pong). */
int h2conn_ping_data(struct h2conn *c, const uint8_t opaque[8]);
/* Graceful end: GOAWAY, no new streams; the session closes when the open
 * streams are done. */
void h2conn_shutdown(struct h2conn *c);
void h2conn_stats(const struct h2conn *c, struct h2conn_stats *st);
/* The session's TLS object (peer certificate, cipher). */
SSL *h2conn_ssl(struct h2conn *c);
/* OpenSSL's error when TLS broke the session (an alert from the peer,
 * say); 0 if it did not. */
unsigned long h2conn_tls_error(const struct h2conn *c);

#endif
