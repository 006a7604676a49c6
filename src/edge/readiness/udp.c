/*
 * The udp measure: a voice-like train of probes on a connected UDP
 * socket to the cloud's readiness_udp port (params' host, else the host
 * of the edge's `cloud =`, resolved as the tunnel resolves it), udp_rate
 * a second for udp_duration, each udp_size bytes, and the echoes taken
 * only when their MAC is right (probe.h). It waits READINESS_UDP_WAIT_S
 * after the last probe, less when every one came back. No echo at all:
 * UDP blocked, verdict fail, and the test goes on.
 *
 * Per probe it keeps when it left, when its echo came and the cloud's
 * time and count in it: loss each way, jitter each way (RFC 3550 with
 * the two clocks, whose offset cancels), reordering, duplicates and the
 * round trip, as RTP would see them.
 */
#include "edge/readiness/rtest-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "common/log.h"
#include "common/netutil.h"
#include "common/timeval.h"
#include "edge/daemon.h"
#include "edge/readiness/probe.h"

struct probe {
	int64_t sent_us;
	int64_t arr_us;			/* -1: no echo yet */
	int64_t cloud_us;
	uint32_t count;
};

/* A lookup in flight, the resolver's callback argument: a measure that
 * ends first leaves it (u NULL), and the answer frees it. */
struct lookup {
	struct rudp *u;
};

struct rudp {
	struct rtest *t;
	double at;
	struct evdns_base *dns;
	struct lookup *lookup;		/* in flight */
	char dest[300];			/* address:port, for the detail */
	int fd;
	struct event *read_ev, *tick, *end;
	struct event *dns_ev;		/* the lookup's limit */
	uint8_t *buf;			/* one datagram */
	size_t size;
	uint32_t count, sent;
	int64_t start_us, every_us;
	struct probe *pr;
	uint32_t received, duplicates, reordered, bad;
	uint32_t max_seq;		/* the highest seq echoed */
	uint32_t last_seq, last_count;	/* the echo with the top count */
};

static void
udp_free(struct rudp *u)
{
	if (u->lookup != NULL)
		u->lookup->u = NULL;
	/* A lookup in flight is failed (its callback runs from the loop,
	 * and libevent's touches no freed resolver then): not cancelled,
	 * whose answer would find the resolver gone. */
	if (u->dns != NULL)
		evdns_base_free(u->dns, 1);
	if (u->read_ev != NULL)
		event_free(u->read_ev);
	if (u->tick != NULL)
		event_free(u->tick);
	if (u->end != NULL)
		event_free(u->end);
	if (u->dns_ev != NULL)
		event_free(u->dns_ev);
	if (u->fd >= 0)
		close(u->fd);
	free(u->buf);
	free(u->pr);
	u->t->udp = NULL;
	free(u);
}

void
rudp_stop(struct rtest *t)
{
	if (t->udp != NULL)
		udp_free(t->udp);
}

/* Ends the measure from the loop (a callback may have found the end). */
static void
finish_soon(struct rudp *u)
{
	event_active(u->end, EV_TIMEOUT, 0);
}

static void
fail_now(struct rudp *u, const char *why)
{
	struct rtest *t = u->t;

	rresult_note(t, "udp", RV_FAIL, u->at, "%s", why);
	log_info("readiness", "readiness_measure", "id=%s measure=udp "
	    "error=\"%s\"", t->id, why);
	udp_free(u);
	t->step_done(t);
}

