/* The readiness report's pieces on their own: the filter of a saved
 * report, the checker's messages, a measure's line, the HTML escaping
 * and a plot's PNG (the system tests drive the whole command). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "report/plot.h"
#include "report/report-int.h"

/* Four tests of A/agw; the middle two at the same time. */
static json_t *
doc_of(void)
{
	json_error_t jerr;
	json_t *d = json_loads(
	    "{\"generated\": \"2026-12-02T10:00:00Z\","
	    " \"filter\": {\"tenant\": null, \"limit\": 1000},"
	    " \"tests\": ["
	    "  {\"id\": \"01\", \"tenant\": \"A\", \"edge\": \"agw\","
	    "   \"profile\": \"voice\", \"at\": 1796000000, \"verdict\": \"pass\","
	    "   \"result\": {\"verdict\": \"pass\", \"measures\": {"
	    "    \"rtt\": {\"verdict\": \"pass\", \"median_ms\": 10.6,"
	    "     \"p95_ms\": 12, \"count\": 50, \"received\": 49}}}},"
	    "  {\"id\": \"02\", \"tenant\": \"A\", \"edge\": \"agw\","
	    "   \"profile\": \"voice\", \"at\": 1796003600, \"verdict\": \"fail\","
	    "   \"result\": {\"verdict\": \"fail\", \"measures\": {"
	    "    \"udp\": {\"verdict\": \"fail\", \"blocked\": true,"
	    "     \"sent\": 500, \"received\": 0,"
	    "     \"detail\": \"<b>blocked</b>\"}}}},"
	    "  {\"id\": \"03\", \"tenant\": \"B\", \"edge\": \"bgw\","
	    "   \"profile\": \"voice\", \"at\": 1796003600, \"verdict\": \"warn\","
	    "   \"result\": {\"verdict\": \"warn\", \"measures\": {}}},"
	    "  {\"id\": \"04\", \"tenant\": \"A\", \"edge\": \"agw\","
	    "   \"profile\": \"voice\", \"at\": 1796007200, \"verdict\": \"pass\","
	    "   \"result\": {\"verdict\": \"pass\", \"measures\": {}}}]}",
	    0, &jerr);

	assert_non_null(d);
	return d;
}

static void
test_filter_keeps_the_newest_in_document_order(void **state)
{
	struct report_filter flt = { NULL, NULL, 0, 2 };
	struct report *r;
	struct err e;
	json_t *d = doc_of(), *tests;

	(void)state;
	assert_int_equal(report_load(d, &flt, &r, &e), 0);
	tests = json_object_get(d, "tests");
	assert_int_equal(json_array_size(tests), 2);
	/* of the two at 1796003600, the later in the document */
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(tests, 0), "id")), "03");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    d, "filter"), "limit")), 2);
	assert_int_equal(r->nedges, 2);
	assert_string_equal(r->edges[0].edge, "agw");
	assert_int_equal(r->edges[0].n, 1);
	report_free(r);

	flt = (struct report_filter){ "A", "agw", 1796003600, 0 };
	assert_int_equal(report_load(d, &flt, &r, &e), 0);
	assert_int_equal(r->ntests, 1);
	assert_string_equal(r->tests[0].id, "04");
	report_free(r);
	json_decref(d);
}

static void
test_index_reads_the_figures(void **state)
{
	struct report *r;
	struct err e;
	json_t *d = doc_of();

	(void)state;
	assert_int_equal(report_load(d, NULL, &r, &e), 0);
	assert_int_equal(r->ntests, 4);
	assert_int_equal(r->nedges, 2);
	assert_int_equal(r->edges[0].n, 3);
	assert_int_equal(r->edges[0].verdicts[RV_PASS], 2);
	assert_int_equal(r->edges[0].verdicts[RV_FAIL], 1);
	assert_true(r->edges[0].tests[0]->fig[RF_RTT_MEDIAN] == 10.6);
	assert_true(isnan(r->edges[0].tests[0]->fig[RF_DOWN]));
	assert_true(r->edges[0].tests[1]->udp_blocked);
	assert_true(isnan(r->edges[0].tests[1]->fig[RF_UDP_LOSS]));
	report_free(r);
	json_decref(d);
}

