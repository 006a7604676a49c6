/*
 * Replay (docs/queue.md, "Replay"): waiting requests sent again on the
 * tunnel, at most replay_streams at once and one per lane, each read
 * from the file (its sum verified) just before it goes, with its
 * Idempotency-Key as stored and the time it was accepted. The answer
 * decides: 2xx, 3xx deleted; 408, 425, 429, 5xx, no answer or a lost
 * stream sent again after a back-off, its lane waiting behind it; any
 * other 4xx a dead letter. Also expiry: a request waiting past
 * queue_max_age becomes a dead letter.
 */
#include "edge/queue/queue-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "common/log.h"
#include "common/relay.h"
#include "common/timefmt.h"
#include "common/timeval.h"

#define NV(n, v) ((nghttp2_nv){ (uint8_t *)(uintptr_t)(n), \
	(uint8_t *)(uintptr_t)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE })

struct qreplay {
	struct sfq *q;
	uint64_t seq;			/* its fetch's answer finds it so */
	struct qent *e;			/* NULL once the request went */
	struct qrecord *rec;		/* as read, while it is sent */
	struct relay *r;
	struct event *timer, *end_ev;
	int status;
	uint64_t wait_ms;		/* for its answer head, then its body */
	bool timed_out;
	char answer[QSTORE_ANSWER_MAX];	/* the answer's first bytes */
	size_t alen;
	unsigned retry_after;		/* s; 0: none given */
	/* what the answer said of its service */
	bool heard, confidential;
	int mode;
	struct qreplay *next;
};

void
sfq_push_change(struct sfq *q, enum qjob_kind kind, int64_t id, int reason,
    int status, const char *answer, size_t alen, const char *why)
{
	struct qjob *j = sfq_job_new(kind);

	if (j == NULL) {
		/* The file keeps the record as it was: it is sent again
		 * after a restart (its key lets the backend drop it). */
		log_warn("queue", "queue_change_lost", "id=%lld error=%s",
		    (long long)id, "out of memory");
		return;
	}
	j->id = id;
	j->reason = reason;
	j->status = status;
	j->when_ms = wall_ms();
	if (alen > sizeof(j->answer))
		alen = sizeof(j->answer);
	if (alen > 0)
		memcpy(j->answer, answer, alen);
	j->alen = alen;
	snprintf(j->why, sizeof(j->why), "%s", why != NULL ? why : "");
	sfq_worker_push(q, j);
}

static void
replay_free(struct sfq *q, struct qreplay *rp)
{
	struct qreplay **pp;

	for (pp = &q->replays; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rp) {
			*pp = rp->next;
			q->st.inflight--;
			break;
		}
	if (rp->r != NULL)
		relay_abort(rp->r);	/* no done from it now */
	if (rp->e != NULL)
		sfq_lane_unhold(q, rp->e);
	if (rp->timer != NULL)
		event_free(rp->timer);
	if (rp->end_ev != NULL)
		event_free(rp->end_ev);
	qrecord_free(rp->rec);
	free(rp);
}

void
sfq_replays_abort(struct sfq *q)
{
	struct qreplay *rp;

	while ((rp = q->replays) != NULL) {
		if (rp->e != NULL)
			rp->e->replay = NULL;	/* its lane goes too */
		rp->e = NULL;
		replay_free(q, rp);
	}
}

