/*
 * isthmus edge: the site gateway. Listeners take device connections; each
 * becomes one CONNECT stream on the uplink (uplink.c) to the service its
 * listener names. Connections that arrive while the tunnel is down wait,
 * for pending_timeout at most, then are closed. The tunnels live here
 * too: the serving one, after a reload (reload.c) the one being admitted,
 * and retired ones finishing their streams.
 */
#include "edge/edge.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/acceptguard.h"
#include "common/admin.h"
#include "common/cli.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/metrics_http.h"
#include "common/netutil.h"
#include "common/relay.h"
#include "common/tls.h"
#include "common/timeval.h"
#include "edge/cache/cache.h"
#include "edge/config.h"
#include "edge/daemon.h"
#include "edge/device/devtls.h"
#include "edge/device/httpdev.h"
#include "edge/metrics.h"
#include "edge/reload.h"
#include "edge/status.h"
#include "edge/uplink/uplink.h"

/* Log lines devices cause: 20 at once, then 10 a second. */
#define DEVICE_LOG_BURST	20
#define DEVICE_LOG_PER_SEC	10

static const char usage_edge[] =
"usage: isthmus edge -c FILE [--check] [-v|-q]\n"
"\n"
"Runs the edge gateway: device listeners on the site's LAN, carried over\n"
"one outbound TLS 1.3 tunnel to the cloud gateway, whose certificate must\n"
"chain to the configured CA and match cloud_pin. See docs/edge.md.\n"
"  -c, --config FILE  the configuration (see examples/edge-agw.conf)\n"
"  --check            validate the configuration and exit (0 or 2)\n"
"Signals: SIGTERM drains open streams and exits. SIGHUP reloads the\n"
"configuration, certificates, CA bundles and CRL: a bad one is logged and\n"
"the running one kept; listeners whose address stays keep their socket\n"
"and devices; device-TLS sessions are checked again; a changed identity,\n"
"cloud or pin gets a new tunnel before the old one drains.\n"
"`isthmus doctor -c FILE` checks the path to the cloud step by step;\n"
"`isthmus status -c FILE` shows the tunnel and the listeners;\n"
"`isthmus cache list|purge -c FILE` the cache of cache = on listeners.\n";

/* A device connection waiting for the tunnel. */
struct pending {
	struct edge_listener *li;
	char service[NAME_MAX_LEN + 1];
	struct pending *next, **pprev;
	struct bufferevent *bev;
	char device[64];
	struct event *timer;
};

static const char *const refusal_names[EDGE_REFUSE_COUNT] = {
	[EDGE_REFUSE_UNKNOWN_SERVICE] = "unknown_service",
	[EDGE_REFUSE_NO_BACKEND] = "no_backend",
	[EDGE_REFUSE_OTHER] = "other",
};

const char *
edge_refusal_name(enum edge_refusal r)
{
	return (unsigned)r < EDGE_REFUSE_COUNT ? refusal_names[r] : "?";
}

enum edge_refusal
edge_refusal_of(int status)
{
	return status == 403 ? EDGE_REFUSE_UNKNOWN_SERVICE :
	    status == 503 ? EDGE_REFUSE_NO_BACKEND : EDGE_REFUSE_OTHER;
}

void
edge_usage(FILE *f)
{
	fputs(usage_edge, f);
}

static void
pending_free(struct pending *p)
{
	struct edge_listener *li = p->li;

	li->e->npending--;
	*p->pprev = p->next;
	if (p->next != NULL)
		p->next->pprev = p->pprev;
	event_free(p->timer);
	if (p->bev != NULL)
		bufferevent_free(p->bev);
	free(p);
	edge_listener_release(li);
}

void
edge_listener_free(struct edge_listener *li)
{
	if (li == NULL)
		return;
	if (li->l != NULL) {
		acceptguard_release(li->l);
		evconnlistener_free(li->l);
	}
	devtls_free(li->devtls);
	edge_conf_free(li->cf);
	free(li);
}

void
edge_listener_hold(struct edge_listener *li)
{
	li->users++;
}

