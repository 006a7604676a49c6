/*
 * The rtt measure: the profile's pings HTTP/2 PINGs on the live serving
 * tunnel, ping_interval apart, each with its own data (a tag of this
 * test's and its seq) so that neither the keepalive's PINGs nor a
 * late answer of another test's are taken for one of them. A PING not
 * answered within READINESS_PING_LOST_S is lost; the measure ends once
 * every PING was answered or that long after the last.
 */
#include "edge/readiness/rtest-int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/h2conn.h"
#include "common/log.h"
#include "common/timeval.h"
#include "edge/daemon.h"

struct rping {
	struct rtest *t;
	uint8_t tag[4];			/* opaque bytes 0..3; never zeros */
	uint32_t count, sent, answered;
	int64_t *sent_us, *rtt_us;	/* rtt -1: not answered */
	int64_t start_us;
	double at;
	struct event *tick;		/* the next PING is due */
	struct event *end;		/* the last one's wait is over */
};

static void
ping_free(struct rping *p)
{
	struct edge *e = p->t->e;

	if (e->pong_arg == p) {
		e->pong = NULL;
		e->pong_arg = NULL;
	}
	if (p->tick != NULL)
		event_free(p->tick);
	if (p->end != NULL)
		event_free(p->end);
	free(p->sent_us);
	free(p->rtt_us);
	p->t->ping = NULL;
	free(p);
}

void
rping_stop(struct rtest *t)
{
	if (t->ping != NULL)
		ping_free(t->ping);
}

/* The answer to one of ours, from inside the session: the time only. */
static void
on_pong(const uint8_t opaque[8], void *arg)
{
	struct rping *p = arg;
	int64_t now = mono_us();
	uint32_t seq;

	if (memcmp(opaque, p->tag, sizeof(p->tag)) != 0)
		return;
	seq = (uint32_t)opaque[4] << 24 | (uint32_t)opaque[5] << 16 |
	    (uint32_t)opaque[6] << 8 | opaque[7];
	if (seq >= p->sent || p->rtt_us[seq] >= 0 || now - p->sent_us[seq] >
	    (int64_t)READINESS_PING_LOST_S * 1000000)
		return;
	p->rtt_us[seq] = now - p->sent_us[seq];
	p->answered++;
	if (p->sent == p->count && p->answered == p->sent)
		event_active(p->end, EV_TIMEOUT, 0);
}

static void
send_one(struct rping *p)
{
	struct h2conn *h2 = uplink_h2(p->t->e->up);
	uint32_t seq = p->sent;
	uint8_t opaque[8];

	memcpy(opaque, p->tag, 4);
	opaque[4] = (uint8_t)(seq >> 24);
	opaque[5] = (uint8_t)(seq >> 16);
	opaque[6] = (uint8_t)(seq >> 8);
	opaque[7] = (uint8_t)seq;
	p->sent_us[seq] = mono_us();
	p->sent++;
	/* No tunnel now: this one is lost, the next may find one. */
	if (h2 != NULL)
		(void)h2conn_ping_data(h2, opaque);
}

/* Sends what is due (a late loop turn catches up), then waits for the
 * next one or, after the last, for the answers. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rping *p = arg;
	struct rtest *t = p->t;
	uint64_t every = t->prm.p.ping_interval * 1000;
	int64_t now = mono_us(), due;
	struct timeval tv;

	(void)fd;
	(void)what;
	while (p->sent < p->count && p->start_us +
	    (int64_t)(p->sent * every) <= now) {
		if (!rresult_spend(t, READINESS_PING_BYTES)) {
			p->count = p->sent;	/* the plan is spent */
			break;
		}
		send_one(p);
	}
	if (p->sent < p->count) {
		due = p->start_us + (int64_t)(p->sent * every) - now;
		tv.tv_sec = (time_t)(due / 1000000);
		tv.tv_usec = (suseconds_t)(due % 1000000);
		evtimer_add(p->tick, &tv);
		return;
	}
	if (p->answered == p->sent) {
		event_active(p->end, EV_TIMEOUT, 0);
		return;
	}
	tv.tv_sec = READINESS_PING_LOST_S;
	tv.tv_usec = 0;
	evtimer_add(p->end, &tv);
}

