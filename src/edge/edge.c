/*
 * isthmus edge: the site gateway's daemon: its start (the configuration,
 * the first tunnel, the cache, the trust store, the store-and-forward
 * queue, the listeners, the admin socket and /metrics), its signals (SIGHUP reloads, reload.c; SIGTERM drains) and
 * its end. Listeners take device connections (device/accept.c); each
 * becomes one stream on the tunnel to the cloud (tunnels.c), or waits
 * for it (device/pending.c).
 */
#include "edge/edge.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/listener.h>

#include "common/acceptguard.h"
#include "common/admin.h"
#include "common/cli.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/logring.h"
#include "common/metrics_http.h"
#include "common/privdrop.h"
#include "common/sdnotify.h"
#include "common/timeval.h"
#include "edge/cache/cache.h"
#include "edge/collect/collect.h"
#include "edge/config.h"
#include "edge/daemon.h"
#include "edge/device/accept.h"
#include "edge/device/handshake.h"
#include "edge/device/httpdev.h"
#include "edge/device/listener.h"
#include "edge/device/pending.h"
#include "edge/manage/manage.h"
#include "edge/metrics.h"
#include "edge/queue/queue.h"
#include "edge/queuecmd.h"
#include "edge/reload.h"
#include "edge/status.h"
#include "edge/trust/trust.h"
#include "edge/tunnels.h"
#include "edge/uplink/uplink.h"

/* The log lines the management channel's `logs` reads, at most. */
#define LOG_RING_BYTES (256u * 1024)
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
"`isthmus cache list|purge -c FILE` the cache of cache = on listeners;\n"
"`isthmus queue list|show|retry|drop -c FILE` the store-and-forward queue\n"
"(docs/queue.md).\n"
"The cloud's operator sends instructions down the tunnel; `manage = LIST`\n"
"says which this site accepts (docs/edge.md, Management).\n";

void
edge_usage(FILE *f)
{
	fputs(usage_edge, f);
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
		struct err er;

		if (edge_listener_open(e, e->cf, e->cf->listeners[i], &dt[i],
		    &li, &er) != 0) {
			log_config_error("edge", false, "%s", er.msg);
			return -EINVAL;
		}
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
	sdnotify_stopping("draining");
	for (i = 0; i < e->nlisteners; i++) {
		acceptguard_release(e->listeners[i]->l);	/* no resume */
		evconnlistener_disable(e->listeners[i]->l);
	}
	pending_drop_all(e);
	handshake_drop(e, NULL);
	httpdev_drain(e, NULL);
	manage_stop(e->manage);	/* its stream would hold the tunnel */
	if ((t = e->next_tun) != NULL) {
		e->next_tun = NULL;
		edge_tunnel_retire(e, t);
	}
	uplink_stop(e->up);
	tv_ms(&tv, e->cf->drain_timeout);
	e->drain_timer = evtimer_new(e->base, on_drain_timeout, e);
	if (e->drain_timer != NULL)
		evtimer_add(e->drain_timer, &tv);
	edge_drain_end(e);
}

static void
on_hangup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	edge_reload(arg, NULL);
}

/* What the management channel asks of the daemon (manage.h). */
static void
manage_status(struct edge *e, FILE *f)
{
	edge_status(e, true, f);
}

static const struct manage_ops manage_ops = {
	.status = manage_status,
	.reload = edge_reload,
};

static void
on_admin(const char *cmd, FILE *f, struct admin_req *req, void *arg)
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
	else if (strcmp(cmd, "queue") == 0 || strncmp(cmd, "queue ", 6) == 0)
		queuecmd_admin(e, cmd, f, req);
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

/* The trust store, when something learns certificates. A store that
 * cannot be opened does not stop the edge (trust.h); only memory or a
 * thread does. */
