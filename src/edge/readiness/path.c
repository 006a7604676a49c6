/*
 * The path measures dns, tcp, proxy and tls: the doctor's own steps
 * (`isthmus doctor --path --json`, config to alpn) on a second,
 * short-lived connection, run as a child (edge/child.h) because the
 * doctor blocks in loops of its own. Each step's time is judged against
 * the profile's dns, connect (tcp and the proxy's CONNECT) and handshake
 * thresholds; a step the doctor failed or skipped is fail with its words.
 */
#include "edge/readiness/rtest-int.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "edge/child.h"
#include "edge/daemon.h"

/* The doctor's JSON, at most. */
#define PATH_OUT_MAX (64u * 1024)

struct rpath {
	struct child *c;
	double at;
};

static const struct {
	const char *name;
	size_t thresh;		/* offset in struct readiness_profile */
} steps[] = {
	{ "dns", offsetof(struct readiness_profile, dns) },
	{ "tcp", offsetof(struct readiness_profile, connect) },
	{ "proxy", offsetof(struct readiness_profile, connect) },
	{ "tls", offsetof(struct readiness_profile, handshake) },
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

void
rpath_stop(struct rtest *t)
{
	if (t->path == NULL)
		return;
	child_cancel(t->path->c);
	free(t->path);
	t->path = NULL;
}

/* Every path measure failed the same way. */
static void
all_fail(struct rtest *t, double at, const char *why)
{
	size_t i;

	for (i = 0; i < NSTEPS; i++)
		rresult_note(t, steps[i].name, RV_FAIL, at, "%s", why);
}

static json_t *
find_step(json_t *doc, const char *name)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(doc, "steps"), i, s)
		if (json_is_string(json_object_get(s, "name")) &&
		    strcmp(json_string_value(json_object_get(s, "name")),
		    name) == 0)
			return s;
	return NULL;
}

/* One of the doctor's steps as a measure. */
static void
one_step(struct rtest *t, double at, json_t *doc, size_t k)
{
	json_t *s = find_step(doc, steps[k].name), *us, *m;
	const struct conf_thresh *th = (const struct conf_thresh *)(const void *)
	    ((const char *)&t->prm.p + steps[k].thresh);
	const char *v, *detail;
	enum rverdict vd;
	double ms;

	if (s == NULL) {
		rresult_note(t, steps[k].name, RV_FAIL, at, "the doctor did "
		    "not report it");
		return;
	}
	v = json_string_value(json_object_get(s, "verdict"));
	detail = json_string_value(json_object_get(s, "detail"));
	us = json_object_get(s, "us");
	if (v != NULL && strcmp(v, "n/a") == 0) {
		rresult_note(t, steps[k].name, RV_SKIPPED, at, "no proxy");
		return;
	}
	if (v == NULL || (strcmp(v, "pass") != 0 && strcmp(v, "warn") != 0)) {
		m = rresult_measure(t, steps[k].name, RV_FAIL, at);
		if (json_is_integer(us))
			rresult_real(m, "ms", (double)json_integer_value(us) /
			    1000, 3);
		rresult_str(m, "detail", detail != NULL ? detail : "failed");
		return;
	}
	ms = json_is_integer(us) ? (double)json_integer_value(us) / 1000 : 0;
	vd = rcalc_above(ms, th);
	if (strcmp(v, "warn") == 0)
		vd = rverdict_worst(vd, RV_WARN);
	m = rresult_measure(t, steps[k].name, vd, at);
	rresult_real(m, "ms", ms, 3);
	if (strcmp(v, "warn") == 0 && detail != NULL)
		rresult_str(m, "detail", detail);
}

static void
on_doctor(const struct child_result *res, void *arg)
{
	struct rtest *t = arg;
	double at = t->path->at;
	json_error_t je;
	json_t *doc = NULL;
	size_t k;

	free(t->path);		/* the child frees itself after this */
	t->path = NULL;
	if (!res->timed_out && !res->too_big && res->len > 0)
		doc = json_loadb(res->out, res->len, 0, &je);
	if (res->timed_out)
		all_fail(t, at, "the path's steps did not end within the "
		    "doctor's limit");
	else if (doc == NULL || !json_is_array(json_object_get(doc,
	    "steps")))
		all_fail(t, at, "the doctor wrote no report of the path");
	else
		for (k = 0; k < NSTEPS; k++)
			one_step(t, at, doc, k);
	log_info("readiness", "readiness_measure", "id=%s measure=path "
	    "doctor=%s", t->id, doc != NULL ? "done" : "failed");
	json_decref(doc);
	t->step_done(t);
}

void
rpath_start(struct rtest *t)
{
	char *argv[] = { "isthmus", "doctor", "-c", t->e->cf->path, "--path",
	    "--json", NULL };
	double at = rresult_at(t);
	int rc;

	if ((t->path = calloc(1, sizeof(*t->path))) == NULL) {
		all_fail(t, at, "out of memory");
		t->step_done(t);
		return;
	}
	t->path->at = at;
	rc = child_start(t->e->base, argv, PATH_OUT_MAX, READINESS_PATH_MAX_S,
	    on_doctor, t, &t->path->c);
	if (rc != 0) {
		free(t->path);
		t->path = NULL;
		all_fail(t, at, "cannot run the doctor");
		t->step_done(t);
	}
}
