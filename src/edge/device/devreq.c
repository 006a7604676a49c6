/*
 * The rules a device's HTTP request must pass at the edge, checked as its
 * bytes arrive (so a device cannot make us hold more than
 * max_header_size of its head): the listener's limits, HTTP/1.x only, no
 * CONNECT or upgrade, a request target and Host we can carry, field names
 * and values HTTP/2 takes, and the chunked coding only. A request that
 * breaks one gets the status and reason in q->error and q->why, which the
 * connection (httpdev.c) answers with.
 *
 * The functions return what an http-parser callback returns: 0 goes on,
 * non-zero (-1, or the -errno of the header store) stops the parser.
 */
#include "edge/device/device-int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/http1.h"

void
devreq_init(struct devreq *q)
{
	hdrs_init(&q->req);
}

/* For the next request on the connection; keepalive stays. */
void
devreq_reset(struct devreq *q)
{
	hdrs_clear(&q->req);
	free(q->url);
	q->url = NULL;
	q->url_len = 0;
	hdrs_reader_reset(&q->rd);
	q->head_bytes = 0;
	q->body_bytes = 0;
	q->has_body = q->head_method = false;
	q->error = 0;
	q->why = NULL;
}

void
devreq_free(struct devreq *q)
{
	devreq_reset(q);
	hdrs_free(&q->req);
}

static int
head_bytes(struct devreq *q, const struct edge_listener_conf *lc,
    size_t n)
{
	q->head_bytes += n;
	if (q->head_bytes > lc->max_header_size) {
		q->error = 431;
		q->why = "request header too large";
		return -1;
	}
	return 0;
}

static int
too_many(struct devreq *q, int rc)
{
	if (rc == -E2BIG) {
		q->error = 431;
		q->why = "too many header fields";
	}
	return rc;
}

int
devreq_url(struct devreq *q, const struct edge_listener_conf *lc,
    const char *at, size_t n)
{
	if (head_bytes(q, lc, n) != 0)
		return -1;
	return str_append(&q->url, &q->url_len, at, n);
}

int
devreq_field(struct devreq *q, const struct edge_listener_conf *lc,
    const char *at, size_t n)
{
	if (head_bytes(q, lc, n) != 0)
		return -1;
	return too_many(q, hdrs_reader_field(&q->rd, &q->req,
	    (size_t)lc->max_headers, at, n));
}

int
devreq_value(struct devreq *q, const struct edge_listener_conf *lc,
    const char *at, size_t n)
{
	if (head_bytes(q, lc, n) != 0)
		return -1;
	return hdrs_reader_value(&q->rd, at, n);
}

/* The request target as a path, and the host an absolute form names:
 * 0, -EINVAL for a target we cannot carry, -ENOMEM. */
static int
split_target(struct devreq *q)
{
	struct http_parser_url u;
	const char *host;
	size_t hostlen;
	char *path;

	if (q->url_len == 0)
		return -EINVAL;
	if (q->url[0] == '/' || (q->url_len == 1 && q->url[0] == '*'))
		return 0;
	http_parser_url_init(&u);
	if (http_parser_parse_url(q->url, q->url_len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_HOST)))
		return -EINVAL;
	host = q->url + u.field_data[UF_HOST].off;
	hostlen = u.field_data[UF_HOST].len;
	if (u.field_set & (1 << UF_PORT))
		hostlen = (size_t)(u.field_data[UF_PORT].off +
		    u.field_data[UF_PORT].len - u.field_data[UF_HOST].off);
	if (u.field_set & (1 << UF_PATH)) {
		size_t off = u.field_data[UF_PATH].off;
		size_t end = q->url_len;

		if (u.field_set & (1 << UF_FRAGMENT))
			end = (size_t)u.field_data[UF_FRAGMENT].off - 1;
		path = strndup(q->url + off, end - off);
	} else
		path = strdup("/");
	if (path == NULL)
		return -ENOMEM;
	/* The absolute form's host replaces any Host field (RFC 9112
	 * 3.2.2); copied before the URL buffer goes. */
	hdrs_del(&q->req, "host");
	if (hdrs_add(&q->req, "host", 4, host, hostlen) != 0) {
		free(path);
		return -ENOMEM;
	}
	free(q->url);
	q->url = path;
	q->url_len = strlen(path);
	return 0;
}