/* The figures of the answered PINGs, in sending order. */
static void
ping_report(struct rping *p)
{
	struct rtest *t = p->t;
	const struct readiness_profile *pr = &t->prm.p;
	double *v = malloc((p->answered + 1) * sizeof(*v));
	json_t *m, *samples = json_array();
	struct rstats st;
	enum rverdict vd;
	double jitter, loss;
	uint32_t i, n = 0;

	for (i = 0; v != NULL && i < p->sent; i++) {
		if (p->rtt_us[i] < 0)
			continue;
		v[n++] = (double)p->rtt_us[i] / 1000;
		if (samples != NULL && n <= RTEST_PING_SAMPLES)
			json_array_append_new(samples, json_real(rcalc_round(
			    v[n - 1], 3)));
	}
	if (v == NULL || n == 0) {
		json_decref(samples);
		free(v);
		rresult_note(t, "rtt", RV_FAIL, p->at, v == NULL ?
		    "out of memory" : "no PING answered within %d s (%u "
		    "sent)", READINESS_PING_LOST_S, p->sent);
		return;
	}
	jitter = rcalc_jitter(v, n);	/* in order, before the sort */
	rcalc_stats(v, n, &st);
	free(v);
	loss = 100.0 * (p->sent - n) / p->sent;
	vd = rverdict_worst(rcalc_above(st.median / 2, &pr->delay),
	    rcalc_above(jitter, &pr->jitter));
	if (n < p->sent)
		vd = rverdict_worst(vd, rcalc_above(loss, &pr->loss));
	m = rresult_measure(t, "rtt", vd, p->at);
	rresult_int(m, "count", p->sent);
	rresult_int(m, "received", n);
	rresult_real(m, "min_ms", st.min, 3);
	rresult_real(m, "median_ms", st.median, 3);
	rresult_real(m, "p95_ms", st.p95, 3);
	rresult_real(m, "max_ms", st.max, 3);
	rresult_real(m, "jitter_ms", jitter, 3);
	if (n < p->sent && m != NULL)
		json_object_set_new(m, "detail", json_sprintf("%u of %u PINGs "
		    "not answered within %d s", p->sent - n, p->sent,
		    READINESS_PING_LOST_S));
	if (samples != NULL)
		json_object_set_new(t->samples, "rtt_ms", samples);
	t->have_rtt = true;
	t->rtt_median = st.median;
	t->rtt_jitter = jitter;
}

static void
on_end(evutil_socket_t fd, short what, void *arg)
{
	struct rping *p = arg;
	struct rtest *t = p->t;

	(void)fd;
	(void)what;
	ping_report(p);
	log_info("readiness", "readiness_measure", "id=%s measure=rtt "
	    "sent=%u received=%u", t->id, p->sent, p->answered);
	ping_free(p);
	t->step_done(t);
}

void
rping_start(struct rtest *t)
{
	struct edge *e = t->e;
	struct rping *p;
	double at = rresult_at(t);

	if (uplink_h2(e->up) == NULL) {
		rresult_note(t, "rtt", RV_FAIL, at, "no tunnel to the cloud "
		    "to send PINGs on");
		t->step_done(t);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto nomem;
	p->t = t;
	t->ping = p;
	p->at = at;
	p->count = (uint32_t)t->prm.p.pings;
	p->sent_us = calloc(p->count, sizeof(*p->sent_us));
	p->rtt_us = malloc(p->count * sizeof(*p->rtt_us));
	p->tick = evtimer_new(e->base, on_tick, p);
	p->end = evtimer_new(e->base, on_end, p);
	if (p->sent_us == NULL || p->rtt_us == NULL || p->tick == NULL ||
	    p->end == NULL)
		goto nomem;
	memset(p->rtt_us, 0xff, p->count * sizeof(*p->rtt_us));	/* -1 */
	if (RAND_bytes(p->tag, sizeof(p->tag)) != 1)
		memcpy(p->tag, "rtt?", 4);
	p->tag[0] |= 0x80;	/* never the keepalive's zeros */
	/* The tunnels hand this test every PING answer that is not a
	 * keepalive's (tunnels.c), whichever tunnel serves. */
	e->pong = on_pong;
	e->pong_arg = p;
	p->start_us = mono_us();
	event_active(p->tick, EV_TIMEOUT, 0);
	return;
nomem:
	rping_stop(t);
	rresult_note(t, "rtt", RV_FAIL, at, "out of memory");
	t->step_done(t);
}
