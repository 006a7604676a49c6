/* The cloud's readiness data side, the parts with no socket: the live
 * tests' table (lookups by id and by the probes' bytes, a test sent again,
 * expiry) and a readiness instruction's line with its params. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>

#include <event2/event.h>

#include "cloud/manage/manage-int.h"
#include "cloud/readiness/readiness-int.h"

#define ID "00112233445566778899aabbccddeeff"

static void
spec(struct ready_spec *s, const char *id, int64_t deadline, uint8_t k)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->tenant, sizeof(s->tenant), "A");
	snprintf(s->edge, sizeof(s->edge), "agw");
	memset(s->key, k, sizeof(s->key));
	s->down = 1000;
	s->up = 2000;
	s->packets = 500;
	s->deadline = deadline;
}

static void
test_table(void **state)
{
	static const uint8_t bid[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
	    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	struct event_base *base = event_base_new();
	struct ready *rd = NULL;
	struct ready_test *t;
	struct ready_spec s;
	int64_t now = ready_now();

	(void)state;
	assert_int_equal(ready_new(base, &rd), 0);
	assert_int_equal(ready_udp_port(rd), 0);
	spec(&s, ID, now + 60, 1);
	assert_int_equal(ready_issue(rd, &s), 0);
	pthread_mutex_lock(&rd->mu);
	t = ready_find(rd, ID, now);
	assert_non_null(t);
	assert_ptr_equal(ready_find_bin(rd, bid, now), t);
	assert_int_equal(t->expires, now + 60 + READY_GRACE_S);
	assert_int_equal(t->s.key[0], 1);
	assert_non_null(t->seen);
	/* past its deadline and the grace: no test */
	assert_null(ready_find(rd, ID, now + 60 + READY_GRACE_S + 1));
	assert_null(ready_find(rd, "ffffffffffffffffffffffffffffffff", now));
	pthread_mutex_unlock(&rd->mu);
	/* sent again: one test, the newest key, its directions not run */
	t->down_ran = true;
	spec(&s, ID, now + 90, 2);
	assert_int_equal(ready_issue(rd, &s), 0);
	pthread_mutex_lock(&rd->mu);
	t = ready_find(rd, ID, now);
	assert_int_equal(t->s.key[0], 2);
	assert_false(t->down_ran);
	assert_null(t->next);
	pthread_mutex_unlock(&rd->mu);
	/* ids the cloud never makes */
	spec(&s, "00112233445566778899AABBCCDDEEFF", now + 60, 3);
	assert_int_equal(ready_issue(rd, &s), -EINVAL);
	spec(&s, "0011", now + 60, 3);
	assert_int_equal(ready_issue(rd, &s), -EINVAL);
	/* a test that ended goes with the next one issued */
	spec(&s, "ffffffffffffffffffffffffffffffff", now - 10, 4);
	assert_int_equal(ready_issue(rd, &s), 0);
	spec(&s, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", now + 10, 5);
	assert_int_equal(ready_issue(rd, &s), 0);
	pthread_mutex_lock(&rd->mu);
	for (t = rd->tests; t != NULL; t = t->next)
		assert_string_not_equal(t->s.id,
		    "ffffffffffffffffffffffffffffffff");
	pthread_mutex_unlock(&rd->mu);
	/* a test that reported is gone at once */
	ready_end(rd, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
	pthread_mutex_lock(&rd->mu);
	assert_null(ready_find(rd, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", now));
	assert_non_null(ready_find(rd, ID, now));
	pthread_mutex_unlock(&rd->mu);
	ready_free(rd);
	event_base_free(base);
}

static void
test_instruction_params(void **state)
{
	struct store_instruction in;
	json_t *o, *params;
	size_t len;
	char *line;

	(void)state;
	memset(&in, 0, sizeof(in));
	snprintf(in.id, sizeof(in.id), "%s", ID);
	snprintf(in.kind, sizeof(in.kind), "readiness");
	snprintf(in.issuer, sizeof(in.issuer), "alice");
	in.args = (char *)"[\"voice\"]";
	in.issued = 1765000000;
	line = mmsg_instruction(&in, 1765000100,
	    json_pack("{s:{s:s}}", "profile", "name", "voice"), &len);
	assert_non_null(line);
	assert_int_equal(line[len - 1], '\n');
	o = json_loadb(line, len, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_object_get(o, "params"), "profile"), "name")), "voice");
	assert_int_equal(json_integer_value(json_object_get(o, "deadline")),
	    1765000100);
	json_decref(o);
	free(line);
	/* no params: no field */
	line = mmsg_instruction(&in, 1765000100, NULL, &len);
	assert_null(strstr(line, "params"));
	free(line);
	/* over MANAGE_PARAMS_MAX encoded: no line */
	{
		char *big = malloc(MANAGE_PARAMS_MAX);

		memset(big, 'a', MANAGE_PARAMS_MAX - 1);
		big[MANAGE_PARAMS_MAX - 1] = '\0';
		params = json_pack("{s:s}", "x", big);
		free(big);
	}
	assert_null(mmsg_instruction(&in, 1765000100, params, &len));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_instruction_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
