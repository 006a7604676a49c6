/*
 * The cache's RFC 9111 rules (policy.h): what may be stored, freshness
 * and age, revalidation, and what a cache answers itself (conditions,
 * ranges, dates). No files, no sockets.
 */
#include "edge/cache/policy.h"

#include "common/http1.h"
#include "common/proto.h"
#include "common/timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Heuristic freshness (RFC 9111 4.2.2): a tenth of the time since the
 * last change, never more than this. */
#define HEURISTIC_MAX (24 * 3600)

static const char *
skip_ows(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* delta-seconds (RFC 9111 1.2.2): digits, capped; -1 when malformed. */
static int64_t
delta_seconds(const char *p, size_t n)
{
	int64_t v = 0;
	size_t i;

	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;		/* tolerated, as most caches do */
		n -= 2;
	}
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		if (v < INT32_MAX)
			v = v * 10 + (p[i] - '0');
	}
	return v > INT32_MAX ? INT32_MAX : v;
}

static void
directive(struct cache_control *cc, const char *name, size_t nlen,
    const char *arg, size_t alen, bool request)
{
#define IS(s) (nlen == sizeof(s) - 1 && strncasecmp(name, s, nlen) == 0)
	if (IS("no-store"))
		cc->no_store = true;
	else if (IS("no-cache"))
		cc->no_cache = true;
	else if (IS("private") && !request)
		cc->private_ = true;
	else if (IS("public") && !request)
		cc->public_ = true;
	else if ((IS("must-revalidate") || IS("proxy-revalidate")) &&
	    !request)
		cc->must_revalidate = true;
	else if (IS("max-age")) {
		int64_t v = delta_seconds(arg, alen);

		/* A malformed max-age is stale (RFC 9111 4.2.1). */
		cc->max_age = v < 0 ? 0 : v;
	} else if (IS("s-maxage") && !request) {
		int64_t v = delta_seconds(arg, alen);

		cc->s_maxage = v < 0 ? 0 : v;
	}
#undef IS
}

static void
parse_value(struct cache_control *cc, const char *v, bool request)
{
	const char *p = v, *end = v + strlen(v);

	while (p < end) {
		const char *name, *arg = NULL;
		size_t nlen, alen = 0;

		p = skip_ows(p, end);
		name = p;
		while (p < end && *p != ',' && *p != '=' && *p != ' ' &&
		    *p != '\t')
			p++;
		nlen = (size_t)(p - name);
		p = skip_ows(p, end);
		if (p < end && *p == '=') {
			p = skip_ows(p + 1, end);
			arg = p;
			if (p < end && *p == '"') {
				/* quoted-string: commas inside belong to it */
				p++;
				while (p < end && *p != '"')
					p += (*p == '\\' && p + 1 < end) ? 2 : 1;
				if (p < end)
					p++;
			} else
				while (p < end && *p != ',' && *p != ' ' &&
				    *p != '\t')
					p++;
			alen = (size_t)(p - arg);
		}
		if (nlen > 0)
			directive(cc, name, nlen, arg, alen, request);
		while (p < end && *p != ',')
			p++;
		if (p < end)
			p++;
	}
}

void
cache_control_parse(const struct hdrs *h, bool request,
    struct cache_control *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->max_age = out->s_maxage = -1;
	for (i = 0; i < h->n; i++) {
		if (strcmp(h->v[i].name, "cache-control") == 0)
			parse_value(out, h->v[i].value, request);
		else if (request && strcmp(h->v[i].name, "pragma") == 0 &&
		    hdr_list_has(h->v[i].value, h->v[i].vlen, "no-cache"))
			out->no_cache = true;
	}
}

int64_t
http_date_parse(const char *s)
{
	static const char *const forms[] = {
		"%a, %d %b %Y %H:%M:%S GMT",	/* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT",	/* RFC 850 */
		"%a %b %e %H:%M:%S %Y",		/* asctime */
	};
	struct tm tm;
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const char *end;

		memset(&tm, 0, sizeof(tm));
		end = strptime(s, forms[i], &tm);
		if (end != NULL && *end == '\0')
			return (int64_t)timegm(&tm);
	}
	return -1;
}

void
http_date_format(int64_t t, char *buf, size_t len)
{
	time_format(t, TIME_HTTP, buf, len);
}

const char *
cache_request_bypass(const char *method, const struct hdrs *req)
{
	struct cache_control cc;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return "method";
	if (hdrs_get(req, "authorization") != NULL)
		return "authorization";
	if (hdrs_get(req, "cookie") != NULL)
		return "cookie";
	cache_control_parse(req, true, &cc);
	if (cc.no_store)
		return "no-store";
	return NULL;
}

/* Statuses a cache may store (RFC 9110 15.1: heuristically cacheable);
 * 206 is not stored, the whole body is. */
static bool
status_storable(int status)
{
	switch (status) {
	case 200: case 203: case 204: case 300: case 301: case 308:
	case 404: case 405: case 410: case 414: case 501:
		return true;
	default:
		return false;
	}
}

