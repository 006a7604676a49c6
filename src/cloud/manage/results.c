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

/* The document's profile, start and verdict; NULL when it has none. */
static json_t *
parse(const char *text, const char **profile, double *started, int *verdict)
{
	json_t *o = json_loads(text, 0, NULL), *st;

	if (o == NULL)
		return NULL;
	*profile = json_string_value(json_object_get(o, "profile"));
	st = json_object_get(o, "started");
	*verdict = verdict_parse(json_string_value(json_object_get(o,
	    "verdict")));
	if (!json_is_object(o) || *profile == NULL || !name_valid(*profile) ||
	    !json_is_number(st) || *verdict < 0 ||
	    !(json_number_value(st) > 0 && json_number_value(st) < 1e11)) {
		json_decref(o);
		return NULL;
	}
	*started = json_number_value(st);
	return o;
}

bool
results_store(struct store *st, const char *tenant, const char *edge,
    const char *id, const char *result, bool late)
{
	struct store_readiness r;
	const char *profile;
	double started;
	int verdict;
	json_t *o;

	if ((o = parse(result, &profile, &started, &verdict)) == NULL)
		return false;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.tenant, sizeof(r.tenant), "%s", tenant);
	snprintf(r.edge, sizeof(r.edge), "%s", edge);
	snprintf(r.profile, sizeof(r.profile), "%s", profile);
	snprintf(r.verdict, sizeof(r.verdict), "%s", verdicts[verdict]);
	r.at = (int64_t)started;
	r.received = (int64_t)time(NULL);
	r.late = late;
	r.result = (char *)(uintptr_t)result;	/* copied by the store */
	(void)store_readiness_add(st, &r);
	json_decref(o);
	return true;
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

void
results_note(struct manage_hub *h, const char *tenant, const char *edge,
    const char *result)
{
	struct rlatest *l;
	const char *profile;
	double started, v;
	int verdict;
	json_t *o;

	if ((o = parse(result, &profile, &started, &verdict)) == NULL)
		return;
	STAT_ADD(h->verdicts[verdict], 1);
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
	if (l == NULL || started < l->at) {	/* a kept one, older */
		json_decref(o);
		return;
	}
	l->at = started;
	/* the UDP train is what voice sees; the PINGs when it did not run */
	if ((l->has[RF_RTT] = figure(o, "udp", "median_ms", &v) ||
	    figure(o, "rtt", "median_ms", &v)))
		l->v[RF_RTT] = v / 1000;
	if ((l->has[RF_JITTER] = figure(o, "udp", "jitter_ms", &v) ||
	    figure(o, "rtt", "jitter_ms", &v)))
		l->v[RF_JITTER] = v / 1000;
	if ((l->has[RF_LOSS] = figure(o, "udp", "loss_pct", &v)))
		l->v[RF_LOSS] = v / 100;
	else if ((l->has[RF_LOSS] = json_is_true(json_object_get(
	    json_object_get(json_object_get(o, "measures"), "udp"),
	    "blocked"))))
		l->v[RF_LOSS] = 1;	/* UDP blocked: nothing came back */
	if ((l->has[RF_DOWN] = figure(o, "down", "mbps", &v)))
		l->v[RF_DOWN] = v * 1e6;
	if ((l->has[RF_UP] = figure(o, "up", "mbps", &v)))
		l->v[RF_UP] = v * 1e6;
	json_decref(o);
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
