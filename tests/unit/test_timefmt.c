/* The time formatter: each style's text for one known instant, the log's
 * milliseconds, and what it writes for a time it cannot show. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/timefmt.h"

/* 2026-12-02T10:35:56Z, a Wednesday */
#define T 1796207756

static void
test_styles(void **state)
{
	char buf[TIME_TEXT_MAX];

	(void)state;
	time_format(T, TIME_ISO, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-02T10:35:56Z");
	time_format(T, TIME_TEXT, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-02 10:35:56 UTC");
	time_format(T, TIME_HTTP, buf, sizeof(buf));
	assert_string_equal(buf, "Wed, 02 Dec 2026 10:35:56 GMT");
	time_format(0, TIME_ISO, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
}

static void
test_ms(void **state)
{
	struct timespec ts = { .tv_sec = T, .tv_nsec = 7999999 };
	char buf[TIME_TEXT_MAX];

	(void)state;
	time_format_ms(&ts, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-02T10:35:56.007Z");
}

static void
test_unshowable(void **state)
{
	char buf[TIME_TEXT_MAX], tiny[8];

	(void)state;
	/* a year past what struct tm holds */
	time_format(INT64_MAX, TIME_ISO, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	/* too small a buffer: "-", never a cut date */
	time_format(T, TIME_HTTP, tiny, sizeof(tiny));
	assert_string_equal(tiny, "-");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_styles),
		cmocka_unit_test(test_ms),
		cmocka_unit_test(test_unshowable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
