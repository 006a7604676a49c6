/* PROXY protocol v2 headers, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cloud/proxyproto.h"

static const unsigned char sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

static void
test_ipv4(void **state)
{
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(8080) };
	unsigned char buf[PP2_MAX];
	static const unsigned char want[] = {
		0x21, 0x11, 0x00, 12 + 4 + 6,
		192, 0, 2, 7, 10, 1, 0, 10, 0xC3, 0x50, 0x1F, 0x90,
		0xE0, 0x00, 0x01, 'A',
		0xE1, 0x00, 0x03, 'a', 'g', 'w',
	};
	size_t n;

	(void)state;
	inet_pton(AF_INET, "10.1.0.10", &dst.sin_addr);
	n = proxyproto_v2(buf, "192.0.2.7:50000", (struct sockaddr *)&dst,
	    "A", "agw");
	assert_int_equal(n, 12 + sizeof(want));
	assert_memory_equal(buf, sig, 12);
	assert_memory_equal(buf + 12, want, sizeof(want));
}

static void
test_ipv6(void **state)
{
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6,
	    .sin6_port = htons(443) };
	unsigned char buf[PP2_MAX];
	unsigned char src[16];
	size_t n;

	(void)state;
	inet_pton(AF_INET6, "2001:db8::2", &dst.sin6_addr);
	inet_pton(AF_INET6, "2001:db8::1", src);
	n = proxyproto_v2(buf, "[2001:db8::1]:1234", (struct sockaddr *)&dst,
	    "B", "bgw");
	assert_int_equal(buf[13], 0x21);
	assert_int_equal(buf[14] << 8 | buf[15], 36 + 4 + 6);
	assert_int_equal(n, 16 + 36 + 4 + 6);
	assert_memory_equal(buf + 16, src, 16);
	assert_memory_equal(buf + 32, &dst.sin6_addr, 16);
	assert_int_equal(buf[48] << 8 | buf[49], 1234);
	assert_int_equal(buf[50] << 8 | buf[51], 443);
}

static void
test_no_device_address_is_local(void **state)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	unsigned char buf[PP2_MAX];
	size_t n;

	(void)state;
	/* a forged or missing address never becomes a wrong one: LOCAL, the
	 * receiver keeps the connection's own addresses (no AF_UNSPEC PROXY,
	 * which HAProxy refuses) */
	n = proxyproto_v2(buf, "not an address", (struct sockaddr *)&dst,
	    "A", "agw");
	assert_memory_equal(buf, sig, 12);
	assert_int_equal(buf[12], 0x20);
	assert_int_equal(buf[13], 0x00);
	assert_int_equal(buf[14] << 8 | buf[15], 4 + 6);
	assert_int_equal(n, 16 + 4 + 6);
	assert_int_equal(buf[16], 0xE0);
	n = proxyproto_v2(buf, "localhost:5", (struct sockaddr *)&dst,
	    "A", "agw");
	assert_int_equal(buf[12], 0x20);
	assert_int_equal(n, 16 + 4 + 6);
}

/* An IPv4 address as IPv6 (::ffff:a.b.c.d). */
static void
mapped(const char *v4, unsigned char out[16])
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	inet_pton(AF_INET, v4, out + 12);
}

static void
test_ipv6_device_ipv4_backend_is_tcp6_mapped(void **state)
{
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_port = htons(8080) };
	unsigned char buf[PP2_MAX], src[16], want_dst[16];
	size_t n;

	(void)state;
	inet_pton(AF_INET, "10.1.0.10", &dst.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", src);
	mapped("10.1.0.10", want_dst);
	n = proxyproto_v2(buf, "[2001:db8::1]:1234", (struct sockaddr *)&dst,
	    "A", "agw");
	assert_int_equal(buf[12], 0x21);
	assert_int_equal(buf[13], 0x21);
	assert_int_equal(buf[14] << 8 | buf[15], 36 + 4 + 6);
	assert_int_equal(n, 16 + 36 + 4 + 6);
	assert_memory_equal(buf + 16, src, 16);
	assert_memory_equal(buf + 32, want_dst, 16);
	assert_int_equal(buf[48] << 8 | buf[49], 1234);
	assert_int_equal(buf[50] << 8 | buf[51], 8080);
	assert_int_equal(buf[52], 0xE0);
}

static void
test_ipv4_device_ipv6_backend_is_tcp6_mapped(void **state)
{
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6,
	    .sin6_port = htons(443) };
	unsigned char buf[PP2_MAX], want_src[16];
	size_t n;

	(void)state;
	inet_pton(AF_INET6, "2001:db8::2", &dst.sin6_addr);
	mapped("192.0.2.7", want_src);
	n = proxyproto_v2(buf, "192.0.2.7:50000", (struct sockaddr *)&dst,
	    "B", "bgw");
	assert_int_equal(buf[12], 0x21);
	assert_int_equal(buf[13], 0x21);
	assert_int_equal(n, 16 + 36 + 4 + 6);
	assert_memory_equal(buf + 16, want_src, 16);
	assert_memory_equal(buf + 32, &dst.sin6_addr, 16);
	assert_int_equal(buf[48] << 8 | buf[49], 50000);
	assert_int_equal(buf[50] << 8 | buf[51], 443);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_no_device_address_is_local),
		cmocka_unit_test(test_ipv6_device_ipv4_backend_is_tcp6_mapped),
		cmocka_unit_test(test_ipv4_device_ipv6_backend_is_tcp6_mapped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