static int
open_trust(struct edge *e)
{
	struct err er;
	char *path;
	int rc;

	if (!edge_conf_uses_trust(e->cf))
		return 0;
	if ((path = edge_trust_path(e->cf)) == NULL)
		return -ENOMEM;
	rc = trust_new(e->base, path, e->cf->trust_expired ==
	    TRUST_EXPIRED_ACCEPT, &e->trust, &er);
	free(path);
	if (rc != 0)
		log_config_error("edge", false, "isthmus edge: %s", er.msg);
	return rc;
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

/* Directories it found, not made, that its user cannot write: said
 * before their stores fail on them. */
static void
warn_not_owned(struct edge *e, const struct privdrop *pd)
{
	char why[PATH_MAX + 128];
	bool cache = false;
	size_t i;

	for (i = 0; i < e->cf->nlisteners; i++)
		cache |= e->cf->listeners[i]->cache;
	if ((edge_conf_uses_trust(e->cf) || edge_conf_may_queue(e->cf)) &&
	    privdrop_not_owned(pd, e->cf->state_dir, why, sizeof(why)))
		log_warn("edge", "dir_not_owned", "key=state_dir reason=%s",
		    why);
	if (cache && privdrop_not_owned(pd, e->cf->cache_dir, why,
	    sizeof(why)))
		log_warn("edge", "dir_not_owned", "key=cache_dir reason=%s",
		    why);
}

/* What only root may take is taken (the listeners' ports, the keys, the
 * admin socket): the edge becomes its user (privdrop.h). Its state and
 * cache directories are made for that user first when missing, and what
 * it opens from now on (the cache, the trust store, the queue) is that
 * user's. */
static int
become_user(struct edge *e, const struct privdrop *pd)
{
	struct err er;
	bool cache = false;
	size_t i;

	for (i = 0; i < e->cf->nlisteners; i++)
		cache |= e->cf->listeners[i]->cache;
	warn_not_owned(e, pd);
	if (pd->stays_root)
		log_warn("edge", "running_as_root", "user=root action=%s",
		    "say user = NAME in [edge] so that the daemon gives root "
		    "up once bound");
	if (privdrop_own_file(pd, e->cf->admin_socket, &er) != 0 ||
	    ((edge_conf_uses_trust(e->cf) || edge_conf_may_queue(e->cf)) &&
	    privdrop_own_dir(pd, e->cf->state_dir, &er) != 0) ||
	    (cache && privdrop_own_dir(pd, e->cf->cache_dir, &er) != 0) ||
	    privdrop_apply(pd, &er) != 0) {
		log_config_error("edge", false, "isthmus edge: %s", er.msg);
		return -EPERM;
	}
	if (pd->drop)
		log_info("edge", "privileges_dropped", "user=%s uid=%u gid=%u",
		    pd->name, (unsigned)pd->uid, (unsigned)pd->gid);
	return 0;
}

static int
serve(struct edge *e, SSL_CTX *ctx, struct devtls **dt,
    const struct privdrop *pd)
{
	char ready[1024] = "";
	size_t n;

	if (first_tunnel(e, ctx) != 0 ||
	    bind_listeners(e, dt, ready, sizeof(ready)) != 0 ||
	    serve_admin(e) != 0 || become_user(e, pd) != 0 ||
	    open_cache(e) != 0 || open_trust(e) != 0 ||
	    edge_queue_open(e) != 0)
		return EXIT_FAIL;
	n = strlen(ready);
	snprintf(ready + n, sizeof(ready) - n, " admin=%s",
	    e->cf->admin_socket);
	if (e->metrics != NULL) {
		n = strlen(ready);
		snprintf(ready + n, sizeof(ready) - n, " metrics=%s",
		    e->metrics_bound);
	}
	if (edge_tunnels_init(e) != 0 ||
	    manage_new(e, &manage_ops, &e->manage) != 0)
		return EXIT_FAIL;
	/* After the tunnel and the trust store, which collectors use. */
	if (collectors_new(e, &e->collectors) != 0)
		return EXIT_FAIL;
	e->sig_term = evsignal_new(e->base, SIGTERM, on_terminate, e);
	e->sig_int = evsignal_new(e->base, SIGINT, on_terminate, e);
	e->sig_hup = evsignal_new(e->base, SIGHUP, on_hangup, e);
	if (e->sig_term == NULL || e->sig_int == NULL ||
	    e->sig_hup == NULL)
		return EXIT_FAIL;
	evsignal_add(e->sig_term, NULL);
	evsignal_add(e->sig_int, NULL);
	evsignal_add(e->sig_hup, NULL);
	if (sdnotify_new(e->base, &e->sd) != 0)
		return EXIT_FAIL;
	/* READY=1 waits for the first attempt's end (tunnels.c): a unit
	 * ordered after this one finds the edge admitted, or knows why not. */
	sdnotify_status("listening; connecting to %s:%u", e->cf->cloud.host,
	    e->cf->cloud.port);
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
	edge_tunnels_stop(e);
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
	struct privdrop pd;
	SSL_CTX *ctx = NULL;
	bool check = false;
	struct err er;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = cli_daemon_args(argc, argv, "edge", usage_edge, &path, &check);
	if (rc != CLI_GO_ON)
		return rc;
	if (edge_load(path, false, &e.cf, &ctx, NULL) != 0)
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
	if (privdrop_plan(e.cf->user, "edge", "edge", &pd, &er) != 0) {
		log_config_error("edge", false, "%s", er.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	logring_enable(LOG_RING_BYTES);
	e.base = event_base_new();
	if (e.base != NULL) {
		e.started = time(NULL);
		e.lim_device = log_limit_new(e.base, DEVICE_LOG_BURST,
		    DEVICE_LOG_PER_SEC);
	}
	if (e.base == NULL) {
		rc = EXIT_FAIL;
	} else {
		rc = serve(&e, ctx, dt, &pd);
		ctx = NULL;	/* the tunnel's, even on failure */
	}
out:
	pending_drop_all(&e);
	httpdev_free_all(&e);	/* requests being written stay the queue's */
	sfq_close(e.queue);	/* after the devices, before the tunnel */
	collectors_free(e.collectors);	/* before the tunnel, trust store */
	manage_free(e.manage);	/* its prefetches read the cache */
	cache_free(e.cache);	/* after its readers, before the tunnel */
	trust_free(e.trust);	/* after its users, before the loop */
	handshake_drop(&e, NULL);
	edge_tunnels_free(&e);
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
	sdnotify_free(e.sd);
	if (e.drain_poll != NULL)
		event_free(e.drain_poll);
	if (e.reap_ev != NULL)
		event_free(e.reap_ev);
	if (e.base != NULL)
		event_base_free(e.base);
	edge_devtls_free_all(dt, e.cf->nlisteners);
	SSL_CTX_free(ctx);
	edge_conf_free(e.cf);
	return rc;
}
