/*
 * A TCP-mode device: its connection becomes one CONNECT stream on the
 * tunnel to the service its listener names, or waits for the tunnel
 * (pending.c) and is closed if it does not come in pending_timeout.
 */
#include "edge/device/tcpdev.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/loglimit.h"
#include "common/relay.h"
#include "edge/device/listener.h"
#include "edge/device/pending.h"
#include "edge/uplink/uplink.h"

/* A device connection waiting for the tunnel. */
struct tcpwait {
	struct pending wait;
	struct edge_listener *li;
	char service[NAME_MAX_LEN + 1];
	struct bufferevent *bev;
	char device[64];
};

static void
tcpwait_free(struct tcpwait *w)
{
	struct edge_listener *li = w->li;

	pending_cancel(&w->wait);
	if (w->bev != NULL)
		bufferevent_free(w->bev);
	free(w);
	edge_listener_release(li);
}

/* A device's stream ended; status is the cloud's answer (0: none came). */
static void
stream_done(struct relay *r, void *arg)
{
	struct edge_listener *li = arg;
	const struct relay_info *ri = relay_info(r);
	enum edge_refusal why;

	li->stats.open--;
	if (ri->idle) {
		li->stats.idle_closed++;
		log_limited(li->e->lim_device, LOG_INFO, "edge",
		    "stream_idle_timeout", "edge=%s tenant=%s listener=%s "
		    "service=%s device=%s", li->e->name[0] ? li->e->name : "-",
		    li->e->tenant[0] ? li->e->tenant : "-", li->lc->name,
		    ri->authority, ri->device);
	}
	if (ri->status != 0 && (ri->status < 200 || ri->status >= 300)) {
		why = edge_refusal_of(ri->status);
		li->stats.refused[why]++;
		log_limited(li->e->lim_device, LOG_INFO, "edge",
		    "stream_refused", "listener=%s service=%s device=%s "
		    "status=%d reason=%s", li->lc->name, ri->authority,
		    ri->device, ri->status, edge_refusal_name(why));
	}
	edge_listener_release(li);
}

static void
open_stream(struct edge_listener *li, struct bufferevent *bev,
    const char *service, const char *device)
{
	struct edge *e = li->e;
	struct relay *r;

	if (relay_open(uplink_h2(e->up), bev, service, device, stream_done,
	    li, &r) != 0) {
		log_warn("edge", "stream_failed", "listener=%s service=%s "
		    "device=%s", li->lc->name, service, device);
		bufferevent_free(bev);
		return;
	}
	li->stats.open++;
	edge_listener_hold(li);
	if (relay_idle_timeout(r, e->cf->stream_idle_timeout) != 0)
		relay_abort(r);		/* stream_done follows */
	log_debug("edge", "stream_opened", "service=%s device=%s", service,
	    device);
}

static void
device_dropped(struct edge_listener *li, const char *service,
    const char *device)
{
	li->stats.dropped++;
	log_limited(li->e->lim_device, LOG_INFO, "edge", "device_dropped",
	    "listener=%s service=%s device=%s reason=%s", li->lc->name,
	    service, device, "tunnel down");
}

static void
wait_ready(void *arg)
{
	struct tcpwait *w = arg;
	struct bufferevent *bev = w->bev;

	w->bev = NULL;
	open_stream(w->li, bev, w->service, w->device);
	tcpwait_free(w);
}

static void
wait_expired(void *arg)
{
	struct tcpwait *w = arg;

	device_dropped(w->li, w->service, w->device);
	tcpwait_free(w);
}

/* Draining or stopping: it has sent nothing the cloud could answer. */
static void
wait_drop(void *arg)
{
	tcpwait_free(arg);
}

static const struct pending_ops wait_ops = {
	.ready = wait_ready,
	.expired = wait_expired,
	.drop = wait_drop,
};

void
tcpdev_start(struct edge_listener *li, struct bufferevent *bev,
    const char *service, const char *device)
{
	struct edge *e = li->e;
	struct tcpwait *w;

	if (uplink_h2(e->up) != NULL) {
		open_stream(li, bev, service, device);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL || e->cf->pending_timeout == 0 ||
	    pending_wait(e, &w->wait, &wait_ops, w) != 0) {
		device_dropped(li, service, device);
		free(w);
		bufferevent_free(bev);
		return;
	}
	w->li = li;
	edge_listener_hold(li);
	snprintf(w->service, sizeof(w->service), "%s", service);
	w->bev = bev;
	snprintf(w->device, sizeof(w->device), "%s", device);
}
