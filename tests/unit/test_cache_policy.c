/* The cache's RFC 9111 / 9110 rules on their own: storability, freshness,
 * age, revalidation, 304 updates, conditions, ranges and HTTP dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "edge/cache/policy.h"

/* A header list from "name: value" strings. */
static void
fill(struct hdrs *h, const char *const *fields)
{
	hdrs_init(h);
	for (; *fields != NULL; fields++) {
		const char *colon = strchr(*fields, ':');

		assert_non_null(colon);
		assert_int_equal(hdrs_add(h, *fields, (size_t)(colon - *fields),
		    colon + 2, strlen(colon + 2)), 0);
	}
}

#define HDRS(h, ...) fill(h, (const char *const[]){ __VA_ARGS__, NULL })

static void
test_dates(void **state)
{
	char buf[40];

	(void)state;
	/* The three forms RFC 9110 5.6.7 says a recipient must accept. */
	assert_int_equal(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT"),
	    784111777);
	assert_int_equal(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT"),
	    784111777);
	assert_int_equal(http_date_parse("Sun Nov  6 08:49:37 1994"),
	    784111777);
	assert_int_equal(http_date_parse("0"), -1);
	assert_int_equal(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT x"),
	    -1);
	assert_int_equal(http_date_parse(NULL), -1);
	http_date_format(784111777, buf, sizeof(buf));
	assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
}

static void
test_cache_control(void **state)
{
	struct cache_control cc;
	struct hdrs h;

	(void)state;
	HDRS(&h, "cache-control: public, max-age=60",
	    "cache-control: s-maxage=\"120\", no-cache=\"set-cookie, x\"",
	    "pragma: no-cache");
	cache_control_parse(&h, false, &cc);
	assert_true(cc.public_);
	assert_true(cc.no_cache);	/* with field names: counted whole */
	assert_int_equal(cc.max_age, 60);
	assert_int_equal(cc.s_maxage, 120);
	hdrs_free(&h);
	/* A malformed max-age is stale; request directives differ. */
	HDRS(&h, "Cache-Control: MAX-AGE=abc, private, must-revalidate",
	    "pragma: no-cache");
	cache_control_parse(&h, false, &cc);
	assert_int_equal(cc.max_age, 0);
	assert_true(cc.private_ && cc.must_revalidate && !cc.no_cache);
	cache_control_parse(&h, true, &cc);
	assert_true(cc.no_cache && !cc.private_);
	hdrs_free(&h);
}