void
edge_listener_release(struct edge_listener *li)
{
	struct edge_listener **pp;

	if (--li->users > 0 || !li->closed)
		return;
	for (pp = &li->e->closed; *pp != NULL; pp = &(*pp)->next_closed)
		if (*pp == li) {
			*pp = li->next_closed;
			break;
		}
	edge_listener_free(li);
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
on_pending_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	device_dropped(p->li, p->service, p->device);
	pending_free(p);
}

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

static bool
tunnels_idle(struct edge *e)
{
	const struct edge_tunnel *t;

	if (uplink_h2(e->up) != NULL)
		return false;
	for (t = e->retired; t != NULL; t = t->next)
		if (!t->down)
			return false;
	return true;
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

/* The tunnel a reload asked for takes new streams; the one before it
 * drains. */
static void
tunnel_promote(struct edge *e)
{
	struct edge_tunnel *old = e->tun;

	e->tun = e->next_tun;
	e->next_tun = NULL;
	e->up = e->tun->up;
	uplink_carry(e->up, old->up);
	edge_note_identity(e);
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
	if (e->draining && tunnels_idle(e))
		event_base_loopexit(e->base, NULL);
}

static void
on_state(struct h2conn *h2, void *arg)
{
	struct edge_tunnel *t = arg;
	struct edge *e = t->e;
	struct pending *p;

	if (h2 == NULL) {
		tunnel_closed(t);
		return;
	}
	if (t == e->next_tun)
		tunnel_promote(e);
	if (t != e->tun)
		return;
	while ((p = e->pending) != NULL) {
		struct bufferevent *bev = p->bev;

		p->bev = NULL;
		open_stream(p->li, bev, p->service, p->device);
		pending_free(p);
	}
	httpdev_tunnel_up(e);
}

/* A transparent listener's connection: the service its original
 * destination maps to, or NULL when it maps to none (then the device got
 * a reset, and IT a log line naming where it was going). */
static const char *
transparent_service(struct edge_listener *li, evutil_socket_t fd,
    const char *device)
{
	struct sockaddr_storage dst;
	struct linger lg = { 1, 0 };
	const char *service = NULL;
	char where[80];
	bool redirected;
	int rc = net_original_dst(fd, &dst, &redirected);

	if (rc == 0 && redirected &&
	    (service = edge_route_find(li->lc, &dst)) != NULL)
		return service;
	if (rc == 0)
		net_format((struct sockaddr *)&dst, where, sizeof(where));
	else
		snprintf(where, sizeof(where), "unknown (%s)", strerror(-rc));
	li->stats.unmapped++;
	log_limited(li->e->lim_device, LOG_INFO, "edge", "device_refused",
	    "listener=%s device=%s original_dst=%s reason=%s", li->lc->name,
	    device, where, rc != 0 || !redirected ? "not_redirected" :
	    "unmapped");
	/* A reset, as the real server's closed port would give. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	evutil_closesocket(fd);
	return NULL;
}

static void
on_device(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct edge_listener *li = arg;
	struct edge *e = li->e;
	struct bufferevent *bev;
	struct pending *p;
	struct timeval tv;
	char device[64];
	const char *service = li->lc->service;
	struct sockaddr_storage peer;

	(void)l;
	/* An IPv4 device on a dual-stack listener is shown (and sent to
	 * the cloud) as its IPv4 address. */
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, sa, (size_t)salen < sizeof(peer) ? (size_t)salen :
	    sizeof(peer));
	net_unmap(&peer);
	net_format((struct sockaddr *)&peer, device, sizeof(device));
	if (li->lc->transparent &&
	    (service = transparent_service(li, fd, device)) == NULL)
		return;
	net_nodelay(fd);
	if (li->devtls != NULL) {
		li->stats.accepted++;
		devtls_accept(li, fd, service, device);
		return;
	}
	bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	li->stats.accepted++;
	if (li->lc->mode == LISTEN_HTTP) {
		httpdev_start(li, bev, service, device, NULL);
		return;
	}
	if (uplink_h2(e->up) != NULL) {
		open_stream(li, bev, service, device);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || e->cf->pending_timeout == 0 ||
	    (p->timer = evtimer_new(e->base, on_pending_timeout, p)) == NULL) {
		device_dropped(li, service, device);
		free(p);
		bufferevent_free(bev);
		return;
	}
	e->npending++;
	p->li = li;
	edge_listener_hold(li);
	snprintf(p->service, sizeof(p->service), "%s", service);
	p->bev = bev;
	snprintf(p->device, sizeof(p->device), "%s", device);
	p->next = e->pending;
	if (p->next != NULL)
		p->next->pprev = &p->next;
	p->pprev = &e->pending;
	e->pending = p;
	tv_ms(&tv, e->cf->pending_timeout);
	evtimer_add(p->timer, &tv);
}

