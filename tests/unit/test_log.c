/* The log line format: one line, key=value, values quoted so that nothing
 * a peer sends can forge a key or a line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/log.h"

static char *buf;
static size_t buflen;
static FILE *mem;

static int
setup(void **state)
{
	(void)state;
	mem = open_memstream(&buf, &buflen);
	log_set_stream(mem);
	log_set_level(LOG_INFO);
	return mem == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	log_set_stream(NULL);
	fclose(mem);
	free(buf);
	buf = NULL;
	return 0;
}

/* The text after the timestamp of the single line written. */
static const char *
line(void)
{
	const char *p;

	fflush(mem);
	assert_non_null(buf);
	assert_int_equal(strchr(buf, '\n') - buf + 1, (long)strlen(buf));
	assert_memory_equal(buf, "ts=", 3);
	p = strchr(buf, ' ');
	assert_non_null(p);
	return p + 1;
}

static void
test_format(void **state)
{
	(void)state;
	log_info("pki", "issued", "serial=%s n=%d big=%llu z=%zu neg=%ld "
	    "hex=%x pct=%%", "abc", -3, 18446744073709551615ull, (size_t)7,
	    -9L, 255u);
	assert_string_equal(line(), "level=info sub=pki event=issued "
	    "serial=abc n=-3 big=18446744073709551615 z=7 neg=-9 hex=ff "
	    "pct=%\n");
}

static void
test_quoting(void **state)
{
	(void)state;
	log_warn("edge", "refused", "name=%s path=%s empty=%s", "evil\n"
	    "ts=x level=error", "a \"b\" c=d\\", "");
	assert_string_equal(line(), "level=warn sub=edge event=refused "
	    "name=\"evil\\nts=x level=error\" "
	    "path=\"a \\\"b\\\" c=d\\\\\" empty=\"\"\n");
}

static void
test_control_bytes(void **state)
{
	(void)state;
	log_info("t", "e", "v=%s", "a\tb\x1b[31m");
	assert_string_equal(line(), "level=info sub=t event=e "
	    "v=\"a\\x09b\\x1b[31m\"\n");
}

static void
test_levels(void **state)
{
	(void)state;
	log_debug("t", "hidden", "%s", "");
	fflush(mem);
	assert_int_equal(buflen, 0);
	log_set_level(LOG_ERROR);
	log_warn("t", "hidden", "%s", "");
	fflush(mem);
	assert_int_equal(buflen, 0);
	log_error("t", "shown", "k=%d", 1);
	assert_string_equal(line(), "level=error sub=t event=shown k=1\n");
}

static void
test_truncation(void **state)
{
	char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("t", "e", "v=%s", big);
	(void)line();	/* still exactly one line */
	assert_true(buflen <= 2048);
}

/* Before a daemon runs, its config errors are plain lines for a person,
 * one per error whatever the text held; once it runs, log events. */
static void
test_config_error(void **state)
{
	(void)state;
	log_config_error("edge", false, "%s:%d: bad \"%s\"", "/etc/e.conf", 7,
	    "x\ny\001");
	fflush(mem);
	assert_string_equal(buf, "/etc/e.conf:7: bad \"x\\ny\\x01\"\n");
	rewind(mem);
	log_config_error("edge", true, "%s: no such file", "k.pem");
	assert_string_equal(line(), "level=error sub=edge event=config_error "
	    "error=\"k.pem: no such file\"\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_error, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
