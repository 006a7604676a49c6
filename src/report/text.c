/*
 * The report for a terminal: per edge, its latest test measure by
 * measure, then one line per test (docs/readiness.md, "Reports"). What
 * an edge wrote (a detail) goes to the terminal with its control
 * characters escaped: an edge is not trusted, and a terminal obeys
 * escape sequences.
 */
#include "report/report-int.h"

#include <errno.h>
#include <string.h>

#include "common/timefmt.h"

/* s with bytes below 0x20, DEL and the UTF-8 forms of the C1 controls
 * (U+0080 to U+009F) as \xNN. */
static void
put_clean(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			fprintf(f, "\\x%02x", *++p);
		else
			fputc(*p, f);
	}
}

static void
when(double t, char *buf, size_t cap)
{
	time_format((int64_t)t, TIME_TEXT, buf, cap);
}

static void
header(const struct report *r, FILE *f)
{
	json_t *flt = json_object_get(r->doc, "filter");
	json_t *since = json_object_get(flt, "since");
	json_t *limit = json_object_get(flt, "limit");
	const char *tenant = json_string_value(json_object_get(flt, "tenant"));
	const char *edge = json_string_value(json_object_get(flt, "edge"));
	char a[TIME_TEXT_MAX], b[TIME_TEXT_MAX];

	fputs("isthmus readiness report, generated ", f);
	put_clean(f, json_string_value(json_object_get(r->doc, "generated")));
	fprintf(f, "\nfilter: tenant %s, edge %s", tenant ? tenant : "any",
	    edge ? edge : "any");
	if (json_integer_value(since) > 0) {
		when((double)json_integer_value(since), a, sizeof(a));
		fprintf(f, ", since %s", a);
	}
	if (json_integer_value(limit) > 0)
		fprintf(f, ", newest %lld", (long long)json_integer_value(limit));
	fputc('\n', f);
	if (r->ntests == 0) {
		fputs("no readiness test matches: none has run in this span, "
		    "or none is stored yet\n", f);
		return;
	}
	when(r->tests[0].at, a, sizeof(a));
	when(r->tests[r->ntests - 1].at, b, sizeof(b));
	fprintf(f, "%zu test%s of %zu edge%s, %s to %s\n", r->ntests,
	    r->ntests == 1 ? "" : "s", r->nedges, r->nedges == 1 ? "" : "s",
	    a, b);
}

static void
measure_line(FILE *f, const char *name, json_t *m)
{
	const char *detail = json_string_value(json_object_get(m, "detail"));
	char figs[512];

	report_measure_text(name, m, figs, sizeof(figs));
	fprintf(f, "    %-6.24s %-8s ", name, json_string_value(
	    json_object_get(m, "verdict")));
	put_clean(f, figs);
	if (detail != NULL) {
		fputs(figs[0] != '\0' ? "; " : "", f);
		put_clean(f, detail);
	}
	fputc('\n', f);
}

static void
latest(FILE *f, const struct rtest *t)
{
	char at[TIME_TEXT_MAX];
	const char *name;
	json_t *m;
	size_t i;

	when(t->at, at, sizeof(at));
	fprintf(f, "  latest: %s, profile %s, by ", at, t->profile);
	put_clean(f, t->issuer[0] != '\0' ? t->issuer : "?");
	fprintf(f, ": %s%s\n", report_verdict_name(t->verdict),
	    t->late ? " (stored late: the tunnel was down when it ended)" : "");
	if (t->result == NULL)
		fprintf(f, "    %s\n", report_left_out);
	for (i = 0; i < report_nmeasures; i++) {
		m = json_object_get(t->measures, report_measures[i]);
		if (m != NULL)
			measure_line(f, report_measures[i], m);
	}
	/* a newer edge's measures, after the ones this knows */
	json_object_foreach(t->measures, name, m) {
		if (!report_measure_known(name))
			measure_line(f, name, m);
	}
}

static void
tests(FILE *f, const struct redge *ed)
{
	struct report_row row;
	char at[TIME_TEXT_MAX];
	size_t i;

	fprintf(f, "  %-24s %-12s %-7s %7s %9s %7s %11s %9s %4s\n", "TIME",
	    "PROFILE", "VERDICT", "RTT_ms", "JITTER_ms", "LOSS_%",
	    "DOWN_Mbit/s", "UP_Mbit/s", "MOS");
	for (i = 0; i < ed->n; i++) {
		const struct rtest *t = ed->tests[i];

		when(t->at, at, sizeof(at));
		report_row(t, &row);
		fprintf(f, "  %-24s %-12s %-7s %7s %9s %7s %11s %9s %4s%s%s\n",
		    at, t->profile, report_verdict_name(t->verdict), row.rtt,
		    row.jitter, row.loss, row.down, row.up, row.mos,
		    t->late ? " late" : "", t->result == NULL ?
		    " (result left out)" : "");
	}
}

int
report_text(const struct report *r, FILE *f, struct err *e)
{
	const struct redge *ed;
	size_t i;

	header(r, f);
	for (i = 0; i < r->nedges; i++) {
		ed = &r->edges[i];
		fprintf(f, "\n%s/%s: %zu test%s: %zu pass, %zu warn, %zu fail\n",
		    ed->tenant, ed->edge, ed->n, ed->n == 1 ? "" : "s",
		    ed->verdicts[RV_PASS], ed->verdicts[RV_WARN],
		    ed->verdicts[RV_FAIL]);
		latest(f, ed->tests[ed->n - 1]);
		tests(f, ed);
	}
	if (ferror(f))
		return err_set(e, -EIO, "cannot write the report");
	return 0;
}
