/*
 * A readiness report as `isthmus readiness --input` reads it (a cloud's
 * answer goes the same way): any bytes as JSON, checked, filtered,
 * indexed and rendered in the three formats. Edges wrote most of it. A
 * document the checker lets through must render without a sanitizer
 * report, a hang (the plots' axes on extreme ranges) or an error, and
 * its HTML must hold no raw markup from the input.
 */
#include "fuzz.h"

#include <jansson.h>

#include "report/report.h"

typedef int (*render_fn)(const struct report *, FILE *, struct err *);

static void
render(const struct report *r, render_fn fn, int html)
{
	char *out = NULL;
	size_t len = 0;
	struct err e;
	FILE *f;

	f = open_memstream(&out, &len);
	if (f == NULL)
		abort();
	if (fn(r, f, &e) != 0)
		abort();
	fclose(f);
	/* the only scripts or elements in the HTML are the renderer's */
	if (html && (strstr(out, "<script") != NULL ||
	    strstr(out, "<iframe") != NULL))
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_filter flt = { "A", NULL, 1000, 3 };
	struct report *r;
	json_error_t jerr;
	struct err e;
	json_t *doc;

	fuzz_quiet();
	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (doc == NULL)
		return 0;
	/* as the cloud sends it, then as a saved report filtered */
	if (report_load(doc, NULL, &r, &e) == 0) {
		render(r, report_text, 0);
		render(r, report_json, 0);
		render(r, report_html, 1);
		report_free(r);
		if (report_load(doc, &flt, &r, &e) != 0)
			abort();	/* a report filtered is still one */
		render(r, report_text, 0);
		report_free(r);
	}
	json_decref(doc);
	return 0;
}
