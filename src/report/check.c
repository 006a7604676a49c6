/*
 * Is it a report: every field the renderers read, checked for its type
 * and range before any of them looks (docs/readiness-report.schema.json
 * says the same in JSON Schema; the system tests hold the two together).
 * A field this does not know is let through: a newer cloud or edge may
 * add figures, and the renderers only read what they know.
 */
#include "report/report-int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/names.h"

/* What samples holds at most (docs/readiness.md, "Results"). */
#define SAMPLES_RTT_MAX 200
#define SAMPLES_UDP_MAX 500
/* An id is the instruction's (hex); a detail or an issuer is text. */
#define ID_MAX 64
/* The largest figure and time taken: far above any measure (a year in
 * ms is 3e10), far below what would overflow the plots' arithmetic. */
#define FIGURE_MAX 1e12
#define TIME_MAX 253402300799.0		/* 9999-12-31T23:59:59Z */

enum ftype {
	FT_STR,		/* a string */
	FT_NAME,	/* a tenant, edge or profile name (names.h) */
	FT_ID,		/* a test's id */
	FT_NUM,		/* a number, >= 0 */
	FT_REAL,	/* a number (the E-model's R goes below 0) */
	FT_TIME,	/* a number, > 0: seconds since the epoch */
	FT_INT,		/* an integer, >= 0 */
	FT_BOOL,
	FT_VERDICT,	/* pass, warn, fail, skipped */
	FT_OBJ,
	FT_ARR,
	FT_OBJ_NULL,	/* an object or null */
	FT_NAME_NULL,	/* a name or null */
	FT_INT_NULL,	/* an integer >= 0, or null */
};

struct field {
	const char *key;
	enum ftype type;
	bool required;
};

static const struct field doc_fields[] = {
	{ "generated", FT_STR, true },
	{ "filter", FT_OBJ, true },
	{ "tests", FT_ARR, true },
};

static const struct field filter_fields[] = {
	{ "tenant", FT_NAME_NULL, false },
	{ "edge", FT_NAME_NULL, false },
	{ "since", FT_INT_NULL, false },
	{ "limit", FT_INT_NULL, false },
};

static const struct field test_fields[] = {
	{ "id", FT_ID, true },
	{ "tenant", FT_NAME, true },
	{ "edge", FT_NAME, true },
	{ "profile", FT_NAME, true },
	{ "at", FT_TIME, true },
	{ "received", FT_TIME, false },
	{ "verdict", FT_VERDICT, true },
	{ "late", FT_BOOL, false },
	{ "issuer", FT_STR, false },
	/* null: the cloud left it out, past its bound on an answer's bytes
	 * (the oldest first); the test's other fields are there */
	{ "result", FT_OBJ_NULL, true },
};

static const struct field result_fields[] = {
	{ "profile", FT_NAME, false },
	{ "started", FT_TIME, false },
	{ "seconds", FT_NUM, false },
	{ "verdict", FT_VERDICT, true },
	{ "budget", FT_INT, false },
	{ "plan", FT_INT, false },
	{ "measures", FT_OBJ, true },
	{ "samples", FT_OBJ, false },
};

/* Every measure's fields in one table: a name means the same in each. */
static const struct field measure_fields[] = {
	{ "verdict", FT_VERDICT, true },
	{ "at", FT_NUM, false },
	{ "detail", FT_STR, false },
	{ "ms", FT_NUM, false },
	{ "count", FT_INT, false },
	{ "sent", FT_INT, false },
	{ "received", FT_INT, false },
	{ "min_ms", FT_NUM, false },
	{ "median_ms", FT_NUM, false },
	{ "p95_ms", FT_NUM, false },
	{ "max_ms", FT_NUM, false },
	{ "jitter_ms", FT_NUM, false },
	{ "up_jitter_ms", FT_NUM, false },
	{ "down_jitter_ms", FT_NUM, false },
	{ "loss_pct", FT_NUM, false },
	{ "up_loss_pct", FT_NUM, false },
	{ "down_loss_pct", FT_NUM, false },
	{ "reordered", FT_INT, false },
	{ "duplicates", FT_INT, false },
	{ "blocked", FT_BOOL, false },
	{ "bytes", FT_INT, false },
	{ "seconds", FT_NUM, false },
	{ "mbps", FT_NUM, false },
	{ "estimate", FT_BOOL, false },
	{ "codec", FT_STR, false },
	{ "r", FT_REAL, false },
	{ "mos", FT_NUM, false },
	{ "delay_ms", FT_NUM, false },
};

#define NF(a) (sizeof(a) / sizeof(a[0]))

static bool
id_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= ID_MAX && strspn(s, "0123456789abcdefABCDEF-")
	    == n;
}

