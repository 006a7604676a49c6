/*
 * The management stream (manage.h): opened on the serving tunnel right
 * after admission, POST MANAGE_PATH at DIAG_AUTHORITY with a body that
 * never ends, whose first line, the hello, is written once the cloud
 * answered 200. The cloud's answer body is
 * read line by line (each at most MANAGE_MSG_MAX bytes with its '\n'):
 * each line an instruction for dispatch.c, each answer a line back. A
 * line too long or malformed resets this stream only (PROTOCOL_ERROR),
 * logged and counted; a stream that ends for any reason is opened again
 * after a back-off (1 s doubling to 60 s, back to 1 s after a stream
 * that lived MANAGE_STABLE_S). Everything the stream does runs from the
 * loop (work_ev), never from inside the HTTP/2 session's callbacks.
 *
 * Bounds: at most MANAGE_MSG_MAX bytes of a line are held; no line is
 * read while MANAGE_JOBS_MAX instructions run or MANAGE_OUT_MAX bytes of
 * answers wait for the stream (the cloud's window then fills); an answer
 * for a stream that ended is dropped (the cloud answers it "timeout").
 */
#include "edge/manage/manage-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/relay.h"
#include "common/timefmt.h"
#include "common/timeval.h"
#include "edge/daemon.h"
#include "version.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
/* A stream that lived this long resets the back-off. */
#define MANAGE_STABLE_S 30
/* Answers waiting for the stream, at most, before reading stops. */
#define MANAGE_OUT_MAX (1024u * 1024)
/* Moved to the stream at once. */
#define OUT_CHUNK (16u * 1024)
/* Readiness results kept for a later stream, at most (docs/readiness.md:
 * the last 8; each under MANAGE_RESULT_MAX). */
#define KEPT_MAX 8

#define NV(n, v) { (uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), \
	sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

struct manage {
	struct edge *e;
	struct manage_env env;
	struct h2conn *h2;		/* the serving tunnel's, when up */
	struct relay *r;		/* the stream */
	unsigned gen;			/* the stream's: one per open */
	bool up;			/* answered 200 */
	bool stopped;			/* draining */
	/* A reset the loop does: code, and why for the log. */
	bool closing;
	uint32_t close_code;
	char why[200];
	struct event *open_ev, *work_ev;
	uint64_t backoff_ms;		/* the next wait */
	int64_t opened_us, retry_at_us;
	struct evbuffer *in;		/* a line being read */
	struct evbuffer *out;		/* answers for the stream */
	uint64_t opens;
	uint64_t bad[MB_COUNT];
	/* kept lines, oldest first, for the next stream's hello */
	char *kept[KEPT_MAX];
	size_t kept_len[KEPT_MAX];
	unsigned nkept;
	/* the cloud's readiness schedule, as it last said it */
	bool sched_known;
	struct manage_schedule sched;
};

static const char *const bad_names[MB_COUNT] = {
	[MB_OVERSIZED] = "oversized",
	[MB_MALFORMED] = "malformed",
};

const char *
manage_bad_name(enum manage_bad b)
{
	return (unsigned)b < MB_COUNT ? bad_names[b] : "?";
}

static void
kick(struct manage *m)
{
	event_active(m->work_ev, EV_TIMEOUT, 0);
}

static void
schedule_open(struct manage *m, uint64_t ms)
{
	struct timeval tv;

	tv_ms(&tv, ms);
	m->retry_at_us = mono_us() + (int64_t)ms * 1000;
	evtimer_add(m->open_ev, &tv);
}

/* The stream is gone: forget what it held, and open another one after
 * the back-off unless the tunnel went too. */
static void
stream_ended(struct manage *m, const char *why)
{
	uint64_t wait;

	m->r = NULL;
	m->up = false;
	m->closing = false;
	evbuffer_drain(m->in, evbuffer_get_length(m->in));
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
	if (why != m->why)
		snprintf(m->why, sizeof(m->why), "%s", why);
	if (mono_us() - m->opened_us >= (int64_t)MANAGE_STABLE_S * 1000000)
		m->backoff_ms = BACKOFF_MIN_MS;
	wait = m->backoff_ms;
	m->backoff_ms = wait * 2 < BACKOFF_MAX_MS ? wait * 2 : BACKOFF_MAX_MS;
	if (m->stopped || m->h2 == NULL)
		return;
	log_info("manage", "manage_stream_down", "reason=%s retry_in_ms=%llu",
	    m->why, (unsigned long long)wait);
	schedule_open(m, wait);
}

