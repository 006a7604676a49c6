/* The log rate limit: a burst passes, the rest is counted and reported as
 * one log_suppressed line; lines written plus reported is every call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <event2/util.h>

#include "common/loglimit.h"

static size_t
count(const char *text, const char *needle)
{
	size_t n = 0;

	while ((text = strstr(text, needle)) != NULL) {
		n++;
		text += strlen(needle);
	}
	return n;
}

static void
test_burst_then_report(void **state)
{
	struct event_base *base = event_base_new();
	struct log_limit *l;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int i;

	(void)state;
	log_set_stream(f);
	l = log_limit_new(base, 5, 1);
	assert_non_null(l);
	for (i = 0; i < 50; i++)
		log_limited(l, LOG_INFO, "t", "peer_bad", "i=%d", i);
	/* a debug line under an info level is neither written nor counted */
	log_limited(l, LOG_DEBUG, "t", "peer_bad", "i=%d", 99);
	fflush(f);
	assert_int_equal(count(buf, "event=peer_bad"), 5);
	assert_null(strstr(buf, "log_suppressed"));
	/* the report comes from the loop a second later */
	event_base_dispatch(base);
	fflush(f);
	assert_int_equal(count(buf, "event=log_suppressed "
	    "suppressed_event=peer_bad count=45\n"), 1);
	log_limit_free(l);
	event_base_free(base);
	log_set_stream(NULL);
	fclose(f);
	free(buf);
}

static void
test_free_reports_and_other_event(void **state)
{
	struct event_base *base = event_base_new();
	struct log_limit *l;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	log_set_stream(f);
	l = log_limit_new(base, 1, 1);
	log_limited(l, LOG_INFO, "t", "a", "n=%d", 1);
	log_limited(l, LOG_INFO, "t", "a", "n=%d", 2);
	log_limited(l, LOG_INFO, "t", "a", "n=%d", 3);
	/* another event under the same limit: a's count is reported first */
	log_limited(l, LOG_INFO, "t", "b", "n=%d", 4);
	log_limit_free(l);
	fflush(f);
	assert_int_equal(count(buf, "event=a n=1"), 1);
	assert_int_equal(count(buf, "suppressed_event=a count=2\n"), 1);
	assert_int_equal(count(buf, "suppressed_event=b count=1\n"), 1);
	/* no limit (out of memory at start): every line is written */
	log_limited(NULL, LOG_INFO, "t", "c", "n=%d", 5);
	fflush(f);
	assert_int_equal(count(buf, "event=c n=5"), 1);
	event_base_free(base);
	log_set_stream(NULL);
	fclose(f);
	free(buf);
}

/* libevent's own warnings (here: fcntl on a bad descriptor, as a failing
 * accept() loop would give) become our lines, within the limit. */
static void
test_libevent_messages_are_ours_and_limited(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int i;

	(void)state;
	log_set_stream(f);
	log_limit_libevent(3, 1);
	for (i = 0; i < 100; i++)
		assert_int_equal(evutil_make_socket_nonblocking(-1), -1);
	fflush(f);
	assert_int_equal(count(buf, "level=warn sub=libevent "
	    "event=library_message message=\"fcntl(-1, F_GETFL): Bad file "
	    "descriptor\"\n"), 3);
	assert_int_equal(count(buf, "\n"), 3);
	/* a second later a token is back; the line says what was left out */
	usleep(1100 * 1000);
	evutil_make_socket_nonblocking(-1);
	fflush(f);
	assert_int_equal(count(buf, "suppressed_before=97\n"), 1);
	log_set_stream(NULL);
	fclose(f);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_report),
		cmocka_unit_test(test_free_reports_and_other_event),
		cmocka_unit_test(test_libevent_messages_are_ours_and_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
