/*
 * The down and up measures: one stream each on the live serving tunnel,
 * at DIAG_AUTHORITY (docs/protocol.md, section 6). down: GET
 * READY_PATH_DOWN, the cloud sends the profile's down bytes; goodput from
 * the first body byte to the last, as they arrive. up: POST READY_PATH_UP
 * with the profile's up bytes, written as the stream's flow control takes
 * them (never the whole body in memory); goodput as the cloud counted it
 * (READY_FIELD_BYTES over READY_FIELD_USEC in its answer). Each at most
 * READINESS_FLOW_MAX_S: a stream cut short is fail with what it moved.
 */
#include "edge/readiness/rtest-int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "common/log.h"
#include "common/relay.h"
#include "common/timeval.h"
#include "edge/daemon.h"

/* Body written to the stream at once, at most: the stream's mark
 * (relay_body_full) bounds what waits. */
#define CHUNK (16u * 1024)

#define NV(n, v) ((nghttp2_nv){ (uint8_t *)(uintptr_t)(n), \
	(uint8_t *)(uintptr_t)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE })

struct rflow {
	struct rtest *t;
	bool up;
	const char *name;		/* "down" or "up" */
	uint64_t want;			/* body bytes */
	double at;
	struct relay *r;
	struct event *work;		/* writes more, or ends: from the loop */
	struct event *limit;		/* READINESS_FLOW_MAX_S */
	int64_t start_us, first_us, last_us;
	uint64_t moved;			/* body bytes received or written */
	int status;			/* the cloud's answer; 0: none yet */
	char refused[40];		/* its HTTP_REFUSED_FIELD */
	int64_t cloud_bytes, cloud_usec;	/* up: its figures; -1 none */
	bool ended;			/* the stream is over */
	bool complete;			/* ... both bodies went through */
	bool timed_out;
};

static void
flow_free(struct rflow *f)
{
	if (f->r != NULL)
		relay_abort(f->r);
	if (f->work != NULL)
		event_free(f->work);
	if (f->limit != NULL)
		event_free(f->limit);
	f->t->flow = NULL;
	free(f);
}

void
rflow_stop(struct rtest *t)
{
	if (t->flow != NULL)
		flow_free(t->flow);
}

static void
kick(struct rflow *f)
{
	event_active(f->work, EV_TIMEOUT, 0);
}

static int64_t
field_int(const struct hdrs *h, const char *name)
{
	const char *v = hdrs_get(h, name);
	char *end;
	long long n;

	if (v == NULL)
		return -1;
	n = strtoll(v, &end, 10);
	return end != v && *end == '\0' && n >= 0 ? (int64_t)n : -1;
}

/* The callbacks run from inside the session: they note and kick. */
static void
on_head(struct relay *r, void *arg)
{
	struct rflow *f = arg;
	const struct hdrs *h = relay_hdrs(r);
	const char *why = hdrs_get(h, HTTP_REFUSED_FIELD);

	f->status = relay_info(r)->status;
	snprintf(f->refused, sizeof(f->refused), "%s", why != NULL ? why : "");
	f->cloud_bytes = field_int(h, READY_FIELD_BYTES);
	f->cloud_usec = field_int(h, READY_FIELD_USEC);
	kick(f);
}

static void
on_body(struct relay *r, void *arg)
{
	struct rflow *f = arg;
	struct evbuffer *in = relay_body_in(r);
	size_t n = evbuffer_get_length(in);

	if (n > 0) {
		f->last_us = mono_us();
		if (f->first_us == 0)
			f->first_us = f->last_us;
		if (!f->up)
			f->moved += n;
		evbuffer_drain(in, n);
		relay_body_ack(r, n);
	}
}

static void
on_drained(struct relay *r, void *arg)
{
	(void)r;
	kick(arg);
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	struct rflow *f = arg;

	(void)r;
	f->r = NULL;		/* freed right after this */
	f->ended = true;
	f->complete = complete;
	kick(f);
}

static const struct relay_http_ops flow_ops = {
	.head = on_head,
	.body = on_body,
	.drained = on_drained,
	.done = on_done,
};

/* up: as much body as the stream takes now. */
static void
write_more(struct rflow *f)
{
	static const uint8_t zeros[CHUNK];
	size_t n;

	while (f->r != NULL && f->status == 0 && f->moved < f->want &&
	    !relay_body_full(f->r)) {
		n = f->want - f->moved < CHUNK ? (size_t)(f->want - f->moved) :
		    CHUNK;
		if (relay_body_write(f->r, zeros, n) != 0)
			return;		/* out of memory: the limit ends it */
		if (f->first_us == 0)
			f->first_us = mono_us();
		f->moved += n;
		if (f->moved == f->want)
			relay_body_end(f->r);
	}
}

/* "the cloud answered 404 (unknown test)", for a detail. */
static void
answer_text(const struct rflow *f, char *buf, size_t cap)
{
	if (f->status == 0)
		snprintf(buf, cap, "no answer from the cloud");
	else
		snprintf(buf, cap, "the cloud answered %d%s%s%s", f->status,
		    f->refused[0] != '\0' ? " (" : "", f->refused,
		    f->refused[0] != '\0' ? ")" : "");
}

/* What the stream moved, over which time: the cloud's count for up,
 * else ours. */
