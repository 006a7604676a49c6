/*
 * isthmus edge: the site gateway. Listeners take device connections; each
 * becomes one CONNECT stream on the uplink (uplink.c) to the service its
 * listener names. Connections that arrive while the tunnel is down wait,
 * for pending_timeout at most, then are closed.
 */
#include "edge/edge.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/cli.h"
#include "common/log.h"
#include "common/netutil.h"
#include "common/relay.h"
#include "common/tlsctx.h"
#include "edge/config.h"
#include "edge/uplink.h"

static const char usage_edge[] =
"usage: isthmus edge -c FILE [--check] [-v|-q]\n"
"\n"
"Runs the edge gateway: device listeners on the site's LAN, carried over\n"
"one outbound TLS 1.3 tunnel to the cloud gateway, whose certificate must\n"
"chain to the configured CA and match cloud_pin. See docs/edge.md.\n"
"  -c, --config FILE  the configuration (see examples/edge-agw.conf)\n"
"  --check            validate the configuration and exit (0 or 2)\n"
"Signals: SIGTERM drains open streams and exits.\n";

struct edge;

struct pending {
	struct edge *e;
	struct pending *next, **pprev;
	struct bufferevent *bev;
	const char *service;
	char device[64];
	struct event *timer;
};

struct listener {
	struct edge *e;
	const struct edge_listener_conf *lc;
	struct evconnlistener *l;
};

struct edge {
	struct event_base *base;
	struct edge_conf *cf;
	SSL_CTX *ctx;
	struct uplink *up;
	struct listener *listeners;
	size_t nlisteners;
	struct pending *pending;
	bool draining;
	struct event *sig_term, *sig_int, *drain_timer;
};

void
edge_usage(FILE *f)
{
	fputs(usage_edge, f);
}

static void
pending_free(struct pending *p)
{
	*p->pprev = p->next;
	if (p->next != NULL)
		p->next->pprev = p->pprev;
	event_free(p->timer);
	if (p->bev != NULL)
		bufferevent_free(p->bev);
	free(p);
}

static void
open_stream(struct edge *e, struct bufferevent *bev, const char *service,
    const char *device)
{
	struct relay *r;

	if (relay_open(uplink_h2(e->up), bev, service, device, NULL, NULL,
	    &r) != 0) {
		log_warn("edge", "stream_failed", "service=%s device=%s",
		    service, device);
		bufferevent_free(bev);
		return;
	}
	log_debug("edge", "stream_opened", "service=%s device=%s", service,
	    device);
}

static void
on_pending_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	log_info("edge", "device_dropped", "service=%s device=%s reason=%s",
	    p->service, p->device, "tunnel down");
	pending_free(p);
}

static void
on_state(struct h2conn *h2, void *arg)
{
	struct edge *e = arg;
	struct pending *p;

	if (h2 == NULL) {
		if (e->draining)
			event_base_loopexit(e->base, NULL);
		return;
	}
	while ((p = e->pending) != NULL) {
		struct bufferevent *bev = p->bev;

		p->bev = NULL;
		open_stream(e, bev, p->service, p->device);
		pending_free(p);
	}
}

static void
on_device(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct listener *li = arg;
	struct edge *e = li->e;
	struct bufferevent *bev;
	struct pending *p;
	struct timeval tv;
	char device[64];

	(void)l;
	(void)salen;
	net_format(sa, device, sizeof(device));
	bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	if (uplink_h2(e->up) != NULL) {
		open_stream(e, bev, li->lc->service, device);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || e->cf->pending_timeout == 0 ||
	    (p->timer = evtimer_new(e->base, on_pending_timeout, p)) == NULL) {
		log_info("edge", "device_dropped", "service=%s device=%s "
		    "reason=%s", li->lc->service, device, "tunnel down");
		free(p);
		bufferevent_free(bev);
		return;
	}
	p->e = e;
	p->bev = bev;
	p->service = li->lc->service;
	snprintf(p->device, sizeof(p->device), "%s", device);
	p->next = e->pending;
	if (p->next != NULL)
		p->next->pprev = &p->next;
	p->pprev = &e->pending;
	e->pending = p;
	tv.tv_sec = (time_t)(e->cf->pending_timeout / 1000);
	tv.tv_usec = (suseconds_t)(e->cf->pending_timeout % 1000) * 1000;
	evtimer_add(p->timer, &tv);
}

