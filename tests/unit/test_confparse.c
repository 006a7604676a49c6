/* The per-type config value parsers: every type, every bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/confparse.h"

static void
test_bool(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "on", "1" };
	static const char *const no[] = { "no", "False", "off", "0" };
	static const char *const bad[] = { "", "y", "2", "yess", "enabled" };
	struct err e;
	bool v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		v = false;
		assert_int_equal(conf_parse_bool(yes[i], &v, &e), 0);
		assert_true(v);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		v = true;
		assert_int_equal(conf_parse_bool(no[i], &v, &e), 0);
		assert_false(v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(conf_parse_bool(bad[i], &v, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "not a boolean"));
	}
}

static void
test_int_bounds(void **state)
{
	struct err e;
	int64_t v;

	(void)state;
	assert_int_equal(conf_parse_int("1", 1, 64, &v, &e), 0);
	assert_int_equal(v, 1);
	assert_int_equal(conf_parse_int("64", 1, 64, &v, &e), 0);
	assert_int_equal(v, 64);
	assert_int_equal(conf_parse_int("-5", -10, 10, &v, &e), 0);
	assert_int_equal(v, -5);
	assert_int_equal(conf_parse_int("0", 1, 64, &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "between 1 and 64"));
	assert_int_equal(conf_parse_int("65", 1, 64, &v, &e), -EINVAL);
	assert_int_equal(conf_parse_int("9223372036854775807", 0, INT64_MAX,
	    &v, &e), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(conf_parse_int("-9223372036854775808", INT64_MIN, 0,
	    &v, &e), 0);
	assert_true(v == INT64_MIN);
	/* overflow, junk, signs, blanks, empty */
	assert_int_equal(conf_parse_int("9223372036854775808", 0, INT64_MAX,
	    &v, &e), -EINVAL);
	assert_int_equal(conf_parse_int("99999999999999999999", 0, INT64_MAX,
	    &v, &e), -EINVAL);
	assert_int_equal(conf_parse_int("12x", 0, 100, &v, &e), -EINVAL);
	assert_int_equal(conf_parse_int("+3", 0, 100, &v, &e), -EINVAL);
	assert_int_equal(conf_parse_int(" 3", 0, 100, &v, &e), -EINVAL);
	assert_int_equal(conf_parse_int("", 0, 100, &v, &e), -EINVAL);
	assert_int_equal(conf_parse_int("-", 0, 100, &v, &e), -EINVAL);
	assert_int_equal(conf_parse_int("0x10", 0, 100, &v, &e), -EINVAL);
}

