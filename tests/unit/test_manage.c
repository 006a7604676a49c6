/* The edge's management channel, the parts with no socket: the cloud's
 * instructions as the edge reads them (every way one can be malformed),
 * the edge's hello and results, the site's `manage` policy (the words
 * and the config's file:line errors), and the log ring `logs` reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/logring.h"
#include "edge/config.h"
#include "edge/manage/msg.h"
#include "edge/manage/policy.h"

/* line as an instruction (a schedule is no instruction: -EPROTO). */
static int
parse(const char *line, struct manage_instr *in, struct err *e)
{
	struct manage_msg m;
	int rc = manage_msg_parse(line, strlen(line), &m, e);

	if (rc == 0 && m.type != MM_INSTRUCTION)
		return err_set(e, -EPROTO, "not an instruction");
	*in = m.in;
	return rc;
}

static void
test_instruction_ok(void **state)
{
	struct manage_instr in;
	struct err e;

	(void)state;
	assert_int_equal(parse("{\"v\":1,\"type\":\"instruction\",\"id\":"
	    "\"5f0c\",\"kind\":\"purge-cache\",\"args\":[\"http://fw/v2.bin\"],"
	    "\"issuer\":\"alice\",\"issued\":1765000000,\"deadline\":"
	    "1765000060,\"later\":{\"x\":null}}", &in, &e), 0);
	assert_string_equal(in.id, "5f0c");
	assert_string_equal(in.kind, "purge-cache");
	assert_string_equal(in.issuer, "alice");
	assert_int_equal(in.nargs, 1);
	assert_string_equal(in.args[0], "http://fw/v2.bin");
	assert_int_equal(in.issued, 1765000000);
	assert_int_equal(in.deadline, 1765000060);
	manage_instr_clear(&in);
	/* args, issuer and times may be left out; an unknown kind is not
	 * malformed (it is answered "error"). */
	assert_int_equal(parse("{\"v\":1,\"type\":\"instruction\",\"id\":"
	    "\"ab\",\"kind\":\"frobnicate\"}", &in, &e), 0);
	assert_string_equal(in.issuer, "-");
	assert_int_equal(in.nargs, 0);
	assert_int_equal(in.deadline, 0);
	assert_int_equal(manage_kind_parse(in.kind), MK_UNKNOWN);
	manage_instr_clear(&in);
}

static void
test_instruction_malformed(void **state)
{
	static const char *const bad[] = {
		"",					/* not JSON */
		"not json",
		"{\"v\":1,",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\"} trailing",
		"[1,2]",				/* not an object */
		"\"instruction\"",
		"null",
		"{\"type\":\"instruction\",\"id\":\"a\",\"kind\":\"status\"}",
		"{\"v\":2,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\"}",			/* wrong v */
		"{\"v\":\"1\",\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\"}",
		"{\"v\":1.0,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\"}",
		"{\"v\":1,\"type\":\"bogus\",\"id\":\"a\",\"kind\":\"status\"}",
		"{\"v\":1,\"type\":\"result\",\"id\":\"a\",\"outcome\":\"ok\"}",
		"{\"v\":1,\"type\":\"hello\",\"version\":\"1\"}",
		"{\"v\":1,\"id\":\"a\",\"kind\":\"status\"}",
		"{\"v\":1,\"type\":\"instruction\",\"kind\":\"status\"}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"\",\"kind\":"
		    "\"status\"}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"ABCD\",\"kind\":"
		    "\"status\"}",		/* not lowercase hex */
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"xyz\",\"kind\":"
		    "\"status\"}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"0123456789abcdef"
		    "0123456789abcdef0\",\"kind\":\"status\"}",	/* 33 */
		"{\"v\":1,\"type\":\"instruction\",\"id\":7,\"kind\":"
		    "\"status\"}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\"}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":[]}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"0123456789012345678901234567890123\"}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\",\"args\":\"x\"}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\",\"args\":[1]}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\",\"args\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\","
		    "\"7\",\"8\",\"9\"]}",		/* too many args */
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\",\"issuer\":5}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\",\"issuer\":\"0123456789012345678901234567890123"
		    "4567890123456789012345678901234\"}",	/* 65 */
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\",\"deadline\":\"soon\"}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\",\"issued\":-1}",
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"status\",\"deadline\":1.5}",
		"{\"v\":1,\"v\":1,\"type\":\"instruction\",\"id\":\"a\","
		    "\"kind\":\"status\"}",		/* duplicate key */
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"st\\u0000atus\"}",		/* NUL inside */
		"{\"v\":1,\"type\":\"instruction\",\"id\":\"a\",\"kind\":"
		    "\"\xff\"}",			/* not UTF-8 */
	};
	struct manage_instr in;
	struct err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		if (parse(bad[i], &in, &e) != -EPROTO)
			fail_msg("accepted: %s", bad[i]);
		assert_true(e.msg[0] != '\0');
		assert_int_equal(in.nargs, 0);
	}
}