static void
take_echo(struct rudp *u, const struct rprobe_echo *ec, int64_t now)
{
	struct probe *p;

	if (ec->seq >= u->sent || (int64_t)ec->sent_us !=
	    u->pr[ec->seq].sent_us) {
		u->bad++;	/* not one we sent: the MAC was right, though */
		return;
	}
	p = &u->pr[ec->seq];
	if (p->arr_us >= 0) {
		u->duplicates++;
		return;
	}
	p->arr_us = now;
	p->cloud_us = (int64_t)ec->cloud_us;
	p->count = ec->count;
	if (u->received > 0 && ec->seq < u->max_seq)
		u->reordered++;
	if (u->received == 0 || ec->seq > u->max_seq)
		u->max_seq = ec->seq;
	if (u->received == 0 || ec->count > u->last_count) {
		u->last_count = ec->count;
		u->last_seq = ec->seq;
	}
	u->received++;
	if (u->sent == u->count && u->received == u->sent)
		finish_soon(u);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct rudp *u = arg;
	struct rtest *t = u->t;
	struct rprobe_echo ec;
	uint8_t in[READY_UDP_MAX + 1];
	ssize_t n;

	(void)what;
	/* A bounded batch: the train's own timer must not starve. */
	for (int i = 0; i < 64; i++) {
		n = recv(fd, in, sizeof(in), 0);
		if (n < 0)
			return;		/* EAGAIN, or an ICMP error: ignored */
		if (rprobe_echo_parse(in, (size_t)n, u->size, t->test_id,
		    t->prm.udp_key, &ec) != 0) {
			u->bad++;
			continue;
		}
		take_echo(u, &ec, mono_us());
	}
}

/* Sends what is due (a late loop turn catches up), then waits for the
 * next or, after the last, for the echoes. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rudp *u = arg;
	struct rtest *t = u->t;
	uint64_t cost = (uint64_t)u->size + READINESS_UDP_HEADERS;
	int64_t now = mono_us(), due;
	struct timeval tv;

	(void)fd;
	(void)what;
	while (u->sent < u->count && u->start_us +
	    (int64_t)u->sent * u->every_us <= now) {
		if (!rresult_spend(t, cost)) {
			u->count = u->sent;	/* the plan is spent */
			break;
		}
		u->pr[u->sent].sent_us = mono_us();
		rprobe_build(u->buf, u->size, t->test_id, u->sent,
		    (uint64_t)u->pr[u->sent].sent_us, t->prm.udp_key);
		/* A send the kernel refuses is a probe lost. */
		(void)send(u->fd, u->buf, u->size, 0);
		u->sent++;
	}
	if (u->sent < u->count) {
		due = u->start_us + (int64_t)u->sent * u->every_us - now;
		tv.tv_sec = (time_t)(due / 1000000);
		tv.tv_usec = (suseconds_t)(due % 1000000);
		evtimer_add(u->tick, &tv);
		return;
	}
	if (u->received == u->sent) {
		finish_soon(u);
		return;
	}
	tv.tv_sec = READINESS_UDP_WAIT_S;
	tv.tv_usec = 0;
	evtimer_add(u->end, &tv);
}

/* Round trips (ms, sending order) and the transit times each way of the
 * echoed probes, and how many of the probes up to last_seq came back. */
struct series {
	double *rtt, *up, *down;
	uint32_t n, upto;
};

static int
series_make(const struct rudp *u, struct series *s)
{
	uint32_t i;

	memset(s, 0, sizeof(*s));
	s->rtt = malloc((u->received + 1) * sizeof(double));
	s->up = malloc((u->received + 1) * sizeof(double));
	s->down = malloc((u->received + 1) * sizeof(double));
	if (s->rtt == NULL || s->up == NULL || s->down == NULL)
		return -ENOMEM;
	for (i = 0; i < u->sent; i++) {
		const struct probe *p = &u->pr[i];

		if (p->arr_us < 0)
			continue;
		s->rtt[s->n] = (double)(p->arr_us - p->sent_us) / 1000;
		s->up[s->n] = (double)(p->cloud_us - p->sent_us) / 1000;
		s->down[s->n] = (double)(p->arr_us - p->cloud_us) / 1000;
		s->n++;
		if (i <= u->last_seq)
			s->upto++;
	}
	return 0;
}

static void
series_free(struct series *s)
{
	free(s->rtt);
	free(s->up);
	free(s->down);
}

