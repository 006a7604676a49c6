/*
 * Readiness results at the cloud (docs/readiness.md, "Results"): each one
 * goes to the store's readiness table with its edge, tenant, profile,
 * start and verdict, and each edge's latest figures feed the gauges
 * (metrics.c). A result is the edge's word: only a document with a
 * profile name, a start and a verdict is kept.
 */
#include "cloud/manage/manage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/manage/manage-int.h"
#include "common/names.h"
#include "common/stat.h"

static const char *const verdicts[RV_COUNT] = {
	[RV_PASS] = "pass", [RV_WARN] = "warn", [RV_FAIL] = "fail",
};

static int
verdict_parse(const char *s)
{
	int i;

	for (i = 0; s != NULL && i < RV_COUNT; i++)
		if (strcmp(s, verdicts[i]) == 0)
			return i;
	return -1;
}

const char *
results_verdict_name(enum rverdict v)
{
	return (unsigned)v < RV_COUNT ? verdicts[v] : "?";
}

/* measures.NAME.FIELD as a number, if there. */
static bool
figure(json_t *o, const char *measure, const char *field, double *out)
{
	json_t *v = json_object_get(json_object_get(json_object_get(o,
	    "measures"), measure), field);

	if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
	    json_number_value(v) < 0)
		return false;
	*out = json_number_value(v);
	return true;
}

/* What the gauges show of o. */
static void
figures_of(json_t *o, struct rfigures *f)
{
	double v;

	/* the UDP train is what voice sees; the PINGs when it did not run */
	if ((f->has[RF_RTT] = figure(o, "udp", "median_ms", &v) ||
	    figure(o, "rtt", "median_ms", &v)))
		f->v[RF_RTT] = v / 1000;
	if ((f->has[RF_JITTER] = figure(o, "udp", "jitter_ms", &v) ||
	    figure(o, "rtt", "jitter_ms", &v)))
		f->v[RF_JITTER] = v / 1000;
	if ((f->has[RF_LOSS] = figure(o, "udp", "loss_pct", &v)))
		f->v[RF_LOSS] = v / 100;
	else if ((f->has[RF_LOSS] = json_is_true(json_object_get(
	    json_object_get(json_object_get(o, "measures"), "udp"),
	    "blocked"))))
		f->v[RF_LOSS] = 1;	/* UDP blocked: nothing came back */
	if ((f->has[RF_DOWN] = figure(o, "down", "mbps", &v)))
		f->v[RF_DOWN] = v * 1e6;
	if ((f->has[RF_UP] = figure(o, "up", "mbps", &v)))
		f->v[RF_UP] = v * 1e6;
}

bool
results_store(struct store *st, const char *tenant, const char *edge,
    const char *id, const char *result, bool late, struct rfigures *fig)
{
	json_t *o = json_loads(result, 0, NULL), *started;
	struct store_readiness r;
	const char *profile;
	int verdict;

	memset(fig, 0, sizeof(*fig));
	profile = json_string_value(json_object_get(o, "profile"));
	started = json_object_get(o, "started");
	verdict = verdict_parse(json_string_value(json_object_get(o,
	    "verdict")));
	if (!json_is_object(o) || profile == NULL || !name_valid(profile) ||
	    !json_is_number(started) || verdict < 0 ||
	    !(json_number_value(started) > 0 &&
	    json_number_value(started) < 1e11)) {
		json_decref(o);
		return false;
	}
	fig->ok = true;
	fig->verdict = (enum rverdict)verdict;
	fig->at = json_number_value(started);
	figures_of(o, fig);
	if (st != NULL) {
		memset(&r, 0, sizeof(r));
		snprintf(r.id, sizeof(r.id), "%s", id);
		snprintf(r.tenant, sizeof(r.tenant), "%s", tenant);
		snprintf(r.edge, sizeof(r.edge), "%s", edge);
		snprintf(r.profile, sizeof(r.profile), "%s", profile);
		snprintf(r.verdict, sizeof(r.verdict), "%s", verdicts[verdict]);
		r.at = (int64_t)fig->at;
		r.received = (int64_t)time(NULL);
		r.late = late;
		r.result = (char *)(uintptr_t)result;	/* the store copies */
		(void)store_readiness_add(st, &r);
	}
	json_decref(o);
	return true;
}

void
results_note(struct manage_hub *h, const char *tenant, const char *edge,
    const struct rfigures *fig)
{
	struct rlatest *l;

	STAT_ADD(h->verdicts[fig->verdict], 1);
	for (l = h->latest; l != NULL; l = l->next)
		if (strcmp(l->tenant, tenant) == 0 &&
		    strcmp(l->edge, edge) == 0)
			break;
	if (l == NULL && (l = calloc(1, sizeof(*l))) != NULL) {
		snprintf(l->tenant, sizeof(l->tenant), "%s", tenant);
		snprintf(l->edge, sizeof(l->edge), "%s", edge);
		l->next = h->latest;
		h->latest = l;
	}
	if (l != NULL && fig->at >= l->f.at)	/* a kept one may be older */
		l->f = *fig;
}

void
results_free(struct manage_hub *h)
{
	struct rlatest *l;

	while ((l = h->latest) != NULL) {
		h->latest = l->next;
		free(l);
	}
}
