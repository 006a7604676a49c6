/* Operating the store-and-forward queue: the commands' words as every
 * client checks them (common/queuewords.c) and a result as text for a
 * person (src/queuetext.c), escapes included. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "common/queuewords.h"
#include "queuetext.h"

static void
test_ids(void **state)
{
	static const char *const ok[] = { "1", "17", "999999999999999999" };
	static const char *const bad[] = { "", "0", "07", "-1", "+1", "1x",
		" 1", "1 ", "dead", "1.0", "0x10", "1000000000000000000" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(queue_words_id(ok[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(queue_words_id(bad[i]));
}

struct words {
	const char *w[4];
	size_t n;
	const char *why;	/* NULL: accepted; else in the message */
};

static void
test_commands(void **state)
{
	static const struct words cases[] = {
		{ { "list" }, 1, NULL },
		{ { "list", "dead" }, 2, NULL },
		{ { "show", "17" }, 2, NULL },
		{ { "retry", "17" }, 2, NULL },
		{ { "retry", "dead" }, 2, NULL },
		{ { "drop", "1" }, 2, NULL },
		{ { "drop", "dead" }, 2, NULL },
		{ { NULL }, 0, "say list, show, retry or drop" },
		{ { "purge" }, 1, "'purge' is not a queue command" },
		{ { "list", "waiting" }, 2, "queue list takes --dead" },
		{ { "list", "dead", "dead" }, 3, "queue list takes --dead" },
		{ { "show" }, 1, "queue show takes one request id" },
		{ { "show", "dead" }, 2, "not --dead" },
		{ { "show", "1", "2" }, 3, "queue show takes one request id" },
		{ { "retry" }, 1, "retry takes one request id or --dead" },
		{ { "drop", "1", "dead" }, 3, "one request id or --dead" },
		{ { "drop", "0" }, 2, "'0' is not a request id" },
		{ { "drop", "all" }, 2, "'all' is not a request id" },
	};
	struct err e;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&e, 0, sizeof(e));
		rc = queue_words_check(cases[i].w, cases[i].n, &e);
		if (cases[i].why == NULL) {
			assert_int_equal(rc, 0);
			continue;
		}
		assert_int_equal(rc, -EINVAL);
		if (strstr(e.msg, cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg,
			    cases[i].why);
	}
}

/* result (a JSON text) as queue_result_text prints it; malloc'd. */
static char *
text_of(const char *result)
{
	json_error_t jerr;
	json_t *r = json_loads(result, 0, &jerr);
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(r);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	queue_result_text(r, f);
	fclose(f);
	json_decref(r);
	return out;
}

#define ENTRY(id, target) \
	"{\"id\":" #id ",\"state\":\"dead\",\"listener\":\"meters\"," \
	"\"service\":\"telemetry\",\"device\":\"10.0.0.5:4000\"," \
	"\"mac\":null,\"method\":\"POST\",\"target\":\"" target "\"," \
	"\"bytes\":120,\"accepted\":\"2026-12-04T19:43:04.123Z\"," \
	"\"attempts\":2,\"last_status\":404,\"last_error\":null," \
	"\"reason\":\"refused\",\"dead_at\":\"2026-12-04T19:43:05.000Z\""

static void
test_list_text(void **state)
{
	char *t;

	(void)state;
	t = text_of("{\"kind\":\"queue\",\"command\":\"list\",\"state\":"
	    "\"dead\",\"total\":3,\"truncated\":true,\"entries\":["
	    ENTRY(4, "/r?x=\\u001b[2J") "}," ENTRY(9, "/ok") "}]}");
	assert_non_null(strstr(t, "ID     SERVICE"));
	assert_non_null(strstr(t, "REASON   TARGET\n"));
	/* the row: every column, and the escape sequence made harmless */
	assert_non_null(strstr(t, "\n4      telemetry        10.0.0.5:4000"
	    "         POST   120      2026-12-04T19:43:04.123Z 2     404  "
	    "refused  /r?x=\\x1b[2J\n"));
	assert_null(strchr(t, '\x1b'));
	assert_non_null(strstr(t, "\n3 dead letters\nthe oldest 2 of 3 "
	    "shown\n"));
	free(t);
	t = text_of("{\"kind\":\"queue\",\"command\":\"list\",\"state\":"
	    "\"waiting\",\"total\":0,\"truncated\":false,\"entries\":[]}");
	assert_string_equal(t, "no request waits\n");
	free(t);
}

static void
test_show_text(void **state)
{
	char *t;

	(void)state;
	t = text_of("{\"kind\":\"queue\",\"command\":\"show\",\"entry\":"
	    ENTRY(4, "/r") ",\"key\":\"\\\"8e03\\\"\",\"fields\":["
	    "[\"authorization\",\"(hidden)\"],[\"x-note\",\"a\\rb\"]],"
	    "\"body\":\"{\\\"t\\\": 21.5}\\n\\u009b1m\"}}");
	assert_non_null(strstr(t, "id           4\nstate        dead "
	    "(refused)\n"));
	assert_non_null(strstr(t, "key          \"8e03\"\n"));
	assert_non_null(strstr(t, "last_status  404\n"));
	assert_non_null(strstr(t, "fields:\n  authorization: (hidden)\n"
	    "  x-note: a\\x0db\n"));
	/* the body keeps its lines; a C1 control (CSI) is escaped */
	assert_non_null(strstr(t, "body:\n{\"t\": 21.5}\n\\xc2\\x9b1m\n"));
	free(t);
	t = text_of("{\"kind\":\"queue\",\"command\":\"show\",\"entry\":"
	    ENTRY(5, "/r") ",\"key\":\"k\",\"fields\":[],\"body\":null}}");
	assert_non_null(strstr(t, "body: not shown (binary: not UTF-8 "
	    "text)\n"));
	free(t);
}

static void
test_change_text(void **state)
{
	char *t;

	(void)state;
	t = text_of("{\"kind\":\"queue\",\"command\":\"drop\",\"ids\":[7],"
	    "\"count\":1}");
	assert_string_equal(t, "request 7 dropped\n");
	free(t);
	t = text_of("{\"kind\":\"queue\",\"command\":\"retry\",\"ids\":"
	    "[3,4],\"count\":5,\"truncated\":true}");
	assert_string_equal(t, "5 requests wait again, each the next of its "
	    "order: 3, 4 and 3 more\n");
	free(t);
	t = text_of("{\"kind\":\"queue\",\"command\":\"drop\",\"ids\":[],"
	    "\"count\":0}");
	assert_string_equal(t, "nothing dropped: no dead letter\n");
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_list_text),
		cmocka_unit_test(test_show_text),
		cmocka_unit_test(test_change_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
