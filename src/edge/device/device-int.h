/*
 * What the HTTP device's files share (private to src/edge/device/): the
 * request being read and the rules it must pass (devreq.c), the request
 * as it goes on the tunnel (forward.c), the response's framing on its
 * way back to the device (response.c), and a store-and-forward request's
 * body, key and answers (sfwd.c). The connection (httpdev.c) uses them;
 * none of them knows the connection.
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
struct sfq;
struct sfq_req;
struct sfq_ticket;

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
/* The fields forward_request sends for the device's request, pseudo-fields
 * aside, appended to out (for the queue); -ENOMEM leaves out empty. */
int forward_fields(const struct forward *f, struct hdrs *out);

/*
 * Store and forward (docs/queue.md): a POST or PUT on a listener whose
 * mode for the service is on or always is read whole and kept here,
 * with an Idempotency-Key, before it is sent or queued.
 */
struct sfwd {
	int mode;			/* enum store_forward; SF_OFF: not one */
	struct evbuffer *body;		/* the whole body, as read */
	struct sfq_ticket *ticket;	/* being written to the queue */
	struct sfq *q;			/* whose sfq_hold ... */
	uint64_t held;			/* ... holds this much for body */
};

/* The mode of a request of method to service on lc: SF_ON or SF_ALWAYS
 * for a POST or PUT the queue (q, NULL when none) would take, else
 * SF_OFF. */
int sfwd_mode(struct sfq *q, const struct edge_listener_conf *lc,
    const char *service, const char *method);
/* s takes the request q (mode SF_ON or SF_ALWAYS) whose Content-Length
 * is length (0 when chunked or none): its key (the device's
 * Idempotency-Key, else a new one added to q's fields) and room for its
 * body, held in queue's memory bound (sfq_hold; who names the request
 * in its log). -E2BIG when the body is over max (queue_max_body),
 * -EINVAL for a device key that is not one non-empty quoted string,
 * -EMSGSIZE for a head the tunnel could not carry, -ENOBUFS when the
 * bodies held would go past queue_max_memory, -ENOMEM. */
int sfwd_begin(struct sfwd *s, struct sfq *queue, const struct sfq_req *who,
    int mode, struct devreq *q, uint64_t length, uint64_t max);
/* n more body bytes; -E2BIG past max, -ENOBUFS past queue_max_memory,
 * -ENOMEM. */
int sfwd_body(struct sfwd *s, const struct sfq_req *who, const char *at,
    size_t n, uint64_t max);
/* The whole body on r (a direct attempt), and its end; -ENOMEM. */
int sfwd_send(struct sfwd *s, struct relay *r);
/* The request f to the queue (sfq_submit): 0 with done due later, a
 * refusal (enum sfq_refusal) now, or -ENOMEM. */
int sfwd_submit(struct sfwd *s, struct sfq *q, const struct forward *f,
    const char *listener, void (*done)(void *arg, int rc), void *arg);
/* The body, what it held and the ticket go (a ticket due is forgotten:
 * the request is still written); s is ready for the next request. */
void sfwd_reset(struct sfwd *s);
/* Whether a direct attempt answered status goes to the queue instead of
 * the device: 502, 503, 504. */
bool sfwd_retryable(int status);
/* What a response head of service says of it (HTTP_STORE_FORWARD_FIELD,
 * HTTP_CONFIDENTIAL_FIELD), told to q; a refusal by the cloud itself
 * says nothing. */
void sfwd_learn(struct sfq *q, const char *service, const struct hdrs *h);
/* The device's answer once its request q is on disk: status (the
 * listener's store_forward_status), the key in a field and in a short
 * text body. Clears q->keepalive when the connection is to end. */
int sfwd_accepted(struct evbuffer *out, int status, struct devreq *q,
    int http_minor);
/* 503 with Retry-After (as long as q says): the queue did not take the
 * request rq, why a refusal (enum sfq_refusal) or -ENOMEM, said in the
 * body. */
int sfwd_refused(struct evbuffer *out, const struct sfq *q, int why,
    struct devreq *rq, int http_minor);

#endif
