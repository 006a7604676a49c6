/* MAC address parsing: the three accepted spellings, one canonical form,
 * and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/identity.h"
#include "common/mac.h"

static void
test_spellings(void **state)
{
	static const char *const ok[] = {
		"aa:bb:cc:dd:ee:f0", "AA:BB:CC:DD:EE:F0", "aa-bb-cc-dd-ee-f0",
		"AA-bb-CC-dd-EE-f0", "aabbccddeef0", "AABBCCDDEEF0",
	};
	uint8_t mac[6];
	char s[MAC_STR_LEN], hex[MAC_HEX_LEN];
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(mac, 0, sizeof(mac));
		assert_int_equal(mac_parse(ok[i], mac, &e), 0);
		mac_format(mac, s);
		assert_string_equal(s, "aa:bb:cc:dd:ee:f0");
		mac_format_hex(mac, hex);
		assert_string_equal(hex, "aabbccddeef0");
	}
}

static void
test_refusals(void **state)
{
	static const char *const bad[] = {
		"", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aabbccddeeff0",
		"aabbccddee", "aa:bb-cc:dd:ee:f0", "aa:bb:cc:dd:ee:g0",
		"aa.bb.cc.dd.ee.f0", "aabb.ccdd.eef0", " aa:bb:cc:dd:ee:f0",
		"aa:bb:cc:dd:ee:f0 ", "aa:bb:cc:dd:eef0:",
	};
	uint8_t mac[6];
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mac_parse(bad[i], mac, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "invalid MAC address"));
		assert_non_null(strstr(e.msg, "expected"));
	}
	assert_int_equal(mac_parse("00:00:00:00:00:00", mac, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "all-zero"));
	assert_int_equal(mac_parse("ff:ff:ff:ff:ff:ff", mac, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "group"));
	assert_int_equal(mac_parse("01:00:5e:00:00:01", mac, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "group"));
	/* locally administered unicast is a device address */
	assert_int_equal(mac_parse("02:00:00:00:00:01", mac, &e), 0);
}

static void
test_uris(void **state)
{
	uint8_t mac[6] = { 0x00, 0x24, 0xbe, 0xff, 0xfe, 0x80 };
	char buf[128];

	(void)state;
	identity_mac_uri(mac, buf, sizeof(buf));
	assert_string_equal(buf, "urn:dev:mac:0024befffe80");
	assert_int_equal(identity_edge_uri("A", "agw", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "isthmus://A/edge/agw");
	assert_int_equal(identity_edge_uri("A/B", "agw", buf, sizeof(buf)),
	    -EINVAL);
	assert_int_equal(identity_edge_uri("A", "", buf, sizeof(buf)),
	    -EINVAL);
}

static void
test_names(void **state)
{
	char long_name[80];

	(void)state;
	assert_true(name_valid("agw"));
	assert_true(name_valid("edge-01.site_3"));
	assert_false(name_valid(""));
	assert_false(name_valid("-agw"));
	assert_false(name_valid(".agw"));
	assert_false(name_valid("a gw"));
	assert_false(name_valid("a/gw"));
	assert_false(name_valid("a,gw"));
	memset(long_name, 'a', 63);
	long_name[63] = '\0';
	assert_true(name_valid(long_name));
	long_name[63] = 'a';
	long_name[64] = '\0';
	assert_false(name_valid(long_name));
	assert_true(label_valid("Acme Phones Inc."));
	assert_false(label_valid(" Acme"));
	assert_false(label_valid("Acme\n"));
	assert_false(label_valid(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_uris),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