static void
report_blocked(struct rudp *u)
{
	struct rtest *t = u->t;
	json_t *m = rresult_measure(t, "udp", RV_FAIL, u->at);

	if (m != NULL)
		json_object_set_new(m, "blocked", json_true());
	rresult_int(m, "sent", u->sent);
	rresult_int(m, "received", 0);
	if (m != NULL)
		json_object_set_new(m, "detail", json_sprintf("UDP blocked: no "
		    "echo to %u probes to %s", u->sent, u->dest));
}

static void
report(struct rudp *u)
{
	struct rtest *t = u->t;
	const struct readiness_profile *pr = &t->prm.p;
	json_t *m, *samples;
	struct rudp_loss loss;
	struct series s;
	struct rstats st;
	double jup, jdown, jitter;
	enum rverdict v;
	uint32_t i;

	if (u->received == 0) {
		report_blocked(u);
		return;
	}
	if (series_make(u, &s) != 0) {
		series_free(&s);
		rresult_note(t, "udp", RV_FAIL, u->at, "out of memory");
		return;
	}
	samples = json_array();
	for (i = 0; samples != NULL && i < s.n && i < RTEST_UDP_SAMPLES; i++)
		json_array_append_new(samples, json_real(rcalc_round(s.rtt[i],
		    3)));
	rcalc_udp_loss(u->sent, u->received, u->last_seq, u->last_count,
	    s.upto, &loss);
	jup = rcalc_jitter(s.up, s.n);
	jdown = rcalc_jitter(s.down, s.n);
	jitter = jup > jdown ? jup : jdown;
	rcalc_stats(s.rtt, s.n, &st);
	series_free(&s);
	v = rverdict_worst(rcalc_above(loss.all, &pr->loss),
	    rverdict_worst(rcalc_above(jitter, &pr->jitter),
	    rcalc_above(st.median / 2, &pr->delay)));
	m = rresult_measure(t, "udp", v, u->at);
	rresult_int(m, "sent", u->sent);
	rresult_int(m, "received", u->received);
	rresult_real(m, "loss_pct", loss.all, 2);
	rresult_real(m, "up_loss_pct", loss.up, 2);
	rresult_real(m, "down_loss_pct", loss.down, 2);
	rresult_real(m, "jitter_ms", jitter, 3);
	rresult_real(m, "up_jitter_ms", jup, 3);
	rresult_real(m, "down_jitter_ms", jdown, 3);
	rresult_int(m, "reordered", u->reordered);
	rresult_int(m, "duplicates", u->duplicates);
	rresult_real(m, "min_ms", st.min, 3);
	rresult_real(m, "median_ms", st.median, 3);
	rresult_real(m, "p95_ms", st.p95, 3);
	rresult_real(m, "max_ms", st.max, 3);
	if (samples != NULL)
		json_object_set_new(t->samples, "udp_rtt_ms", samples);
	t->have_udp = true;
	t->udp_rtt = st.median;
	t->udp_jitter = jitter;
	t->udp_loss = loss.all;
}

static void
on_end(evutil_socket_t fd, short what, void *arg)
{
	struct rudp *u = arg;
	struct rtest *t = u->t;

	(void)fd;
	(void)what;
	on_read(u->fd, EV_READ, u);	/* what came with the timer */
	report(u);
	log_info("readiness", "readiness_measure", "id=%s measure=udp "
	    "dest=%s sent=%u received=%u duplicates=%u not_ours=%u", t->id,
	    u->dest, u->sent, u->received, u->duplicates, u->bad);
	udp_free(u);
	t->step_done(t);
}

/* A connected socket to addr, and the train starts. */
static void
train_start(struct rudp *u, const struct sockaddr *addr, socklen_t len)
{
	struct rtest *t = u->t;
	struct event_base *base = t->e->base;
	char why[400];

	net_format(addr, u->dest, sizeof(u->dest));
	u->fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (u->fd < 0 || connect(u->fd, addr, len) != 0) {
		snprintf(why, sizeof(why), "cannot send to %s: %s", u->dest,
		    strerror(errno));
		fail_now(u, why);
		return;
	}
	u->read_ev = event_new(base, u->fd, EV_READ | EV_PERSIST, on_read, u);
	if (u->read_ev == NULL || event_add(u->read_ev, NULL) != 0) {
		fail_now(u, "out of memory");
		return;
	}
	u->start_us = mono_us();
	event_active(u->tick, EV_TIMEOUT, 0);
}

