/*
 * The collectors (collect.h): each one's schedule, its runs (a poll of
 * the device, poll.c, then a delivery of the answer, deliver.c), the
 * bound on runs at once, reloads, and the trust store's changes that
 * free a collector waiting for a person.
 */
#include "edge/collect/collect-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/loglimit.h"
#include "common/timeval.h"
#include "edge/daemon.h"
#include "edge/trust/trust.h"
#include "edge/uplink/uplink.h"

static void run_start(struct collector *co);

/* --- The queue of runs waiting for a free slot ------------------------ */

static void
queue_remove(struct collectors *cs, struct collector *co)
{
	struct collector **pp, *prev = NULL;

	if (!co->queued)
		return;
	for (pp = &cs->queue; *pp != NULL; prev = *pp, pp = &(*pp)->next_queued)
		if (*pp == co) {
			*pp = co->next_queued;
			if (cs->queue_tail == co)
				cs->queue_tail = prev;
			break;
		}
	co->queued = false;
	co->next_queued = NULL;
}

/* Starts queued runs while slots are free. */
static void
pump(struct collectors *cs)
{
	struct collector *co;

	while (cs->inflight < COLLECT_INFLIGHT_MAX &&
	    (co = cs->queue) != NULL) {
		queue_remove(cs, co);
		run_start(co);
	}
}

/* --- One run's end ----------------------------------------------------- */

#define RUN_LOG_FMT "collector=%s outcome=%s device=%s status=%d ms=%llu " \
	"error=%s"

static void
run_log(struct collector *co, enum collect_outcome o, const char *device,
    int status, uint64_t ms, const char *error)
{
	if (o == CO_OK)
		log_debug("collect", "collect", RUN_LOG_FMT, co->name,
		    collect_outcome_name(o), device, status,
		    (unsigned long long)ms, "-");
	else
		log_limited(co->cs->lim, LOG_WARN, "collect", "collect",
		    RUN_LOG_FMT, co->name, collect_outcome_name(o), device,
		    status, (unsigned long long)ms,
		    error[0] != '\0' ? error : "-");
}

/* What a run holds, given back (no figures: the caller notes them). */
static void
run_release(struct collector *co)
{
	poll_cancel(co->poll);
	co->poll = NULL;
	deliver_cancel(co->dlv);
	co->dlv = NULL;
	if (co->res.body != NULL)
		evbuffer_free(co->res.body);
	free(co->res.content_type);
	memset(&co->res, 0, sizeof(co->res));
	if (co->run_cf != NULL)
		edge_conf_free(co->run_cf);
	co->run_cf = NULL;
	co->run_c = NULL;
	co->poll_us = 0;
	if (co->running) {
		co->running = false;
		co->cs->inflight--;
	}
}

/* r: what the poll found (NULL: the device was not contacted). */
static void
run_end(struct collector *co, enum collect_outcome o,
    const struct poll_result *r, uint64_t bytes, const char *error)
{
	uint64_t us = (uint64_t)(mono_us() - co->run_started_us);
	struct poll_result none = { .outcome = o };

	if (r == NULL)
		r = &none;
	if (error != NULL && error != r->error) {
		none = *r;
		snprintf(none.error, sizeof(none.error), "%s", error);
		r = &none;
	}
	/* the poll's time (handshake and answer), not its delivery's */
	stats_note(&co->fig, &co->cs->tot, o, r, co->poll_us != 0 ?
	    co->poll_us : us, bytes);
	run_log(co, o, r->device[0] != '\0' ? r->device : "-", r->status,
	    us / 1000, r->error);
	run_release(co);
	pump(co->cs);
}

static void
on_delivered(bool ok, int status, const char *why, void *arg)
{
	struct collector *co = arg;

	(void)status;
	co->dlv = NULL;
	/* deliver drains the body as it writes: the figure is what the
	 * device sent, counted once the cloud took it. */
	run_end(co, ok ? CO_OK : CO_UNDELIVERED, &co->res,
	    ok ? co->res_bytes : 0, ok ? NULL : why);
}

static void
on_polled(struct poll_result *r, void *arg)
{
	struct collector *co = arg;
	struct deliver_req q;
	struct edge *e = co->cs->e;

	co->poll = NULL;
	co->poll_us = (uint64_t)(mono_us() - co->run_started_us);
	if (r->wait) {
		co->wait = true;
		co->wait_digest = r->wait_digest;
	}
	if (r->outcome != CO_OK) {
		run_end(co, r->outcome, r, 0, NULL);
		return;
	}
	co->res = *r;		/* takes its body and content type */
	r->body = NULL;
	r->content_type = NULL;
	co->res_bytes = evbuffer_get_length(co->res.body);
	q.c = co->run_c;
	q.r = &co->res;
	if (deliver_start(e->base, e->up != NULL ? uplink_h2(e->up) : NULL,
	    &q, on_delivered, co, &co->dlv) != 0)
		run_end(co, CO_UNDELIVERED, &co->res, 0, "out of memory");
}