static void
test_duration(void **state)
{
	struct err e;
	uint64_t v;

	(void)state;
	assert_int_equal(conf_parse_duration("500ms", 0, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 500);
	assert_int_equal(conf_parse_duration("5s", 0, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(conf_parse_duration("2m", 0, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(conf_parse_duration("1h", 0, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 3600000);
	assert_int_equal(conf_parse_duration("1d", 0, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 86400000);
	assert_int_equal(conf_parse_duration("0s", 0, 10, &v, &e), 0);
	assert_int_equal(v, 0);
	/* a unit is required: "5" could be seconds or milliseconds */
	assert_int_equal(conf_parse_duration("5", 0, UINT64_MAX, &v, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "500ms, 5s, 2m"));
	assert_int_equal(conf_parse_duration("5 s", 0, UINT64_MAX, &v, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_duration("5sec", 0, UINT64_MAX, &v, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_duration("-1s", 0, UINT64_MAX, &v, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_duration("s", 0, UINT64_MAX, &v, &e),
	    -EINVAL);
	/* bounds */
	assert_int_equal(conf_parse_duration("99ms", 100, 60000, &v, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "out of range"));
	assert_int_equal(conf_parse_duration("100ms", 100, 60000, &v, &e), 0);
	assert_int_equal(conf_parse_duration("1m", 100, 60000, &v, &e), 0);
	assert_int_equal(conf_parse_duration("61s", 100, 60000, &v, &e),
	    -EINVAL);
	/* multiplication overflow is out of range, not a wrap-around */
	assert_int_equal(conf_parse_duration("999999999999999999d", 0,
	    UINT64_MAX, &v, &e), -EINVAL);
}

/* --since: a span back from a given now, or a UTC date or time, and
 * nothing else; a day that does not exist is refused, not moved. */
static void
test_since(void **state)
{
	const int64_t now = 1796207756;	/* 2026-12-02T10:35:56Z */
	struct err e;
	int64_t t;

	(void)state;
	assert_int_equal(conf_parse_since("7d", now, &t, &e), 0);
	assert_int_equal(t, now - 7 * 86400);
	assert_int_equal(conf_parse_since("90m", now, &t, &e), 0);
	assert_int_equal(t, now - 5400);
	assert_int_equal(conf_parse_since("2026-12-01", now, &t, &e), 0);
	assert_int_equal(t, 1796083200);
	assert_int_equal(conf_parse_since("2026-12-01T08:00:00Z", now, &t,
	    &e), 0);
	assert_int_equal(t, 1796083200 + 8 * 3600);
	assert_int_equal(conf_parse_since("2026-12-01T08:00", now, &t, &e), 0);
	assert_int_equal(t, 1796083200 + 8 * 3600);
	assert_int_equal(conf_parse_since("2024-02-29", now, &t, &e), 0);
	assert_int_equal(conf_parse_since("2026-02-29", now, &t, &e), -EINVAL);
	assert_int_equal(conf_parse_since("2026-02-31", now, &t, &e), -EINVAL);
	assert_int_equal(conf_parse_since("2026-12-01T25:00:00Z", now, &t, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_since("500ms", now, &t, &e), -EINVAL);
	assert_int_equal(conf_parse_since("yesterday", now, &t, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "'yesterday' is not a span"));
	assert_int_equal(conf_parse_since("2026-12-01 garbage", now, &t, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_since("", now, &t, &e), -EINVAL);
	assert_int_equal(conf_parse_since("99999d", now, &t, &e), -EINVAL);
}

static void
test_size(void **state)
{
	struct err e;
	uint64_t v;

	(void)state;
	assert_int_equal(conf_parse_size("4096", 0, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(conf_parse_size("64k", 0, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(conf_parse_size("64K", 0, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(conf_parse_size("16M", 0, UINT64_MAX, &v, &e), 0);
	assert_int_equal(v, 16u << 20);
	assert_int_equal(conf_parse_size("2G", 0, UINT64_MAX, &v, &e), 0);
	assert_true(v == 2ull << 30);
	assert_int_equal(conf_parse_size("16MB", 0, UINT64_MAX, &v, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "not a size"));
	assert_int_equal(conf_parse_size("1.5M", 0, UINT64_MAX, &v, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_size("k", 0, UINT64_MAX, &v, &e), -EINVAL);
	assert_int_equal(conf_parse_size("1023", 1024, 1 << 20, &v, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "out of range"));
	assert_int_equal(conf_parse_size("1k", 1024, 1 << 20, &v, &e), 0);
	assert_int_equal(conf_parse_size("1M", 1024, 1 << 20, &v, &e), 0);
	assert_int_equal(conf_parse_size("1025k", 1024, 1 << 20, &v, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_size("99999999999999G", 0, UINT64_MAX,
	    &v, &e), -EINVAL);
}

static bool
loopback(const char *s)
{
	struct hostport hp;
	struct err e;

	assert_int_equal(conf_parse_hostport(s, true, &hp, &e), 0);
	return hostport_is_loopback(&hp);
}

static void
test_hostport_loopback(void **state)
{
	(void)state;
	assert_true(loopback("127.0.0.1:0"));
	assert_true(loopback("127.255.0.9:80"));
	assert_true(loopback("[::1]:80"));
	assert_true(loopback("localhost:80"));
	assert_true(loopback("LocalHost:80"));
	assert_false(loopback("0.0.0.0:80"));
	assert_false(loopback("128.0.0.1:80"));
	assert_false(loopback("[::]:80"));
	assert_false(loopback("[::ffff:127.0.0.1]:80"));
	assert_false(loopback("localhost.example:80"));
	assert_false(loopback("10.0.0.1:80"));
}

static void
test_hostport(void **state)
{
	struct hostport hp;
	struct err e;
	char buf[300];

	(void)state;
	assert_int_equal(conf_parse_hostport("192.0.2.1:80", false, &hp, &e), 0);
	assert_string_equal(hp.host, "192.0.2.1");
	assert_int_equal(hp.port, 80);
	assert_int_equal(hp.family, AF_INET);
	assert_int_equal(conf_parse_hostport("[2001:db8::1]:443", false, &hp,
	    &e), 0);
	assert_string_equal(hp.host, "2001:db8::1");
	assert_int_equal(hp.port, 443);
	assert_int_equal(hp.family, AF_INET6);
	hostport_format(&hp, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:443");
	assert_int_equal(conf_parse_hostport("cloud.example:7443", false, &hp,
	    &e), 0);
	assert_string_equal(hp.host, "cloud.example");
	assert_int_equal(hp.family, AF_UNSPEC);
	assert_int_equal(conf_parse_hostport("localhost:65535", false, &hp,
	    &e), 0);
	assert_int_equal(hp.port, 65535);

	/* port 0 only where the kernel may pick */
	assert_int_equal(conf_parse_hostport("127.0.0.1:0", false, &hp, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "not a valid port"));
	assert_int_equal(conf_parse_hostport("127.0.0.1:0", true, &hp, &e), 0);
	assert_int_equal(hp.port, 0);

	assert_int_equal(conf_parse_hostport("127.0.0.1:65536", true, &hp,
	    &e), -EINVAL);
	assert_int_equal(conf_parse_hostport("127.0.0.1", true, &hp, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "no port"));
	assert_int_equal(conf_parse_hostport("::1:80", true, &hp, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "brackets"));
	assert_int_equal(conf_parse_hostport("[::1]80", true, &hp, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_hostport("[::zz]:80", true, &hp, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_hostport("[]:80", true, &hp, &e), -EINVAL);
	assert_int_equal(conf_parse_hostport(":80", true, &hp, &e), -EINVAL);
	assert_int_equal(conf_parse_hostport("bad_host:80", true, &hp, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_hostport("-a.example:80", true, &hp, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_hostport("a..example:80", true, &hp, &e),
	    -EINVAL);
	assert_int_equal(conf_parse_hostport("host:http", true, &hp, &e),
	    -EINVAL);
}

static void
test_path(void **state)
{
	struct err e;
	char *p;

	(void)state;
	assert_int_equal(conf_parse_path("/etc/isthmus/ca.crt", "/conf", &p,
	    &e), 0);
	assert_string_equal(p, "/etc/isthmus/ca.crt");
	free(p);
	assert_int_equal(conf_parse_path("pki/ca.crt", "/conf", &p, &e), 0);
	assert_string_equal(p, "/conf/pki/ca.crt");
	free(p);
	assert_int_equal(conf_parse_path("pki/ca.crt", NULL, &p, &e), 0);
	assert_string_equal(p, "pki/ca.crt");
	free(p);
	assert_int_equal(conf_parse_path("", "/conf", &p, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "empty path"));
}

static void
test_list(void **state)
{
	struct strlist l = { 0 };
	struct err e;

	(void)state;
	assert_int_equal(conf_parse_list("a, b ,c", &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "a");
	assert_string_equal(l.v[1], "b");
	assert_string_equal(l.v[2], "c");
	assert_int_equal(conf_parse_list("d", &l, &e), 0);	/* appends */
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[3], "d");
	strlist_free(&l);
	assert_int_equal(l.n, 0);
	assert_int_equal(conf_parse_list("a,,b", &l, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "empty item"));
	strlist_free(&l);
	assert_int_equal(conf_parse_list("a, ", &l, &e), 0);
	assert_int_equal(l.n, 1);
	strlist_free(&l);
	assert_int_equal(conf_parse_list(",", &l, &e), -EINVAL);
	strlist_free(&l);
	assert_int_equal(conf_parse_list(",a", &l, &e), -EINVAL);
	strlist_free(&l);
	assert_int_equal(conf_parse_list(" ", &l, &e), -EINVAL);
	strlist_free(&l);
}

static void
test_enum(void **state)
{
	static const char *const lb[] = {
		"round-robin", "least-conn", "hash", NULL
	};
	struct err e;
	int v;

	(void)state;
	assert_int_equal(conf_parse_enum("least-conn", lb, &v, &e), 0);
	assert_int_equal(v, 1);
	assert_int_equal(conf_parse_enum("random", lb, &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "round-robin, least-conn, hash"));
}

static struct sockaddr_storage
sa_of(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

static bool
in(const char *cidr, const char *ip)
{
	struct sockaddr_storage ss = sa_of(ip);
	struct cidr c;
	struct err e;

	assert_int_equal(conf_parse_cidr(cidr, &c, &e), 0);
	return cidr_contains(&c, (struct sockaddr *)&ss);
}

static void
test_cidr(void **state)
{
	static const char *const bad[] = { "", "/8", "10.0.0.0/", "10.0.0.0/x",
	    "10.0.0.0/33", "::/129", "10.1.2.3/8", "2001:db8::1/32",
	    "cloud.example", "10.0.0.0/8/8", "10.0.0.256" };
	struct cidr c;
	struct err e;
	char buf[64];
	size_t i;

	(void)state;
	assert_int_equal(conf_parse_cidr("192.0.2.0/24", &c, &e), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.bits, 24);
	cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/24");
	assert_int_equal(conf_parse_cidr("2001:db8::", &c, &e), 0);
	assert_int_equal(c.bits, 128);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(conf_parse_cidr(bad[i], &c, &e), -EINVAL);
	assert_true(in("192.0.2.0/24", "192.0.2.77"));
	assert_false(in("192.0.2.0/24", "192.0.3.1"));
	assert_true(in("10.0.0.0/7", "11.255.0.1"));
	assert_false(in("10.0.0.0/7", "12.0.0.1"));
	assert_true(in("0.0.0.0/0", "203.0.113.9"));
	assert_true(in("198.51.100.7", "198.51.100.7"));
	assert_false(in("198.51.100.7", "198.51.100.8"));
	/* an IPv4 peer seen on a dual-stack socket */
	assert_true(in("192.0.2.0/24", "::ffff:192.0.2.5"));
	assert_false(in("192.0.2.0/24", "2001:db8::1"));
	assert_true(in("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(in("2001:db8::/33", "2001:db8:8000::1"));
	assert_false(in("::/0", "192.0.2.1"));
	/* an IPv6 range of mapped addresses holds the mapped peers */
	assert_true(in("::ffff:10.0.0.0/104", "::ffff:10.1.2.3"));
	assert_true(in("::/0", "::ffff:192.0.2.1"));
	assert_false(in("::ffff:10.0.0.0/104", "::ffff:11.0.0.1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_int_bounds),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_since),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_hostport_loopback),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_cidr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
