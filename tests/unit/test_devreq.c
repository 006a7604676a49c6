/* The rules a device's HTTP request must pass at the edge (devreq.c),
 * driven by http-parser as the connection drives them, without one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "edge/device/device-int.h"

static struct edge_listener_conf lc = {
	.max_header_size = 1024,
	.max_headers = 8,
	.max_body = 16,
};

static struct devreq q;

static int
on_url(http_parser *p, const char *at, size_t n)
{
	(void)p;
	return devreq_url(&q, &lc, at, n);
}

static int
on_field(http_parser *p, const char *at, size_t n)
{
	(void)p;
	return devreq_field(&q, &lc, at, n);
}

static int
on_value(http_parser *p, const char *at, size_t n)
{
	(void)p;
	return devreq_value(&q, &lc, at, n);
}

static int
on_head(http_parser *p)
{
	return devreq_head(&q, &lc, p);
}

static int
on_body(http_parser *p, const char *at, size_t n)
{
	(void)p;
	(void)at;
	return devreq_body(&q, &lc, n);
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_head,
	.on_body = on_body,
};

/* The status the edge would answer req with; 0 when it passes. */
static int
answer(const char *req)
{
	http_parser p;
	size_t len = strlen(req), n;

	devreq_reset(&q);
	http_parser_init(&p, HTTP_REQUEST);
	n = http_parser_execute(&p, &settings, req, len);
	if (HTTP_PARSER_ERRNO(&p) != HPE_OK || n != len) {
		devreq_parse_error(&q, HTTP_PARSER_ERRNO(&p));
		return q.error;
	}
	return 0;
}

static void
test_good_requests_pass(void **state)
{
	(void)state;
	assert_int_equal(answer("GET /fw HTTP/1.1\r\nHost: dev.local\r\n\r\n"),
	    0);
	assert_string_equal(q.url, "/fw");
	assert_true(q.keepalive);
	assert_false(q.has_body);
	assert_int_equal(answer("POST /r HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 4\r\n\r\nabcd"), 0);
	assert_true(q.has_body);
}

static void
test_absolute_form_names_the_host(void **state)
{
	(void)state;
	assert_int_equal(answer("GET http://other:8080/x?y HTTP/1.1\r\n"
	    "Host: dev.local\r\n\r\n"), 0);
	assert_string_equal(q.url, "/x?y");
	assert_string_equal(hdrs_get(&q.req, "host"), "other:8080");
}

static void
test_rules_and_limits(void **state)
{
	char big[2048];

	(void)state;
	assert_int_equal(answer("GET / HTTP/2.0\r\n\r\n"), 505);
	assert_int_equal(answer("CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n"),
	    501);
	assert_int_equal(answer("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
	    400);
	assert_int_equal(answer("GET / HTTP/1.1\r\nTransfer-Encoding: gzip, "
	    "chunked\r\n\r\n"), 501);
	assert_int_equal(answer("POST / HTTP/1.1\r\nContent-Length: 17\r\n"
	    "\r\n"), 413);
	assert_int_equal(answer("GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\n"
	    "d: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\n\r\n"), 431);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "GET /", 5);
	assert_int_equal(answer(big), 431);
	assert_int_equal(answer("GET / HTTP/1.1\r\nx id: 1\r\n\r\n"), 400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests_pass),
		cmocka_unit_test(test_absolute_form_names_the_host),
		cmocka_unit_test(test_rules_and_limits),
	};
	int rc;

	devreq_init(&q);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	devreq_free(&q);
	return rc;
}
