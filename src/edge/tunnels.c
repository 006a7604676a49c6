/*
 * The edge's tunnels to the cloud: the serving one, after a reload
 * (reload.c) the one being admitted, and retired ones finishing their
 * streams (make before break). When the serving tunnel comes up, the
 * devices that waited for it go on (device/pending.c).
 */
#include "edge/tunnels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/identity.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/timeval.h"
#include "common/tls.h"
#include "edge/device/httpdev.h"
#include "edge/device/pending.h"
#include "edge/manage/manage.h"
#include "edge/queue/queue.h"
#include "edge/uplink/uplink.h"

/* Who we are, for status and metrics: from the serving tunnel's
 * certificate. */
void
edge_note_identity(struct edge *e)
{
	X509 *cert = SSL_CTX_get0_certificate(e->tun->ctx);
	struct cert_identity id;

	if (cert == NULL)
		return;
	identity_from_cert(cert, &id);
	if (id.has_edge) {
		snprintf(e->name, sizeof(e->name), "%s", id.edge);
		snprintf(e->tenant, sizeof(e->tenant), "%s", id.tenant);
	}
	e->cert_not_after = tls_time_epoch(X509_get0_notAfter(cert));
}

void
edge_tunnel_free(struct edge_tunnel *t)
{
	if (t == NULL)
		return;
	uplink_free(t->up);
	SSL_CTX_free(t->ctx);
	edge_conf_free(t->cf);
	free(t);
}

/* Retired tunnels whose last stream ended; from the loop, never inside
 * the uplink's own callback. */
static void
on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;
	struct edge_tunnel **pp = &e->retired, *t;

	(void)fd;
	(void)what;
	while ((t = *pp) != NULL) {
		if (!t->down) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		log_info("edge", "tunnel_retired", "cloud=%s:%u",
		    t->cf->cloud.host, t->cf->cloud.port);
		edge_tunnel_free(t);
	}
}

/* No tunnel carries a stream any more: a drain may end. */
bool
edge_tunnels_idle(struct edge *e)
{
	const struct edge_tunnel *t;

	if (uplink_h2(e->up) != NULL)
		return false;
	for (t = e->retired; t != NULL; t = t->next)
		if (!t->down)
			return false;
	return true;
}

static void
on_drain_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	edge_drain_end(arg);
}

void
edge_drain_end(struct edge *e)
{
	struct timeval tv;

	if (!edge_tunnels_idle(e))
		return;
	/* A request on its way to the queue's file: its device gets its
	 * answer (after an fsync) before the edge goes. */
	if ((!sfq_writing(e->queue) && !httpdev_answering(e)) ||
	    (e->drain_poll == NULL &&
	    (e->drain_poll = evtimer_new(e->base, on_drain_poll, e)) ==
	    NULL)) {
		/* A request that reaches the queue in the loop's last turn
		 * is refused, not written unanswered. */
		sfq_seal(e->queue);
		event_base_loopexit(e->base, NULL);
		return;
	}
	tv_ms(&tv, 5);
	evtimer_add(e->drain_poll, &tv);
}

/* t carries no new stream from now on: those open finish (GOAWAY), then
 * it closes and on_reap frees it. */
void
edge_tunnel_retire(struct edge *e, struct edge_tunnel *t)
{
	struct timeval now = { 0, 0 };
	bool was_up = uplink_h2(t->up) != NULL;

	t->next = e->retired;
	e->retired = t;
	uplink_stop(t->up);
	if (!was_up)
		t->down = true;
	if (t->down)
		evtimer_add(e->reap_ev, &now);
}

/* t serves from now on, with what the running tunnel learnt (uplink_carry)
 * and our identity from its certificate; returns the one it replaced,
 * which the caller retires or frees. */
struct edge_tunnel *
edge_tunnel_take_over(struct edge *e, struct edge_tunnel *t)
{
	struct edge_tunnel *old = e->tun;

	e->tun = t;
	e->up = t->up;
	uplink_carry(e->up, old->up);
	edge_note_identity(e);
	/* The management stream moves with the devices' new streams. */
	manage_tunnel(e->manage, uplink_h2(t->up));
	return old;
}

/* The tunnel a reload asked for takes new streams; the one before it
 * drains. */
static void
tunnel_promote(struct edge *e)
{
	struct edge_tunnel *t = e->next_tun, *old;

	e->next_tun = NULL;
	old = edge_tunnel_take_over(e, t);
	log_info("edge", "tunnel_switched", "cloud=%s:%u old_cloud=%s:%u",
	    e->tun->cf->cloud.host, e->tun->cf->cloud.port,
	    old->cf->cloud.host, old->cf->cloud.port);
	edge_tunnel_retire(e, old);
}