static void
on_head(struct relay *r, void *arg)
{
	struct qreplay *rp = arg;
	const struct hdrs *h = relay_hdrs(r);
	const char *ra = hdrs_get(h, "retry-after");
	const char *sf = hdrs_get(h, HTTP_STORE_FORWARD_FIELD);
	struct timeval tv;
	char *end;
	unsigned long v;

	rp->status = relay_info(r)->status;
	if (ra != NULL && *ra >= '0' && *ra <= '9') {
		v = strtoul(ra, &end, 10);
		if (*end == '\0')
			rp->retry_after = v > SFQ_RETRY_AFTER_MAX_S ?
			    SFQ_RETRY_AFTER_MAX_S : (unsigned)v;
	}
	/* The cloud's own refusals speak for the tunnel, not the
	 * service: only a backend's answer says what the service is. */
	if (hdrs_get(h, HTTP_REFUSED_FIELD) == NULL) {
		rp->heard = true;
		rp->confidential = hdrs_get(h, HTTP_CONFIDENTIAL_FIELD) != NULL;
		rp->mode = sf == NULL ? SF_OFF : strcmp(sf, "always") == 0 ?
		    SF_ALWAYS : strcmp(sf, "on") == 0 ? SF_ON : SF_OFF;
	}
	/* the body gets its own bound */
	tv_ms(&tv, rp->wait_ms);
	evtimer_add(rp->timer, &tv);
}

static void
on_body(struct relay *r, void *arg)
{
	struct qreplay *rp = arg;
	struct evbuffer *in = relay_body_in(r);
	size_t room = sizeof(rp->answer) - rp->alen;

	if (room > 0)
		rp->alen += (size_t)evbuffer_copyout(in, rp->answer + rp->alen,
		    room);
	relay_body_drop(r, NULL);
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	struct qreplay *rp = arg;

	(void)complete;	/* a head the backend sent is its answer */
	rp->r = NULL;
	if (rp->status == 0)
		rp->status = relay_info(r)->status;
	evtimer_del(rp->timer);
	event_active(rp->end_ev, EV_TIMEOUT, 1);
}

static const struct relay_http_ops replay_ops = {
	.head = on_head,
	.body = on_body,
	.done = on_done,
};

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct qreplay *rp = arg;

	(void)fd;
	(void)what;
	if (rp->r != NULL) {
		relay_abort(rp->r);
		rp->r = NULL;
	}
	rp->timed_out = true;
	event_active(rp->end_ev, EV_TIMEOUT, 1);
}

/* How long a replay in lane l waits for its answer: a backend slower
 * than response_timeout would otherwise get the same request again and
 * again, each time cut off before its answer. */
static uint64_t
replay_wait(const struct sfq *q, const struct qlane *l)
{
	uint64_t w = q->response_timeout;
	unsigned i;

	for (i = 0; l != NULL && i < l->slow && w < SFQ_REPLAY_WAIT_MAX_MS;
	    i++)
		w *= 2;
	return w < SFQ_REPLAY_WAIT_MAX_MS ? w : SFQ_REPLAY_WAIT_MAX_MS;
}

static bool
retryable(int status)
{
	return status == 0 || status == 408 || status == 425 ||
	    status == 429 || status >= 500;
}

/* The lane waits: 1 s doubling to 60 s, or what the answer asked. */
static void
back_off(struct qlane *l, unsigned retry_after)
{
	uint64_t delay;

	l->backoff_ms = l->backoff_ms == 0 ? SFQ_BACKOFF_MIN_MS :
	    l->backoff_ms * 2 > SFQ_BACKOFF_MAX_MS ? SFQ_BACKOFF_MAX_MS :
	    l->backoff_ms * 2;
	delay = retry_after > 0 ? (uint64_t)retry_after * 1000 :
	    l->backoff_ms;
	l->not_before = mono_us() / 1000 + (int64_t)delay;
}

