/* The Prometheus text writer: families, labels, escaping of label values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/prom.h"

static void
test_exposition(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	prom_family(f, "x_total", "counter", "Things.");
	prom_sample(f, "x_total", NULL, 0);
	prom_sample(f, "x_total", (const char *[]){ "a", "1", NULL },
	    UINT64_MAX);
	prom_sample(f, "x_total", (const char *[]){ "a", "q\"b\\\\n\nl",
	    "b", "", NULL }, 7);
	prom_sample_us(f, "d_seconds", NULL, 1234567);
	prom_sample_us(f, "d_seconds", NULL, 42);
	fclose(f);
	assert_string_equal(buf,
	    "# HELP x_total Things.\n"
	    "# TYPE x_total counter\n"
	    "x_total 0\n"
	    "x_total{a=\"1\"} 18446744073709551615\n"
	    "x_total{a=\"q\\\"b\\\\\\\\n\\nl\",b=\"\"} 7\n"
	    "d_seconds 1.234567\n"
	    "d_seconds 0.000042\n");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
