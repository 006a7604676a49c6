/*
 * A device's request as an HTTP/2 request on the tunnel to the cloud:
 * the service is the authority, the device's Host, address and MAC
 * travel in isthmus- fields, hop-by-hop fields and identity claims stay
 * behind; a fill for the cache asks for the whole body.
 */
#include "edge/device/device-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "common/http1.h"
#include "common/relay.h"

/* nghttp2 copies names and values; its nv type is just not const. */
#define NV(n, v, vl) ((nghttp2_nv){ (uint8_t *)(uintptr_t)(n), \
	(uint8_t *)(uintptr_t)(v), strlen(n), (vl), NGHTTP2_NV_FLAG_NONE })

/* What a fill for the cache leaves out of the device's request: Range
 * (it fetches the whole body), and for a revalidation the device's
 * conditions (the cache's validators go instead). */
static bool
fill_drops(enum submit kind, const char *name)
{
	if (kind == SUBMIT_DEVICE)
		return false;
	if (strcmp(name, "range") == 0 || strcmp(name, "if-range") == 0)
		return true;
	return kind == SUBMIT_REVALIDATE && strncmp(name, "if-", 3) == 0;
}

/* The request as an HTTP/2 request on the tunnel: the service is the
 * authority, the device's Host and address travel in isthmus- fields,
 * hop-by-hop fields and identity claims stay behind. extra: fields to
 * add (a revalidation's validators), or NULL. */
int
forward_request(struct h2conn *h2, const struct forward *f, enum submit kind,
    const struct hdrs *extra, const struct relay_http_ops *ops, void *arg,
    struct relay **out)
{
	const struct devreq *q = f->q;
	const char *method = f->method;
	const char *host = hdrs_get(&q->req, "host");
	nghttp2_nv *nv;
	size_t n = 0, i;
	int rc;

	nv = calloc(q->req.n + 8 + (extra != NULL ? extra->n : 0),
	    sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM;
	if (kind != SUBMIT_DEVICE)
		method = "GET";		/* a fill for a HEAD gets the body */
	nv[n++] = NV(":method", method, strlen(method));
	nv[n++] = NV(":scheme", "http", 4);
	nv[n++] = NV(":authority", f->service,
	    strlen(f->service));
	nv[n++] = NV(":path", q->url, q->url_len);
	nv[n++] = NV(RELAY_DEVICE_HEADER, f->device, strlen(f->device));
	if (host != NULL)
		nv[n++] = NV(HTTP_HOST_HEADER, host, strlen(host));
	if (f->mac[0] != '\0')
		nv[n++] = NV(HTTP_MAC_HEADER, f->mac, strlen(f->mac));
	for (i = 0; i < q->req.n; i++) {
		const struct hdr *h = &q->req.v[i];

		if (http_hop_by_hop(&q->req, h->name) ||
		    http_identity_field(h->name) || strcmp(h->name,
		    "host") == 0 || strcmp(h->name, "expect") == 0 ||
		    fill_drops(kind, h->name))
			continue;
		nv[n++] = NV(h->name, h->value, h->vlen);
	}
	for (i = 0; extra != NULL && i < extra->n; i++)
		nv[n++] = NV(extra->v[i].name, extra->v[i].value,
		    extra->v[i].vlen);
	rc = relay_http_request(h2, nv, n, q->has_body, ops, arg, out);
	free(nv);
	return rc;
}

