/*
 * What the HTTP device's files share (private to src/edge/device/): the
 * request being read and the rules it must pass (devreq.c), the request
 * as it goes on the tunnel (forward.c), and the response's framing on
 * its way back to the device (response.c). The connection (httpdev.c)
 * uses them; none of them knows the connection.
 */
#ifndef ISTHMUS_EDGE_DEVICE_DEVICE_INT_H
#define ISTHMUS_EDGE_DEVICE_DEVICE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <http_parser.h>

#include "common/hdrs.h"
#include "edge/config.h"

struct h2conn;
struct relay;
struct relay_http_ops;

/* A device's request as it is read. */
struct devreq {
	struct hdrs req;
	char *url;
	size_t url_len;
	struct hdrs_reader rd;		/* the field being read */
	size_t head_bytes;
	uint64_t body_bytes;
	bool keepalive, head_method, has_body;
	int error;			/* the answer parsing stopped for */
	const char *why;
};

void devreq_init(struct devreq *q);
void devreq_reset(struct devreq *q);
void devreq_free(struct devreq *q);
/* The http-parser callbacks' share (devreq.c says what they return):
 * the target, a field's name and value, the head once whole (p says its
 * version, method and framing), and n more body bytes. */
int devreq_url(struct devreq *q, const struct edge_listener_conf *lc,
    const char *at, size_t n);
int devreq_field(struct devreq *q, const struct edge_listener_conf *lc,
    const char *at, size_t n);
int devreq_value(struct devreq *q, const struct edge_listener_conf *lc,
    const char *at, size_t n);
int devreq_head(struct devreq *q, const struct edge_listener_conf *lc,
    const http_parser *p);
int devreq_body(struct devreq *q, const struct edge_listener_conf *lc,
    size_t n);
void devreq_parse_error(struct devreq *q, enum http_errno err);

/* How a response's body goes to the device. */
enum framing { FR_NONE, FR_LENGTH, FR_CHUNKED, FR_UNTIL_CLOSE };

/* The response head, from the tunnel or the cache; its framing follows
 * from the request (head_method, http_minor) and Content-Length. Clears
 * *keepalive when the body ends with the connection. */
enum framing response_head(struct evbuffer *out, int status,
    const struct hdrs *h, bool head_method, int http_minor, bool *keepalive);
/* n bytes of body from src, as a chunk when chunked (not FR_NONE). */
void response_body(struct evbuffer *out, enum framing fr,
    struct evbuffer *src, size_t n);
/* The body's end: the last chunk when chunked. */
void response_end(struct evbuffer *out, enum framing fr);

/* What goes upstream: the device's request as it is, or a fill for the
 * cache (the whole body: no Range), or a fill that revalidates a stale
 * entry (the cache's validators instead of the device's conditions). */
enum submit { SUBMIT_DEVICE, SUBMIT_FILL, SUBMIT_REVALIDATE };

/* A request and who sends it. */
struct forward {
	const struct devreq *q;
	const char *method;		/* the device's */
	const char *service;		/* the authority */
	const char *device;		/* its address */
	const char *mac;		/* its certificate's MAC, or "" */
};

/* The request on h2 (relay_http_request's return); extra: fields to add
 * (a revalidation's validators), or NULL. */
int forward_request(struct h2conn *h2, const struct forward *f,
    enum submit kind, const struct hdrs *extra,
    const struct relay_http_ops *ops, void *arg, struct relay **out);

#endif