static void
test_storable(void **state)
{
	struct hdrs h;
	struct {
		int status;
		const char *field;
		const char *why;
	} cases[] = {
		{ 200, "cache-control: max-age=60", NULL },
		{ 200, "etag: \"x\"", NULL },
		{ 200, "last-modified: Sun, 06 Nov 1994 08:49:37 GMT", NULL },
		{ 404, "cache-control: public", NULL },
		{ 200, "x-other: 1", "no freshness or validator" },
		{ 206, "cache-control: max-age=60", "status" },
		{ 500, "cache-control: max-age=60", "status" },
		{ 200, "cache-control: max-age=60, no-store", "no-store" },
		{ 200, "cache-control: private=\"a\", max-age=9", "private" },
		{ 200, "isthmus-confidential: 1", "confidential" },
		{ 200, "set-cookie: a=b", "set-cookie" },
		{ 200, "vary: accept, *", "vary" },
		{ 200, "vary: Accept, X-Isthmus-Device-MAC", "vary" },
		{ 200, "vary: forwarded", "vary" },
		{ 200, "vary: x-a-field-name-much-longer-than-sixty-three-"
		    "characters-in-all-of-it-really", "vary" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why;

		HDRS(&h, cases[i].field);
		why = cache_response_unstorable(cases[i].status, &h, false);
		if (cases[i].why == NULL)
			assert_null(why);
		else {
			assert_non_null(why);
			assert_string_equal(why, cases[i].why);
		}
		hdrs_free(&h);
	}
	/* A device that proved who it is (RFC 9111 3.5). */
	HDRS(&h, "cache-control: max-age=60");
	assert_string_equal(cache_response_unstorable(200, &h, true),
	    "authenticated request");
	hdrs_free(&h);
	HDRS(&h, "cache-control: public, max-age=60");
	assert_null(cache_response_unstorable(200, &h, true));
	hdrs_free(&h);
	HDRS(&h, "cache-control: s-maxage=60");
	assert_null(cache_response_unstorable(200, &h, true));
	hdrs_free(&h);
	HDRS(&h, "vary: Accept-Encoding", "etag: \"x\"");
	assert_null(cache_response_unstorable(200, &h, false));
	hdrs_free(&h);
	HDRS(&h, "accept: */*");
	assert_null(cache_request_bypass("GET", &h));
	assert_null(cache_request_bypass("HEAD", &h));
	assert_string_equal(cache_request_bypass("POST", &h), "method");
	hdrs_free(&h);
	HDRS(&h, "authorization: Basic eA==");
	assert_string_equal(cache_request_bypass("GET", &h), "authorization");
	hdrs_free(&h);
	HDRS(&h, "cookie: s=1");
	assert_string_equal(cache_request_bypass("GET", &h), "cookie");
	hdrs_free(&h);
	HDRS(&h, "cache-control: no-store");
	assert_string_equal(cache_request_bypass("GET", &h), "no-store");
	hdrs_free(&h);
}

static void
test_freshness_and_age(void **state)
{
	struct hdrs h, req;
	const int64_t t = 784111777;	/* the Date below */

	(void)state;
	HDRS(&h, "date: Sun, 06 Nov 1994 08:49:37 GMT",
	    "cache-control: max-age=100, s-maxage=300",
	    "expires: Sun, 06 Nov 1994 09:49:37 GMT");
	assert_int_equal(cache_freshness_lifetime(&h, t), 300);
	hdrs_free(&h);
	HDRS(&h, "date: Sun, 06 Nov 1994 08:49:37 GMT",
	    "expires: Sun, 06 Nov 1994 09:49:37 GMT");
	assert_int_equal(cache_freshness_lifetime(&h, t), 3600);
	hdrs_free(&h);
	HDRS(&h, "date: Sun, 06 Nov 1994 08:49:37 GMT", "expires: 0");
	assert_int_equal(cache_freshness_lifetime(&h, t), 0);
	hdrs_free(&h);
	/* Heuristic: a tenth of the time since the last change, at most a
	 * day. */
	HDRS(&h, "date: Sun, 06 Nov 1994 08:49:37 GMT",
	    "last-modified: Sun, 06 Nov 1994 07:49:37 GMT");
	assert_int_equal(cache_freshness_lifetime(&h, t), 360);
	hdrs_free(&h);
	HDRS(&h, "date: Sun, 06 Nov 1994 08:49:37 GMT",
	    "last-modified: Sun, 06 Nov 1984 08:49:37 GMT");
	assert_int_equal(cache_freshness_lifetime(&h, t), 86400);
	hdrs_free(&h);

	/* Age (RFC 9111 4.2.3): the Age received plus the request's delay,
	 * or the Date's lag, whichever is larger, plus time in the cache. */
	HDRS(&h, "date: Sun, 06 Nov 1994 08:49:37 GMT", "age: 30",
	    "cache-control: max-age=60");
	assert_int_equal(cache_current_age(&h, t + 1, t + 3, t + 3), 32);
	assert_int_equal(cache_current_age(&h, t + 99, t + 100, t + 110),
	    110);
	HDRS(&req, "accept: */*");
	assert_false(cache_needs_revalidation(&h, &req, t, t, t + 20));
	assert_true(cache_needs_revalidation(&h, &req, t, t, t + 30));
	hdrs_free(&req);
	HDRS(&req, "cache-control: max-age=10");
	assert_true(cache_needs_revalidation(&h, &req, t, t, t + 1));
	hdrs_free(&req);
	HDRS(&req, "cache-control: max-age=0");
	assert_true(cache_needs_revalidation(&h, &req, t, t, t));
	hdrs_free(&req);
	assert_true(cache_may_serve_stale(&h));
	hdrs_free(&h);
	HDRS(&h, "cache-control: max-age=60, must-revalidate");
	assert_false(cache_may_serve_stale(&h));
	hdrs_free(&h);
}

static void
test_update_from_304(void **state)
{
	struct hdrs stored, fresh;

	(void)state;
	HDRS(&stored, "content-length: 5", "etag: \"a\"", "x-keep: 1",
	    "cache-control: max-age=1");
	HDRS(&fresh, "cache-control: max-age=60", "etag: \"a\"",
	    "content-length: 0", "x-new: 2", "x-new: 3",
	    "isthmus-confidential: 1");
	assert_int_equal(cache_update_headers(&stored, &fresh), 0);
	assert_string_equal(hdrs_get(&stored, "content-length"), "5");
	assert_string_equal(hdrs_get(&stored, "cache-control"), "max-age=60");
	assert_string_equal(hdrs_get(&stored, "x-keep"), "1");
	assert_null(hdrs_get(&stored, "isthmus-confidential"));
	assert_int_equal(stored.n, 6);	/* both x-new values kept */
	hdrs_free(&stored);
	hdrs_free(&fresh);
}

static void
test_conditions(void **state)
{
	struct hdrs stored, req;

	(void)state;
	HDRS(&stored, "etag: \"v1\"",
	    "last-modified: Sun, 06 Nov 1994 08:49:37 GMT");
	HDRS(&req, "if-none-match: \"x\", W/\"v1\"");
	assert_true(cache_not_modified(&req, &stored));
	hdrs_free(&req);
	HDRS(&req, "if-none-match: *");
	assert_true(cache_not_modified(&req, &stored));
	hdrs_free(&req);
	HDRS(&req, "if-none-match: \"v2\"",
	    "if-modified-since: Sun, 06 Nov 1994 08:49:37 GMT");
	assert_false(cache_not_modified(&req, &stored));
	hdrs_free(&req);
	HDRS(&req, "if-modified-since: Sun, 06 Nov 1994 08:49:38 GMT");
	assert_true(cache_not_modified(&req, &stored));
	hdrs_free(&req);
	HDRS(&req, "if-modified-since: Sun, 06 Nov 1994 08:49:36 GMT");
	assert_false(cache_not_modified(&req, &stored));
	hdrs_free(&req);
	HDRS(&req, "if-modified-since: yesterday");
	assert_false(cache_not_modified(&req, &stored));
	hdrs_free(&req);
	hdrs_free(&stored);
}

static void
test_ranges(void **state)
{
	struct hdrs stored, req;
	uint64_t a = 0, b = 0;
	struct {
		const char *range;
		enum cache_range want;
		uint64_t a, b;
	} cases[] = {
		{ "bytes=0-0", RANGE_PART, 0, 0 },
		{ "bytes=10-", RANGE_PART, 10, 99 },
		{ "bytes=-1", RANGE_PART, 99, 99 },
		{ "bytes=-500", RANGE_PART, 0, 99 },
		{ "bytes=90-1000", RANGE_PART, 90, 99 },
		{ "bytes = 5-6", RANGE_WHOLE, 0, 0 },
		{ "Bytes=5-6", RANGE_PART, 5, 6 },
		{ "bytes=100-", RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=-0", RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=6-5", RANGE_WHOLE, 0, 0 },
		{ "bytes=1-2,4-5", RANGE_WHOLE, 0, 0 },
		{ "bytes=x-", RANGE_WHOLE, 0, 0 },
		{ "bytes=99999999999999999999999-", RANGE_WHOLE, 0, 0 },
		{ "items=1-2", RANGE_WHOLE, 0, 0 },
	};
	size_t i;

	(void)state;
	HDRS(&stored, "etag: \"v1\"",
	    "last-modified: Sun, 06 Nov 1994 08:49:37 GMT");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char f[80];

		snprintf(f, sizeof(f), "range: %s", cases[i].range);
		HDRS(&req, f);
		assert_int_equal(cache_range(&req, &stored, 100, &a, &b),
		    cases[i].want);
		if (cases[i].want == RANGE_PART) {
			assert_int_equal(a, cases[i].a);
			assert_int_equal(b, cases[i].b);
		}
		hdrs_free(&req);
	}
	/* If-Range: a strong match or the exact date; else the whole. */
	HDRS(&req, "range: bytes=0-1", "if-range: \"v1\"");
	assert_int_equal(cache_range(&req, &stored, 100, &a, &b), RANGE_PART);
	hdrs_free(&req);
	HDRS(&req, "range: bytes=0-1", "if-range: W/\"v1\"");
	assert_int_equal(cache_range(&req, &stored, 100, &a, &b), RANGE_WHOLE);
	hdrs_free(&req);
	HDRS(&req, "range: bytes=0-1",
	    "if-range: Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(cache_range(&req, &stored, 100, &a, &b), RANGE_PART);
	hdrs_free(&req);
	HDRS(&req, "range: bytes=0-1",
	    "if-range: Sun, 06 Nov 1994 08:49:38 GMT");
	assert_int_equal(cache_range(&req, &stored, 100, &a, &b), RANGE_WHOLE);
	hdrs_free(&req);
	hdrs_free(&stored);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_cache_control),
		cmocka_unit_test(test_storable),
		cmocka_unit_test(test_freshness_and_age),
		cmocka_unit_test(test_update_from_304),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
