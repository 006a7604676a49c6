/*
 * Inside the report folder: the document once checked (check.c) and
 * indexed (model.c), as the renderers (text.c, html.c) read it, and the
 * words and figures they share (figures.c). Private to src/report/.
 */
#ifndef ISTHMUS_REPORT_INT_H
#define ISTHMUS_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "common/err.h"
#include "report/plot.h"
#include "report/report.h"

/* A verdict, worst last but for skipped (docs/readiness.md, "What the
 * edge measures"). */
enum rverdict { RV_PASS, RV_WARN, RV_FAIL, RV_SKIPPED, RV_N };

/* The figures the tables and plots read from a test's result, in the
 * document's units; NAN when the result does not have it (a measure
 * skipped, failed, or not in the profile). */
enum rfig {
	RF_RTT_MEDIAN,		/* PINGs over the tunnel, ms */
	RF_RTT_P95,
	RF_RTT_JITTER,
	RF_UDP_MEDIAN,		/* the UDP train, ms */
	RF_UDP_JITTER,
	RF_UDP_LOSS,		/* % */
	RF_DOWN,		/* goodput, Mbit/s */
	RF_UP,
	RF_MOS,			/* the voice estimate */
	RF_N
};

struct rtest {
	json_t *o;		/* the test's object in the document */
	size_t idx;		/* its place there */
	/* result NULL: the cloud left it out (its bound on an answer's
	 * bytes); then measures and samples are NULL too, and every figure
	 * NAN. samples may be NULL in any case. */
	json_t *result, *measures, *samples;
	const char *id, *tenant, *edge, *profile, *issuer;
	double at;		/* seconds since the epoch */
	enum rverdict verdict;
	bool late;
	bool udp_blocked;
	double fig[RF_N];
};

/* One edge's tests, oldest first. */
struct redge {
	const char *tenant, *edge;
	struct rtest **tests;
	size_t n;
	size_t verdicts[RV_N];
};

struct report {
	json_t *doc;
	struct rtest *tests;	/* oldest first */
	size_t ntests;
	struct rtest **order;	/* by tenant, edge, time: redge's slices */
	struct redge *edges;	/* by tenant, then edge */
	size_t nedges;
};

/* --- figures.c: the words and figures both renderings show ---------- */

/* The measures of a result, in the order the edge runs them. */
extern const char *const report_measures[];
extern const size_t report_nmeasures;
/* Whether name is one of them (a newer edge may send others). */
bool report_measure_known(const char *name);

const char *report_verdict_name(enum rverdict v);
/* -EINVAL when s is no verdict. */
int report_verdict_parse(const char *s, enum rverdict *v);
/* A measure's figures as one line: "median 10.6 ms, p95 12.0 ms, ..."
 * ("" when it has none); name says which measure m is. */
void report_measure_text(const char *name, json_t *m, char *buf,
    size_t cap);
/* What a report says of a test whose result the cloud left out. */
extern const char report_left_out[];
/* v with decimals, or "-" when it is NAN. */
void report_fig(double v, int decimals, char *buf, size_t cap);
/* The test's figures for a table row: RTT, jitter (the UDP train's when
 * it ran, else the PINGs'), loss ("blocked" when UDP was), down, up,
 * MOS. */
struct report_row {
	char rtt[24], jitter[24], loss[24], down[24], up[24], mos[24];
};
void report_row(const struct rtest *t, struct report_row *row);

/* --- charts.c: an edge's plots for the HTML report ------------------- */

/* One plot of one edge: drawn, or nothing to draw (none says so), or an
 * error (rc, e). */
struct report_chart {
	const struct redge *ed;
	size_t kind;		/* 0 .. report_charts_per_edge - 1 */
	int rc;
	struct err e;
	struct plot_png png;	/* png.len 0: none */
	char alt[256], caption[256], none[128];
};

extern const size_t report_charts_per_edge;
void report_chart_init(struct report_chart *c, const struct redge *ed,
    size_t kind);
/* Draws c[0..n) on up to as many threads as there are CPUs (8 at most). */
void report_charts_draw(struct report_chart *c, size_t n);
void report_chart_free(struct report_chart *c);

/* --- check.c: is it a report ------------------------------------------ */

/* -EINVAL with e naming the first field that is wrong. */
int report_check(json_t *doc, struct err *e);

#endif
