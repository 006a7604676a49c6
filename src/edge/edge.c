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
#include "common/tlsctx.h"
#include "common/timeval.h"
#include "edge/cache.h"
#include "edge/config.h"
#include "edge/daemon.h"
#include "edge/devtls.h"
#include "edge/httpdev.h"
#include "edge/metrics.h"
#include "edge/status.h"
#include "edge/uplink.h"

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
"Signals: SIGTERM drains open streams and exits; SIGHUP is logged and\n"
"ignored (a new configuration takes a restart).\n"
"`isthmus doctor -c FILE` checks the path to the cloud step by step;\n"
"`isthmus status -c FILE` shows the tunnel and the listeners;\n"
"`isthmus cache list|purge -c FILE` the cache of cache = on listeners.\n";

/* A device connection waiting for the tunnel. */
struct pending {
	struct edge_listener *li;
	const char *service;
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
	p->li->e->npending--;
	*p->pprev = p->next;
	if (p->next != NULL)
		p->next->pprev = p->pprev;
	event_free(p->timer);
	if (p->bev != NULL)
		bufferevent_free(p->bev);
	free(p);
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
	if (ri->status == 0 || (ri->status >= 200 && ri->status < 300))
		return;
	why = edge_refusal_of(ri->status);
	li->stats.refused[why]++;
	log_limited(li->e->lim_device, LOG_INFO, "edge", "stream_refused",
	    "listener=%s service=%s device=%s status=%d reason=%s",
	    li->lc->name, ri->authority, ri->device, ri->status,
	    edge_refusal_name(why));
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
	p->service = service;
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
		struct edge_listener *li = &e->listeners[i];
		struct sockaddr_storage ss;
		socklen_t sslen;

		li->e = e;
		li->lc = lc;
		li->devtls = e->devtls[i];
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
		if (acceptguard_watch(li->l, lc->name) != 0)
			return -ENOMEM;
		net_local_name(evconnlistener_get_fd(li->l), li->bound,
		    sizeof(li->bound));
		len += (size_t)snprintf(ready + len, len < cap ? cap - len : 0,
		    " listener.%s=%s", lc->name, li->bound);
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
		log_info("edge", "listening", "listener=%s listen=%s service=%s",
		    e->listeners[i].lc->name, e->listeners[i].bound,
		    e->listeners[i].lc->service);
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
	for (i = 0; i < e->nlisteners; i++) {
		acceptguard_release(e->listeners[i].l);	/* no resume */
		evconnlistener_disable(e->listeners[i].l);
	}
	while (e->pending != NULL)
		pending_free(e->pending);
	devtls_drop_handshakes(e);
	httpdev_drain(e);
	if (uplink_h2(e->up) == NULL) {
		event_base_loopexit(e->base, NULL);
		return;
	}
	uplink_stop(e->up);
	tv_ms(&tv, e->cf->drain_timeout);
	e->drain_timer = evtimer_new(e->base, on_drain_timeout, e);
	if (e->drain_timer != NULL)
		evtimer_add(e->drain_timer, &tv);
}

/* SIGHUP would kill a process that does not handle it; an operator who
 * sends it expecting a reload must not lose the site's tunnel. */
static void
on_hangup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_warn("edge", "reload_unsupported", "action=%s",
	    "still running on the old configuration; restart the edge to "
	    "apply a new configuration or certificate");
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
	o.crl = (*cf)->crl;
	if (tlsctx_new(&o, ctx, &er) != 0) {
		fprintf(stderr, "%s: %s\n", path, er.msg);
		edge_conf_free(*cf);
		*cf = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Each device-TLS listener's context, so --check finds bad files too. */
static int
load_device_tls(struct edge *e)
{
	struct err er;
	size_t i;

	e->devtls = calloc(e->cf->nlisteners + 1, sizeof(*e->devtls));
	if (e->devtls == NULL)
		return -ENOMEM;
	for (i = 0; i < e->cf->nlisteners; i++) {
		const struct edge_listener_conf *lc = e->cf->listeners[i];

		if (lc->tls_cert == NULL)
			continue;
		if (devtls_new(lc, &e->devtls[i], &er) != 0) {
			fprintf(stderr, "%s:%d: listener %s: %s\n", e->cf->path,
			    lc->line, lc->name, er.msg);
			return -EINVAL;
		}
	}
	return 0;
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

/* Who we are, for status and metrics. */
static void
note_identity(struct edge *e)
{
	X509 *cert = SSL_CTX_get0_certificate(e->ctx);
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
		fprintf(stderr, "isthmus edge: %s\n", er.msg);
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
		fprintf(stderr, "isthmus edge: %s\n", er.msg);
		return -EINVAL;
	}
	return 0;
}

static int
serve(struct edge *e)
{
	char ready[1024] = "";
	size_t n;

	note_identity(e);
	if (open_cache(e) != 0 || bind_listeners(e, ready, sizeof(ready)) != 0 ||
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
	if (uplink_new(e->base, e->cf, e->ctx, on_state, e, &e->up) != 0)
		return EXIT_FAIL;
	e->sig_term = evsignal_new(e->base, SIGTERM, on_terminate, e);
	e->sig_int = evsignal_new(e->base, SIGINT, on_terminate, e);
	e->sig_hup = evsignal_new(e->base, SIGHUP, on_hangup, e);
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
	uplink_stop(e->up);
	event_base_loop(e->base, EVLOOP_NONBLOCK);
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
	if (load_device_tls(&e) != 0) {
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
	rc = e.base != NULL ? serve(&e) : EXIT_FAIL;
out:
	while (e.pending != NULL)
		pending_free(e.pending);
	httpdev_free_all(&e);
	cache_free(e.cache);	/* after its readers, before the tunnel */
	devtls_drop_handshakes(&e);
	uplink_free(e.up);
	log_limit_free(e.lim_device);
	metrics_http_close(e.metrics);
	admin_close(e.admin);
	for (i = 0; i < e.nlisteners; i++) {
		acceptguard_release(e.listeners[i].l);
		evconnlistener_free(e.listeners[i].l);
	}
	free(e.listeners);
	if (e.sig_term != NULL)
		event_free(e.sig_term);
	if (e.sig_int != NULL)
		event_free(e.sig_int);
	if (e.sig_hup != NULL)
		event_free(e.sig_hup);
	if (e.drain_timer != NULL)
		event_free(e.drain_timer);
	if (e.base != NULL)
		event_base_free(e.base);
	for (i = 0; e.devtls != NULL && i < e.cf->nlisteners; i++)
		devtls_free(e.devtls[i]);
	free(e.devtls);
	SSL_CTX_free(e.ctx);
	edge_conf_free(e.cf);
	return rc;
}