static int
bind_listeners(struct edge *e, char *ready, size_t cap)
{
	size_t i, len = 0;
	struct err er;

	e->listeners = calloc(e->cf->nlisteners, sizeof(*e->listeners));
	if (e->listeners == NULL && e->cf->nlisteners > 0)
		return -ENOMEM;
	for (i = 0; i < e->cf->nlisteners; i++) {
		const struct edge_listener_conf *lc = e->cf->listeners[i];
		struct listener *li = &e->listeners[i];
		struct sockaddr_storage ss;
		socklen_t sslen;
		char bound[80];

		li->e = e;
		li->lc = lc;
		if (net_resolve(&lc->listen, &ss, &sslen, &er) != 0) {
			fprintf(stderr, "isthmus edge: listener %s: %s\n",
			    lc->name, er.msg);
			return -EINVAL;
		}
		li->l = evconnlistener_new_bind(e->base, on_device, li,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
		    LEV_OPT_CLOSE_ON_EXEC, 1024, (struct sockaddr *)&ss,
		    (int)sslen);
		if (li->l == NULL) {
			fprintf(stderr, "isthmus edge: listener %s: cannot "
			    "listen on %s:%u: %s\n", lc->name, lc->listen.host,
			    lc->listen.port, strerror(errno));
			return -EINVAL;
		}
		e->nlisteners++;
		net_local_name(evconnlistener_get_fd(li->l), bound,
		    sizeof(bound));
		len += (size_t)snprintf(ready + len, len < cap ? cap - len : 0,
		    " listener.%s=%s", lc->name, bound);
		log_info("edge", "listening", "listener=%s listen=%s service=%s",
		    lc->name, bound, lc->service);
	}
	return 0;
}

static void
on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;

	(void)fd;
	(void)what;
	log_warn("edge", "drain_timeout", "action=%s", "closing open streams");
	event_base_loopexit(e->base, NULL);
}

static void
on_terminate(evutil_socket_t sig, short what, void *arg)
{
	struct edge *e = arg;
	struct timeval tv;
	size_t i;

	(void)what;
	if (e->draining)
		return;
	e->draining = true;
	log_info("edge", "draining", "signal=%d", (int)sig);
	for (i = 0; i < e->nlisteners; i++)
		evconnlistener_disable(e->listeners[i].l);
	while (e->pending != NULL)
		pending_free(e->pending);
	if (uplink_h2(e->up) == NULL) {
		event_base_loopexit(e->base, NULL);
		return;
	}
	uplink_stop(e->up);
	tv.tv_sec = (time_t)(e->cf->drain_timeout / 1000);
	tv.tv_usec = (suseconds_t)(e->cf->drain_timeout % 1000) * 1000;
	e->drain_timer = evtimer_new(e->base, on_drain_timeout, e);
	if (e->drain_timer != NULL)
		evtimer_add(e->drain_timer, &tv);
}

static int
load(const char *path, struct edge_conf **cf, SSL_CTX **ctx)
{
	struct conf_errors errs;
	struct tlsctx_opts o = { .server = false };
	struct err er;

	if (edge_conf_load(path, cf, &errs) != 0) {
		conf_errors_print(&errs, stderr);
		return -EINVAL;
	}
	o.cert = (*cf)->cert;
	o.key = (*cf)->key;
	o.ca = (*cf)->ca;
	if (tlsctx_new(&o, ctx, &er) != 0) {
		fprintf(stderr, "%s: %s\n", path, er.msg);
		edge_conf_free(*cf);
		*cf = NULL;
		return -EINVAL;
	}
	return 0;
}

static int
serve(struct edge *e)
{
	char ready[1024] = "";

	if (bind_listeners(e, ready, sizeof(ready)) != 0)
		return EXIT_FAIL;
	if (uplink_new(e->base, e->cf, e->ctx, on_state, e, &e->up) != 0)
		return EXIT_FAIL;
	e->sig_term = evsignal_new(e->base, SIGTERM, on_terminate, e);
	e->sig_int = evsignal_new(e->base, SIGINT, on_terminate, e);
	evsignal_add(e->sig_term, NULL);
	evsignal_add(e->sig_int, NULL);
	uplink_start(e->up);
	log_info("edge", "ready", "cloud=%s:%u listeners=%zu",
	    e->cf->cloud.host, e->cf->cloud.port, e->nlisteners);
	printf("ready edge%s\n", ready);
	fflush(stdout);
	event_base_dispatch(e->base);
	log_info("edge", "stopped", "cloud=%s:%u", e->cf->cloud.host,
	    e->cf->cloud.port);
	return EXIT_OK;
}

int
edge_main(int argc, char **argv)
{
	struct edge e;
	const char *path = NULL;
	bool check = false;
	size_t i;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = cli_daemon_args(argc, argv, "edge", usage_edge, &path, &check);
	if (rc >= 0)
		return rc;
	if (load(path, &e.cf, &e.ctx) != 0)
		return EXIT_USAGE;
	if (check) {
		printf("%s: ok\n", path);
		rc = EXIT_OK;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	e.base = event_base_new();
	rc = e.base != NULL ? serve(&e) : EXIT_FAIL;
out:
	while (e.pending != NULL)
		pending_free(e.pending);
	uplink_free(e.up);
	for (i = 0; i < e.nlisteners; i++)
		evconnlistener_free(e.listeners[i].l);
	free(e.listeners);
	if (e.sig_term != NULL)
		event_free(e.sig_term);
	if (e.sig_int != NULL)
		event_free(e.sig_int);
	if (e.drain_timer != NULL)
		event_free(e.drain_timer);
	if (e.base != NULL)
		event_base_free(e.base);
	SSL_CTX_free(e.ctx);
	edge_conf_free(e.cf);
	return rc;
}