static void
test_instruction_sizes(void **state)
{
	size_t n = MANAGE_MSG_MAX + 10, pre;
	char *line = malloc(n), *arg;
	struct manage_instr in;
	struct manage_msg mm;
	struct err e;

	(void)state;
	assert_non_null(line);
	/* A line of MANAGE_MSG_MAX bytes (its '\n' would be one more). */
	memset(line, ' ', n);
	assert_int_equal(manage_msg_parse(line, MANAGE_MSG_MAX, &mm, &e),
	    -EPROTO);
	assert_non_null(strstr(e.msg, "longer than"));
	/* An argument of MANAGE_ARG_MAX bytes passes, one more does not. */
	pre = (size_t)snprintf(line, n, "{\"v\":1,\"type\":\"instruction\","
	    "\"id\":\"a\",\"kind\":\"prefetch\",\"args\":[\"");
	arg = line + pre;
	memset(arg, 'x', MANAGE_ARG_MAX);
	strcpy(arg + MANAGE_ARG_MAX, "\"]}");
	assert_int_equal(parse(line, &in, &e), 0);
	assert_int_equal(strlen(in.args[0]), MANAGE_ARG_MAX);
	manage_instr_clear(&in);
	memset(arg, 'x', MANAGE_ARG_MAX + 1);
	strcpy(arg + MANAGE_ARG_MAX + 1, "\"]}");
	assert_int_equal(parse(line, &in, &e), -EPROTO);
	free(line);
}

/* An instruction's params: an object, kept whole, within
 * MANAGE_PARAMS_MAX encoded; a wrong one makes the line malformed. */
static void
test_params(void **state)
{
	size_t n = MANAGE_PARAMS_MAX + 200, pre;
	char *line = malloc(n), *body;
	struct manage_instr in;
	struct err e;

	(void)state;
	assert_non_null(line);
	assert_int_equal(parse("{\"v\":1,\"type\":\"instruction\",\"id\":"
	    "\"ab\",\"kind\":\"readiness\",\"args\":[\"voice\"],"
	    "\"params\":{\"profile\":{\"name\":\"voice\"},\"udp\":"
	    "{\"port\":7444}}}", &in, &e), 0);
	assert_int_equal(manage_kind_parse(in.kind), MK_READINESS);
	assert_true(json_is_object(in.params));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    in.params, "udp"), "port")), 7444);
	manage_instr_clear(&in);
	assert_null(in.params);
	assert_int_equal(parse("{\"v\":1,\"type\":\"instruction\",\"id\":"
	    "\"ab\",\"kind\":\"status\"}", &in, &e), 0);
	assert_null(in.params);
	manage_instr_clear(&in);
	assert_int_equal(parse("{\"v\":1,\"type\":\"instruction\",\"id\":"
	    "\"ab\",\"kind\":\"readiness\",\"params\":[1]}", &in, &e),
	    -EPROTO);
	assert_non_null(strstr(e.msg, "params"));
	assert_null(in.params);
	assert_int_equal(parse("{\"v\":1,\"type\":\"instruction\",\"id\":"
	    "\"ab\",\"kind\":\"readiness\",\"params\":\"x\"}", &in, &e),
	    -EPROTO);
	/* {"x":"...."}: 8 bytes around the string; at the limit it passes,
	 * a byte more does not. */
	pre = (size_t)snprintf(line, n, "{\"v\":1,\"type\":\"instruction\","
	    "\"id\":\"a\",\"kind\":\"readiness\",\"params\":{\"x\":\"");
	body = line + pre;
	memset(body, 'p', MANAGE_PARAMS_MAX - 8);
	strcpy(body + MANAGE_PARAMS_MAX - 8, "\"}}");
	assert_int_equal(parse(line, &in, &e), 0);
	manage_instr_clear(&in);
	memset(body, 'p', MANAGE_PARAMS_MAX - 7);
	strcpy(body + MANAGE_PARAMS_MAX - 7, "\"}}");
	assert_int_equal(parse(line, &in, &e), -EPROTO);
	assert_null(in.params);
	free(line);
}