static void
run_start(struct collector *co)
{
	struct collectors *cs = co->cs;

	co->running = true;
	cs->inflight++;
	co->run_started_us = mono_us();
	co->run_cf = edge_conf_ref(co->cf);
	co->run_c = co->c;
	cs->env.trust = cs->e->trust;
	if (poll_start(&cs->env, co->run_c, co->ctx, on_polled, co,
	    &co->poll) != 0) {
		co->poll = NULL;
		run_end(co, CO_CONNECT, NULL, 0, "out of memory");
	}
}

/* --- The schedule -------------------------------------------------------- */

/* A poll is due (its time, or the trust store freed it). */
static void
due(struct collector *co)
{
	struct collectors *cs = co->cs;

	if (co->running || co->queued)
		return;		/* one at a time: this one skips */
	if (cs->e->draining)
		return;		/* stopping: nothing new to deliver */
	if (co->wait) {
		co->run_started_us = mono_us();
		run_end(co, CO_WAITING, NULL, 0, "the device's certificate "
		    "waits for a person (isthmus trust list --pending)");
		return;
	}
	if (cs->inflight < COLLECT_INFLIGHT_MAX) {
		run_start(co);
		return;
	}
	co->queued = true;
	if (cs->queue_tail != NULL)
		cs->queue_tail->next_queued = co;
	else
		cs->queue = co;
	cs->queue_tail = co;
}

static void
arm(struct collector *co)
{
	int64_t now = mono_us(), us = co->next_us - now;
	struct timeval tv;

	if (us < 0)
		us = 0;
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	evtimer_add(co->timer, &tv);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct collector *co = arg;
	int64_t now = mono_us(), step = (int64_t)co->c->interval * 1000;

	(void)fd;
	(void)what;
	co->next_us = collect_next_slot(co->next_us, now, step);
	arm(co);
	due(co);
}

/* The first poll: within the first interval, at the collector's offset. */
static void
schedule_first(struct collector *co)
{
	co->offset_ms = collect_offset(co->name, co->c->interval);
	co->next_us = mono_us() + (int64_t)co->offset_ms * 1000;
	arm(co);
}

static void
on_trust_changed(void *arg)
{
	struct collectors *cs = arg;
	size_t i;

	/* Only those whose device's entries moved (approved, rejected,
	 * forgotten, or the store back): the others would be refused
	 * again, and a site approving devices one by one would have every
	 * waiting one contacted at each approval. */
	for (i = 0; i < cs->n; i++) {
		struct collector *co = cs->v[i];

		if (!co->wait || (cs->e->trust != NULL &&
		    trust_peer_digest(cs->e->trust, TK_API, co->c->peer) ==
		    co->wait_digest))
			continue;
		co->wait = false;
		due(co);
	}
}

/* --- The collectors ------------------------------------------------------ */

static void
collector_free(struct collector *co)
{
	queue_remove(co->cs, co);
	run_release(co);
	if (co->timer != NULL)
		event_free(co->timer);
	if (co->ctx != NULL)
		SSL_CTX_free(co->ctx);
	if (co->cf != NULL)
		edge_conf_free(co->cf);
	free(co);
}

/* The client context c polls with, a reference of the caller's. */
static int
ctx_for(struct collectors *cs, const struct edge_collector_conf *c,
    SSL_CTX **out, struct err *e)
{
	SSL_CTX **slot = &cs->shared_ctx[c->tls_min ? 1 : 0];

	if (c->trust == CT_CA)
		return poll_ctx_new(c, out, e);
	if (*slot == NULL && poll_ctx_new(c, slot, e) != 0)
		return -EINVAL;
	SSL_CTX_up_ref(*slot);
	*out = *slot;
	return 0;
}

/* Settings of c (the new ones, or a reload's) on co: a new context and
 * schedule; a run under the old settings is abandoned. */
static int
collector_set(struct collector *co, struct edge_conf *cf,
    const struct edge_collector_conf *c)
{
	SSL_CTX *ctx = NULL;
	struct err er;

	if (ctx_for(co->cs, c, &ctx, &er) != 0) {
		log_error("collect", "collector_failed", "collector=%s "
		    "error=%s", c->name, er.msg);
		return -EINVAL;
	}
	queue_remove(co->cs, co);
	run_release(co);
	if (co->ctx != NULL)
		SSL_CTX_free(co->ctx);
	co->ctx = ctx;
	if (co->cf != NULL)
		edge_conf_free(co->cf);
	co->cf = edge_conf_ref(cf);
	co->c = c;
	co->wait = false;
	schedule_first(co);
	return 0;
}

