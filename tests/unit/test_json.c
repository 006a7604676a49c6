/* The JSON writer: nesting, commas, escaping, null. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/json.h"

static void
test_document(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	(void)state;
	json_init(&j, f);
	json_begin_object(&j);
	json_key(&j, "s");
	json_string(&j, "a\"b\\c\n\x01");
	json_key(&j, "n");
	json_int(&j, -42);
	json_key(&j, "list");
	json_begin_array(&j);
	json_string(&j, "x");
	json_bool(&j, true);
	json_null(&j);
	json_begin_object(&j);
	json_end_object(&j);
	json_end_array(&j);
	json_key(&j, "absent");
	json_string(&j, NULL);
	json_end_object(&j);
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
