/*
 * A device's request as an HTTP/2 request on the tunnel to the cloud:
 * the service is the authority, the device's Host, address and MAC
 * travel in isthmus- fields, hop-by-hop fields and identity claims stay
 * behind; a fill for the cache asks for the whole body. The same fields
 * go into the store-and-forward queue (forward_fields): a replay says
 * what the direct attempt would have said.
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

/* The fields we add besides the device's: isthmus-device, isthmus-host,
 * isthmus-device-mac. */
#define FORWARD_OWN_FIELDS 3

/* Takes one field of the request (a non-zero return stops the walk and
 * is returned). */
typedef int (*field_fn)(const char *name, const char *value, size_t vlen,
    void *arg);

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

/* Every field the request carries on the tunnel but the pseudo-fields,
 * in the order sent: the device's Host and address travel in isthmus-
 * fields, hop-by-hop fields and identity claims stay behind. extra:
 * fields to add (a revalidation's validators), or NULL. The one list
 * both a live request and a queued one are made from. */
static int
forward_walk(const struct forward *f, enum submit kind,
    const struct hdrs *extra, field_fn fn, void *arg)
{
	const struct devreq *q = f->q;
	const char *host = hdrs_get(&q->req, "host");
	size_t i;
	int rc;

	if ((rc = fn(RELAY_DEVICE_HEADER, f->device, strlen(f->device),
	    arg)) != 0)
		return rc;
	if (host != NULL && (rc = fn(HTTP_HOST_HEADER, host, strlen(host),
	    arg)) != 0)
		return rc;
	if (f->mac[0] != '\0' && (rc = fn(HTTP_MAC_HEADER, f->mac,
	    strlen(f->mac), arg)) != 0)
		return rc;
	for (i = 0; i < q->req.n; i++) {
		const struct hdr *h = &q->req.v[i];

		if (http_hop_by_hop(&q->req, h->name) ||
		    http_identity_field(h->name) || strcmp(h->name,
		    "host") == 0 || strcmp(h->name, "expect") == 0 ||
		    fill_drops(kind, h->name))
			continue;
		if ((rc = fn(h->name, h->value, h->vlen, arg)) != 0)
			return rc;
	}
	for (i = 0; extra != NULL && i < extra->n; i++)
		if ((rc = fn(extra->v[i].name, extra->v[i].value,
		    extra->v[i].vlen, arg)) != 0)
			return rc;
	return 0;
}

struct nvs {
	nghttp2_nv *v;
	size_t n;
};

static int
add_nv(const char *name, const char *value, size_t vlen, void *arg)
{
	struct nvs *nv = arg;

	nv->v[nv->n++] = NV(name, value, vlen);
	return 0;
}

static int
add_hdr(const char *name, const char *value, size_t vlen, void *arg)
{
	return hdrs_add(arg, name, strlen(name), value, vlen);
}

int
forward_request(struct h2conn *h2, const struct forward *f, enum submit kind,
    const struct hdrs *extra, const struct relay_http_ops *ops, void *arg,
    struct relay **out)
{
	const struct devreq *q = f->q;
	const char *method = f->method;
	struct nvs nv = { NULL, 0 };
	int rc;

	/* Four pseudo-fields, ours, the device's and the extra ones. */
	nv.v = calloc(4 + FORWARD_OWN_FIELDS + q->req.n +
	    (extra != NULL ? extra->n : 0), sizeof(*nv.v));
	if (nv.v == NULL)
		return -ENOMEM;
	if (kind != SUBMIT_DEVICE)
		method = "GET";		/* a fill for a HEAD gets the body */
	nv.v[nv.n++] = NV(":method", method, strlen(method));
	nv.v[nv.n++] = NV(":scheme", "http", 4);
	nv.v[nv.n++] = NV(":authority", f->service, strlen(f->service));
	nv.v[nv.n++] = NV(":path", q->url, q->url_len);
	forward_walk(f, kind, extra, add_nv, &nv);	/* cannot fail */
	rc = relay_http_request(h2, nv.v, nv.n, q->has_body, ops, arg, out);
	free(nv.v);
	return rc;
}

int
forward_fields(const struct forward *f, struct hdrs *out)
{
	int rc = forward_walk(f, SUBMIT_DEVICE, NULL, add_hdr, out);

	if (rc != 0)
		hdrs_clear(out);
	return rc;
}
