/*
 * A readiness test's course (readiness.h): the params read and the
 * edge's limits applied, then the measures in docs/readiness.md's order,
 * each started from the loop once the one before it ended, the voice
 * estimate from what they found, and the result document with the
 * test's verdict, the worst of its measures'.
 */
#include "edge/readiness/rtest-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/timeval.h"
#include "edge/daemon.h"

enum step { S_PATH, S_RTT, S_UDP, S_DOWN, S_UP, S_VOICE, S_END };

static const char *const path_names[] = { "dns", "tcp", "proxy", "tls" };

static void
rtest_free(struct rtest *t)
{
	rpath_stop(t);
	rping_stop(t);
	rudp_stop(t);
	rflow_stop(t);
	if (t->step_ev != NULL)
		event_free(t->step_ev);
	json_decref(t->measures);
	json_decref(t->samples);
	rtest_params_clear(&t->prm);
	free(t);
}

void
rtest_cancel(struct rtest *t)
{
	if (t == NULL)
		return;
	log_info("readiness", "readiness_cancelled", "id=%s", t->id);
	rtest_free(t);
}

/* t->step_done: the next step runs from the loop. */
static void
next_step(struct rtest *t)
{
	event_active(t->step_ev, EV_TIMEOUT, 0);
}

static void
skip(struct rtest *t, const char *name, const char *why)
{
	rresult_note(t, name, RV_SKIPPED, -1, "%s", why);
}

/* The voice estimate from the UDP train when it ran, else from the
 * PINGs' round trip (no loss then). */
static void
voice(struct rtest *t)
{
	double at = rresult_at(t), rtt, jitter, loss;
	struct rvoice vo;
	const char *from;
	json_t *m;

	if (t->have_udp) {
		rtt = t->udp_rtt;
		jitter = t->udp_jitter;
		loss = t->udp_loss;
		from = "from the UDP train";
	} else if (t->have_rtt) {
		rtt = t->rtt_median;
		jitter = t->rtt_jitter;
		loss = 0;
		from = t->udp_run ? "from the PINGs' round trip and jitter, "
		    "no loss: the UDP train had no echo" : "from the PINGs' "
		    "round trip and jitter, no loss: no UDP train";
	} else {
		rresult_note(t, "voice", RV_FAIL, at, "no round trip was "
		    "measured to estimate it from");
		return;
	}
	rcalc_voice(rtt, jitter, loss, &vo);
	m = rresult_measure(t, "voice", rcalc_below(vo.mos, &t->prm.p.mos),
	    at);
	if (m != NULL)
		json_object_set_new(m, "estimate", json_true());
	rresult_str(m, "codec", "G.711");
	rresult_real(m, "r", vo.r, 1);
	rresult_real(m, "mos", vo.mos, 2);
	rresult_real(m, "delay_ms", vo.ta, 1);
	rresult_real(m, "loss_pct", loss, 2);
	rresult_str(m, "detail", from);
}

/* The test's verdict: the worst of its measures'. */
static enum rverdict
overall(const struct rtest *t)
{
	enum rverdict v = RV_PASS;
	const char *k, *s;
	json_t *m;

	json_object_foreach(t->measures, k, m) {
		s = json_string_value(json_object_get(m, "verdict"));
		if (s == NULL)
			continue;
		if (strcmp(s, "fail") == 0)
			v = rverdict_worst(v, RV_FAIL);
		else if (strcmp(s, "warn") == 0)
			v = rverdict_worst(v, RV_WARN);
	}
	return v;
}

static void
finish(struct rtest *t)
{
	double seconds = rresult_at(t);
	enum rverdict v = overall(t);
	json_t *doc;

	doc = json_pack("{s:s, s:f, s:f, s:s, s:I, s:I, s:O, s:O}",
	    "profile", t->prm.p.name,
	    "started", rcalc_round(t->started, 3),
	    "seconds", rcalc_round(seconds, 3),
	    "verdict", rverdict_name(v),
	    "budget", (json_int_t)t->prm.p.budget,
	    "plan", (json_int_t)t->plan,
	    "measures", t->measures,
	    "samples", t->samples);
	log_info("readiness", "readiness_done", "id=%s profile=%s "
	    "verdict=%s ms=%lld spent=%llu plan=%llu", t->id,
	    t->prm.p.name, rverdict_name(v), (long long)(seconds * 1000),
	    (unsigned long long)t->spent, (unsigned long long)t->plan);
	t->done(doc, t->arg);
	rtest_free(t);
}

