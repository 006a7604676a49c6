/*
 * One tunnel stream piped to one TCP connection ("the peer": a device
 * socket at the edge, a backend socket at the cloud): relay.c; or, in HTTP
 * mode (below), carrying one HTTP exchange: relayhttp.c.
 *
 * Flow control: bytes from the stream are written to the peer and only
 * acknowledged to HTTP/2 (WINDOW_UPDATE) once the peer's socket took them;
 * bytes from the peer are read only while the stream can send (the peer's
 * input buffer has a high watermark, so a stalled stream stops reading).
 * Half-close is carried both ways: END_STREAM becomes shutdown(SHUT_WR) on
 * the peer after its output drained, and the peer's EOF becomes END_STREAM.
 */
#ifndef ISTHMUS_RELAY_H
#define ISTHMUS_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#include "common/h2conn.h"
#include "common/hdrs.h"
#include "common/proto.h"

#define RELAY_AUTHORITY_MAX 256
#define RELAY_DEVICE_MAX 64

/* RELAY_DEVICE_HEADER (the device's address) and HTTP_REFUSED_FIELD are
 * the wire contract's. */
/* The most header bytes (names and values) and fields a stream may carry;
 * past either, the stream is marked (relay_info.bad_headers). */
#define RELAY_HEADERS_MAX (64u * 1024)
#define RELAY_HEADERS_COUNT 256

struct relay_info {
	char method[16];
	char authority[RELAY_AUTHORITY_MAX];	/* the service name */
	char device[RELAY_DEVICE_MAX];
	int status;				/* client: response status */
	bool bad_headers;			/* over the limits above */
	bool idle;				/* ended by its idle timer */
};

struct relay;

/* Called once when the relay ends (stream closed, peer gone, tunnel down);
 * r is freed right after. */
typedef void (*relay_done_fn)(struct relay *r, void *arg);

/* Client (edge): opens a CONNECT stream for service, piping peer. Reads
 * from peer start once the cloud answered 2xx. */
int relay_open(struct h2conn *c, struct bufferevent *peer,
    const char *service, const char *device, relay_done_fn done, void *arg,
    struct relay **out);
/* Server (cloud): the owner is connecting a peer for r; done runs when r
 * ends, including when the tunnel dies first (then cancel the connect).
 * Stream data that comes meanwhile is kept for the peer, unacknowledged
 * (the stream's window bounds it). */
void relay_pending(struct relay *r, relay_done_fn done, void *arg);
/* Server: answers 200 and starts piping peer (r takes it), the data kept
 * while pending first, after what the owner already wrote to peer. Returns
 * -ECONNRESET when the stream ended meanwhile (r and peer are freed). */
int relay_accept(struct relay *r, struct bufferevent *peer);
/* Ends r (RST_STREAM and the peer closed, as relay_abort; relay_info's
 * idle says why in done) once no byte moved either way for ms; 0: never.
 * For CONNECT streams, from their start: waiting for the cloud's answer
 * or the backend counts, and so does a half-closed stream whose other
 * end never closes. */
int relay_idle_timeout(struct relay *r, uint64_t ms);
/* Server: answers status (403, 503, ...) with reason and ends the
 * stream. */
void relay_refuse(struct relay *r, int status, const char *reason);
/* Ends the stream at once (RST_STREAM) and closes the peer. In HTTP mode
 * the owner hears nothing more of r (no done). */
void relay_abort(struct relay *r);
/* relay_abort with the RST_STREAM error code given (REFUSED_STREAM tells
 * the peer nothing was done and it may try again). */
void relay_reset(struct relay *r, uint32_t code);

/* r is the tunnel's own (the management stream, docs/protocol.md 5), not
 * a device's: it and its bytes are left out of the session's counters
 * (h2conn_stats: streams open and opened, payload bytes), which status
 * and metrics show as the devices' traffic; the owner's stream callback
 * (h2conn_cbs.stream) hears it end now, and nothing more of it. */
void relay_set_control(struct relay *r);

const struct relay_info *relay_info(const struct relay *r);
/* The stream's regular headers as received (request at a server,
 * response at a client), and its :path (NULL for CONNECT). */
const struct hdrs *relay_hdrs(const struct relay *r);
const char *relay_path(const struct relay *r);

/*
 * HTTP mode: the stream carries one HTTP request and its response, and
 * the owner (the edge's device connection, the cloud's backend pool)
 * moves the bodies. Bodies are bounded both ways: received body bytes are
 * acknowledged to HTTP/2 only when the owner says they left its hands
 * (relay_body_ack), and the owner stops reading its socket while
 * relay_body_full says so, until drained runs.
 *
 * The callbacks run from inside the HTTP/2 session: they may move bytes
 * and arm events, but must leave other relay calls for later.
 */
struct relay_http_ops {
	/* Client: the final response's head is in relay_hdrs/status. */
	void (*head)(struct relay *r, void *arg);
	/* Body bytes arrived in relay_body_in, or the body ended
	 * (relay_body_in_done). */
	void (*body)(struct relay *r, void *arg);
	/* The body to send dropped below the mark: read more (NULL for
	 * an owner whose bodies are small, written at once). */
	void (*drained)(struct relay *r, void *arg);
	/* The stream is over; complete: both bodies went through whole.
	 * r is freed right after. */
	void (*done)(struct relay *r, bool complete, void *arg);
};

/* Client: submits a request (pseudo-headers and headers in nv); body
 * says whether a body follows (relay_body_write ... relay_body_end). */
int relay_http_request(struct h2conn *c, const nghttp2_nv *nv, size_t n,
    bool body, const struct relay_http_ops *ops, void *arg,
    struct relay **out);
/* Client: a new owner takes the stream (from inside its head callback,
 * before any body was delivered). */
void relay_http_rebind(struct relay *r, const struct relay_http_ops *ops,
    void *arg);
/* Server: the owner takes a request stream in HTTP mode; -ENOMEM leaves
 * r as it was (refuse it). */
int relay_http_take(struct relay *r, const struct relay_http_ops *ops,
    void *arg);
/* Server: the response head; body as for relay_http_request. */
int relay_http_respond(struct relay *r, int status, const nghttp2_nv *nv,
    size_t n, bool body);
struct evbuffer *relay_body_in(struct relay *r);
bool relay_body_in_done(const struct relay *r);
/* n received body bytes reached their destination: window back. */
void relay_body_ack(struct relay *r, size_t n);
/* A body callback (relay_http_ops.body) for an owner that wants only
 * the status: what arrived is dropped and acknowledged. */
void relay_body_drop(struct relay *r, void *arg);
int relay_body_write(struct relay *r, const void *data, size_t len);
void relay_body_end(struct relay *r);
/* Whether the body to send is over its mark (then drained will run). */
bool relay_body_full(struct relay *r);

#endif