/* The backend's answer (or its absence) decides the request's fate. */
static void
judge(struct sfq *q, struct qreplay *rp)
{
	struct qent *e = rp->e;
	struct qlane *l = e->lane;
	int status = rp->status;
	const char *why;

	sfq_lane_unhold(q, e);
	rp->e = NULL;
	if (l != NULL)
		l->slow = rp->timed_out ? l->slow + 1 : 0;
	if (status >= 200 && status < 400) {
		if (l != NULL)
			l->backoff_ms = 0;
		sfq_push_change(q, QJ_DELETE, e->id, QR_NONE, status, NULL,
		    0, NULL);
		q->st.replayed++;
		sfq_index_remove(q, e);
	} else if (retryable(status)) {
		why = status != 0 ? NULL : rp->timed_out ? "no answer within "
		    "response_timeout" : "the stream ended before its answer "
		    "(tunnel down or reset)";
		sfq_push_change(q, QJ_ATTEMPTED, e->id, QR_NONE, status, NULL,
		    0, why);
		q->st.retried++;
		if (l != NULL)
			back_off(l, rp->retry_after);
	} else {
		sfq_push_change(q, QJ_KILL, e->id, QR_REFUSED, status,
		    rp->answer, rp->alen, NULL);
		q->st.dead_lettered[QR_REFUSED]++;
		log_info("queue", "queue_dead", "id=%lld service=%s status=%d",
		    (long long)e->id, e->service, status);
		if (l != NULL)
			l->backoff_ms = 0;
		sfq_index_kill(q, e);
	}
}

static void
on_end(evutil_socket_t fd, short what, void *arg)
{
	struct qreplay *rp = arg;
	struct sfq *q = rp->q;

	(void)fd;
	(void)what;
	if (rp->heard && rp->rec != NULL)
		sfq_learn(q, rp->rec->service, rp->mode, rp->confidential);
	if (rp->e != NULL)
		judge(q, rp);
	replay_free(q, rp);
	sfq_pump(q);
}

/* The fields to send: the method, the service, the target, the fields
 * as stored (with a Content-Length of the body as stored), and the
 * time it was accepted. */
static int
send_record(struct sfq *q, struct qreplay *rp, struct h2conn *h2)
{
	const struct qrecord *rec = rp->rec;
	struct timespec ts = { .tv_sec = rec->accepted_ms / 1000,
	    .tv_nsec = (rec->accepted_ms % 1000) * 1000000 };
	char accepted[TIME_TEXT_MAX], clen[24];
	const char *name, *value;
	size_t pos = 0, n = 0, max = 6;
	struct timeval tv;
	nghttp2_nv *nv;
	int rc;

	while (qrecord_next_field(rec, &pos, &name, &value))
		max++;
	if ((nv = calloc(max, sizeof(*nv))) == NULL)
		return -ENOMEM;
	time_format_ms(&ts, accepted, sizeof(accepted));
	snprintf(clen, sizeof(clen), "%zu", rec->body_len);
	nv[n++] = NV(":method", rec->method);
	nv[n++] = NV(":scheme", "http");
	nv[n++] = NV(":authority", rec->service);
	nv[n++] = NV(":path", rec->target);
	for (pos = 0; qrecord_next_field(rec, &pos, &name, &value);)
		if (strcmp(name, "content-length") != 0 &&
		    strcmp(name, HTTP_ACCEPTED_FIELD) != 0)
			nv[n++] = NV(name, value);
	nv[n++] = NV(HTTP_ACCEPTED_FIELD, accepted);
	nv[n++] = NV("content-length", clen);
	rc = relay_http_request(h2, nv, n, rec->body_len > 0, &replay_ops, rp,
	    &rp->r);
	free(nv);
	if (rc != 0)
		return rc;
	/* At most queue_max_body: written at once, the stream's window
	 * paces it. */
	if (rec->body_len > 0) {
		if (relay_body_write(rp->r, rec->body, rec->body_len) != 0)
			return -ENOMEM;
		relay_body_end(rp->r);
	}
	rp->wait_ms = replay_wait(q, rp->e->lane);
	tv_ms(&tv, rp->wait_ms);
	evtimer_add(rp->timer, &tv);
	return 0;
}

