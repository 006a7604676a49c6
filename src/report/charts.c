/*
 * Which plots an edge gets in the HTML report, from which figures, in
 * which colours, and drawing them. Encoding a plot as PNG is most of
 * the report's time (zlib, some 7 ms an image), and each plot is
 * independent of the others, so they are drawn on a few threads: cairo
 * is safe with one surface per thread, and these share nothing else.
 *
 * The series' colours are part of the contract (docs/readiness.md,
 * "Reports"): a reader, and the system tests, count points by them.
 */
#include "report/report-int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timefmt.h"

/* Each series' colour, also its legend's; no two the same, none grey
 * (the axes' and grid's). */
#define C_RTT_MEDIAN	0x1f77b4
#define C_RTT_P95	0xff7f0e
#define C_JITTER_PING	0x2ca02c
#define C_JITTER_UDP	0x9467bd
#define C_LOSS		0xd62728
#define C_BLOCKED	0x8c564b
#define C_DOWN		0x17becf
#define C_UP		0xe377c2
#define C_MOS		0x006d2c
#define C_SAMPLES_PING	0xbcbd22
#define C_SAMPLES_UDP	0x393b79

/* Threads at most: past a few, the writer of the HTML is the wait. */
#define THREADS_MAX 8

/* The figures plotted over time, a plot each: which figures, their
 * labels and colours; fig -1 is "UDP blocked" (events, no y). */
struct series_def {
	int fig;
	const char *label;
	uint32_t rgb;
	enum plot_marker marker;
};

struct plot_def {
	const char *title, *ylabel, *what;
	struct series_def s[2];
	size_t ns;
};

static const struct plot_def plots[] = {
	{ "Round trip over the tunnel (HTTP/2 PINGs)", "round trip (ms)",
	    "round trip", {
	    { RF_RTT_MEDIAN, "median", C_RTT_MEDIAN, PLOT_CIRCLE },
	    { RF_RTT_P95, "95th percentile", C_RTT_P95, PLOT_DIAMOND } }, 2 },
	{ "Jitter (RFC 3550)", "jitter (ms)", "jitter", {
	    { RF_RTT_JITTER, "PINGs", C_JITTER_PING, PLOT_CIRCLE },
	    { RF_UDP_JITTER, "UDP train", C_JITTER_UDP, PLOT_SQUARE } }, 2 },
	{ "Loss (UDP train)", "loss (%)", "loss", {
	    { RF_UDP_LOSS, "loss", C_LOSS, PLOT_CIRCLE },
	    { -1, "UDP blocked", C_BLOCKED, PLOT_CROSS } }, 2 },
	{ "Goodput through the tunnel", "goodput (Mbit/s)", "goodput", {
	    { RF_DOWN, "down", C_DOWN, PLOT_CIRCLE },
	    { RF_UP, "up", C_UP, PLOT_SQUARE } }, 2 },
	{ "Voice quality estimate (E-model, G.711)", "MOS (1 to 4.5)", "MOS", {
	    { RF_MOS, "MOS", C_MOS, PLOT_CIRCLE } }, 1 },
};

#define NPLOTS (sizeof(plots) / sizeof(plots[0]))

/* The latest test's distribution first, then the plots over time. */
const size_t report_charts_per_edge = 1 + NPLOTS;

/* A series over time: the tests of ed that have figure fig. */
struct points {
	double *x, *y;
	size_t n;
};

static int
points_of(const struct redge *ed, int fig, struct points *p)
{
	size_t i;

	p->n = 0;
	p->x = calloc(ed->n + 1, sizeof(*p->x));
	p->y = calloc(ed->n + 1, sizeof(*p->y));
	if (p->x == NULL || p->y == NULL)
		return -ENOMEM;
	for (i = 0; i < ed->n; i++) {
		const struct rtest *t = ed->tests[i];
		bool has = fig >= 0 ? !isnan(t->fig[fig]) : t->udp_blocked;

		if (!has)
			continue;
		p->x[p->n] = t->at;
		p->y[p->n++] = fig >= 0 ? t->fig[fig] : 0;
	}
	return 0;
}