/* A listener on lc's address, taking the device TLS context in *dt. */
int
edge_listener_open(struct edge *e, struct edge_conf *cf,
    const struct edge_listener_conf *lc, struct devtls **dt, bool logged,
    struct edge_listener **out)
{
	struct edge_listener *li = calloc(1, sizeof(*li));
	struct sockaddr_storage ss;
	socklen_t sslen;
	char msg[800];
	struct err er;

	if (li == NULL)
		return -ENOMEM;
	li->e = e;
	li->cf = edge_conf_ref(cf);
	li->lc = lc;
	li->devtls = *dt;
	*dt = NULL;
	if (net_resolve(&lc->listen, &ss, &sslen, &er) != 0) {
		snprintf(msg, sizeof(msg), "isthmus edge: listener %s: %s",
		    lc->name, er.msg);
		goto fail;
	}
	li->l = evconnlistener_new_bind(e->base, on_device, li,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&ss, (int)sslen);
	if (li->l == NULL) {
		snprintf(msg, sizeof(msg), "isthmus edge: listener %s: cannot "
		    "listen on %s:%u: %s", lc->name, lc->listen.host,
		    lc->listen.port, strerror(errno));
		goto fail;
	}
	if (acceptguard_watch(li->l, lc->name) != 0) {
		snprintf(msg, sizeof(msg), "isthmus edge: listener %s: out of "
		    "memory", lc->name);
		goto fail;
	}
	net_local_name(evconnlistener_get_fd(li->l), li->bound,
	    sizeof(li->bound));
	*out = li;
	return 0;
fail:
	edge_conf_report(logged, msg);
	edge_listener_free(li);
	return -EINVAL;
}

void
edge_listener_listening(const struct edge_listener *li)
{
	log_info("edge", "listening", "listener=%s listen=%s service=%s",
	    li->lc->name, li->bound, li->lc->service);
}

static int
bind_listeners(struct edge *e, struct devtls **dt, char *ready, size_t cap)
{
	size_t i, len = 0;

	e->listeners = calloc(e->cf->nlisteners + 1, sizeof(*e->listeners));
	if (e->listeners == NULL)
		return -ENOMEM;
	for (i = 0; i < e->cf->nlisteners; i++) {
		struct edge_listener *li;

		if (edge_listener_open(e, e->cf, e->cf->listeners[i], &dt[i], false,
		    &li) != 0)
			return -EINVAL;
		e->listeners[e->nlisteners++] = li;
		len += (size_t)snprintf(ready + len, len < cap ? cap - len : 0,
		    " listener.%s=%s", li->lc->name, li->bound);
	}
	return 0;
}

/* Only once startup has succeeded: an edge that then fails (its next
 * listener, the admin socket) must not have said it was listening. */
static void
log_listening(const struct edge *e)
{
	size_t i;

	for (i = 0; i < e->nlisteners; i++)
		edge_listener_listening(e->listeners[i]);
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
	struct edge_tunnel *t;
	struct timeval tv;
	size_t i;

	(void)what;
	if (e->draining)
		return;
	e->draining = true;
	log_info("edge", "draining", "signal=%d", (int)sig);
	for (i = 0; i < e->nlisteners; i++) {
		acceptguard_release(e->listeners[i]->l);	/* no resume */
		evconnlistener_disable(e->listeners[i]->l);
	}
	while (e->pending != NULL)
		pending_free(e->pending);
	devtls_drop_handshakes(e, NULL);
	httpdev_drain(e, NULL);
	if ((t = e->next_tun) != NULL) {
		e->next_tun = NULL;
		edge_tunnel_retire(e, t);
	}
	uplink_stop(e->up);
	if (tunnels_idle(e)) {
		event_base_loopexit(e->base, NULL);
		return;
	}
	tv_ms(&tv, e->cf->drain_timeout);
	e->drain_timer = evtimer_new(e->base, on_drain_timeout, e);
	if (e->drain_timer != NULL)
		evtimer_add(e->drain_timer, &tv);
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
	*out = t;
	return 0;
}

