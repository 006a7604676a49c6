/*
 * The rules of the edge's cache, apart from its files and sockets:
 * RFC 9111 (what a shared cache may store, for how long a response is
 * fresh, how old it is, how a 304 updates it) and the parts of RFC 9110 a
 * cache answers itself (conditional requests, byte ranges, HTTP dates).
 * Pure functions over header lists and times, so they are unit-tested
 * alone (tests/unit/test_cache_policy.c).
 */
#ifndef ISTHMUS_EDGE_CACHE_POLICY_H
#define ISTHMUS_EDGE_CACHE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/hdrs.h"

/* The Cache-Control directives a shared cache acts on, from every
 * Cache-Control field of a message (and Pragma: no-cache in a request).
 * A directive with field names (no-cache="x", private="x") counts as the
 * plain directive: stricter, and always correct. */
struct cache_control {
	bool no_store, no_cache, private_, public_, must_revalidate;
	int64_t max_age, s_maxage;	/* seconds; -1 when absent */
};

void cache_control_parse(const struct hdrs *h, bool request,
    struct cache_control *out);

/* An HTTP date (IMF-fixdate, RFC 850 or asctime form) in seconds since
 * the epoch, or -1. */
int64_t http_date_parse(const char *s);
/* IMF-fixdate into buf (at least 30 bytes). */
void http_date_format(int64_t t, char *buf, size_t len);

/* Why a request must go upstream, bypassing the cache (method not GET or
 * HEAD, Authorization, Cookie, no-store), or NULL when the cache may
 * answer it. */
const char *cache_request_bypass(const char *method, const struct hdrs *req);
/* Why a response may not be stored, or NULL when it may: its status, a
 * no-store or private directive, the cloud's confidential mark, a
 * Set-Cookie, a Vary the cache cannot honour ("*", or a field the cloud
 * sets, such as Forwarded or X-Isthmus-Device-MAC, which the device's
 * request never shows), or nothing that says how long it stays fresh and
 * no validator to check it with. authenticated: the request proved who
 * sent it; then only public, s-maxage or must-revalidate allow storing
 * (RFC 9111 3.5). */
const char *cache_response_unstorable(int status, const struct hdrs *resp,
    bool authenticated);
/* The longest field name a Vary may name and still be stored. */
#define CACHE_VARY_NAME_MAX 63
/* Calls fn with each field name (lowercased) the Vary fields of resp
 * list; false when fn said so or a name is longer than the above. */
bool cache_vary_each(const struct hdrs *resp, bool (*fn)(const char *name,
    void *arg), void *arg);

/* How long a stored response is fresh (RFC 9111 4.2.1): s-maxage,
 * max-age, Expires - Date, or 10% of Date - Last-Modified (at most a day);
 * response_time stands in for a missing Date. */
int64_t cache_freshness_lifetime(const struct hdrs *resp,
    int64_t response_time);
/* Its current age (RFC 9111 4.2.3). */
int64_t cache_current_age(const struct hdrs *resp, int64_t request_time,
    int64_t response_time, int64_t now);
/* Whether a stored response must be checked with the origin before it
 * answers this request: stale, no-cache in either, or the request's
 * max-age exceeded. */
bool cache_needs_revalidation(const struct hdrs *resp, const struct hdrs *req,
    int64_t request_time, int64_t response_time, int64_t now);
/* Whether a stale response may still answer while the cloud is out of
 * reach (not with must-revalidate, no-cache or s-maxage). */
bool cache_may_serve_stale(const struct hdrs *resp);

/* A 304's fields replace the stored ones of the same names (RFC 9111
 * 3.2), except those that describe the body's framing. */
int cache_update_headers(struct hdrs *stored, const struct hdrs *fresh);

/* Whether the request's conditions (If-None-Match, else
 * If-Modified-Since) make the stored response's answer a 304. */
bool cache_not_modified(const struct hdrs *req, const struct hdrs *stored);

/* A Range request on a stored body of len bytes (RFC 9110 14.2). */
enum cache_range {
	RANGE_WHOLE,		/* none, ignored (multiple, bad, If-Range
				 * failed): the whole body, 200 */
	RANGE_PART,		/* *first..*last (inclusive): 206 */
	RANGE_UNSATISFIABLE,	/* 416 */
};
enum cache_range cache_range(const struct hdrs *req, const struct hdrs *stored,
    uint64_t len, uint64_t *first, uint64_t *last);

#endif