/* The cloud's schedule: a profile, its interval and the next time, or
 * null; anything else is malformed. */
static void
test_schedule(void **state)
{
	static const char *const bad[] = {
		"{\"v\":1,\"type\":\"schedule\"}",
		"{\"v\":1,\"type\":\"schedule\",\"readiness\":5}",
		"{\"v\":1,\"type\":\"schedule\",\"readiness\":{\"every\":"
		    "60,\"next\":1}}",
		"{\"v\":1,\"type\":\"schedule\",\"readiness\":{\"profile\":"
		    "\"voice\",\"every\":0,\"next\":1}}",
		"{\"v\":1,\"type\":\"schedule\",\"readiness\":{\"profile\":"
		    "\"voice\",\"every\":60,\"next\":-1}}",
		"{\"v\":1,\"type\":\"schedule\",\"readiness\":{\"profile\":"
		    "\"voice\",\"every\":\"6h\",\"next\":1}}",
		"{\"v\":2,\"type\":\"schedule\",\"readiness\":null}",
	};
	struct manage_msg m;
	const char *line;
	struct err e;
	size_t i;

	(void)state;
	line = "{\"v\":1,\"type\":\"schedule\",\"readiness\":{\"profile\":"
	    "\"voice\",\"every\":21600,\"next\":1765003600}}";
	assert_int_equal(manage_msg_parse(line, strlen(line), &m, &e), 0);
	assert_int_equal(m.type, MM_SCHEDULE);
	assert_true(m.sched.set);
	assert_string_equal(m.sched.profile, "voice");
	assert_int_equal(m.sched.every, 21600);
	assert_int_equal(m.sched.next, 1765003600);
	line = "{\"v\":1,\"type\":\"schedule\",\"readiness\":null}";
	assert_int_equal(manage_msg_parse(line, strlen(line), &m, &e), 0);
	assert_int_equal(m.type, MM_SCHEDULE);
	assert_false(m.sched.set);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (manage_msg_parse(bad[i], strlen(bad[i]), &m, &e) !=
		    -EPROTO)
			fail_msg("accepted: %s", bad[i]);
}

static void
test_kept(void **state)
{
	char *s, *blob;
	size_t len;

	(void)state;
	s = manage_msg_kept("5f0c", json_pack("{s:s}", "verdict", "pass"),
	    &len);
	assert_string_equal(s, "{\"v\":1,\"type\":\"kept\",\"id\":\"5f0c\","
	    "\"result\":{\"verdict\":\"pass\"}}\n");
	assert_int_equal(len, strlen(s));
	free(s);
	/* figures print as they were rounded */
	s = manage_msg_kept("ab", json_pack("{s:f,s:f}", "ms", 10.2,
	    "started", 1765000000.123), &len);
	assert_non_null(strstr(s, "\"ms\":10.2,"));
	assert_non_null(strstr(s, "\"started\":1765000000.123}"));
	free(s);
	blob = malloc(MANAGE_RESULT_MAX + 1);
	assert_non_null(blob);
	memset(blob, 'a', MANAGE_RESULT_MAX);
	assert_null(manage_msg_kept("ab", json_stringn(blob,
	    MANAGE_RESULT_MAX), &len));
	free(blob);
}

