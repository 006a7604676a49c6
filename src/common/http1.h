/*
 * HTTP/1.1 rules both gateways apply when a message crosses between a
 * device or backend connection (HTTP/1.1, parsed by http-parser) and the
 * tunnel (HTTP/2): which fields are hop-by-hop, which are ours, and the
 * short answers a gateway gives itself.
 */
#ifndef ISTHMUS_HTTP1_H
#define ISTHMUS_HTTP1_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>

#include "common/hdrs.h"
#include "common/proto.h"

/* The tunnel's own fields (HTTP_TUNNEL_PREFIX, HTTP_HOST_HEADER, ...)
 * and the identity fields for backends (HTTP_ID_*) are the wire
 * contract's. */

const char *http_reason(int status);
/* Connection-specific fields (RFC 9110 7.6.1), also any field the
 * message's Connection header names. */
bool http_hop_by_hop(const struct hdrs *h, const char *lname);
/* Fields that claim an identity: Forwarded, X-Forwarded-*, X-Real-IP,
 * X-Isthmus-*, and the tunnel's own isthmus-*, with '_' for any '-' too.
 * A device's are dropped. */
bool http_identity_field(const char *lname);
/* A field name: a token (RFC 9110 5.1), nothing else, not empty. */
bool http_name_ok(const char *v, size_t len);
/* A field value HTTP/2 carries (RFC 9113 8.2.1): no control characters
 * but tab, no space or tab at either end. */
bool http_value_ok(const char *v, size_t len);
/* A request target HTTP/2 carries: visible ASCII, not empty. */
bool http_target_ok(const char *v, size_t len);
/* Whether a Host value is a host and optional port, and nothing more. */
bool http_host_ok(const char *v, size_t len);
/* Methods a gateway may send again after a kept-alive connection failed
 * before any answer (RFC 9110 9.2.2, safe methods only). */
bool http_idempotent(const char *method);
/* A complete response a gateway makes itself: a one-line text body and
 * "connection: close" (the connection ends after it). */
int http_error_response(struct evbuffer *out, int status, const char *why);

#endif