/* Ends the stream now (from the loop): RST_STREAM code. */
static void
stream_reset(struct manage *m, uint32_t code, const char *why)
{
	if (m->r != NULL)
		relay_reset(m->r, code);	/* no done: we forget it */
	stream_ended(m, why);
}

/* From a callback: the loop resets the stream. */
static void
close_later(struct manage *m, uint32_t code, const char *why)
{
	if (m->closing)
		return;
	m->closing = true;
	m->close_code = code;
	snprintf(m->why, sizeof(m->why), "%s", why);
	kick(m);
}

/* The kept results after the hello, each once: they are the stream's
 * now. */
static void
send_kept(struct manage *m)
{
	unsigned i;

	for (i = 0; i < m->nkept; i++) {
		if (evbuffer_add(m->out, m->kept[i], m->kept_len[i]) != 0)
			close_later(m, NGHTTP2_INTERNAL_ERROR, "out of memory");
		free(m->kept[i]);
		m->kept[i] = NULL;
	}
	if (m->nkept > 0)
		log_info("manage", "readiness_kept_sent", "count=%u gen=%u",
		    m->nkept, m->gen);
	m->nkept = 0;
}

/* The first message, once the cloud took the stream (an older cloud
 * that refuses it gets no body): queued for the loop. */
static void
say_hello(struct manage *m)
{
	manage_policy p = 0;
	struct err er;
	char *hello;
	size_t len;

	if (manage_policy_parse(&m->e->cf->manage, &p, &er) != 0)
		p = 0;
	hello = manage_msg_hello(ISTHMUS_VERSION, p, &len);
	if (hello == NULL || evbuffer_prepend(m->out, hello, len) != 0)
		close_later(m, NGHTTP2_INTERNAL_ERROR, "out of memory");
	free(hello);
	send_kept(m);
	kick(m);
}

static void
on_head(struct relay *r, void *arg)
{
	struct manage *m = arg;
	int status = relay_info(r)->status;
	char why[64];

	if (status == 200) {
		m->up = true;
		log_info("manage", "manage_stream_up", "gen=%u", m->gen);
		say_hello(m);
		return;
	}
	/* 409: a stream is open already; 404, 405: an older cloud. */
	snprintf(why, sizeof(why), "the cloud answered %d", status);
	log_warn("manage", "manage_refused", "status=%d", status);
	close_later(m, NGHTTP2_CANCEL, why);
}

static void
on_body(struct relay *r, void *arg)
{
	(void)r;
	kick(arg);
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	struct manage *m = arg;

	(void)r;
	(void)complete;
	stream_ended(m, m->closing ? m->why : "the stream ended");
}

static const struct relay_http_ops stream_ops = {
	.head = on_head,
	.body = on_body,
	.drained = on_body,
	.done = on_done,
};

static void
on_open(evutil_socket_t fd, short what, void *arg)
{
	struct manage *m = arg;
	const nghttp2_nv nv[] = {
		NV(":method", "POST"),
		NV(":scheme", "https"),
		NV(":authority", DIAG_AUTHORITY),
		NV(":path", MANAGE_PATH),
		NV("content-type", MANAGE_CONTENT_TYPE),
	};

	(void)fd;
	(void)what;
	if (m->stopped || m->h2 == NULL || m->r != NULL)
		return;
	m->gen++;
	m->opens++;
	m->opened_us = mono_us();
	m->closing = false;
	if (relay_http_request(m->h2, nv, sizeof(nv) / sizeof(nv[0]), true,
	    &stream_ops, m, &m->r) != 0) {
		m->r = NULL;
		stream_ended(m, "could not open a stream");
		return;
	}
	relay_set_control(m->r);	/* not a device's traffic */
}

static void
bad_message(struct manage *m, enum manage_bad b, const char *error)
{
	char why[300];

	m->bad[b]++;
	log_warn("manage", "manage_bad_message", "reason=%s error=%s "
	    "action=%s", manage_bad_name(b), error,
	    "management stream reset; opened again after a back-off");
	snprintf(why, sizeof(why), "a %s message from the cloud",
	    manage_bad_name(b));
	stream_reset(m, NGHTTP2_PROTOCOL_ERROR, why);
}

/* The cloud's readiness schedule for this edge: for status and the
 * log (the cloud issues the tests). */
static void
take_schedule(struct manage *m, const struct manage_schedule *sc)
{
	char when[32];

	m->sched = *sc;
	m->sched_known = true;
	if (!sc->set) {
		log_info("manage", "readiness_schedule", "profile=%s", "none");
		return;
	}
	time_format(sc->next, TIME_ISO, when, sizeof(when));
	log_info("manage", "readiness_schedule", "profile=%s every_s=%lld "
	    "next=%s", sc->profile, (long long)sc->every, when);
}

