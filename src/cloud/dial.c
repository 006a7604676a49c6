/* Connecting a stream to a backend, with failover, and the tunnel's cap
 * on connects in flight (dial.h). */
#include "cloud/dial.h"

#include <errno.h>
#include <string.h>

#include <event2/event.h>

#include "cloud/backpool.h"
#include "cloud/cloud-int.h"
#include "cloud/pool.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/netutil.h"
#include "common/stat.h"
#include "common/timeval.h"

static void dial_next(struct dial *d);

/* The slot goes back before fn runs: fn may start another dial. Waiting
 * ones start from the loop, never from inside another stream's
 * callback. */
static void
gate_release(struct dial *d)
{
	struct dial_gate *g = d->gate;

	if (g == NULL || !d->slot)
		return;
	d->slot = false;
	g->inflight--;
	if (g->head != NULL)
		event_active(g->ev, EV_TIMEOUT, 0);
}

static void
gate_unwait(struct dial *d)
{
	struct dial_gate *g = d->gate;

	if (d->wnext != NULL)
		d->wnext->wprev = d->wprev;
	else
		g->tail = d->wprev;
	*d->wprev = d->wnext;
	d->wnext = NULL;
	d->wprev = NULL;
	d->waiting = false;
}

static void
gate_run(evutil_socket_t fd, short what, void *arg)
{
	struct dial_gate *g = arg;
	struct dial *d;

	(void)fd;
	(void)what;
	while (g->inflight < g->max && (d = g->head) != NULL) {
		gate_unwait(d);
		d->slot = true;
		g->inflight++;
		dial_next(d);	/* may end d, or cancel others */
	}
}

int
dial_gate_init(struct dial_gate *g, struct event_base *base, unsigned max)
{
	memset(g, 0, sizeof(*g));
	g->max = max;
	g->tail = &g->head;
	g->ev = event_new(base, -1, 0, gate_run, g);
	return g->ev != NULL ? 0 : -ENOMEM;
}

void
dial_gate_free(struct dial_gate *g)
{
	if (g->ev != NULL)
		event_free(g->ev);
	g->ev = NULL;
}

/* Takes a slot, or queues d for one. */
static void
gate_enter(struct dial *d)
{
	struct dial_gate *g = d->gate;

	if (g == NULL) {
		dial_next(d);
		return;
	}
	if (g->inflight >= g->max || g->head != NULL) {
		g->waited++;
		d->waiting = true;
		d->wnext = NULL;
		d->wprev = g->tail;
		*g->tail = d;
		g->tail = &d->wnext;
		return;
	}
	d->slot = true;
	g->inflight++;
	dial_next(d);
}

/* The dial is over, one way or the other: fn(d, bev, ...). */
static void
deliver(struct dial *d, struct bufferevent *bev, bool reused)
{
	gate_release(d);
	d->fn(d, bev, reused, d->arg);
}

static void
connected(struct dial *d, struct bufferevent *bev, bool reused)
{
	struct cloud_backend *be = &d->svc->be[d->idx];

	STAT_ADD(be->active, 1);
	STAT_ADD(be->streams, 1);
	if (reused)
		STAT_ADD(be->reused, 1);
	deliver(d, bev, reused);
}

static void
failed(struct dial *d, const char *why)
{
	struct cloud_backend *be = &d->svc->be[d->idx];

	STAT_ADD(be->connect_failures, 1);
	log_limited(d->w->lim_backend, LOG_INFO, "cloud", "backend_failed",
	    "tenant=%s service=%s backend=%s reason=%s", d->svc->tenant_name,
	    d->svc->name, be->addr, why);
	d->idx = -1;
	dial_next(d);
}

static void
dial_event(struct bufferevent *bev, short what, void *arg)
{
	struct dial *d = arg;

	if (d->in_connect) {
		/* libevent reports a synchronous failure both ways; the
		 * caller of connect handles it. */
		d->failed_in_connect = true;
		return;
	}
	d->bev = NULL;
	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_set_timeouts(bev, NULL, NULL);
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		net_nodelay(bufferevent_getfd(bev));
		connected(d, bev, false);
		return;
	}
	/* Refused or timed out before any byte moved: the next backend. */
	bufferevent_free(bev);
	failed(d, (what & BEV_EVENT_TIMEOUT) ? "timeout" : "refused");
}

static void
dial_next(struct dial *d)
{
	struct cloud_service *s = d->svc;
	struct bufferevent *bev;
	struct timeval tv;
	int i;

	i = pool_pick(s, d->device, d->tried);
	if (i < 0) {
		deliver(d, NULL, false);
		return;
	}
	d->tried |= 1ull << i;
	d->idx = i;
	if (d->reuse && (bev = backpool_take(d->w, s, &s->be[i].ss)) != NULL) {
		connected(d, bev, true);
		return;
	}
	bev = bufferevent_socket_new(d->w->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		d->idx = -1;
		deliver(d, NULL, false);
		return;
	}
	d->bev = bev;
	tv_ms(&tv, s->connect_timeout);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setcb(bev, NULL, NULL, dial_event, d);
	d->in_connect = true;
	d->failed_in_connect = false;
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&s->be[i].ss,
	    (int)s->be[i].sslen) != 0)
		d->failed_in_connect = true;
	d->in_connect = false;
	if (d->failed_in_connect) {
		d->bev = NULL;
		bufferevent_free(bev);
		failed(d, "connect");
	}
}

void
dial_start(struct dial *d, struct worker *w, struct cloud_service *svc,
    const char *device, bool reuse, struct dial_gate *gate, dial_fn fn,
    void *arg)
{
	d->w = w;
	d->svc = svc;
	d->device = device;
	d->reuse = reuse;
	d->fn = fn;
	d->arg = arg;
	d->idx = -1;
	d->tried = 0;
	d->bev = NULL;
	d->gate = gate;
	d->waiting = d->slot = false;
	gate_enter(d);
}

void
dial_again(struct dial *d)
{
	d->reuse = false;
	d->tried = 0;
	d->idx = -1;
	gate_enter(d);
}

void
dial_cancel(struct dial *d)
{
	if (d->bev != NULL)
		bufferevent_free(d->bev);
	d->bev = NULL;
	if (d->waiting)
		gate_unwait(d);
	gate_release(d);
}
