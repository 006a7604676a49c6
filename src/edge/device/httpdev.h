/*
 * HTTP mode at the edge: a device's connection is parsed with
 * http-parser, each request goes to the cloud as one HTTP/2 request on the
 * tunnel, and its response comes back to the device as HTTP/1.1.
 *
 * Requests are answered in order: a pipelined request is parsed only once
 * the one before it was answered. Bodies stream both ways with
 * backpressure (never held whole); chunked bodies are decoded from the
 * device and re-chunked to it when the response has no length. The limits
 * of the listener (max_header_size, max_headers, max_body,
 * request_timeout, idle_timeout) are answered with 431, 413 and 408; a
 * malformed request with 400; the tunnel down with 503 after
 * pending_timeout; a stream lost before its response with 502.
 */
#ifndef ISTHMUS_EDGE_DEVICE_HTTPDEV_H
#define ISTHMUS_EDGE_DEVICE_HTTPDEV_H

#include <stdbool.h>

#include <event2/bufferevent.h>

struct edge;
struct edge_listener;

/* Takes bev (a device connection) whose requests go to service (the
 * listener's, or its original destination's on a transparent one; it
 * lives as long as the configuration); mac: the device's certificate MAC,
 * or NULL. */
int httpdev_start(struct edge_listener *li, struct bufferevent *bev,
    const char *service, const char *device, const char *mac);
/* Draining (all, or li's when a reload removed it): idle connections
 * close now, the others after their answer. */
void httpdev_drain(struct edge *e, struct edge_listener *li);
/* After a reload: device-TLS connections whose certificate the
 * listener's new vendor CAs or mac_allow no longer admit are closed,
 * logged (device_revoked) and counted. */
void httpdev_recheck_tls(struct edge *e);
void httpdev_free_all(struct edge *e);
/* Whether an answer the edge gave itself (a queued request's 202) is
 * still on its way to its device: a draining edge waits for it. */
bool httpdev_answering(const struct edge *e);

/* The answers the edge gives itself, for counters. */
enum httpdev_error {
	HD_ERR_400, HD_ERR_408, HD_ERR_413, HD_ERR_431, HD_ERR_501,
	HD_ERR_502, HD_ERR_503, HD_ERR_505, HD_ERR_COUNT
};
int httpdev_error_status(enum httpdev_error e);

#endif
