/*
 * The report once checked: filtered (a saved report read again with
 * --tenant, --since...), indexed by edge, and each test's figures read
 * once for the renderers (report-int.h). The JSON rendering is here too:
 * it is the document itself.
 */
#include "report/report-int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *
str_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static double
fig_of(json_t *measures, const char *measure, const char *key)
{
	json_t *v = json_object_get(json_object_get(measures, measure), key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static bool
passes(json_t *t, const struct report_filter *flt)
{
	if (flt->tenant != NULL && strcmp(str_of(t, "tenant"),
	    flt->tenant) != 0)
		return false;
	if (flt->edge != NULL && strcmp(str_of(t, "edge"), flt->edge) != 0)
		return false;
	return flt->since <= 0 || json_number_value(json_object_get(t,
	    "at")) >= (double)flt->since;
}

struct when {
	double at;
	size_t idx;
};

/* Newest first; the later in the document first among equals. */
static int
newest_first(const void *a, const void *b)
{
	const struct when *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? 1 : -1;
	return x->idx < y->idx ? 1 : x->idx > y->idx ? -1 : 0;
}

/* The tests array with only those flt lets through, newest limit of them
 * at most, in the document's order. */
static json_t *
filtered(json_t *tests, const struct report_filter *flt)
{
	struct when *w;
	json_t *out, *t;
	bool *keep;
	size_t i, n = 0, k;

	w = calloc(json_array_size(tests) + 1, sizeof(*w));
	keep = calloc(json_array_size(tests) + 1, sizeof(*keep));
	out = json_array();
	if (w == NULL || keep == NULL || out == NULL) {
		json_decref(out);
		out = NULL;
		goto out;
	}
	json_array_foreach(tests, i, t) {
		if (passes(t, flt)) {
			w[n].at = json_number_value(json_object_get(t, "at"));
			w[n++].idx = i;
		}
	}
	qsort(w, n, sizeof(*w), newest_first);
	for (k = 0; k < n && (flt->limit <= 0 || k < (size_t)flt->limit); k++)
		keep[w[k].idx] = true;
	json_array_foreach(tests, i, t) {
		if (keep[i] && json_array_append(out, t) != 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
out:
	free(w);
	free(keep);
	return out;
}

/* The document's filter, narrowed by flt. */
static int
narrow_filter(json_t *doc, const struct report_filter *flt)
{
	json_t *f = json_object_get(doc, "filter");
	json_t *since = json_object_get(f, "since");
	json_t *limit = json_object_get(f, "limit");
	int rc = 0;

	if (flt->tenant != NULL)
		rc |= json_object_set_new(f, "tenant",
		    json_string(flt->tenant));
	if (flt->edge != NULL)
		rc |= json_object_set_new(f, "edge", json_string(flt->edge));
	if (flt->since > 0 && (!json_is_integer(since) ||
	    json_integer_value(since) < flt->since))
		rc |= json_object_set_new(f, "since",
		    json_integer(flt->since));
	if (flt->limit > 0 && (!json_is_integer(limit) ||
	    json_integer_value(limit) <= 0 ||
	    json_integer_value(limit) > flt->limit))
		rc |= json_object_set_new(f, "limit",
		    json_integer(flt->limit));
	return rc == 0 ? 0 : -ENOMEM;
}

static void
read_test(json_t *o, size_t idx, struct rtest *t)
{
	json_t *ms, *udp;

	t->o = o;
	t->idx = idx;
	t->result = json_is_object(json_object_get(o, "result")) ?
	    json_object_get(o, "result") : NULL;
	t->measures = ms = json_object_get(t->result, "measures");
	t->samples = json_object_get(t->result, "samples");
	t->id = str_of(o, "id");
	t->tenant = str_of(o, "tenant");
	t->edge = str_of(o, "edge");
	t->profile = str_of(o, "profile");
	t->issuer = str_of(o, "issuer") != NULL ? str_of(o, "issuer") : "";
	t->at = json_number_value(json_object_get(o, "at"));
	(void)report_verdict_parse(str_of(o, "verdict"), &t->verdict);
	t->late = json_is_true(json_object_get(o, "late"));
	udp = json_object_get(ms, "udp");
	t->udp_blocked = json_is_true(json_object_get(udp, "blocked"));
	t->fig[RF_RTT_MEDIAN] = fig_of(ms, "rtt", "median_ms");
	t->fig[RF_RTT_P95] = fig_of(ms, "rtt", "p95_ms");
	t->fig[RF_RTT_JITTER] = fig_of(ms, "rtt", "jitter_ms");
	t->fig[RF_UDP_MEDIAN] = fig_of(ms, "udp", "median_ms");
	t->fig[RF_UDP_JITTER] = fig_of(ms, "udp", "jitter_ms");
	/* a blocked train has no loss figure to plot: nothing came back */
	t->fig[RF_UDP_LOSS] = t->udp_blocked ? NAN :
	    fig_of(ms, "udp", "loss_pct");
	t->fig[RF_DOWN] = fig_of(ms, "down", "mbps");
	t->fig[RF_UP] = fig_of(ms, "up", "mbps");
	t->fig[RF_MOS] = fig_of(ms, "voice", "mos");
}

static int
by_time(const void *a, const void *b)
{
	const struct rtest *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx ? 1 : 0;
}

static int
by_edge(const void *a, const void *b)
{
	const struct rtest *x = *(struct rtest *const *)a;
	const struct rtest *y = *(struct rtest *const *)b;
	int c = strcmp(x->tenant, y->tenant);

	if (c == 0)
		c = strcmp(x->edge, y->edge);
	return c != 0 ? c : by_time(x, y);
}

/* r->order and r->edges from r->tests. */
static int
index_edges(struct report *r)
{
	struct redge *ed = NULL;
	size_t i;

	r->order = calloc(r->ntests + 1, sizeof(*r->order));
	r->edges = calloc(r->ntests + 1, sizeof(*r->edges));
	if (r->order == NULL || r->edges == NULL)
		return -ENOMEM;
	for (i = 0; i < r->ntests; i++)
		r->order[i] = &r->tests[i];
	qsort(r->order, r->ntests, sizeof(*r->order), by_edge);
	for (i = 0; i < r->ntests; i++) {
		struct rtest *t = r->order[i];

		if (ed == NULL || strcmp(ed->tenant, t->tenant) != 0 ||
		    strcmp(ed->edge, t->edge) != 0) {
			ed = &r->edges[r->nedges++];
			ed->tenant = t->tenant;
			ed->edge = t->edge;
			ed->tests = &r->order[i];
		}
		ed->n++;
		ed->verdicts[t->verdict]++;
	}
	return 0;
}

int
report_load(json_t *doc, const struct report_filter *flt,
    struct report **out, struct err *e)
{
	struct report *r;
	json_t *tests, *t;
	size_t i;
	int rc;

	*out = NULL;
	rc = report_check(doc, e);
	if (rc != 0)
		return rc;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	r->doc = json_incref(doc);
	if (flt != NULL) {
		tests = filtered(json_object_get(doc, "tests"), flt);
		if (tests == NULL || json_object_set_new(doc, "tests",
		    tests) != 0 || narrow_filter(doc, flt) != 0) {
			report_free(r);
			return err_set(e, -ENOMEM, "out of memory");
		}
	}
	tests = json_object_get(doc, "tests");
	r->ntests = json_array_size(tests);
	r->tests = calloc(r->ntests + 1, sizeof(*r->tests));
	if (r->tests == NULL) {
		report_free(r);
		return err_set(e, -ENOMEM, "out of memory");
	}
	json_array_foreach(tests, i, t)
		read_test(t, i, &r->tests[i]);
	qsort(r->tests, r->ntests, sizeof(*r->tests), by_time);
	if (index_edges(r) != 0) {
		report_free(r);
		return err_set(e, -ENOMEM, "out of memory");
	}
	*out = r;
	return 0;
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	json_decref(r->doc);
	free(r->tests);
	free(r->order);
	free(r->edges);
	free(r);
}

int
report_json(const struct report *r, FILE *f, struct err *e)
{
	/* 15 digits: what a double keeps exactly, so 10.6 stays "10.6"
	 * rather than jansson's default 17 ("10.599999999999999") */
	if (json_dumpf(r->doc, f, JSON_INDENT(2) | JSON_REAL_PRECISION(15))
	    != 0 || fputc('\n', f) == EOF)
		return err_set(e, -EIO, "cannot write the JSON report");
	return 0;
}
