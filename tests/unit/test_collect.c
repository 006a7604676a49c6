/* Collectors' pure parts: the offset of each one's polls within its
 * interval (stable, inside the interval, spread), and outcome names as
 * the metrics and docs spell them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "edge/collect/collect-int.h"

static void
test_offset_stable_and_within(void **state)
{
	char name[32];
	int i;

	(void)state;
	assert_int_equal(collect_offset("meter-1", 60000),
	    collect_offset("meter-1", 60000));
	assert_int_equal(collect_offset("meter-1", 0), 0);
	assert_int_equal(collect_offset("anything", 1), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "meter-%d", i);
		assert_true(collect_offset(name, 60000) < 60000);
		assert_true(collect_offset(name, 1000) < 1000);
	}
}

/* A thousand collectors of one interval do not fire at once: every
 * tenth of the interval gets some of them, none most of them. */
static void
test_offset_spread(void **state)
{
	unsigned bins[10] = { 0 };
	char name[32];
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "meter-%d", i);
		bins[collect_offset(name, 60000) / 6000]++;
	}
	for (i = 0; i < 10; i++) {
		assert_true(bins[i] > 50);
		assert_true(bins[i] < 150);
	}
}

static void
test_outcome_names(void **state)
{
	static const char *const want[CO_COUNT] = {
		"ok", "waiting", "learned", "mismatch", "rejected",
		"untrusted", "connect", "timeout", "too_large",
		"bad_response", "undelivered",
	};
	int o;

	(void)state;
	for (o = 0; o < CO_COUNT; o++)
		assert_string_equal(collect_outcome_name(
		    (enum collect_outcome)o), want[o]);
	assert_string_equal(collect_outcome_name(CO_COUNT), "?");
}

/* A tick is its slot: the next is a step on, when the timer fired on
 * time, a few ms early (the loop's coarse clock) or late; missed slots
 * are skipped, not made up. */
static void
test_next_slot(void **state)
{
	const int64_t s = 1000000, step = 60000000;

	(void)state;
	assert_int_equal(collect_next_slot(s, s, step), s + step);
	assert_int_equal(collect_next_slot(s, s - 4000, step), s + step);
	assert_int_equal(collect_next_slot(s, s + 300, step), s + step);
	assert_int_equal(collect_next_slot(s, s + 2 * step + 5, step),
	    s + 3 * step);
	assert_int_equal(collect_next_slot(s, s + 2 * step, step),
	    s + 3 * step);
	assert_int_equal(collect_next_slot(s, 7, 0), 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offset_stable_and_within),
		cmocka_unit_test(test_offset_spread),
		cmocka_unit_test(test_outcome_names),
		cmocka_unit_test(test_next_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