static bool
has_explicit_freshness(const struct hdrs *resp, const struct cache_control *cc)
{
	return cc->max_age >= 0 || cc->s_maxage >= 0 ||
	    hdrs_get(resp, "expires") != NULL;
}

bool
cache_vary_each(const struct hdrs *resp, bool (*fn)(const char *name,
    void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < resp->n; i++) {
		const char *p = resp->v[i].value;

		if (strcmp(resp->v[i].name, "vary") != 0)
			continue;
		while (*p != '\0') {
			char name[CACHE_VARY_NAME_MAX + 1];
			size_t n = 0;

			while (*p == ' ' || *p == '\t' || *p == ',')
				p++;
			while (*p != '\0' && *p != ',' && *p != ' ' &&
			    *p != '\t') {
				if (n >= CACHE_VARY_NAME_MAX)
					return false;
				name[n++] = (char)tolower((unsigned char)*p++);
			}
			name[n] = '\0';
			if (n > 0 && !fn(name, arg))
				return false;
		}
	}
	return true;
}

/* Whether the device's request shows the field, so it can be compared. */
static bool
vary_name_ok(const char *name, void *arg)
{
	(void)arg;
	return strcmp(name, "*") != 0 && !http_identity_field(name);
}

const char *
cache_response_unstorable(int status, const struct hdrs *resp,
    bool authenticated)
{
	struct cache_control cc;

	if (!status_storable(status))
		return "status";
	if (hdrs_get(resp, HTTP_CONFIDENTIAL_FIELD) != NULL)
		return "confidential";
	cache_control_parse(resp, false, &cc);
	if (cc.no_store)
		return "no-store";
	if (cc.private_)
		return "private";
	if (hdrs_get(resp, "set-cookie") != NULL)
		return "set-cookie";
	if (!cache_vary_each(resp, vary_name_ok, NULL))
		return "vary";
	if (authenticated && !cc.public_ && cc.s_maxage < 0 &&
	    !cc.must_revalidate)
		return "authenticated request";
	if (!has_explicit_freshness(resp, &cc) && !cc.public_ &&
	    hdrs_get(resp, "etag") == NULL &&
	    hdrs_get(resp, "last-modified") == NULL)
		return "no freshness or validator";
	return NULL;
}

int64_t
cache_freshness_lifetime(const struct hdrs *resp, int64_t response_time)
{
	struct cache_control cc;
	int64_t date, expires, modified;
	const char *e;

	cache_control_parse(resp, false, &cc);
	if (cc.s_maxage >= 0)
		return cc.s_maxage;
	if (cc.max_age >= 0)
		return cc.max_age;
	date = http_date_parse(hdrs_get(resp, "date"));
	if (date < 0)
		date = response_time;
	e = hdrs_get(resp, "expires");
	if (e != NULL) {
		/* An invalid Expires ("0") means already expired. */
		expires = http_date_parse(e);
		return expires > date ? expires - date : 0;
	}
	modified = http_date_parse(hdrs_get(resp, "last-modified"));
	if (modified >= 0 && modified < date) {
		int64_t h = (date - modified) / 10;

		return h > HEURISTIC_MAX ? HEURISTIC_MAX : h;
	}
	return 0;
}

int64_t
cache_current_age(const struct hdrs *resp, int64_t request_time,
    int64_t response_time, int64_t now)
{
	const char *a = hdrs_get(resp, "age");
	int64_t date = http_date_parse(hdrs_get(resp, "date"));
	int64_t age_value = a != NULL ? delta_seconds(a, strlen(a)) : 0;
	int64_t apparent, corrected, initial, resident;

	if (age_value < 0)
		age_value = 0;
	if (date < 0)
		date = response_time;
	apparent = response_time - date > 0 ? response_time - date : 0;
	corrected = age_value + (response_time - request_time > 0 ?
	    response_time - request_time : 0);
	initial = apparent > corrected ? apparent : corrected;
	resident = now - response_time > 0 ? now - response_time : 0;
	return initial + resident;
}

bool
cache_needs_revalidation(const struct hdrs *resp, const struct hdrs *req,
    int64_t request_time, int64_t response_time, int64_t now)
{
	struct cache_control rc, qc;
	int64_t age = cache_current_age(resp, request_time, response_time, now);

	cache_control_parse(resp, false, &rc);
	cache_control_parse(req, true, &qc);
	if (rc.no_cache || qc.no_cache)
		return true;
	/* max-age=0 is how clients ask for a check (a reload), even of a
	 * response fetched this very second. */
	if (qc.max_age == 0 || (qc.max_age > 0 && age > qc.max_age))
		return true;
	return age >= cache_freshness_lifetime(resp, response_time);
}

bool
cache_may_serve_stale(const struct hdrs *resp)
{
	struct cache_control cc;

	cache_control_parse(resp, false, &cc);
	return !cc.must_revalidate && !cc.no_cache && cc.s_maxage < 0;
}

/* Fields a 304 does not replace: they describe the stored body. */
static bool
framing_field(const char *name)
{
	return strcmp(name, "content-length") == 0 ||
	    strcmp(name, "content-range") == 0 ||
	    strcmp(name, "transfer-encoding") == 0 ||
	    strcmp(name, "content-encoding") == 0 ||
	    strncmp(name, HTTP_TUNNEL_PREFIX,
	    strlen(HTTP_TUNNEL_PREFIX)) == 0;
}

