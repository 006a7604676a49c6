/*
 * One edge's management stream, in its tunnel's worker (manage.h): the
 * edge's lines are read and checked (msg.c), its results go to the store
 * and the hub; the hub's instructions are written down it. A line over
 * MANAGE_MSG_MAX or a malformed message resets this stream only: the
 * tunnel and its device streams go on, and the edge opens another.
 */
#include "cloud/manage/manage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "cloud/cloud-int.h"
#include "cloud/manage/manage-int.h"
#include "cloud/readiness/readiness.h"
#include "cloud/refuse.h"
#include "cloud/registry.h"
#include "cloud/tunnel-int.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/relay.h"
#include "common/stat.h"

struct inflight {
	char id[MANAGE_ID_MAX + 1];
	enum manage_kind kind;
	int64_t answer_by;
};

struct msession {
	struct msession *next;		/* the worker's sessions */
	struct manage_hub *hub;
	struct tunnel *t;
	struct relay *r;
	struct worker *w;
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	uint64_t gen;
	struct event *kill;		/* a bad message: reset, off the
					 * session's callbacks */
	bool dead;
	bool backlog;			/* instructions left waiting: full */
	struct inflight inflight[MANAGE_INFLIGHT_MAX];
	unsigned ninflight;
};

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

static void
unlink_session(struct msession *s)
{
	struct msession **pp;

	for (pp = &s->hub->sessions[s->w->idx]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
}

static void
session_free(struct msession *s)
{
	unlink_session(s);
	hub_unregister(s->hub, s->tenant, s->edge, s->gen);
	STAT_SUB(s->hub->sessions_open, 1);
	if (s->kill != NULL)
		event_free(s->kill);
	free(s);
}

/* The session's end from the relay: the tunnel went, or the edge ended
 * the stream. Instructions in flight end as timeouts (the sweep). */
static void
on_done(struct relay *r, bool complete, void *arg)
{
	struct msession *s = arg;

	(void)complete;
	log_info("cloud", "manage_closed", "edge=%s tenant=%s inflight=%u",
	    s->edge, s->tenant, s->ninflight);
	session_free(s);
}

static void
on_kill(evutil_socket_t fd, short what, void *arg)
{
	struct msession *s = arg;

	(void)fd;
	(void)what;
	/* In HTTP mode a reset stream tells its owner nothing more. */
	relay_reset(s->r, NGHTTP2_PROTOCOL_ERROR);
	session_free(s);
}

static void
bad_message(struct msession *s, enum mbad why, const char *what)
{
	char detail[128];
	size_t i;

	if (s->dead)
		return;
	/* jansson's words may quote the edge's bytes: one log field */
	snprintf(detail, sizeof(detail), "%s", what);
	for (i = 0; detail[i] != '\0'; i++)
		if (detail[i] == '"' || detail[i] == '\\' ||
		    (unsigned char)detail[i] < 0x20 ||
		    (unsigned char)detail[i] >= 0x7f)
			detail[i] = '?';
	s->dead = true;
	STAT_ADD(s->hub->bad[why], 1);
	log_limited(s->w->lim_stream, LOG_WARN, "cloud", "manage_bad_message",
	    "edge=%s tenant=%s reason=%s detail=%s action=stream_reset",
	    s->edge, s->tenant, why == MBAD_OVERSIZED ? "oversized" :
	    "malformed", detail);
	event_active(s->kill, EV_TIMEOUT, 0);
}

static void
note(struct msession *s, int what, const char *id, enum manage_kind kind)
{
	struct mnote *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return;		/* the store has it; only a waiter misses it */
	n->what = what;
	snprintf(n->tenant, sizeof(n->tenant), "%s", s->tenant);
	snprintf(n->edge, sizeof(n->edge), "%s", s->edge);
	n->gen = s->gen;
	if (id != NULL)
		snprintf(n->id, sizeof(n->id), "%s", id);
	n->kind = kind;
	hub_note(s->hub, n);
}

/* Instructions past their answer deadline (the grace included) are no
 * longer waited for: a result for one is counted as unexpected, as the
 * sweep makes it a timeout at that same moment. */
static void
prune(struct msession *s, int64_t now)
{
	unsigned i = 0;

	while (i < s->ninflight) {
		if (s->inflight[i].answer_by < now)
			s->inflight[i] = s->inflight[--s->ninflight];
		else
			i++;
	}
}

static void
got_result(struct msession *s, struct mmsg *m)
{
	struct store *st = s->hub->cl->store;
	struct rfigures fig;
	struct mnote *n;
	unsigned i;

	prune(s, now_s());
	for (i = 0; i < s->ninflight; i++)
		if (strcmp(s->inflight[i].id, m->id) == 0)
			break;
	if (i == s->ninflight) {
		STAT_ADD(s->hub->unexpected, 1);
		log_limited(s->w->lim_stream, LOG_INFO, "cloud",
		    "manage_unexpected_result", "edge=%s tenant=%s id=%s",
		    s->edge, s->tenant, m->id);
		return;
	}
	/* A test that reported is over: a probe replayed now finds no
	 * test, not only after its deadline. */
	if (s->inflight[i].kind == MK_READINESS)
		ready_end(s->hub->cl->ready, m->id);
	log_info("cloud", "manage_result", "edge=%s tenant=%s id=%s kind=%s "
	    "outcome=%s", s->edge, s->tenant, m->id,
	    manage_kind_name(s->inflight[i].kind), manage_outcome_name(m->outcome));
	if (st != NULL)
		(void)store_instruction_done(st, m->id,
		    manage_outcome_name(m->outcome), m->result,
		    m->error[0] ? m->error : NULL, now_s());
	memset(&fig, 0, sizeof(fig));
	if (s->inflight[i].kind == MK_READINESS && m->outcome == MO_OK &&
	    m->result != NULL && !results_store(st, s->tenant, s->edge,
	    m->id, m->result, false, &fig))
		log_limited(s->w->lim_stream, LOG_WARN, "cloud",
		    "readiness_bad_result", "edge=%s tenant=%s id=%s "
		    "action=not_stored", s->edge, s->tenant, m->id);
	n = calloc(1, sizeof(*n));
	if (n != NULL) {
		n->fig = fig;
		n->what = MN_DONE;
		snprintf(n->tenant, sizeof(n->tenant), "%s", s->tenant);
		snprintf(n->edge, sizeof(n->edge), "%s", s->edge);
		memcpy(n->id, m->id, sizeof(n->id));
		n->kind = s->inflight[i].kind;
		n->outcome = m->outcome;
		n->result = m->result;
		m->result = NULL;
		memcpy(n->error, m->error, sizeof(n->error));
		hub_note(s->hub, n);
	}
	s->inflight[i] = s->inflight[--s->ninflight];
	if (s->backlog) {
		s->backlog = false;
		note(s, MN_READY, NULL, MK_STATUS);
	}
}

/* The hub learns whether the edge accepts readiness tests: its
 * schedule is told and kept only then. */
static void
got_hello(struct msession *s, const struct mmsg *m)
{
	const char *p = m->accepts, *end;
	struct mnote *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return;
	n->what = MN_HELLO;
	snprintf(n->tenant, sizeof(n->tenant), "%s", s->tenant);
	snprintf(n->edge, sizeof(n->edge), "%s", s->edge);
	n->gen = s->gen;
	for (; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		if ((size_t)(end - p) == strlen(MANAGE_K_READINESS) &&
		    strncmp(p, MANAGE_K_READINESS, (size_t)(end - p)) == 0)
			n->readiness = true;
	}
	hub_note(s->hub, n);
}

/* A readiness result the edge kept while its stream was down: the store
 * takes it if the id is a test it issued to this edge and has no result
 * for (docs/protocol.md, section 6). */
static void
got_kept(struct msession *s, struct mmsg *m)
{
	struct store *st = s->hub->cl->store;
	struct mnote *n;

	STAT_ADD(s->hub->kept, 1);
	log_info("cloud", "readiness_kept", "edge=%s tenant=%s id=%s",
	    s->edge, s->tenant, m->id);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return;
	if (st == NULL || !results_store(st, s->tenant, s->edge, m->id,
	    m->result, true, &n->fig)) {
		free(n);
		return;
	}
	n->what = MN_KEPT;
	snprintf(n->tenant, sizeof(n->tenant), "%s", s->tenant);
	snprintf(n->edge, sizeof(n->edge), "%s", s->edge);
	n->gen = s->gen;
	memcpy(n->id, m->id, sizeof(n->id));
	n->kind = MK_READINESS;
	hub_note(s->hub, n);
}

static void
got_line(struct msession *s, const char *line, size_t len)
{
	char why[128];
	struct mmsg m;

	if (mmsg_parse(line, len, &m, why, sizeof(why)) != 0) {
		bad_message(s, MBAD_MALFORMED, why);
		return;
	}
	if (m.hello) {
		log_info("cloud", "manage_hello", "edge=%s tenant=%s "
		    "version=%s accepts=%s", s->edge, s->tenant, m.version,
		    m.accepts[0] ? m.accepts : "none");
		registry_edge_hello(s->t, m.version);
		got_hello(s, &m);
	} else if (m.kept)
		got_kept(s, &m);
	else
		got_result(s, &m);
	mmsg_clear(&m);
}

/* The edge's bytes: whole lines are messages; a line that grows past
 * MANAGE_MSG_MAX without its newline is refused before it is all in. */
static void
on_body(struct relay *r, void *arg)
{
	struct msession *s = arg;
	struct evbuffer *in = relay_body_in(r);
	struct evbuffer_ptr eol;
	size_t n, eol_len;
	char *line;

	while (!s->dead) {
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) >= MANAGE_MSG_MAX)
				bad_message(s, MBAD_OVERSIZED,
				    "a line over 256 KiB");
			break;
		}
		n = (size_t)eol.pos;
		if (n + 1 > MANAGE_MSG_MAX) {
			bad_message(s, MBAD_OVERSIZED, "a line over 256 KiB");
			break;
		}
		line = (char *)evbuffer_pullup(in, (ssize_t)n + 1);
		if (line == NULL) {
			bad_message(s, MBAD_MALFORMED, "out of memory");
			break;
		}
		if (n > 0)
			got_line(s, line, n);
		evbuffer_drain(in, n + 1);
		relay_body_ack(r, n + 1);
	}
	if (!s->dead && relay_body_in_done(r))
		bad_message(s, MBAD_MALFORMED, "the edge ended its body");
}

