/*
 * HTTP mode at the cloud: a request stream from an edge goes to one of
 * its service's backends as HTTP/1.1, over a kept-alive connection when
 * the worker has one (backpool.h), and the backend's response streams
 * back on the stream. Bodies move both ways with backpressure, chunked
 * where the length is unknown. A backend that fails before answering
 * gets the request again on a fresh connection when that is safe (a
 * reused connection, no body sent); otherwise the edge gets 502, or 504
 * when no answer came within the service's response_timeout.
 *
 * With identity_headers, the backend learns who asked: Forwarded (RFC
 * 7239) with the device's address, X-Isthmus-Tenant and X-Isthmus-Edge
 * from the tunnel's certificate, X-Isthmus-Device-MAC when the device
 * presented a certificate to the edge. Such fields from the request are
 * removed first, whatever the setting.
 */
#ifndef ISTHMUS_CLOUD_HTTPFWD_H
#define ISTHMUS_CLOUD_HTTPFWD_H

#include "cloud/config.h"

struct tunnel;
struct relay;

void httpfwd_start(struct tunnel *t, struct relay *r,
    struct cloud_service *svc);

#endif
