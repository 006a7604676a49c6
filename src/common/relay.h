/*
 * One tunnel stream piped to one TCP connection ("the peer": a device
 * socket at the edge, a backend socket at the cloud).
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

#include "common/h2conn.h"

#define RELAY_AUTHORITY_MAX 256
#define RELAY_DEVICE_MAX 64

/* The request header that carries the device's address ("ip:port"). */
#define RELAY_DEVICE_HEADER "isthmus-device"

struct relay_info {
	char method[16];
	char authority[RELAY_AUTHORITY_MAX];	/* the service name */
	char device[RELAY_DEVICE_MAX];
	int status;				/* client: response status */
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
 * ends, including when the tunnel dies first (then cancel the connect). */
void relay_pending(struct relay *r, relay_done_fn done, void *arg);
/* Server: answers 200 and starts piping peer (r takes it). Returns
 * -ECONNRESET when the stream ended meanwhile (r and peer are freed). */
int relay_accept(struct relay *r, struct bufferevent *peer);
/* Server: answers status (403, 502, 503) and ends the stream. */
void relay_refuse(struct relay *r, int status);
/* Ends the stream at once (RST_STREAM) and closes the peer. */
void relay_abort(struct relay *r);

const struct relay_info *relay_info(const struct relay *r);

/* Internal, for h2conn.c's nghttp2 callbacks. */
struct relay *relay_new_incoming(struct h2conn *c, int32_t stream_id);
void relay_header(struct relay *r, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen);
void relay_on_data(struct relay *r, const uint8_t *data, size_t len);
/* Moves len bytes of the peer's input to out: the payload of a DATA frame
 * whose header h2conn just wrote there. */
int relay_send_data(struct relay *r, struct evbuffer *out, size_t len);
void relay_on_end_stream(struct relay *r);
void relay_on_response(struct relay *r);
void relay_on_close(struct relay *r, uint32_t error_code);
/* Frees r without touching the (dying) session. */
void relay_free(struct relay *r);

#endif
