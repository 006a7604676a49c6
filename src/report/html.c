/*
 * The report as one HTML file that needs nothing else: the plots are PNG
 * images inside it (data: URIs), the style is inline, and nothing is
 * fetched from anywhere, so it can be mailed, archived and opened on a
 * machine with no network. Every string in it is escaped: most of them
 * come from edges, which are not trusted. The plots are charts.c's.
 */
#include "report/report-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/timefmt.h"

static const char style[] =
"body{font:14px/1.45 'DejaVu Sans',Verdana,sans-serif;color:#222;"
"margin:24px auto;max-width:940px;padding:0 12px}\n"
"h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px;"
"border-bottom:2px solid #ccc}h3{font-size:15px;margin:18px 0 6px}\n"
"table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}\n"
"th,td{border:1px solid #ccc;padding:2px 7px;text-align:left;"
"vertical-align:top}th{background:#f2f2f2}td.n{text-align:right;"
"font-variant-numeric:tabular-nums;white-space:nowrap}\n"
".pass{background:#dcf2dc}.warn{background:#fff1c4}"
".fail{background:#f7d4d4}.skipped{background:#ececec;color:#555}\n"
"figure{margin:10px 0 16px}figure img{display:block;max-width:100%;"
"height:auto;border:0}figcaption{font-size:12px;color:#555}\n"
".meta{color:#555}.none{font-style:italic}\n"
"@page{margin:14mm}\n"
"@media print{body{margin:0;max-width:none;padding:0}"
"section.edge{break-before:page}figure,tr,.latest{break-inside:avoid}"
"a{color:inherit;text-decoration:none}"
"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n";

/* s as HTML text or attribute value: the five markup characters as
 * entities, control characters (not allowed in HTML) as U+FFFD. */
static void
esc(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

	for (; *p != '\0'; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n') ||
			    *p == 0x7f)
				fputs("&#xfffd;", f);
			else
				fputc(*p, f);
		}
	}
}

static void
when(double t, char *buf, size_t cap)
{
	time_format((int64_t)t, TIME_TEXT, buf, cap);
}

/* png as an <img> with a data: URI; base64 by OpenSSL. */
static int
put_png(FILE *f, const struct plot_png *png, const char *alt,
    struct err *e)
{
	unsigned char *b64;
	int n;