/* One complete line of len bytes (its '\n' after it) from m->in. */
static void
take_line(struct manage *m, size_t len)
{
	struct manage_msg msg;
	char *line = (char *)evbuffer_pullup(m->in, (ssize_t)len + 1);
	struct err er;
	int rc;

	if (line == NULL) {
		close_later(m, NGHTTP2_INTERNAL_ERROR, "out of memory");
		return;
	}
	rc = manage_msg_parse(line, len, &msg, &er);
	evbuffer_drain(m->in, len + 1);
	if (rc == -ENOMEM) {
		close_later(m, NGHTTP2_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (rc != 0) {
		bad_message(m, MB_MALFORMED, er.msg);
		return;
	}
	if (msg.type == MM_SCHEDULE)
		take_schedule(m, &msg.sched);
	else
		manage_dispatch(&m->env, &msg.in, m->gen);
}

/* Whether another line may be taken now. */
static bool
may_read(const struct manage *m)
{
	return m->r != NULL && !m->closing &&
	    m->env.njobs < MANAGE_JOBS_MAX &&
	    evbuffer_get_length(m->out) < MANAGE_OUT_MAX;
}

/* Takes the lines that came; true when it stopped with input left
 * because too much is running or waiting (go on once that drains). */
static bool
read_lines(struct manage *m)
{
	struct evbuffer_ptr eol;
	struct relay *r;
	size_t have, eol_len;
	int moved;

	for (;;) {
		if (!may_read(m))
			return m->r != NULL && !m->closing;
		r = m->r;
		eol = evbuffer_search_eol(m->in, NULL, &eol_len,
		    EVBUFFER_EOL_LF);
		if (eol.pos >= 0) {
			take_line(m, (size_t)eol.pos);
			if (m->r != r)
				return false;	/* reset, or new tunnel */
			continue;
		}
		have = evbuffer_get_length(m->in);
		if (have >= MANAGE_MSG_MAX) {
			bad_message(m, MB_OVERSIZED, "a line longer than "
			    "MANAGE_MSG_MAX (262144 bytes)");
			return false;
		}
		moved = evbuffer_remove_buffer(relay_body_in(r), m->in,
		    MANAGE_MSG_MAX - have);
		if (moved > 0) {
			relay_body_ack(r, (size_t)moved);
			continue;
		}
		if (relay_body_in_done(r))
			close_later(m, NGHTTP2_CANCEL, "the cloud ended its "
			    "body");
		return false;
	}
}

static void
write_out(struct manage *m)
{
	size_t n;

	while (m->r != NULL && !m->closing &&
	    (n = evbuffer_get_length(m->out)) > 0 && !relay_body_full(m->r)) {
		if (n > OUT_CHUNK)
			n = OUT_CHUNK;
		if (relay_body_write(m->r, evbuffer_pullup(m->out,
		    (ssize_t)n), n) != 0) {
			close_later(m, NGHTTP2_INTERNAL_ERROR,
			    "out of memory");
			break;
		}
		evbuffer_drain(m->out, n);
	}
}

static void
on_work(evutil_socket_t fd, short what, void *arg)
{
	struct manage *m = arg;
	bool blocked;

	(void)fd;
	(void)what;
	if (m->closing) {
		stream_reset(m, m->close_code, m->why);
		return;
	}
	blocked = read_lines(m);
	write_out(m);
	if (m->closing)
		stream_reset(m, m->close_code, m->why);
	else if (blocked && may_read(m))
		kick(m);	/* the answers drained: read on */
}

/* A job's answer (env->answer). */
static void
on_answer(void *arg, unsigned gen, char *line, size_t len)
{
	struct manage *m = arg;

	if (gen != m->gen || m->r == NULL) {
		log_info("manage", "manage_answer_dropped", "reason=%s",
		    "the stream it came on has ended");
		free(line);
		return;
	}
	if (evbuffer_add(m->out, line, len) != 0)
		close_later(m, NGHTTP2_INTERNAL_ERROR, "out of memory");
	free(line);
	kick(m);
}

/* env->live: the stream of generation gen is still open. */
static bool
stream_live(void *arg, unsigned gen)
{
	struct manage *m = arg;

	return gen == m->gen && m->r != NULL && !m->closing;
}

/* env->keep: on the stream now if one is up (after its hello), else for
 * the next one's hello; the oldest goes when KEPT_MAX wait. */
static void
keep_result(void *arg, const char *id, json_t *result)
{
	struct manage *m = arg;
	size_t len = 0;
	char *line = manage_msg_kept(id, result, &len);

	if (line == NULL) {
		log_error("manage", "readiness_kept", "id=%s error=%s", id,
		    "out of memory or too large: dropped");
		return;
	}
	if (m->up && m->r != NULL && !m->closing) {
		if (evbuffer_add(m->out, line, len) != 0)
			close_later(m, NGHTTP2_INTERNAL_ERROR, "out of memory");
		free(line);
		log_info("manage", "readiness_kept", "id=%s action=%s", id,
		    "sent on the stream now open");
		kick(m);
		return;
	}
	if (m->nkept == KEPT_MAX) {
		log_warn("manage", "readiness_kept_dropped", "reason=%s",
		    "more than 8 results waited for a stream");
		free(m->kept[0]);
		memmove(m->kept, m->kept + 1, (KEPT_MAX - 1) * sizeof(*m->kept));
		memmove(m->kept_len, m->kept_len + 1,
		    (KEPT_MAX - 1) * sizeof(*m->kept_len));
		m->nkept--;
	}
	m->kept[m->nkept] = line;
	m->kept_len[m->nkept++] = len;
	log_info("manage", "readiness_kept", "id=%s action=%s", id,
	    "kept for the next stream");
}

int
manage_new(struct edge *e, const struct manage_ops *ops,
    struct manage **out)
{
	struct manage *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return -ENOMEM;
	m->e = e;
	m->env.e = e;
	m->env.ops = ops;
	m->env.answer = on_answer;
	m->env.live = stream_live;
	m->env.keep = keep_result;
	m->env.answer_arg = m;
	m->backoff_ms = BACKOFF_MIN_MS;
	m->open_ev = evtimer_new(e->base, on_open, m);
	m->work_ev = event_new(e->base, -1, 0, on_work, m);
	m->in = evbuffer_new();
	m->out = evbuffer_new();
	if (m->open_ev == NULL || m->work_ev == NULL || m->in == NULL ||
	    m->out == NULL) {
		manage_free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

/* The stream on the tunnel that served until now ends, unanswered. */
static void
forget_stream(struct manage *m)
{
	if (m->r != NULL)
		relay_abort(m->r);
	m->r = NULL;
	m->up = false;
	m->closing = false;
	m->gen++;
	evbuffer_drain(m->in, evbuffer_get_length(m->in));
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
	evtimer_del(m->open_ev);
	event_del(m->work_ev);
}

void
manage_tunnel(struct manage *m, struct h2conn *h2)
{
	if (m == NULL || h2 == m->h2)
		return;
	forget_stream(m);
	m->h2 = h2;
	m->backoff_ms = BACKOFF_MIN_MS;
	if (h2 != NULL && !m->stopped)
		schedule_open(m, 0);
}

void
manage_stop(struct manage *m)
{
	if (m == NULL)
		return;
	m->stopped = true;
	forget_stream(m);
}

void
manage_free(struct manage *m)
{
	if (m == NULL)
		return;
	mjob_cancel_all(&m->env);
	if (m->r != NULL)
		relay_abort(m->r);
	if (m->open_ev != NULL)
		event_free(m->open_ev);
	if (m->work_ev != NULL)
		event_free(m->work_ev);
	if (m->in != NULL)
		evbuffer_free(m->in);
	if (m->out != NULL)
		evbuffer_free(m->out);
	while (m->nkept > 0)
		free(m->kept[--m->nkept]);
	free(m);
}

void
manage_info(const struct manage *m, struct manage_info *mi)
{
	int64_t left;

	memset(mi, 0, sizeof(*mi));
	mi->retry_ms = -1;
	mi->last_error = "";
	if (m == NULL)
		return;
	mi->up = m->up;
	mi->tunnel = m->h2 != NULL;
	mi->last_error = m->why;
	mi->opens = m->opens;
	mi->done = m->env.done;
	mi->running = m->env.njobs;
	memcpy(mi->instructions, m->env.counts, sizeof(mi->instructions));
	mi->sched_known = m->sched_known;
	mi->sched = m->sched.set;
	mi->sched_profile = m->sched.profile;
	mi->sched_every = m->sched.every;
	mi->sched_next = m->sched.next;
	mi->readiness_running = m->env.readiness != NULL ?
	    m->env.readiness->in.id : NULL;
	mi->kept = m->nkept;
	memcpy(mi->bad, m->bad, sizeof(mi->bad));
	if (m->r == NULL && evtimer_pending(m->open_ev, NULL)) {
		left = (m->retry_at_us - mono_us()) / 1000;
		mi->retry_ms = left > 0 ? (long)left : 0;
	}
}
