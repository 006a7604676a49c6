/* The result document's pieces, for every measure (rtest-int.h). Out of
 * memory leaves a figure out: the document stays well-formed. */
#include "edge/readiness/rtest-int.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/timeval.h"

double
rresult_at(const struct rtest *t)
{
	return (double)(mono_us() - t->t0) / 1e6;
}

void
rresult_real(json_t *m, const char *key, double v, int decimals)
{
	if (m != NULL)
		json_object_set_new(m, key, json_real(rcalc_round(v,
		    decimals)));
}

void
rresult_int(json_t *m, const char *key, int64_t v)
{
	if (m != NULL)
		json_object_set_new(m, key, json_integer((json_int_t)v));
}

void
rresult_str(json_t *m, const char *key, const char *v)
{
	if (m != NULL)
		json_object_set_new(m, key, json_string(v));
}

json_t *
rresult_measure(struct rtest *t, const char *name, enum rverdict v,
    double at)
{
	json_t *m = json_object();

	if (m == NULL || json_object_set_new(t->measures, name, m) != 0)
		return NULL;
	rresult_str(m, "verdict", rverdict_name(v));
	if (at >= 0)
		rresult_real(m, "at", at, 3);
	return m;
}

void
rresult_note(struct rtest *t, const char *name, enum rverdict v, double at,
    const char *fmt, ...)
{
	json_t *m = rresult_measure(t, name, v, at);
	char detail[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	rresult_str(m, "detail", detail);
}

bool
rresult_spend(struct rtest *t, uint64_t cost)
{
	if (t->spent + cost > t->plan)
		return false;
	t->spent += cost;
	return true;
}