static void
test_hello_and_results(void **state)
{
	enum manage_outcome o;
	char *s, big[MANAGE_ERROR_MAX * 2];
	size_t len;
	json_t *r;

	(void)state;
	s = manage_msg_hello("1.2.3", (1u << MK_STATUS) | (1u << MK_LOGS),
	    &len);
	assert_string_equal(s, "{\"v\":1,\"type\":\"hello\",\"version\":"
	    "\"1.2.3\",\"accepts\":[\"status\",\"logs\"]}\n");
	assert_int_equal(len, strlen(s));
	free(s);
	s = manage_msg_result("ab", MO_REFUSED, NULL, "refused by the site's "
	    "policy", &o, &len);
	assert_string_equal(s, "{\"v\":1,\"type\":\"result\",\"id\":\"ab\","
	    "\"outcome\":\"refused\",\"error\":\"refused by the site's "
	    "policy\"}\n");
	assert_int_equal(o, MO_REFUSED);
	free(s);
	s = manage_msg_result("ab", MO_OK, json_pack("{s:i}", "purged", 3),
	    NULL, &o, &len);
	assert_string_equal(s, "{\"v\":1,\"type\":\"result\",\"id\":\"ab\","
	    "\"outcome\":\"ok\",\"result\":{\"purged\":3}}\n");
	free(s);
	/* Too large a result becomes an error; an error is cut. */
	{
		char *blob = malloc(MANAGE_RESULT_MAX + 1);

		assert_non_null(blob);
		memset(blob, 'a', MANAGE_RESULT_MAX);
		r = json_stringn(blob, MANAGE_RESULT_MAX);
		free(blob);
	}
	s = manage_msg_result("ab", MO_OK, r, NULL, &o, &len);
	assert_int_equal(o, MO_ERROR);
	assert_non_null(strstr(s, "result too large"));
	assert_null(strstr(s, "\"result\":"));
	free(s);
	memset(big, 'e', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = manage_msg_result("ab", MO_ERROR, NULL, big, &o, &len);
	assert_true(len < MANAGE_ERROR_MAX + 100);
	free(s);
}

static void
test_policy(void **state)
{
	struct strlist l = { 0 };
	manage_policy p;
	struct err e;

	(void)state;
	assert_int_equal(manage_policy_parse(&l, &p, &e), 0);
	assert_int_equal(p, 0);
	assert_int_equal(conf_parse_list("status, reload", &l, &e), 0);
	assert_int_equal(manage_policy_parse(&l, &p, &e), 0);
	assert_true(manage_policy_accepts(p, MK_STATUS));
	assert_true(manage_policy_accepts(p, MK_RELOAD));
	assert_false(manage_policy_accepts(p, MK_LOGS));
	assert_false(manage_policy_accepts(p, MK_UNKNOWN));
	strlist_free(&l);
	assert_int_equal(conf_parse_list("none", &l, &e), 0);
	assert_int_equal(manage_policy_parse(&l, &p, &e), 0);
	assert_int_equal(p, 0);
	strlist_free(&l);
	assert_int_equal(conf_parse_list("none, status", &l, &e), 0);
	assert_int_equal(manage_policy_parse(&l, &p, &e), -EINVAL);
	strlist_free(&l);
	assert_int_equal(conf_parse_list("status, sudo", &l, &e), 0);
	assert_int_equal(manage_policy_parse(&l, &p, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "sudo"));
	strlist_free(&l);
	assert_string_equal(manage_kind_name(MK_PURGE_CACHE), "purge-cache");
	assert_int_equal(manage_kind_parse("prefetch"), MK_PREFETCH);
	assert_string_equal(manage_kind_name(MK_READINESS), "readiness");
	assert_int_equal(manage_kind_parse("readiness"), MK_READINESS);
}

/* The edge config's `manage` line: default, words, file:line errors. */
static int
load(const char *manage_line, struct edge_conf **cf,
    struct conf_errors *errs)
{
	char path[] = "/tmp/test_manage_XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "[edge]\ncloud = 127.0.0.1:7443\ncert = e.crt\nkey = e.key\n"
	    "ca = ca.crt\ncloud_pin = sha256:%064d\n%s\n", 0, manage_line);
	fclose(f);
	memset(errs, 0, sizeof(*errs));
	rc = edge_conf_load(path, cf, errs);
	unlink(path);
	return rc;
}