static void
figures(const struct rflow *f, uint64_t *bytes, double *seconds)
{
	if (f->up && f->cloud_bytes >= 0 && f->cloud_usec > 0) {
		*bytes = (uint64_t)f->cloud_bytes;
		*seconds = (double)f->cloud_usec / 1e6;
		return;
	}
	*bytes = f->moved;
	*seconds = f->first_us != 0 && f->last_us > f->first_us ?
	    (double)(f->last_us - f->first_us) / 1e6 :
	    (double)(mono_us() - f->start_us) / 1e6;
}

static void
report(struct rflow *f)
{
	struct rtest *t = f->t;
	const struct conf_thresh *th = f->up ? &t->prm.p.up_rate :
	    &t->prm.p.down_rate;
	bool whole = f->complete && f->status == 200 && (f->up ?
	    f->cloud_bytes == (int64_t)f->want : f->moved == f->want);
	enum rverdict v = RV_FAIL;
	char said[120];
	uint64_t bytes;
	double seconds, mbps;
	json_t *m;

	if (f->status != 0 && f->status != 200) {
		answer_text(f, said, sizeof(said));
		rresult_note(t, f->name, RV_FAIL, f->at, "%s", said);
		return;
	}
	figures(f, &bytes, &seconds);
	mbps = rcalc_mbps(bytes, seconds);
	if (whole)
		v = rcalc_below(mbps, th);
	m = rresult_measure(t, f->name, v, f->at);
	rresult_int(m, "bytes", (int64_t)bytes);
	rresult_real(m, "seconds", seconds, 3);
	rresult_real(m, "mbps", mbps, 2);
	if (m == NULL || whole)
		return;
	if (f->timed_out)
		json_object_set_new(m, "detail", json_sprintf("cut short after "
		    "%d s, %" PRIu64 " of %" PRIu64 " bytes moved",
		    READINESS_FLOW_MAX_S, bytes, f->want));
	else
		json_object_set_new(m, "detail", json_sprintf("the stream ended "
		    "after %" PRIu64 " of %" PRIu64 " bytes", bytes, f->want));
}

static void
flow_end(struct rflow *f)
{
	struct rtest *t = f->t;

	if (f->last_us == 0)
		f->last_us = mono_us();
	report(f);
	log_info("readiness", "readiness_measure", "id=%s measure=%s "
	    "status=%d bytes=%llu complete=%s", t->id, f->name, f->status,
	    (unsigned long long)f->moved, f->complete ? "yes" : "no");
	flow_free(f);
	t->step_done(t);
}

static void
on_work(evutil_socket_t fd, short what, void *arg)
{
	struct rflow *f = arg;

	(void)fd;
	(void)what;
	if (f->ended) {
		flow_end(f);
		return;
	}
	if (f->up && f->status != 0 && f->moved < f->want) {
		/* Answered before the whole body: a refusal. The stream is
		 * ours to end. */
		relay_abort(f->r);
		f->r = NULL;
		flow_end(f);
		return;
	}
	if (f->up)
		write_more(f);
}

static void
on_limit(evutil_socket_t fd, short what, void *arg)
{
	struct rflow *f = arg;

	(void)fd;
	(void)what;
	f->timed_out = true;
	flow_end(f);		/* aborts the stream */
}

static int
flow_request(struct rflow *f, struct h2conn *h2)
{
	char bytes[24];
	nghttp2_nv nv[] = {
		NV(":method", f->up ? "POST" : "GET"),
		NV(":scheme", "https"),
		NV(":authority", DIAG_AUTHORITY),
		NV(":path", f->up ? READY_PATH_UP : READY_PATH_DOWN),
		NV(READY_FIELD_TEST, f->t->id),
		NV(READY_FIELD_BYTES, ""),
	};

	snprintf(bytes, sizeof(bytes), "%" PRIu64, f->want);
	nv[5] = NV(READY_FIELD_BYTES, bytes);
	return relay_http_request(h2, nv, sizeof(nv) / sizeof(nv[0]), f->up,
	    &flow_ops, f, &f->r);
}

void
rflow_start(struct rtest *t, bool up)
{
	struct h2conn *h2 = uplink_h2(t->e->up);
	const char *name = up ? "up" : "down";
	struct timeval tv = { READINESS_FLOW_MAX_S, 0 };
	double at = rresult_at(t);
	struct rflow *f;

	if (h2 == NULL) {
		rresult_note(t, name, RV_FAIL, at, "no tunnel to the cloud");
		t->step_done(t);
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		rresult_note(t, name, RV_FAIL, at, "out of memory");
		t->step_done(t);
		return;
	}
	f->t = t;
	t->flow = f;
	f->up = up;
	f->name = name;
	f->at = at;
	f->want = up ? t->prm.p.up : t->prm.p.down;
	f->cloud_bytes = f->cloud_usec = -1;
	f->work = event_new(t->e->base, -1, 0, on_work, f);
	f->limit = evtimer_new(t->e->base, on_limit, f);
	/* The body's bytes and its framing, as the plan reckons them. */
	if (up)
		(void)rresult_spend(t, (f->want * READINESS_FLOW_OVERHEAD_PCT +
		    99) / 100);
	f->start_us = mono_us();
	if (f->work == NULL || f->limit == NULL || flow_request(f, h2) != 0) {
		f->r = NULL;
		flow_free(f);
		rresult_note(t, name, RV_FAIL, at, "cannot open a stream on "
		    "the tunnel");
		t->step_done(t);
		return;
	}
	relay_set_control(f->r);	/* not a device's traffic */
	evtimer_add(f->limit, &tv);
	if (up)
		kick(f);
}
