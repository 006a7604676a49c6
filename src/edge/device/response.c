/*
 * A response's way back to an HTTP device as HTTP/1.1, from the tunnel or
 * the cache: the head without hop-by-hop and tunnel fields, with the
 * framing the request and Content-Length allow; the body as it is, or
 * re-chunked when it has no length.
 */
#include "edge/device/device-int.h"

#include <string.h>

#include "common/http1.h"

enum framing
response_head(struct evbuffer *out, int status, const struct hdrs *h,
    bool head_method, int http_minor, bool *keepalive)
{
	enum framing fr;
	size_t i;

	if (head_method || status == 204 || status == 304)
		fr = FR_NONE;
	else if (hdrs_get(h, "content-length") != NULL)
		fr = FR_LENGTH;
	else if (http_minor >= 1)
		fr = FR_CHUNKED;
	else {
		fr = FR_UNTIL_CLOSE;
		*keepalive = false;
	}
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status,
	    http_reason(status));
	for (i = 0; i < h->n; i++) {
		const struct hdr *f = &h->v[i];

		if (http_hop_by_hop(h, f->name) || strncmp(f->name,
		    HTTP_TUNNEL_PREFIX, sizeof(HTTP_TUNNEL_PREFIX) - 1) == 0)
			continue;
		evbuffer_add_printf(out, "%s: %s\r\n", f->name, f->value);
	}
	if (fr == FR_CHUNKED)
		evbuffer_add(out, "transfer-encoding: chunked\r\n", 28);
	if (!*keepalive)
		evbuffer_add(out, "connection: close\r\n", 19);
	else if (http_minor == 0)
		evbuffer_add(out, "connection: keep-alive\r\n", 24);
	evbuffer_add(out, "\r\n", 2);
	return fr;
}

void
response_body(struct evbuffer *out, enum framing fr, struct evbuffer *src,
    size_t n)
{
	if (fr == FR_CHUNKED)
		evbuffer_add_printf(out, "%zx\r\n", n);
	evbuffer_remove_buffer(src, out, n);
	if (fr == FR_CHUNKED)
		evbuffer_add(out, "\r\n", 2);
}

void
response_end(struct evbuffer *out, enum framing fr)
{
	if (fr == FR_CHUNKED)
		evbuffer_add(out, "0\r\n\r\n", 5);
}
