/* The edge's proxy settings: URLs taken apart (credentials decoded, never
 * shown), refusals with their reason, and no_proxy matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "edge/uplink/proxy.h"

static void
test_urls(void **state)
{
	struct proxy_conf p;
	struct err e;

	(void)state;
	assert_int_equal(proxy_parse("http://proxy.corp:3128", &p, &e), 0);
	assert_string_equal(p.host, "proxy.corp");
	assert_int_equal(p.port, 3128);
	assert_null(p.auth);
	assert_string_equal(p.shown, "http://proxy.corp:3128");
	proxy_conf_clear(&p);

	/* user:pass, percent-decoded; base64 of "bob:p@ss:w" */
	assert_int_equal(proxy_parse("HTTP://bob:p%40ss%3aw@10.0.0.1:8080/",
	    &p, &e), 0);
	assert_string_equal(p.host, "10.0.0.1");
	assert_string_equal(p.auth, "Ym9iOnBAc3M6dw==");
	assert_string_equal(p.user, "bob");
	assert_string_equal(p.shown, "http://bob:***@10.0.0.1:8080");
	assert_null(strstr(p.shown, "ss"));
	proxy_conf_clear(&p);

	/* Without a scheme, as curl takes it. */
	assert_int_equal(proxy_parse("proxy.corp:8080", &p, &e), 0);
	assert_string_equal(p.host, "proxy.corp");
	assert_int_equal(p.port, 8080);
	proxy_conf_clear(&p);

	/* A password that breaks the URL is never echoed. */
	assert_int_equal(proxy_parse("http://alice:pa#ss/w@p:3128", &p, &e),
	    -EINVAL);
	assert_null(strstr(e.msg, "pa#ss"));
	assert_non_null(strstr(e.msg, "http://***@p:3128"));
	proxy_conf_clear(&p);

	assert_int_equal(proxy_parse("http://[::1]:3128", &p, &e), 0);
	assert_string_equal(p.host, "::1");
	assert_string_equal(p.shown, "http://[::1]:3128");
	proxy_conf_clear(&p);
}

static void
test_refusals(void **state)
{
	static const struct {
		const char *url, *why;
	} bad[] = {
		{ "https://p:1", "only http://" },
		{ "socks5://p:1", "only http://" },
		{ "http://p", "needs the proxy's port" },
		{ "http://p:1/x", "has no path" },
		{ "http://p:1/?q", "no query" },
		{ "http://p:0", "bad proxy port" },
		{ "http://u:%zz@p:1", "bad user or password" },
		{ "http://u:%4@p:1", "bad user or password" },
		{ "http://:pw@p:1", "bad user or password" },
		{ "http://u:%00@p:1", "bad user or password" },
		{ "", "not a proxy URL" },
		{ "http://a%0Ab:pw@p:1", "bad user or password" },
	};
	struct proxy_conf p;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(proxy_parse(bad[i].url, &p, &e), -EINVAL);
		if (strstr(e.msg, bad[i].why) == NULL)
			fail_msg("%s: '%s' lacks '%s'", bad[i].url, e.msg,
			    bad[i].why);
		proxy_conf_clear(&p);
	}
}

static void
test_no_proxy(void **state)
{
	(void)state;
	assert_true(proxy_bypassed("cloud.example", "cloud.example"));
	assert_true(proxy_bypassed("example", "cloud.example"));
	assert_true(proxy_bypassed(" .example ,x", "cloud.example"));
	assert_true(proxy_bypassed(".example", "example"));
	assert_true(proxy_bypassed("CLOUD.Example", "cloud.example"));
	assert_true(proxy_bypassed("a, *", "cloud.example"));
	assert_true(proxy_bypassed("10.0.0.1", "10.0.0.1"));
	assert_false(proxy_bypassed("ample", "cloud.example"));
	assert_false(proxy_bypassed("other.example", "cloud.example"));
	assert_false(proxy_bypassed("", "cloud.example"));
	assert_false(proxy_bypassed("10.0.0.1", "10.0.0.10"));
	/* Addresses match exactly or by CIDR, never by suffix. */
	assert_false(proxy_bypassed("0.0.1", "10.0.0.1"));
	assert_false(proxy_bypassed("1.1", "10.1.1.1"));
	assert_true(proxy_bypassed("10.0.0.0/8", "10.20.30.40"));
	assert_false(proxy_bypassed("10.0.0.0/8", "11.0.0.1"));
	assert_true(proxy_bypassed("192.168.4.0/22", "192.168.7.200"));
	assert_false(proxy_bypassed("192.168.4.0/22", "192.168.8.1"));
	assert_true(proxy_bypassed("[::1]", "::1"));
	assert_true(proxy_bypassed("fd00::/8", "[fd12::1]"));
	assert_false(proxy_bypassed("10.0.0.0/33", "10.0.0.1"));
	/* A trailing dot is the same name. */
	assert_true(proxy_bypassed("cloud.example.", "cloud.example"));
	assert_true(proxy_bypassed("example", "cloud.example."));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_no_proxy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