int
cache_update_headers(struct hdrs *stored, const struct hdrs *fresh)
{
	size_t i, j;

	for (i = 0; i < fresh->n; i++) {
		const char *name = fresh->v[i].name;
		bool seen = false;

		if (framing_field(name))
			continue;
		for (j = 0; j < i; j++)
			if (strcmp(fresh->v[j].name, name) == 0)
				seen = true;
		if (!seen)
			hdrs_del(stored, name);
		if (hdrs_add(stored, name, fresh->v[i].nlen,
		    fresh->v[i].value, fresh->v[i].vlen) != 0)
			return -ENOMEM;
	}
	return 0;
}

/* The opaque part of an entity-tag, without W/ (weak comparison). */
static bool
etag_split(const char *p, const char *end, const char **tag, size_t *len,
    bool *weak)
{
	*weak = false;
	if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
		*weak = true;
		p += 2;
	}
	if (end - p < 2 || p[0] != '"' || end[-1] != '"')
		return false;
	*tag = p;
	*len = (size_t)(end - p);
	return true;
}

/* Whether list (If-None-Match / If-Match syntax) holds etag; weak: W/
 * prefixes are ignored (RFC 9110 8.8.3.2), else both must be strong. */
static bool
etag_in_list(const char *list, const char *etag, bool weak_cmp)
{
	const char *p = list, *end = list + strlen(list);
	const char *et, *lt;
	size_t elen, llen;
	bool ew, lw;

	if (etag == NULL || !etag_split(etag, etag + strlen(etag), &et, &elen,
	    &ew))
		return false;
	while (p < end) {
		const char *s, *e;

		p = skip_ows(p, end);
		s = p;
		while (p < end && *p != ',')
			p++;
		e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e - s == 1 && *s == '*')
			return true;
		if (etag_split(s, e, &lt, &llen, &lw) && llen == elen &&
		    memcmp(lt, et, elen) == 0 && (weak_cmp || (!lw && !ew)))
			return true;
		if (p < end)
			p++;
	}
	return false;
}

bool
cache_not_modified(const struct hdrs *req, const struct hdrs *stored)
{
	const char *inm = hdrs_get(req, "if-none-match");
	const char *ims = hdrs_get(req, "if-modified-since");
	int64_t since, modified;

	if (inm != NULL)
		return etag_in_list(inm, hdrs_get(stored, "etag"), true);
	if (ims == NULL)
		return false;
	since = http_date_parse(ims);
	modified = http_date_parse(hdrs_get(stored, "last-modified"));
	return since >= 0 && modified >= 0 && modified <= since;
}

/* If-Range (RFC 9110 13.1.5): a strong entity-tag equal to the stored
 * one, or a date equal to its Last-Modified. */
static bool
if_range_holds(const char *v, const struct hdrs *stored)
{
	int64_t d, modified;

	if (v[0] == '"' || (v[0] == 'W' && v[1] == '/'))
		return v[0] == '"' && etag_in_list(v, hdrs_get(stored, "etag"),
		    false);
	d = http_date_parse(v);
	modified = http_date_parse(hdrs_get(stored, "last-modified"));
	return d >= 0 && d == modified;
}

static bool
parse_u64(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p >= end || !isdigit((unsigned char)*p))
		return false;
	while (p < end && isdigit((unsigned char)*p)) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	*pp = p;
	*out = v;
	return true;
}

enum cache_range
cache_range(const struct hdrs *req, const struct hdrs *stored, uint64_t len,
    uint64_t *first, uint64_t *last)
{
	const char *v = hdrs_get(req, "range");
	const char *ir = hdrs_get(req, "if-range");
	const char *p, *end;
	uint64_t a, b;

	if (v == NULL || strncasecmp(v, "bytes=", 6) != 0 ||
	    strchr(v, ',') != NULL)
		return RANGE_WHOLE;	/* several ranges: the whole body */
	if (ir != NULL && !if_range_holds(ir, stored))
		return RANGE_WHOLE;
	p = skip_ows(v + 6, v + strlen(v));
	end = v + strlen(v);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p < end && *p == '-') {
		/* suffix: the last b bytes */
		p++;
		if (!parse_u64(&p, end, &b) || p != end)
			return RANGE_WHOLE;
		if (b == 0 || len == 0)
			return RANGE_UNSATISFIABLE;
		*first = b >= len ? 0 : len - b;
		*last = len - 1;
		return RANGE_PART;
	}
	if (!parse_u64(&p, end, &a) || p >= end || *p != '-')
		return RANGE_WHOLE;
	p++;
	if (p == end)
		b = UINT64_MAX;
	else if (!parse_u64(&p, end, &b) || p != end || b < a)
		return RANGE_WHOLE;	/* invalid: ignored */
	if (a >= len)
		return RANGE_UNSATISFIABLE;
	*first = a;
	*last = b >= len ? len - 1 : b;
	return RANGE_PART;
}