static void
on_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct lookup *lk = arg;
	struct rudp *u = lk->u;
	char why[400];

	free(lk);
	if (u == NULL) {	/* the measure ended without it */
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return;
	}
	u->lookup = NULL;
	evtimer_del(u->dns_ev);
	if (result != 0 || ai == NULL) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s",
		    u->t->prm.udp_host[0] != '\0' ? u->t->prm.udp_host :
		    u->t->e->cf->cloud.host, evutil_gai_strerror(result));
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		fail_now(u, why);
		return;
	}
	train_start(u, ai->ai_addr, (socklen_t)ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
}

/* The name servers did not answer within handshake_timeout. */
static void
on_dns_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rudp *u = arg;
	char why[400];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "no answer for %s within "
	    "handshake_timeout from the name servers in /etc/resolv.conf",
	    u->t->prm.udp_host[0] != '\0' ? u->t->prm.udp_host :
	    u->t->e->cf->cloud.host);
	fail_now(u, why);
}

/* Resolves host (a literal address at once) and starts the train. */
static void
resolve(struct rudp *u, const char *host)
{
	struct rtest *t = u->t;
	struct evutil_addrinfo hints;
	struct timeval tv;
	char port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	snprintf(port, sizeof(port), "%u", t->prm.udp_port);
	if ((u->lookup = malloc(sizeof(*u->lookup))) == NULL) {
		fail_now(u, "out of memory");
		return;
	}
	u->lookup->u = u;
	/* A literal address, or an immediate failure, is answered from
	 * inside this call: u may be gone after it. */
	(void)evdns_getaddrinfo(u->dns, host, port, &hints, on_resolved,
	    u->lookup);
	if (t->udp == u && u->lookup != NULL) {
		tv_ms(&tv, t->e->cf->handshake_timeout);
		evtimer_add(u->dns_ev, &tv);
	}
}

void
rudp_start(struct rtest *t)
{
	struct rudp *u = calloc(1, sizeof(*u));
	const char *host = t->prm.udp_host[0] != '\0' ? t->prm.udp_host :
	    t->e->cf->cloud.host;

	if (u == NULL) {
		rresult_note(t, "udp", RV_FAIL, rresult_at(t), "out of memory");
		t->step_done(t);
		return;
	}
	u->t = t;
	t->udp = u;
	u->fd = -1;
	u->at = rresult_at(t);
	u->size = (size_t)t->prm.p.udp_size;
	u->count = (uint32_t)readiness_udp_packets(&t->prm.p);
	u->every_us = 1000000 / t->prm.p.udp_rate;
	snprintf(u->dest, sizeof(u->dest), "%s:%u", host, t->prm.udp_port);
	u->buf = malloc(u->size);
	u->pr = calloc(u->count > 0 ? u->count : 1, sizeof(*u->pr));
	u->end = evtimer_new(t->e->base, on_end, u);
	u->tick = evtimer_new(t->e->base, on_tick, u);
	u->dns_ev = evtimer_new(t->e->base, on_dns_timeout, u);
	/* As the tunnel resolves the cloud's name (uplink.c). */
	u->dns = evdns_base_new(t->e->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (u->dns == NULL)	/* no resolv.conf: numeric addresses only */
		u->dns = evdns_base_new(t->e->base, 0);
	if (u->buf == NULL || u->pr == NULL || u->end == NULL ||
	    u->tick == NULL || u->dns_ev == NULL || u->dns == NULL) {
		fail_now(u, "out of memory");
		return;
	}
	for (uint32_t i = 0; i < u->count; i++)
		u->pr[i].arr_us = -1;
	resolve(u, host);
}