static struct collector *
collector_new(struct collectors *cs, struct edge_conf *cf,
    const struct edge_collector_conf *c)
{
	struct collector *co = calloc(1, sizeof(*co));

	if (co == NULL)
		return NULL;
	co->cs = cs;
	snprintf(co->name, sizeof(co->name), "%s", c->name);
	if ((co->timer = evtimer_new(cs->e->base, on_tick, co)) == NULL ||
	    collector_set(co, cf, c) != 0) {
		collector_free(co);
		return NULL;
	}
	return co;
}

static struct collector *
take(struct collectors *cs, const char *name)
{
	struct collector *co;
	size_t i;

	for (i = 0; i < cs->n; i++)
		if ((co = cs->v[i]) != NULL && strcmp(co->name, name) == 0) {
			cs->v[i] = NULL;
			return co;
		}
	return NULL;
}

/* The collector for c: the one of that name, kept as it is when its
 * settings stay, else given them; a new one when there is none. */
static struct collector *
collector_for(struct collectors *cs, struct edge_conf *cf,
    const struct edge_collector_conf *c)
{
	struct collector *co = take(cs, c->name);

	if (co == NULL)
		return collector_new(cs, cf, c);
	if (edge_collector_conf_equal(co->c, c)) {
		/* A run in flight keeps its own reference (run_cf). */
		edge_conf_free(co->cf);
		co->cf = edge_conf_ref(cf);
		co->c = c;
		return co;
	}
	if (collector_set(co, cf, c) != 0) {
		collector_free(co);
		return NULL;
	}
	return co;
}

static void
watch(struct collectors *cs)
{
	struct trust *t = cs->e->trust;

	if (t == cs->env.trust && cs->watching)
		return;
	/* A trust runtime that was replaced is its owner's to end. */
	cs->env.trust = t;
	cs->watching = t != NULL;
	if (t != NULL)
		trust_watch(t, on_trust_changed, cs);
}

int
collectors_reload(struct collectors *cs, const struct edge_conf *cf)
{
	struct edge_conf *mut = (struct edge_conf *)(uintptr_t)cf;
	struct collector **v = NULL, *co;
	size_t i, n = 0;

	if (cf->ncollectors > 0 &&
	    (v = calloc(cf->ncollectors, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (i = 0; i < cf->ncollectors; i++)
		if ((co = collector_for(cs, mut, cf->collectors[i])) != NULL)
			v[n++] = co;
	for (i = 0; i < cs->n; i++)	/* removed: their runs end */
		if (cs->v[i] != NULL)
			collector_free(cs->v[i]);
	free(cs->v);
	cs->v = v;
	cs->n = n;
	watch(cs);
	pump(cs);
	return 0;
}

int
collectors_new(struct edge *e, struct collectors **out)
{
	struct collectors *cs;

	*out = NULL;
	if (e->cf->ncollectors == 0)
		return 0;
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return -ENOMEM;
	cs->e = e;
	cs->env.base = e->base;
	cs->env.dns = evdns_base_new(e->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (cs->env.dns == NULL)	/* no resolv.conf: addresses only */
		cs->env.dns = evdns_base_new(e->base, 0);
	cs->lim = log_limit_new(e->base, COLLECT_LOG_BURST,
	    COLLECT_LOG_PER_SEC);
	if (cs->env.dns == NULL || cs->lim == NULL ||
	    collectors_reload(cs, e->cf) != 0) {
		collectors_free(cs);
		return -ENOMEM;
	}
	*out = cs;
	return 0;
}

void
collectors_free(struct collectors *cs)
{
	bool resolving = false;
	size_t i;

	if (cs == NULL)
		return;
	if (cs->watching)
		trust_watch(cs->env.trust, NULL, cs);
	for (i = 0; i < cs->n; i++) {
		resolving |= poll_resolving(cs->v[i]->poll);
		collector_free(cs->v[i]);
	}
	free(cs->v);
	/* An abandoned name lookup is answered from the loop: one more
	 * turn lets it end before its resolver goes (dialer.h). */
	if (resolving)
		event_base_loop(cs->e->base, EVLOOP_NONBLOCK);
	if (cs->env.dns != NULL)
		evdns_base_free(cs->env.dns, 0);
	log_limit_free(cs->lim);
	SSL_CTX_free(cs->shared_ctx[0]);
	SSL_CTX_free(cs->shared_ctx[1]);
	free(cs);
}