static void
test_check_names_the_wrong_field(void **state)
{
	struct report *r;
	struct err e;
	json_t *d = doc_of(), *m;

	(void)state;
	m = json_object_get(json_object_get(json_object_get(json_array_get(
	    json_object_get(d, "tests"), 0), "result"), "measures"), "rtt");
	json_object_set_new(m, "p95_ms", json_string("12"));
	assert_int_equal(report_load(d, NULL, &r, &e), -EINVAL);
	assert_null(r);
	assert_string_equal(e.msg, "tests[0].result.measures.rtt.p95_ms: "
	    "not a number from 0 to 1e12");
	json_object_set_new(m, "p95_ms", json_real(12));
	json_object_set_new(m, "verdict", json_string("ok"));
	assert_int_equal(report_load(d, NULL, &r, &e), -EINVAL);
	assert_string_equal(e.msg, "tests[0].result.measures.rtt.verdict: "
	    "not pass, warn, fail or skipped");
	json_decref(d);
	d = json_pack("{s:s, s:{}, s:[i]}", "generated", "x", "filter",
	    "tests", 1);
	assert_int_equal(report_load(d, NULL, &r, &e), -EINVAL);
	assert_string_equal(e.msg, "tests[0]: not an object");
	json_decref(d);
}

static void
test_measure_lines(void **state)
{
	char buf[256];
	json_t *m;

	(void)state;
	m = json_pack("{s:s, s:b, s:i, s:i}", "verdict", "fail", "blocked", 1,
	    "sent", 500, "received", 0);
	report_measure_text("udp", m, buf, sizeof(buf));
	assert_string_equal(buf, "UDP blocked, 0/500 echoed");
	json_decref(m);
	m = json_pack("{s:s, s:f, s:f, s:f, s:i, s:i}", "verdict", "pass",
	    "median_ms", 10.6, "p95_ms", 12.0, "jitter_ms", 0.4, "count", 50,
	    "received", 50);
	report_measure_text("rtt", m, buf, sizeof(buf));
	assert_string_equal(buf, "median 10.6 ms, p95 12.0 ms, jitter 0.4 ms, "
	    "50/50 answered");
	/* a short buffer stays a string */
	report_measure_text("rtt", m, buf, 8);
	assert_string_equal(buf, "median ");
	json_decref(m);
}

static void
test_html_escapes_what_edges_wrote(void **state)
{
	struct report *r;
	struct err e;
	char *out = NULL;
	size_t len = 0;
	json_t *d = doc_of();
	FILE *f;

	(void)state;
	/* the latest test's, shown in its table */
	json_object_set_new(json_array_get(json_object_get(d, "tests"), 3),
	    "issuer", json_string("<b>eve</b>"));
	assert_int_equal(report_load(d, NULL, &r, &e), 0);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(report_html(r, f, &e), 0);
	fclose(f);
	assert_non_null(strstr(out, "&lt;b&gt;eve&lt;/b&gt;"));
	assert_null(strstr(out, "<b>"));
	assert_non_null(strstr(out, "src=\"data:image/png;base64,iVBORw0KGgo"));
	free(out);
	report_free(r);
	json_decref(d);
}

static void
test_plot_is_a_png(void **state)
{
	const double x[] = { 1796000000, 1796003600 }, y[] = { 10, 20 };
	struct plot_series s = { "median", 0x1f77b4, PLOT_CIRCLE, x, y, 2 };
	struct plot_time p = { "RTT", "round trip (ms)", &s, 1 };
	struct plot_dots dp = { "dots", "round trip (ms)", &s, 1 };
	struct plot_png png;
	struct err e;

	(void)state;
	assert_int_equal(plot_time_png(&p, &png, &e), 0);
	assert_true(png.len > 8);
	assert_memory_equal(png.buf, "\x89PNG\r\n\x1a\n", 8);
	assert_int_equal(png.width, 900);
	plot_png_free(&png);
	assert_int_equal(plot_dots_png(&dp, &png, &e), 0);
	assert_memory_equal(png.buf, "\x89PNG\r\n\x1a\n", 8);
	assert_false(png.bars);
	plot_png_free(&png);
	/* more alike than a panel can stack: bars, still a PNG */
	{
		double same[500];
		struct plot_series b = { "same", 0x393b79, PLOT_SQUARE, same,
		    NULL, 500 };
		struct plot_dots bp = { "bars", "round trip (ms)", &b, 1 };
		size_t i;

		for (i = 0; i < 500; i++)
			same[i] = 10;
		assert_int_equal(plot_dots_png(&bp, &png, &e), 0);
		assert_memory_equal(png.buf, "\x89PNG\r\n\x1a\n", 8);
		assert_true(png.bars);
		plot_png_free(&png);
	}
	/* nothing to plot is an error, not an empty image */
	s.n = 0;
	assert_int_equal(plot_time_png(&p, &png, &e), -EINVAL);
	assert_int_equal(plot_dots_png(&dp, &png, &e), -EINVAL);
	plot_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_keeps_the_newest_in_document_order),
		cmocka_unit_test(test_index_reads_the_figures),
		cmocka_unit_test(test_check_names_the_wrong_field),
		cmocka_unit_test(test_measure_lines),
		cmocka_unit_test(test_html_escapes_what_edges_wrote),
		cmocka_unit_test(test_plot_is_a_png),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