	if (png->len > (size_t)(INT32_MAX / 4 * 3 - 3))
		return err_set(e, -E2BIG, "a plot of %zu bytes", png->len);
	b64 = malloc(4 * ((png->len + 2) / 3) + 1);
	if (b64 == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	n = EVP_EncodeBlock(b64, png->buf, (int)png->len);
	fprintf(f, "<img width=\"%d\" height=\"%d\" alt=\"", png->width,
	    png->height);
	esc(f, alt);
	fputs("\" src=\"data:image/png;base64,", f);
	fwrite(b64, 1, (size_t)n, f);
	fputs("\">\n", f);
	free(b64);
	return 0;
}

static int
emit_chart(FILE *f, const struct report_chart *c, struct err *e)
{
	int rc;

	if (c->rc != 0) {
		*e = c->e;
		return c->rc;
	}
	if (c->png.len == 0) {
		fputs("<p class=\"none\">", f);
		esc(f, c->none);
		fputs("</p>\n", f);
		return 0;
	}
	fputs("<figure>", f);
	rc = put_png(f, &c->png, c->alt, e);
	fputs("<figcaption>", f);
	esc(f, c->caption);
	fputs("</figcaption></figure>\n", f);
	return rc;
}

/* --- tables ----------------------------------------------------------- */

static void
verdict_cell(FILE *f, enum rverdict v)
{
	fprintf(f, "<td class=\"%s\">%s</td>", report_verdict_name(v),
	    report_verdict_name(v));
}

static void
measure_row(FILE *f, const char *name, json_t *m)
{
	json_t *at = json_object_get(m, "at");
	enum rverdict v = RV_SKIPPED;
	char figs[512];

	(void)report_verdict_parse(json_string_value(json_object_get(m,
	    "verdict")), &v);
	report_measure_text(name, m, figs, sizeof(figs));
	fputs("<tr><th>", f);
	esc(f, name);
	fputs("</th>", f);
	verdict_cell(f, v);
	if (json_is_number(at))
		fprintf(f, "<td class=\"n\">%.1f s</td><td>",
		    json_number_value(at));
	else
		fputs("<td class=\"n\">-</td><td>", f);
	esc(f, figs);
	fputs("</td><td>", f);
	esc(f, json_string_value(json_object_get(m, "detail")));
	fputs("</td></tr>\n", f);
}

static void
latest_table(FILE *f, const struct rtest *t)
{
	char at[TIME_TEXT_MAX];
	const char *name;
	json_t *m;
	size_t i;

	when(t->at, at, sizeof(at));
	fprintf(f, "<div class=\"latest\"><h3>Latest test: %s, profile ", at);
	esc(f, t->profile);
	fprintf(f, ", verdict <span class=\"%s\">&nbsp;%s&nbsp;</span></h3>\n",
	    report_verdict_name(t->verdict), report_verdict_name(t->verdict));
	fputs("<p class=\"meta\">Asked by ", f);
	esc(f, t->issuer[0] != '\0' ? t->issuer : "?");
	fputs(t->late ? "; stored late (the tunnel was down when it ended)" :
	    "", f);
	fputs("; test id ", f);
	esc(f, t->id);
	fputs(".</p>\n", f);
	if (t->result == NULL) {
		fputs("<p class=\"none\">", f);
		esc(f, report_left_out);
		fputs(".</p></div>\n", f);
		return;
	}
	fputs("<table class=\"verdicts\"><tr><th>measure</th>"
	    "<th>verdict</th><th>at</th><th>figures</th><th>detail</th></tr>\n",
	    f);
	for (i = 0; i < report_nmeasures; i++) {
		m = json_object_get(t->measures, report_measures[i]);
		if (m != NULL)
			measure_row(f, report_measures[i], m);
	}
	json_object_foreach(t->measures, name, m) {
		if (!report_measure_known(name))
			measure_row(f, name, m);
	}
	fputs("</table></div>\n", f);
}

static void
figure_cells(FILE *f, const struct rtest *t)
{
	struct report_row row;

	report_row(t, &row);
	fprintf(f, "<td class=\"n\">%s</td><td class=\"n\">%s</td>"
	    "<td class=\"n\">%s</td><td class=\"n\">%s</td>"
	    "<td class=\"n\">%s</td><td class=\"n\">%s</td>", row.rtt,
	    row.jitter, row.loss, row.down, row.up, row.mos);
}

static const char figure_heads[] =
	"<th>RTT ms</th><th>jitter ms</th><th>loss %</th>"
	"<th>down Mbit/s</th><th>up Mbit/s</th><th>MOS</th>";

static void
tests_table(FILE *f, const struct redge *ed)
{
	char at[TIME_TEXT_MAX];
	size_t i;

	fprintf(f, "<h3>Every test (%zu, oldest first)</h3>\n<table><tr>"
	    "<th>time (UTC)</th><th>profile</th><th>verdict</th>%s"
	    "<th>asked by</th></tr>\n", ed->n, figure_heads);
	for (i = 0; i < ed->n; i++) {
		const struct rtest *t = ed->tests[i];

		when(t->at, at, sizeof(at));
		fprintf(f, "<tr><td>%s</td><td>", at);
		esc(f, t->profile);
		fputs("</td>", f);
		verdict_cell(f, t->verdict);
		figure_cells(f, t);
		fputs("<td>", f);
		esc(f, t->issuer);
		fputs(t->late ? " (late)" : "", f);
		fputs(t->result == NULL ? " (result left out)" : "", f);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void
summary(FILE *f, const struct report *r)
{
	char at[TIME_TEXT_MAX];
	size_t i;

	fprintf(f, "<h2>Summary</h2>\n<p class=\"meta\">The latest test of "
	    "each edge. RTT: the PINGs' median round trip; jitter: the UDP "
	    "train's when it ran, else the PINGs'; loss: the UDP train's."
	    "</p>\n<table><tr><th>edge</th><th>tests</th><th>pass</th>"
	    "<th>warn</th><th>fail</th><th>latest (UTC)</th><th>verdict</th>"
	    "%s</tr>\n", figure_heads);
	for (i = 0; i < r->nedges; i++) {
		const struct redge *ed = &r->edges[i];
		const struct rtest *t = ed->tests[ed->n - 1];

		when(t->at, at, sizeof(at));
		fputs("<tr><td><a href=\"#edge-", f);
		esc(f, ed->tenant);
		fputs("-", f);
		esc(f, ed->edge);
		fputs("\">", f);
		esc(f, ed->tenant);
		fputs("/", f);
		esc(f, ed->edge);
		fprintf(f, "</a></td><td class=\"n\">%zu</td><td class=\"n\">%zu"
		    "</td><td class=\"n\">%zu</td><td class=\"n\">%zu</td>"
		    "<td>%s</td>", ed->n, ed->verdicts[RV_PASS],
		    ed->verdicts[RV_WARN], ed->verdicts[RV_FAIL], at);
		verdict_cell(f, t->verdict);
		figure_cells(f, t);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

/* --- the document ----------------------------------------------------- */

static void
head(FILE *f, const struct report *r)
{
	json_t *flt = json_object_get(r->doc, "filter");
	json_t *since = json_object_get(flt, "since");
	json_t *limit = json_object_get(flt, "limit");
	char a[TIME_TEXT_MAX], b[TIME_TEXT_MAX];

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width\">\n<title>Network readiness "
	    "report</title>\n<style>\n%s</style>\n</head><body>\n"
	    "<h1>Network readiness report</h1>\n<p class=\"meta\">Generated ",
	    style);
	esc(f, json_string_value(json_object_get(r->doc, "generated")));
	fputs(" by isthmus. Tenant ", f);
	esc(f, json_is_string(json_object_get(flt, "tenant")) ?
	    json_string_value(json_object_get(flt, "tenant")) : "any");
	fputs(", edge ", f);
	esc(f, json_is_string(json_object_get(flt, "edge")) ?
	    json_string_value(json_object_get(flt, "edge")) : "any");
	if (json_integer_value(since) > 0) {
		when((double)json_integer_value(since), a, sizeof(a));
		fprintf(f, ", since %s", a);
	}
	if (json_integer_value(limit) > 0)
		fprintf(f, ", the newest %lld tests at most",
		    (long long)json_integer_value(limit));
	fputs(".", f);
	if (r->ntests > 0) {
		when(r->tests[0].at, a, sizeof(a));
		when(r->tests[r->ntests - 1].at, b, sizeof(b));
		fprintf(f, " %zu test%s of %zu edge%s, from %s to %s.",
		    r->ntests, r->ntests == 1 ? "" : "s", r->nedges,
		    r->nedges == 1 ? "" : "s", a, b);
	}
	fputs(" Times are UTC. The voice figures are estimates (ITU-T G.107 "
	    "E-model).</p>\n", f);
}

/* Edges whose plots are drawn at once, before their sections are
 * written: enough to keep the threads busy, few enough that a fleet's
 * report does not hold every image in memory twice. */
#define EDGES_AT_ONCE 32

static int
edge_section(FILE *f, const struct redge *ed, const struct report_chart *c,
    struct err *e)
{
	size_t i;
	int rc;

	fputs("<section class=\"edge\" id=\"edge-", f);
	esc(f, ed->tenant);
	fputs("-", f);
	esc(f, ed->edge);
	fputs("\">\n<h2>", f);
	esc(f, ed->tenant);
	fputs(" / ", f);
	esc(f, ed->edge);
	fprintf(f, "</h2>\n<p class=\"meta\">%zu test%s: %zu pass, %zu warn, "
	    "%zu fail.</p>\n", ed->n, ed->n == 1 ? "" : "s",
	    ed->verdicts[RV_PASS], ed->verdicts[RV_WARN],
	    ed->verdicts[RV_FAIL]);
	latest_table(f, ed->tests[ed->n - 1]);
	rc = emit_chart(f, &c[0], e);
	fputs("<h3>Over time</h3>\n", f);
	for (i = 1; rc == 0 && i < report_charts_per_edge; i++)
		rc = emit_chart(f, &c[i], e);
	if (rc == 0)
		tests_table(f, ed);
	fputs("</section>\n", f);
	return rc;
}

/* The sections of edges [from, to): their plots drawn, then written. */
static int
edge_sections(FILE *f, const struct report *r, size_t from, size_t to,
    struct report_chart *c, struct err *e)
{
	size_t per = report_charts_per_edge, i, k, n = 0;
	int rc = 0;

	for (i = from; i < to; i++)
		for (k = 0; k < per; k++)
			report_chart_init(&c[n++], &r->edges[i], k);
	report_charts_draw(c, n);
	for (i = from; rc == 0 && i < to; i++)
		rc = edge_section(f, &r->edges[i], &c[(i - from) * per], e);
	for (k = 0; k < n; k++)
		report_chart_free(&c[k]);
	return rc;
}

int
report_html(const struct report *r, FILE *f, struct err *e)
{
	struct report_chart *c;
	size_t i;
	int rc = 0;

	c = calloc(EDGES_AT_ONCE * report_charts_per_edge, sizeof(*c));
	if (c == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	head(f, r);
	if (r->ntests == 0)
		fputs("<p class=\"none\">No readiness test matches: none has "
		    "run in this span, or none is stored yet.</p>\n", f);
	else
		summary(f, r);
	for (i = 0; rc == 0 && i < r->nedges; i += EDGES_AT_ONCE)
		rc = edge_sections(f, r, i, i + EDGES_AT_ONCE < r->nedges ?
		    i + EDGES_AT_ONCE : r->nedges, c, e);
	fputs("</body></html>\n", f);
	free(c);
	plot_cleanup();
	if (rc == 0 && ferror(f))
		rc = err_set(e, -EIO, "cannot write the report");
	return rc;
}