/* Why v is not of type t, or NULL when it is. */
static const char *
wrong(json_t *v, enum ftype t)
{
	enum rverdict verdict;

	switch (t) {
	case FT_STR:
		return json_is_string(v) ? NULL : "not a string";
	case FT_NAME:
		return json_is_string(v) && name_valid(json_string_value(v)) ?
		    NULL : "not a name ([A-Za-z0-9][A-Za-z0-9._-], at most 63)";
	case FT_ID:
		return json_is_string(v) && id_valid(json_string_value(v)) ?
		    NULL : "not a test id (hex, at most 64)";
	case FT_NUM:
		return json_is_number(v) && json_number_value(v) >= 0 &&
		    json_number_value(v) <= FIGURE_MAX ? NULL :
		    "not a number from 0 to 1e12";
	case FT_REAL:
		return json_is_number(v) && fabs(json_number_value(v)) <=
		    FIGURE_MAX ? NULL : "not a number from -1e12 to 1e12";
	case FT_TIME:
		return json_is_number(v) && json_number_value(v) > 0 &&
		    json_number_value(v) <= TIME_MAX ? NULL :
		    "not a time (seconds since 1970, before the year 10000)";
	case FT_INT:
		return json_is_integer(v) && json_integer_value(v) >= 0 ?
		    NULL : "not an integer >= 0";
	case FT_BOOL:
		return json_is_boolean(v) ? NULL : "not true or false";
	case FT_VERDICT:
		return json_is_string(v) && report_verdict_parse(
		    json_string_value(v), &verdict) == 0 ? NULL :
		    "not pass, warn, fail or skipped";
	case FT_OBJ:
		return json_is_object(v) ? NULL : "not an object";
	case FT_ARR:
		return json_is_array(v) ? NULL : "not an array";
	case FT_OBJ_NULL:
		return json_is_null(v) ? NULL : wrong(v, FT_OBJ);
	case FT_NAME_NULL:
		return json_is_null(v) ? NULL : wrong(v, FT_NAME);
	case FT_INT_NULL:
		return json_is_null(v) ? NULL : wrong(v, FT_INT);
	}
	return "of no known type";
}

static int
check_fields(json_t *o, const struct field *f, size_t n, const char *path,
    struct err *e)
{
	const char *why;
	json_t *v;
	size_t i;

	if (!json_is_object(o))
		return err_set(e, -EINVAL, "%s: not an object", path);
	for (i = 0; i < n; i++) {
		v = json_object_get(o, f[i].key);
		if (v == NULL && f[i].required)
			return err_set(e, -EINVAL, "%s%s%s: missing", path,
			    *path != '\0' ? "." : "", f[i].key);
		if (v != NULL && (why = wrong(v, f[i].type)) != NULL)
			return err_set(e, -EINVAL, "%s%s%s: %s", path,
			    *path != '\0' ? "." : "", f[i].key, why);
	}
	return 0;
}

static int
check_samples(json_t *s, const char *key, size_t max, const char *path,
    struct err *e)
{
	json_t *a = json_object_get(s, key), *v;
	size_t i;

	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > max)
		return err_set(e, -EINVAL, "%s.%s: not an array of at most "
		    "%zu round trips", path, key, max);
	json_array_foreach(a, i, v) {
		if (wrong(v, FT_NUM) != NULL)
			return err_set(e, -EINVAL, "%s.%s[%zu]: %s", path, key,
			    i, wrong(v, FT_NUM));
	}
	return 0;
}

static int
check_result(json_t *res, const char *at, struct err *e)
{
	char path[96], mpath[160];
	const char *name;
	json_t *m, *samples;
	int rc;

	snprintf(path, sizeof(path), "%s.result", at);
	rc = check_fields(res, result_fields, NF(result_fields), path, e);
	if (rc != 0)
		return rc;
	json_object_foreach(json_object_get(res, "measures"), name, m) {
		snprintf(mpath, sizeof(mpath), "%s.measures.%.24s", path,
		    name);
		rc = check_fields(m, measure_fields, NF(measure_fields), mpath,
		    e);
		if (rc != 0)
			return rc;
	}
	samples = json_object_get(res, "samples");
	if (samples == NULL)
		return 0;
	snprintf(mpath, sizeof(mpath), "%s.samples", path);
	rc = check_samples(samples, "rtt_ms", SAMPLES_RTT_MAX, mpath, e);
	return rc != 0 ? rc : check_samples(samples, "udp_rtt_ms",
	    SAMPLES_UDP_MAX, mpath, e);
}

int
report_check(json_t *doc, struct err *e)
{
	char path[64];
	json_t *t;
	size_t i;
	int rc;

	if (!json_is_object(doc))
		return err_set(e, -EINVAL, "not a JSON object");
	rc = check_fields(doc, doc_fields, NF(doc_fields), "", e);
	if (rc == 0)
		rc = check_fields(json_object_get(doc, "filter"),
		    filter_fields, NF(filter_fields), "filter", e);
	if (rc != 0)
		return rc;
	json_array_foreach(json_object_get(doc, "tests"), i, t) {
		snprintf(path, sizeof(path), "tests[%zu]", i);
		rc = check_fields(t, test_fields, NF(test_fields), path, e);
		if (rc == 0 && !json_is_null(json_object_get(t, "result")))
			rc = check_result(json_object_get(t, "result"), path,
			    e);
		if (rc != 0)
			return rc;
	}
	return 0;
}