static void
on_hangup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	edge_reload(arg);
}

static void
on_admin(const char *cmd, FILE *f, void *arg)
{
	struct edge *e = arg;

	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "status json") == 0)
		edge_status(e, strcmp(cmd, "status") != 0, f);
	else if (strncmp(cmd, "cache ", 6) == 0 && e->cache == NULL)
		fprintf(f, "error: no listener has cache = on\n");
	else if (strcmp(cmd, "cache list") == 0 ||
	    strcmp(cmd, "cache list json") == 0)
		cache_list(e->cache, strcmp(cmd, "cache list") != 0, f);
	else if (strcmp(cmd, "cache purge") == 0)
		cache_purge(e->cache, NULL, f);
	else if (strncmp(cmd, "cache purge ", 12) == 0)
		cache_purge(e->cache, cmd + 12, f);
	else
		fprintf(f, "error: unknown request '%.64s'\n", cmd);
}

/* The admin socket and /metrics; errors on stderr. */
static int
serve_admin(struct edge *e)
{
	struct err er;

	if (admin_listen(e->base, e->cf->admin_socket, on_admin, e,
	    &e->admin, &er) != 0 || (e->cf->metrics.host[0] != '\0' &&
	    metrics_http_listen(e->base, &e->cf->metrics, edge_metrics, e,
	    &e->metrics, e->metrics_bound, sizeof(e->metrics_bound),
	    &er) != 0)) {
		log_config_error("edge", false, "isthmus edge: %s", er.msg);
		return -EINVAL;
	}
	return 0;
}

/* The cache, when a listener wants it; errors on stderr. */
static int
open_cache(struct edge *e)
{
	struct err er;
	size_t i;

	for (i = 0; i < e->cf->nlisteners; i++)
		if (e->cf->listeners[i]->cache)
			break;
	if (i == e->cf->nlisteners)
		return 0;
	if (cache_open(e->base, e->cf->cache_dir, e->cf->cache_max_size,
	    &e->cache, &er) != 0) {
		log_config_error("edge", false, "isthmus edge: %s", er.msg);
		return -EINVAL;
	}
	return 0;
}

/* The first tunnel, from the configuration the edge starts with; takes
 * ctx. */