static const struct relay_http_ops session_ops = {
	.body = on_body,
	.done = on_done,
};

void
manage_session_start(struct tunnel *t, struct relay *r)
{
	static const nghttp2_nv ct = { (uint8_t *)"content-type",
	    (uint8_t *)MANAGE_CONTENT_TYPE, 12,
	    sizeof(MANAGE_CONTENT_TYPE) - 1, NGHTTP2_NV_FLAG_NONE };
	struct worker *w = tunnel_worker(t);
	struct manage_hub *h = w->cl->hub;
	struct msession *s;

	/* The tunnel's own stream, not a device's: out of the tunnel's
	 * counts and the tenant's max_streams, refused or not. */
	relay_set_control(r);
	if (strcmp(relay_info(r)->method, "POST") != 0) {
		refuse_stream(t, r, DIAG_AUTHORITY, REFUSE_BAD_REQUEST, 405);
		return;
	}
	for (s = h->sessions[w->idx]; s != NULL; s = s->next)
		if (s->t == t) {
			/* one per tunnel: the first stays */
			refuse_stream(t, r, DIAG_AUTHORITY,
			    REFUSE_BAD_REQUEST, 409);
			return;
		}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->kill = event_new(w->base, -1, 0, on_kill,
	    s)) == NULL || relay_http_take(r, &session_ops, s) != 0) {
		if (s != NULL && s->kill != NULL)
			event_free(s->kill);
		free(s);
		refuse_stream(t, r, DIAG_AUTHORITY, REFUSE_INTERNAL, 503);
		return;
	}
	s->hub = h;
	s->t = t;
	s->r = r;
	s->w = w;
	snprintf(s->tenant, sizeof(s->tenant), "%s", tunnel_tenant(t));
	snprintf(s->edge, sizeof(s->edge), "%s", tunnel_edge(t));
	s->gen = hub_register(h, s->tenant, s->edge, w->idx);
	s->next = h->sessions[w->idx];
	h->sessions[w->idx] = s;
	STAT_ADD(h->sessions_open, 1);
	if (relay_http_respond(r, 200, &ct, 1, true) != 0) {
		s->dead = true;
		event_active(s->kill, EV_TIMEOUT, 0);
		return;
	}
	log_info("cloud", "manage_open", "edge=%s tenant=%s", s->edge,
	    s->tenant);
	note(s, MN_OPENED, NULL, MK_STATUS);
}