static bool
names_ok(const struct devreq *q)
{
	size_t i;

	for (i = 0; i < q->req.n; i++)
		if (!http_name_ok(q->req.v[i].name, q->req.v[i].nlen))
			return false;
	return true;
}

static bool
values_ok(const struct devreq *q)
{
	size_t i;

	for (i = 0; i < q->req.n; i++)
		if (!http_value_ok(q->req.v[i].value, q->req.v[i].vlen))
			return false;
	return true;
}

/* At most one Host, and a host[:port] (RFC 9112 3.2): the cache's keys
 * and the backend's virtual hosts rely on it. */
static bool
host_ok(const struct devreq *q)
{
	size_t i, n = 0;

	for (i = 0; i < q->req.n; i++)
		if (strcmp(q->req.v[i].name, "host") == 0 && (n++ > 0 ||
		    (q->req.v[i].vlen > 0 && !http_host_ok(q->req.v[i].value,
		    q->req.v[i].vlen))))
			return false;
	return true;
}

int
devreq_head(struct devreq *q, const struct edge_listener_conf *lc,
    const http_parser *p)
{

	if (too_many(q, hdrs_reader_end(&q->rd, &q->req,
	    (size_t)lc->max_headers)) != 0)
		return -1;
	if (p->http_major != 1) {
		q->error = 505;
		q->why = "only HTTP/1.x is served here";
		return -1;
	}
	if (p->method == HTTP_CONNECT || p->upgrade) {
		q->error = 501;
		q->why = "CONNECT and protocol upgrades are not carried in "
		    "HTTP mode; use a TCP listener";
		return -1;
	}
	if (split_target(q) != 0 || !http_target_ok(q->url, q->url_len)) {
		q->error = 400;
		q->why = "bad request target";
		return -1;
	}
	if (!names_ok(q)) {
		/* http-parser takes "Name : v" as the field "Name "; HTTP/2
		 * would refuse it and the device would see a lost stream. */
		q->error = 400;
		q->why = "a header field name is not a token";
		return -1;
	}
	if (!values_ok(q)) {
		q->error = 400;
		q->why = "a header value has control characters";
		return -1;
	}
	if (!host_ok(q)) {
		q->error = 400;
		q->why = "bad Host (one host[:port] at most)";
		return -1;
	}
	if (hdrs_get(&q->req, "transfer-encoding") != NULL &&
	    strcasecmp(hdrs_get(&q->req, "transfer-encoding"),
	    "chunked") != 0) {
		q->error = 501;
		q->why = "only the chunked transfer coding is taken";
		return -1;
	}
	q->keepalive = http_should_keep_alive(p) != 0;
	q->head_method = p->method == HTTP_HEAD;
	q->has_body = (p->flags & F_CHUNKED) ||
	    (p->content_length > 0 && p->content_length != ULLONG_MAX);
	if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
	    p->content_length > lc->max_body) {
		q->error = 413;
		q->why = "request body too large";
		return -1;
	}
	return 0;
}

int
devreq_body(struct devreq *q, const struct edge_listener_conf *lc, size_t n)
{
	q->body_bytes += n;
	if (q->body_bytes > lc->max_body) {
		q->error = 413;
		q->why = "request body too large";
		return -1;
	}
	return 0;
}

/* The parser stopped on an error of its own, or on one of ours (then
 * q->error is set already). */
void
devreq_parse_error(struct devreq *q, enum http_errno err)
{
	if (q->error == 0) {
		q->error = err == HPE_HEADER_OVERFLOW ? 431 : 400;
		q->why = http_errno_description(err);
	}
}