static void
test_config_line(void **state)
{
	struct conf_errors errs;
	struct edge_conf *cf;
	manage_policy p;
	struct err e;

	(void)state;
	assert_int_equal(load("", &cf, &errs), 0);
	assert_int_equal(manage_policy_parse(&cf->manage, &p, &e), 0);
	assert_int_equal(p, (1u << MK_STATUS) | (1u << MK_DOCTOR) |
	    (1u << MK_PURGE_CACHE) | (1u << MK_PREFETCH));
	edge_conf_free(cf);
	assert_int_equal(load("manage = none", &cf, &errs), 0);
	assert_int_equal(manage_policy_parse(&cf->manage, &p, &e), 0);
	assert_int_equal(p, 0);
	edge_conf_free(cf);
	assert_int_equal(load("manage = logs, reload", &cf, &errs), 0);
	/* the readiness limits' defaults */
	assert_int_equal(cf->readiness_max_bytes, 50u << 20);
	assert_true(cf->readiness_udp);
	edge_conf_free(cf);
	/* readiness is accepted only when named */
	assert_int_equal(load("manage = status, readiness\n"
	    "readiness_max_bytes = 1M\nreadiness_udp = off", &cf, &errs), 0);
	assert_int_equal(manage_policy_parse(&cf->manage, &p, &e), 0);
	assert_int_equal(p, (1u << MK_STATUS) | (1u << MK_READINESS));
	assert_int_equal(cf->readiness_max_bytes, 1u << 20);
	assert_false(cf->readiness_udp);
	edge_conf_free(cf);
	assert_int_equal(load("readiness_max_bytes = 2G", &cf, &errs),
	    -EINVAL);
	assert_non_null(strstr(errs.line[0], ":7: readiness_max_bytes"));
	assert_int_equal(load("manage = status, sudo", &cf, &errs), -EINVAL);
	assert_non_null(strstr(errs.line[0], ":7: manage: 'sudo' is not one "
	    "of"));
	assert_int_equal(load("manage = none, status", &cf, &errs), -EINVAL);
	assert_non_null(strstr(errs.line[0], ":7: manage: 'none' stands "
	    "alone"));
}

static void
test_logring(void **state)
{
	char *out;
	size_t len;
	long n;
	int i;

	(void)state;
	assert_int_equal(logring_tail(5, &out, &len), 0);
	assert_int_equal(logring_enable(64), 0);
	logring_add("one\n", 4);
	logring_add("two\n", 4);
	logring_add("three\n", 6);
	n = logring_tail(2, &out, &len);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "two\nthree\n", len);
	free(out);
	n = logring_tail(10, &out, &len);
	assert_int_equal(n, 3);
	free(out);
	/* Bounded in bytes: the oldest lines go, whole. */
	for (i = 0; i < 40; i++)
		logring_add("0123456789\n", 11);
	n = logring_tail(100, &out, &len);
	assert_int_equal(n, 5);
	assert_int_equal(len, 55);
	free(out);
	logring_add("a line longer than the whole ring is never kept at all, "
	    "not even in part\n", 73);
	n = logring_tail(1, &out, &len);
	assert_int_equal(n, 1);
	assert_memory_equal(out, "0123456789\n", 11);
	free(out);
	assert_int_equal(logring_enable(0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instruction_ok),
		cmocka_unit_test(test_instruction_malformed),
		cmocka_unit_test(test_instruction_sizes),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_kept),
		cmocka_unit_test(test_hello_and_results),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_config_line),
		cmocka_unit_test(test_logring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