void
session_deliver(struct manage_hub *h, unsigned widx, struct mdelivery *d)
{
	struct store *st = h->cl->store;
	struct msession *s;
	int64_t now = now_s();
	unsigned i;

	for (s = h->sessions[widx]; s != NULL; s = s->next)
		if (s->gen == d->gen)
			break;
	if (s == NULL || s->dead)
		return;		/* gone: it waits in the store for the next */
	if (d->id[0] == '\0') {	/* no instruction: the schedule */
		(void)relay_body_write(s->r, d->line, d->len);
		return;
	}
	prune(s, now);
	for (i = 0; i < s->ninflight; i++)
		if (strcmp(s->inflight[i].id, d->id) == 0)
			return;	/* already sent on this stream */
	if (s->ninflight == MANAGE_INFLIGHT_MAX) {
		s->backlog = true;
		return;
	}
	/* The test is live before the edge can know its key: the edge's
	 * first stream or probe finds it. */
	if (d->ready != NULL && ready_issue(h->cl->ready, d->ready) != 0)
		return;		/* out of memory: it waits in the store */
	if (relay_body_write(s->r, d->line, d->len) != 0)
		return;
	memcpy(s->inflight[s->ninflight].id, d->id, sizeof(d->id));
	s->inflight[s->ninflight].kind = d->kind;
	s->inflight[s->ninflight].answer_by = d->answer_by;
	s->ninflight++;
	if (st != NULL)
		(void)store_instruction_sent(st, d->id, now, d->answer_by);
	log_info("cloud", "manage_sent", "edge=%s tenant=%s id=%s kind=%s",
	    s->edge, s->tenant, d->id, manage_kind_name(d->kind));
	note(s, MN_SENT, d->id, d->kind);
}

void
manage_worker_inbox(struct worker *w)
{
	struct manage_hub *h = w->cl->hub;
	struct mdelivery *d, *next;

	pthread_mutex_lock(&h->mu);
	d = h->outbox[w->idx];
	h->outbox[w->idx] = NULL;
	h->outbox_tail[w->idx] = NULL;
	pthread_mutex_unlock(&h->mu);
	for (; d != NULL; d = next) {	/* oldest first */
		next = d->next;
		session_deliver(h, w->idx, d);
		mdelivery_free(d);
	}
}

void
manage_worker_shutdown(struct worker *w)
{
	struct manage_hub *h = w->cl->hub;
	struct msession *s;

	/* A draining tunnel waits for its streams: this one never ends by
	 * itself. What it had in flight times out at the sweep. */
	while ((s = h->sessions[w->idx]) != NULL) {
		if (s->dead) {	/* its reset is queued; do it now */
			event_del(s->kill);
			on_kill(-1, 0, s);
			continue;
		}
		s->dead = true;
		relay_reset(s->r, NGHTTP2_CANCEL);
		session_free(s);
	}
}