static int
first_tunnel(struct edge *e, SSL_CTX *ctx)
{
	uint8_t digest[32];
	struct err er;

	if (edge_tunnel_digest(e->cf, digest, &er) != 0) {
		log_config_error("edge", false, "isthmus edge: %s", er.msg);
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	if (edge_tunnel_new(e, e->cf, ctx, digest, &e->tun) != 0)
		return -ENOMEM;
	e->up = e->tun->up;
	edge_note_identity(e);
	return 0;
}

static void
stop_tunnels(struct edge *e)
{
	struct edge_tunnel *t;

	uplink_stop(e->up);
	if (e->next_tun != NULL)
		uplink_stop(e->next_tun->up);
	for (t = e->retired; t != NULL; t = t->next)
		uplink_stop(t->up);
}

static void
free_tunnels(struct edge *e)
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

static int
serve(struct edge *e, SSL_CTX *ctx, struct devtls **dt)
{
	char ready[1024] = "";
	size_t n;

	if (first_tunnel(e, ctx) != 0 || open_cache(e) != 0 ||
	    bind_listeners(e, dt, ready, sizeof(ready)) != 0 ||
	    serve_admin(e) != 0)
		return EXIT_FAIL;
	n = strlen(ready);
	snprintf(ready + n, sizeof(ready) - n, " admin=%s",
	    e->cf->admin_socket);
	if (e->metrics != NULL) {
		n = strlen(ready);
		snprintf(ready + n, sizeof(ready) - n, " metrics=%s",
		    e->metrics_bound);
	}
	e->reap_ev = evtimer_new(e->base, on_reap, e);
	e->sig_term = evsignal_new(e->base, SIGTERM, on_terminate, e);
	e->sig_int = evsignal_new(e->base, SIGINT, on_terminate, e);
	e->sig_hup = evsignal_new(e->base, SIGHUP, on_hangup, e);
	if (e->reap_ev == NULL || e->sig_term == NULL || e->sig_int == NULL ||
	    e->sig_hup == NULL)
		return EXIT_FAIL;
	evsignal_add(e->sig_term, NULL);
	evsignal_add(e->sig_int, NULL);
	evsignal_add(e->sig_hup, NULL);
	uplink_start(e->up);
	log_listening(e);
	log_info("edge", "ready", "edge=%s tenant=%s cloud=%s:%u listeners=%zu "
	    "admin=%s metrics=%s", e->name[0] ? e->name : "-",
	    e->tenant[0] ? e->tenant : "-", e->cf->cloud.host,
	    e->cf->cloud.port, e->nlisteners, e->cf->admin_socket,
	    e->metrics != NULL ? e->metrics_bound : "-");
	printf("ready edge%s\n", ready);
	fflush(stdout);
	event_base_dispatch(e->base);
	/* A name lookup the uplink abandons is answered from the loop: one
	 * more turn, while everything is still in place, lets it end. */
	stop_tunnels(e);
	event_base_loop(e->base, EVLOOP_NONBLOCK);
	log_info("edge", "stopped", "cloud=%s:%u", e->tun->cf->cloud.host,
	    e->tun->cf->cloud.port);
	return EXIT_OK;
}

static void
free_listeners(struct edge *e)
{
	struct edge_listener *li;
	size_t i;

	for (i = 0; i < e->nlisteners; i++)
		edge_listener_free(e->listeners[i]);
	free(e->listeners);
	e->listeners = NULL;
	e->nlisteners = 0;
	/* Closed ones whose streams the tunnels' end took along. */
	while ((li = e->closed) != NULL) {
		e->closed = li->next_closed;
		edge_listener_free(li);
	}
}

int
edge_main(int argc, char **argv)
{
	struct edge e;
	struct devtls **dt = NULL;
	const char *path = NULL;
	SSL_CTX *ctx = NULL;
	bool check = false;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = cli_daemon_args(argc, argv, "edge", usage_edge, &path, &check);
	if (rc != CLI_GO_ON)
		return rc;
	if (edge_load(path, false, &e.cf, &ctx) != 0)
		return EXIT_USAGE;
	if (edge_load_device_tls(e.cf, false, &dt) != 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (check) {
		printf("%s: ok\n", path);
		rc = EXIT_OK;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	e.base = event_base_new();
	if (e.base != NULL) {
		e.started = time(NULL);
		e.lim_device = log_limit_new(e.base, DEVICE_LOG_BURST,
		    DEVICE_LOG_PER_SEC);
	}
	if (e.base == NULL) {
		rc = EXIT_FAIL;
	} else {
		rc = serve(&e, ctx, dt);
		ctx = NULL;	/* the tunnel's, even on failure */
	}
out:
	while (e.pending != NULL)
		pending_free(e.pending);
	httpdev_free_all(&e);
	cache_free(e.cache);	/* after its readers, before the tunnel */
	devtls_drop_handshakes(&e, NULL);
	free_tunnels(&e);
	log_limit_free(e.lim_device);
	metrics_http_close(e.metrics);
	admin_close(e.admin);
	free_listeners(&e);
	if (e.sig_term != NULL)
		event_free(e.sig_term);
	if (e.sig_int != NULL)
		event_free(e.sig_int);
	if (e.sig_hup != NULL)
		event_free(e.sig_hup);
	if (e.drain_timer != NULL)
		event_free(e.drain_timer);
	if (e.reap_ev != NULL)
		event_free(e.reap_ev);
	if (e.base != NULL)
		event_base_free(e.base);
	edge_devtls_free_all(dt, e.cf->nlisteners);
	SSL_CTX_free(ctx);
	edge_conf_free(e.cf);
	return rc;
}