static void
tunnel_closed(struct edge_tunnel *t)
{
	struct edge *e = t->e;
	struct timeval now = { 0, 0 };

	if (t != e->tun && t != e->next_tun) {
		t->down = true;
		evtimer_add(e->reap_ev, &now);
	} else if (t == e->tun && e->next_tun != NULL) {
		/* Lost while its successor is being admitted: no use
		 * reconnecting on the old settings, the new tunnel takes
		 * the devices when it is up. */
		tunnel_promote(e);
	}
	if (e->draining)
		edge_drain_end(e);
}

void
edge_tunnel_status(const struct edge *e, char *buf, size_t cap)
{
	const struct edge_conf *cf = e->tun->cf;
	struct uplink_info ui;

	uplink_info(e->up, &ui);
	if (ui.state == UPLINK_UP)
		snprintf(buf, cap, "admitted to %s:%u", cf->cloud.host,
		    cf->cloud.port);
	else if (ui.state == UPLINK_WAITING)
		snprintf(buf, cap, "cloud unreachable (%s:%u): %s; retrying",
		    cf->cloud.host, cf->cloud.port, ui.last_error);
	else
		snprintf(buf, cap, "connecting to %s:%u", cf->cloud.host,
		    cf->cloud.port);
}

/* The serving tunnel's attempt ended: admitted, refused or unreachable.
 * The first one makes the edge READY=1 either way (a site whose cloud is
 * down still takes devices: they wait, or queue); the status says which.
 * A drain says "draining" until the end. */
static void
tunnel_notify(struct edge *e)
{
	char status[SDNOTIFY_STATUS_MAX + 1];

	if (e->draining)
		return;
	edge_tunnel_status(e, status, sizeof(status));
	if (e->sd_ready) {
		sdnotify_status("%s", status);
		return;
	}
	e->sd_ready = true;
	sdnotify_ready("%s", status);
}

static void
on_retry(void *arg)
{
	struct edge_tunnel *t = arg;

	if (t == t->e->tun)
		tunnel_notify(t->e);
}

static void
on_state(struct h2conn *h2, void *arg)
{
	struct edge_tunnel *t = arg;
	struct edge *e = t->e;

	if (h2 == NULL) {
		if (t == e->tun)
			manage_tunnel(e->manage, NULL);
		tunnel_closed(t);
		return;
	}
	if (t == e->next_tun)
		tunnel_promote(e);
	if (t != e->tun)
		return;
	tunnel_notify(e);
	manage_tunnel(e->manage, h2);
	pending_tunnel_up(e);
	if (e->queue != NULL)
		sfq_kick(e->queue);	/* what waits on disk goes now too */
}

/* A PING answer that is not the keepalive's: the edge's taker's. */
static void
on_pong(const uint8_t opaque[8], void *arg)
{
	struct edge_tunnel *t = arg;

	if (t->e->pong != NULL)
		t->e->pong(opaque, t->e->pong_arg);
}

/* A tunnel made from cf and ctx (taken, even on failure). */
int
edge_tunnel_new(struct edge *e, struct edge_conf *cf, SSL_CTX *ctx,
    const uint8_t digest[32], struct edge_tunnel **out)
{
	struct edge_tunnel *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		SSL_CTX_free(ctx);
		return -ENOMEM;
	}
	t->e = e;
	t->ctx = ctx;
	t->cf = edge_conf_ref(cf);
	memcpy(t->digest, digest, sizeof(t->digest));
	if (uplink_new(e->base, cf, ctx, on_state, t, &t->up) != 0) {
		edge_tunnel_free(t);
		return -ENOMEM;
	}
	uplink_set_pong(t->up, on_pong);
	uplink_set_retry(t->up, on_retry);
	*out = t;
	return 0;
}

int
edge_tunnels_init(struct edge *e)
{
	e->reap_ev = evtimer_new(e->base, on_reap, e);
	return e->reap_ev != NULL ? 0 : -ENOMEM;
}

void
edge_tunnels_stop(struct edge *e)
{
	struct edge_tunnel *t;

	uplink_stop(e->up);
	if (e->next_tun != NULL)
		uplink_stop(e->next_tun->up);
	for (t = e->retired; t != NULL; t = t->next)
		uplink_stop(t->up);
}

void
edge_tunnels_free(struct edge *e)
{
	struct edge_tunnel *t;

	edge_tunnel_free(e->tun);
	edge_tunnel_free(e->next_tun);
	while ((t = e->retired) != NULL) {
		e->retired = t->next;
		edge_tunnel_free(t);
	}
	e->tun = e->next_tun = NULL;
	e->up = NULL;
}
