/* The field-name rules both gateways apply to what a device sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/http1.h"

static void
test_identity_fields_with_underscores(void **state)
{
	static const char *const ours[] = {
		"forwarded", "x-forwarded-for", "x_forwarded_for",
		"x-forwarded_proto", "x_real_ip", "x-isthmus-tenant",
		"x_isthmus_tenant", "x_isthmus_device_mac", "x_isthmus-edge",
		"isthmus-host", "isthmus_host", "isthmus_device",
	};
	static const char *const theirs[] = {
		"x-forwarded", "x_forwarded", "forwarded_x", "x-real-ip-2",
		"x_custom_field", "xisthmus-tenant", "isthmus", "x-isthmus",
		"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		assert_true(http_identity_field(ours[i]));
	for (i = 0; i < sizeof(theirs) / sizeof(theirs[0]); i++)
		assert_false(http_identity_field(theirs[i]));
}

static void
test_field_names_are_tokens(void **state)
{
	static const char *const good[] = {
		"x-sensor-id", "!#$%&'*+-.^_`|~", "A9z",
	};
	static const char *const bad[] = {
		"transfer-encoding ", "x-sensor id", "x\tid", "x(id)", "x:id",
		"x\"id", "x\x7fid", "x\xc3\xa9", "x/id", "x@id", "",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(http_name_ok(good[i], strlen(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(http_name_ok(bad[i], strlen(bad[i])));
	assert_false(http_name_ok("a\0b", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_fields_with_underscores),
		cmocka_unit_test(test_field_names_are_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