static void
run_step(evutil_socket_t fd, short what, void *arg)
{
	struct rtest *t = arg;
	const struct readiness_profile *p = &t->prm.p;
	size_t i;

	(void)fd;
	(void)what;
	switch (t->step++) {
	case S_PATH:
		if (p->path) {
			rpath_start(t);
			return;
		}
		for (i = 0; i < 4; i++)
			skip(t, path_names[i], "not in the profile (path = off)");
		break;
	case S_RTT:
		if (p->pings > 0) {
			rping_start(t);
			return;
		}
		skip(t, "rtt", "not in the profile (pings = 0)");
		break;
	case S_UDP:
		if (t->udp_run) {
			rudp_start(t);
			return;
		}
		skip(t, "udp", t->udp_skip);
		break;
	case S_DOWN:
		if (p->down > 0) {
			rflow_start(t, false);
			return;
		}
		skip(t, "down", "not in the profile (down = 0)");
		break;
	case S_UP:
		if (p->up > 0) {
			rflow_start(t, true);
			return;
		}
		skip(t, "up", "not in the profile (up = 0)");
		break;
	case S_VOICE:
		voice(t);
		break;
	default:
		finish(t);
		return;
	}
	next_step(t);
}

/* Whether the UDP train runs, else why not. */
static void
udp_plan(struct rtest *t)
{
	struct readiness_profile q = t->prm.p;

	t->udp_run = false;
	if (!t->prm.p.udp)
		t->udp_skip = "not in the profile (udp = off)";
	else if (!t->e->cf->readiness_udp)
		t->udp_skip = "readiness_udp = off at this edge";
	else if (!t->prm.udp)
		t->udp_skip = "the cloud has no readiness_udp port";
	else
		t->udp_run = true;
	q.udp = t->udp_run;
	t->plan = readiness_plan_bytes(&q);
}

int
rtest_start(struct edge *e, const char *id, json_t *params,
    rtest_done_fn done, void *arg, struct rtest **out, struct err *er)
{
	struct rtest *t = calloc(1, sizeof(*t));
	struct timespec now;
	int rc;

	if (t == NULL)
		return err_set(er, -ENOMEM, "out of memory");
	t->e = e;
	snprintf(t->id, sizeof(t->id), "%s", id);
	if ((rc = rtest_params_parse(params, &t->prm, er)) != 0) {
		rtest_free(t);
		return rc;
	}
	if (rtest_test_id(id, t->test_id) != 0) {
		rtest_free(t);
		return err_set(er, -EINVAL, "the instruction's id is not hex");
	}
	if (t->prm.p.budget > e->cf->readiness_max_bytes) {
		err_set(er, -EPERM, "profile '%s' may move %llu bytes, over "
		    "this edge's readiness_max_bytes (%llu): the site allows "
		    "less", t->prm.p.name,
		    (unsigned long long)t->prm.p.budget,
		    (unsigned long long)e->cf->readiness_max_bytes);
		rtest_free(t);
		return -EPERM;
	}
	udp_plan(t);
	t->done = done;
	t->arg = arg;
	t->step_done = next_step;
	t->measures = json_object();
	t->samples = json_object();
	t->step_ev = event_new(e->base, -1, 0, run_step, t);
	if (t->measures == NULL || t->samples == NULL || t->step_ev == NULL) {
		rtest_free(t);
		return err_set(er, -ENOMEM, "out of memory");
	}
	clock_gettime(CLOCK_REALTIME, &now);
	t->started = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	t->t0 = mono_us();
	log_info("readiness", "readiness_start", "id=%s profile=%s plan=%llu "
	    "budget=%llu udp=%s", id, t->prm.p.name,
	    (unsigned long long)t->plan, (unsigned long long)t->prm.p.budget,
	    t->udp_run ? "on" : "off");
	next_step(t);
	*out = t;
	return 0;
}