static int
over_time(struct report_chart *c, const struct plot_def *d)
{
	const struct redge *ed = c->ed;
	struct plot_series s[2];
	struct points pts[2];
	struct plot_time pt = { d->title, d->ylabel, s, 0 };
	size_t i, total = 0;
	int rc = 0;

	memset(pts, 0, sizeof(pts));
	for (i = 0; i < d->ns && rc == 0; i++) {
		rc = points_of(ed, d->s[i].fig, &pts[i]);
		if (rc != 0 || pts[i].n == 0)
			continue;
		s[pt.ns++] = (struct plot_series){ d->s[i].label, d->s[i].rgb,
		    d->s[i].marker, pts[i].x, d->s[i].fig >= 0 ? pts[i].y :
		    NULL, pts[i].n };
		total += pts[i].n;
	}
	if (rc != 0) {
		rc = err_set(&c->e, rc, "out of memory");
	} else if (pt.ns == 0) {
		snprintf(c->none, sizeof(c->none), "No %s figures in these "
		    "tests.", d->what);
	} else {
		snprintf(c->alt, sizeof(c->alt), "%s for %s/%s: %zu points",
		    d->title, ed->tenant, ed->edge, total);
		snprintf(c->caption, sizeof(c->caption), "%s over %zu test%s; "
		    "a test without the figure has no point.", d->title, ed->n,
		    ed->n == 1 ? "" : "s");
		rc = plot_time_png(&pt, &c->png, &c->e);
	}
	for (i = 0; i < d->ns; i++) {
		free(pts[i].x);
		free(pts[i].y);
	}
	return rc;
}

/* The latest test's round trips, one panel per kind of sample. */
static int
distribution(struct report_chart *c)
{
	static const struct {
		const char *key, *what;
		uint32_t rgb;
	} kinds[] = {
		{ "rtt_ms", "HTTP/2 PINGs over the tunnel", C_SAMPLES_PING },
		{ "udp_rtt_ms", "UDP train", C_SAMPLES_UDP },
	};
	const struct rtest *t = c->ed->tests[c->ed->n - 1];
	double *v[2] = { NULL, NULL };
	char label[2][128], title[128], at[TIME_TEXT_MAX];
	struct plot_series s[2];
	struct plot_dots pd = { title, "round trip (ms)", s, 0 };
	size_t i, k, total = 0;
	json_t *a, *x;
	int rc = 0;

	for (i = 0; i < 2 && rc == 0; i++) {
		a = json_object_get(t->samples, kinds[i].key);
		if (json_array_size(a) == 0)
			continue;
		v[i] = calloc(json_array_size(a), sizeof(*v[i]));
		if (v[i] == NULL) {
			rc = err_set(&c->e, -ENOMEM, "out of memory");
			break;
		}
		json_array_foreach(a, k, x)
			v[i][k] = json_number_value(x);
		snprintf(label[i], sizeof(label[i]), "%s: %zu round trips",
		    kinds[i].what, json_array_size(a));
		s[pd.ns++] = (struct plot_series){ label[i], kinds[i].rgb,
		    PLOT_SQUARE, v[i], NULL, json_array_size(a) };
		total += json_array_size(a);
	}
	time_format((int64_t)t->at, TIME_TEXT, at, sizeof(at));
	snprintf(title, sizeof(title), "Round trips of the latest test (%s)",
	    at);
	if (rc == 0 && pd.ns == 0) {
		snprintf(c->none, sizeof(c->none), "%s", t->result == NULL ?
		    "The latest test's result was left out of this answer." :
		    "The latest test kept no round-trip samples.");
	} else if (rc == 0) {
		snprintf(c->alt, sizeof(c->alt), "%s for %s/%s: %zu samples",
		    title, c->ed->tenant, c->ed->edge, total);
		rc = plot_dots_png(&pd, &c->png, &c->e);
		snprintf(c->caption, sizeof(c->caption), "%s", c->png.bars ?
		    "Each square is one round trip, stacked in its bin; a "
		    "panel with more round trips alike than it can stack "
		    "draws bars, as high as their count." :
		    "Each square is one round trip, stacked in its bin: the "
		    "distribution, and the samples can be counted.");
	}
	free(v[0]);
	free(v[1]);
	return rc;
}

static void
draw(struct report_chart *c)
{
	c->rc = c->kind == 0 ? distribution(c) :
	    over_time(c, &plots[c->kind - 1]);
}

struct pool {
	struct report_chart *c;
	size_t n;
	size_t next;		/* taken with __atomic_fetch_add */
};

static void *
worker(void *arg)
{
	struct pool *p = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < p->n)
		draw(&p->c[i]);
	return NULL;
}

void
report_charts_draw(struct report_chart *c, size_t n)
{
	struct pool p = { c, n, 0 };
	pthread_t th[THREADS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want, i, started = 0;

	want = cpus > 1 ? (size_t)cpus : 1;
	want = want < THREADS_MAX ? want : THREADS_MAX;
	want = want < n ? want : n;
	/* this thread is one of them; one that cannot start is no loss:
	 * the others take its share */
	for (i = 1; i < want; i++)
		if (pthread_create(&th[started], NULL, worker, &p) == 0)
			started++;
	worker(&p);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

void
report_chart_init(struct report_chart *c, const struct redge *ed,
    size_t kind)
{
	memset(c, 0, sizeof(*c));
	c->ed = ed;
	c->kind = kind;
}

void
report_chart_free(struct report_chart *c)
{
	plot_png_free(&c->png);
}