void
sfq_fetched(struct sfq *q, struct qjob *j)
{
	struct qreplay *rp;
	struct h2conn *h2;
	struct qent *e;

	for (rp = q->replays; rp != NULL && rp->seq != j->seq; rp = rp->next)
		;
	if (rp == NULL || (e = rp->e) == NULL) {
		if (rp != NULL)
			replay_free(q, rp);	/* dropped meanwhile */
		return;
	}
	if (j->rc == -EBADMSG || j->rc == -ENOENT) {
		sfq_lane_unhold(q, e);
		rp->e = NULL;
		if (j->rc == -EBADMSG) {
			log_error("queue", "queue_corrupt", "id=%lld service=%s",
			    (long long)e->id, e->service);
			q->st.dead_lettered[QR_CORRUPT]++;
			sfq_index_kill(q, e);
		} else {
			sfq_index_remove(q, e);
		}
		replay_free(q, rp);
		return;
	}
	rp->rec = j->rec;
	j->rec = NULL;
	h2 = q->env.h2 != NULL ? q->env.h2(q->env.arg) : NULL;
	if (j->rc != 0 || h2 == NULL) {
		/* the file failed (it is read again when it is back), or the
		 * tunnel went meanwhile (the next kick sends it) */
		replay_free(q, rp);
		return;
	}
	if (send_record(q, rp, h2) != 0) {
		/* the tunnel takes no stream now: a lost one, backed off */
		if (rp->r != NULL) {
			relay_abort(rp->r);
			rp->r = NULL;
		}
		event_active(rp->end_ev, EV_TIMEOUT, 1);
	}
}

/* A replay of e begins: its record is read first. */
static int
start(struct sfq *q, struct qent *e)
{
	struct qreplay *rp = calloc(1, sizeof(*rp));
	struct qjob *j = sfq_job_new(QJ_FETCH);

	if (rp == NULL || j == NULL || (rp->timer = evtimer_new(q->env.base,
	    on_timeout, rp)) == NULL || (rp->end_ev = event_new(q->env.base,
	    -1, 0, on_end, rp)) == NULL) {
		if (rp != NULL && rp->timer != NULL)
			event_free(rp->timer);
		free(rp);
		free(j);
		return -ENOMEM;
	}
	rp->q = q;
	rp->e = e;
	rp->seq = ++q->replay_seq;
	rp->next = q->replays;
	q->replays = rp;
	q->st.inflight++;
	sfq_lane_hold(e, &rp->e);
	j->id = e->id;
	j->seq = rp->seq;
	sfq_worker_push(q, j);
	return 0;
}

void
sfq_pump(struct sfq *q)
{
	int64_t now = mono_us() / 1000, wake = 0;
	struct timeval tv;
	struct qlane *l;

	if (!q->up || q->env.h2 == NULL || q->env.h2(q->env.arg) == NULL)
		return;	/* sfq_kick when the tunnel is back */
	while (q->st.inflight < q->streams) {
		if ((l = sfq_lane_pick(q, now, &wake)) == NULL ||
		    start(q, l->head) != 0)
			break;
	}
	if (wake != 0) {
		tv_ms(&tv, (uint64_t)(wake - now));
		evtimer_add(q->pump_ev, &tv);
	}
}

void
sfq_expire(struct sfq *q)
{
	int64_t now = wall_ms(), mono = (int64_t)(mono_us() / 1000);
	struct qent *e;
	size_t i;

	if (q->max_age == 0)
		return;
	/* Old by the wall clock, and for as long by this run's own clock:
	 * a clock set forward (a site without a real-time clock getting
	 * NTP) must not turn fresh readings into dead letters. A restart
	 * can only make a request wait longer, never expire earlier. */
	for (i = 0; i < q->nid_buckets; i++)
		for (e = q->ids[i]; e != NULL; e = e->hnext) {
			if (e->state != QS_WAITING || e->replay != NULL ||
			    now - e->accepted_ms <= (int64_t)q->max_age ||
			    mono - e->seen_ms <= (int64_t)q->max_age)
				continue;
			log_warn("queue", "queue_expired", "id=%lld service=%s "
			    "age=%llds", (long long)e->id, e->service,
			    (long long)((now - e->accepted_ms) / 1000));
			sfq_push_change(q, QJ_KILL, e->id, QR_EXPIRED, 0, NULL,
			    0, NULL);
			q->st.dead_lettered[QR_EXPIRED]++;
			sfq_index_kill(q, e);
		}
}
