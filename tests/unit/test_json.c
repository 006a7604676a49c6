/* The JSON writer: nesting, commas, escaping, null. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/jsonw.h"

static void
test_document(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jw j;

	(void)state;
	jw_init(&j, f);
	jw_begin_object(&j);
	jw_key(&j, "s");
	jw_string(&j, "a\"b\\c\n\x01");
	jw_key(&j, "n");
	jw_int(&j, -42);
	jw_key(&j, "list");
	jw_begin_array(&j);
	jw_string(&j, "x");
	jw_bool(&j, true);
	jw_null(&j);
	jw_begin_object(&j);
	jw_end_object(&j);
	jw_end_array(&j);
	jw_key(&j, "absent");
	jw_string(&j, NULL);
	jw_end_object(&j);
	fclose(f);
	assert_string_equal(buf, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":-42,"
	    "\"list\":[\"x\",true,null,{}],\"absent\":null}\n");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
