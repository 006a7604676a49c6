/*
 * isthmus cloud: the multi-tenant gateway. The control loop holds the TLS
 * listener, the admin socket, metrics, health checks and signals (SIGHUP
 * reload, SIGTERM drain); it hands each accepted tunnel to one of the
 * worker loops in turn (worker.c; worker 0 is the control loop itself).
 */
#include "cloud/cloud.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>
#include <openssl/ssl.h>

#include "cloud/cloud-int.h"
#include "cloud/config.h"
#include "cloud/edges.h"
#include "cloud/manage/manage.h"
#include "cloud/health.h"
#include "cloud/metrics.h"
#include "cloud/readiness/readiness.h"
#include "cloud/status.h"
#include "cloud/store/store.h"
#include "cloud/tunnel.h"
#include "cloud/worker.h"
#include "common/acceptguard.h"
#include "common/admin.h"
#include "common/cli.h"
#include "common/privdrop.h"
#include "common/filewatch.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/metrics_http.h"
#include "common/netutil.h"
#include "common/sdnotify.h"
#include "common/stat.h"
#include "common/tlsctx.h"
#include "common/timeval.h"

/* Log lines peers cause: 20 at once, then 10 a second, per kind. */
#define PEER_LOG_BURST		20
#define PEER_LOG_PER_SEC	10

static const char usage_cloud[] =
"usage: isthmus cloud -c FILE [--check] [-v|-q]\n"
"\n"
"Runs the cloud gateway: a TLS 1.3 listener for edge tunnels, admitting an\n"
"edge only if its certificate chains to the configured CA, is not revoked,\n"
"is a client (not a CA) certificate, names an edge of exactly one tenant,\n"
"matches one of that edge's pins and comes from its `from` addresses;\n"
"streams reach only the services of the edge's tenant. Live tunnels are\n"
"checked again on reload, on a changed CRL file and at their certificate's\n"
"end, and PINGed when quiet. See docs/cloud.md.\n"
"  -c, --config FILE  the configuration (see examples/cloud.conf)\n"
"  --check            validate the configuration and exit (0 or 2)\n"
"Signals: SIGHUP reloads config and certificates; SIGTERM drains and\n"
"exits.\n";

struct cloud_daemon {
	struct cloud cl;
	struct health *health;
	struct admin *admin;
	struct metrics_http *metrics;
	char bound[80];
	char metrics_bound[80];
	char ready_bound[80];
	const char *path;
	struct evconnlistener *listener;
	struct event *sig_hup, *sig_term, *sig_int, *drain_timer;
	struct filewatch *crl_watch;
	struct sdnotify *sd;		/* WATCHDOG=1, when systemd asks */
};

/* "auto": one loop per CPU this process may run on. */
static unsigned
worker_count(const struct cloud_conf *cf)
{
	cpu_set_t cpus;
	long n = (long)cf->workers;

	if (n == 0)
		n = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ?
		    CPU_COUNT(&cpus) : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > WORKERS_MAX ? WORKERS_MAX : (unsigned)n;
}

void
cloud_usage(FILE *f)
{
	fputs(usage_cloud, f);
}

static int
make_ssl_ctx(const struct cloud_conf *cf, SSL_CTX **out, struct err *e)
{
	struct tlsctx_opts o = {
		.server = true, .cert = cf->cert, .key = cf->key, .ca = cf->ca,
		.crl = cf->crl,
	};

	return tlsctx_new(&o, out, e);
}

/* Loads config and TLS context. At startup errors go to stderr as plain
 * "file:line: ..." lines; on reload (log_errors) as log events, since the
 * daemon's stderr is its log. */
static int
load(const char *path, bool log_errors, struct cloud_conf **cf,
    SSL_CTX **ctx)
{
	struct conf_errors errs;
	struct err e;

	if (cloud_conf_load(path, cf, &errs) != 0) {
		conf_errors_report(&errs, "cloud", log_errors);
		return -EINVAL;
	}
	if (make_ssl_ctx(*cf, ctx, &e) != 0) {
		log_config_error("cloud", log_errors, "%s: %s", path, e.msg);
		cloud_conf_unref(*cf);
		*cf = NULL;
		return -EINVAL;
	}
	return 0;
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct cloud_daemon *d = arg;

	(void)l;
	workers_accept(&d->cl, fd, sa, salen);
}

/* Every worker re-checks its live tunnels under the new trust store and
 * configuration (tunnel_recheck). */
static void
recheck_all(struct cloud_daemon *d)
{
	unsigned i;

	for (i = 0; i < d->cl.nworkers; i++)
		worker_post(&d->cl.workers[i], WORKER_RECHECK);
}

/* The CRL file changed on disk: a revocation takes effect without a
 * SIGHUP, for new handshakes and for the tunnels already up. A CRL that
 * does not load (half written, say) leaves the running one, and the
 * next change is tried again. */
static void
on_crl_changed(void *arg)
{
	struct cloud_daemon *d = arg;
	SSL_CTX *ctx;
	struct err e;

	if (make_ssl_ctx(d->cl.conf, &ctx, &e) != 0) {
		log_error("cloud", "crl_reload_failed", "crl=%s error=%s "
		    "action=%s", d->cl.conf->crl, e.msg,
		    "keeping the running CRL");
		return;
	}
	cloud_lock(&d->cl);
	SSL_CTX_free(d->cl.ssl_ctx);
	d->cl.ssl_ctx = ctx;
	cloud_unlock(&d->cl);
	recheck_all(d);
	log_info("cloud", "crl_reloaded", "crl=%s", d->cl.conf->crl);
}

/* Watches the running configuration's CRL file (none without one, or
 * with crl_check_interval = 0). */
static int
watch_crl(struct cloud_daemon *d)
{
	const struct cloud_conf *cf = d->cl.conf;

	filewatch_free(d->crl_watch);
	d->crl_watch = NULL;
	if (cf->crl == NULL || cf->crl_check_interval == 0)
		return 0;
	if (filewatch_new(d->cl.base, cf->crl_check_interval, on_crl_changed,
	    d, &d->crl_watch) != 0 || filewatch_add(d->crl_watch, cf->crl) != 0)
		return -ENOMEM;
	return 0;
}

/* Loads the configuration again and swaps it in if all of it is good;
 * -EINVAL (logged) keeps the running one. */
static int
reload(struct cloud_daemon *d)
{
	struct cloud_conf *cf;
	SSL_CTX *ctx;

	if (load(d->path, true, &cf, &ctx) != 0) {
		log_error("cloud", "reload_failed", "config=%s action=%s",
		    d->path, "keeping the running configuration");
		return -EINVAL;
	}
	/* The listen address and the workers stay: rebinding would drop
	 * the socket. */
	cloud_lock(&d->cl);
	cloud_conf_carry(cf, d->cl.conf);
	cloud_unlock(&d->cl);
	health_stop(d->health);
	d->health = NULL;
	if (health_start(d->cl.base, cf, &d->health) != 0)
		log_error("cloud", "health_failed", "reason=%s",
		    "out of memory");
	cloud_lock(&d->cl);
	SSL_CTX_free(d->cl.ssl_ctx);
	d->cl.ssl_ctx = ctx;
	cloud_conf_unref(d->cl.conf);
	d->cl.conf = cf;
	cloud_unlock(&d->cl);
	recheck_all(d);
	if (watch_crl(d) != 0)
		log_error("cloud", "crl_watch_failed", "reason=%s",
		    "out of memory");
	log_info("cloud", "reloaded", "config=%s", d->path);
	return 0;
}

/* SIGHUP. systemd hears that a reload runs and when it has ended, either
 * way; not once a drain has begun: then it is stopping us. */
static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct cloud_daemon *d = arg;
	bool tell = !d->cl.draining;
	int rc;

	(void)sig;
	(void)what;
	if (tell)
		sdnotify_reloading();
	rc = reload(d);
	if (!tell)
		return;
	if (rc == 0)
		sdnotify_ready("reloaded; serving on %s", d->bound);
	else
		sdnotify_ready("reload refused, running configuration kept "
		    "(see the log); serving on %s", d->bound);
}

static void
on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct cloud_daemon *d = arg;

	(void)fd;
	(void)what;
	log_warn("cloud", "drain_timeout", "action=%s", "closing open tunnels");
	event_base_loopexit(d->cl.base, NULL);
}

static void
on_terminate(evutil_socket_t sig, short what, void *arg)
{
	struct cloud_daemon *d = arg;
	struct timeval tv;
	unsigned i;

	(void)what;
	if (d->cl.draining)
		return;
	STAT_SET(d->cl.draining, true);
	log_info("cloud", "draining", "signal=%d", (int)sig);
	sdnotify_stopping("draining");
	acceptguard_release(d->listener);	/* a pause must not end it */
	evconnlistener_disable(d->listener);
	for (i = 0; i < d->cl.nworkers; i++)
		worker_post(&d->cl.workers[i], WORKER_SHUTDOWN);
	if (workers_idle(&d->cl)) {
		event_base_loopexit(d->cl.base, NULL);
		return;
	}
	tv_ms(&tv, d->cl.conf->drain_timeout);
	d->drain_timer = evtimer_new(d->cl.base, on_drain_timeout, d);
	if (d->drain_timer != NULL)
		evtimer_add(d->drain_timer, &tv);
}

static void
on_admin(const char *cmd, FILE *f, struct admin_req *req, void *arg)
{
	struct cloud_daemon *d = arg;

	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "status json") == 0)
		cloud_status(&d->cl, d->bound, strcmp(cmd, "status") != 0, f);
	else if (strcmp(cmd, "edges") == 0 || strncmp(cmd, "edges ", 6) == 0)
		cloud_edges(d->cl.store, d->cl.conf, cmd[5] == ' ' ? cmd + 6 :
		    "", f, req);
	else if (strncmp(cmd, "manage ", 7) == 0)
		manage_admin(&d->cl, cmd + 7, f, req);
	else if (strncmp(cmd, "audit ", 6) == 0)
		manage_audit(&d->cl, cmd + 6, f, req);
	else if (strncmp(cmd, "readiness ", 10) == 0)
		manage_readiness(&d->cl, cmd + 10, f, req);
	else
		fprintf(f, "error: unknown request '%.64s'\n", cmd);
}

static int open_store(struct cloud *cl);

/* What only root may take is taken (the ports, the keys, the admin
 * socket): the daemon becomes its user (privdrop.h), and what it opens
 * from now on (the state store) is that user's. */
static int
become_user(struct cloud_daemon *d, const struct privdrop *pd)
{
	struct err e;

	if (pd->stays_root)
		log_warn("cloud", "running_as_root", "user=root action=%s",
		    "say user = NAME in [cloud] so that the daemon gives root "
		    "up once bound");
	if (privdrop_own_file(pd, d->cl.conf->admin_socket, &e) != 0 ||
	    privdrop_apply(pd, &e) != 0) {
		log_config_error("cloud", false, "isthmus cloud: %s", e.msg);
		return EXIT_FAIL;
	}
	if (pd->drop)
		log_info("cloud", "privileges_dropped", "user=%s uid=%u gid=%u",
		    pd->name, (unsigned)pd->uid, (unsigned)pd->gid);
	if (open_store(&d->cl) != 0)
		return EXIT_USAGE;
	if (cloud_manage_init(&d->cl, &e) != 0 ||
	    manage_schedule_start(&d->cl, &e) != 0) {
		log_config_error("cloud", false, "isthmus cloud: %s", e.msg);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int
serve(struct cloud_daemon *d, const struct privdrop *pd)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char bound[80];
	struct err e;
	int rc;

	if (net_resolve(&d->cl.conf->listen, &ss, &sslen, &e) != 0) {
		log_config_error("cloud", false, "isthmus cloud: %s", e.msg);
		return EXIT_USAGE;
	}
	d->listener = evconnlistener_new_bind(d->cl.base, on_accept, d,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&ss, (int)sslen);
	if (d->listener == NULL) {
		log_config_error("cloud", false,
		    "isthmus cloud: cannot listen on %s:%u: %s",
		    d->cl.conf->listen.host, d->cl.conf->listen.port,
		    strerror(errno));
		return EXIT_FAIL;
	}
	if (acceptguard_watch(d->listener, "tunnel") != 0) {
		log_config_error("cloud", false,
		    "isthmus cloud: out of memory");
		return EXIT_FAIL;
	}
	net_local_name(evconnlistener_get_fd(d->listener), bound,
	    sizeof(bound));
	snprintf(d->bound, sizeof(d->bound), "%s", bound);
	/* The admin socket stays where it was first bound across reloads. */
	if (admin_listen(d->cl.base, d->cl.conf->admin_socket, on_admin, d,
	    &d->admin, &e) != 0) {
		log_config_error("cloud", false, "isthmus cloud: %s", e.msg);
		return EXIT_FAIL;
	}
	if (d->cl.conf->metrics.host[0] != '\0' && metrics_http_listen(
	    d->cl.base, &d->cl.conf->metrics, cloud_metrics, &d->cl,
	    &d->metrics, d->metrics_bound, sizeof(d->metrics_bound), &e) != 0) {
		log_config_error("cloud", false, "isthmus cloud: %s", e.msg);
		return EXIT_FAIL;
	}
	/* Bound once, like metrics: a reload does not move it. */
	if (d->cl.conf->readiness_udp.host[0] != '\0' && ready_udp_listen(
	    d->cl.ready, &d->cl.conf->readiness_udp, d->ready_bound,
	    sizeof(d->ready_bound), &e) != 0) {
		log_config_error("cloud", false, "isthmus cloud: %s", e.msg);
		return EXIT_FAIL;
	}
	if ((rc = become_user(d, pd)) != EXIT_OK)
		return rc;
	if (health_start(d->cl.base, d->cl.conf, &d->health) != 0 ||
	    watch_crl(d) != 0)
		return EXIT_FAIL;
	d->sig_hup = evsignal_new(d->cl.base, SIGHUP, on_reload, d);
	d->sig_term = evsignal_new(d->cl.base, SIGTERM, on_terminate, d);
	d->sig_int = evsignal_new(d->cl.base, SIGINT, on_terminate, d);
	evsignal_add(d->sig_hup, NULL);
	evsignal_add(d->sig_term, NULL);
	evsignal_add(d->sig_int, NULL);
	if (workers_start(&d->cl) != 0) {
		log_config_error("cloud", false,
		    "isthmus cloud: cannot start workers: %s",
		    strerror(errno));
		return EXIT_FAIL;
	}
	log_info("cloud", "ready", "listen=%s admin=%s metrics=%s "
	    "readiness_udp=%s tenants=%zu edges=%zu services=%zu workers=%u",
	    bound, d->cl.conf->admin_socket,
	    d->metrics != NULL ? d->metrics_bound : "-",
	    ready_udp_port(d->cl.ready) != 0 ? d->ready_bound : "-",
	    d->cl.conf->ntenants, d->cl.conf->nedges, d->cl.conf->nservices,
	    d->cl.nworkers);
	printf("ready cloud listen=%s admin=%s", bound,
	    d->cl.conf->admin_socket);
	if (d->metrics != NULL)
		printf(" metrics=%s", d->metrics_bound);
	if (ready_udp_port(d->cl.ready) != 0)
		printf(" readiness_udp=%s", d->ready_bound);
	printf("\n");
	fflush(stdout);
	if (sdnotify_new(d->cl.base, &d->sd) != 0) {
		log_config_error("cloud", false,
		    "isthmus cloud: out of memory");
		return EXIT_FAIL;
	}
	/* Every listener is up and the workers run. */
	sdnotify_ready("serving on %s", bound);
	event_base_dispatch(d->cl.base);
	workers_stop(&d->cl);
	log_info("cloud", "stopped", "listen=%s", bound);
	return EXIT_OK;
}

/* The state store, when `state` names one. A file from a newer isthmus
 * stops the start; one that cannot be written now does not (the data path
 * never depends on the store): it is tried again until it can. */
static int
open_store(struct cloud *cl)
{
	struct store_stats st;
	struct err e = { "" };
	char name[512];
	int rc;

	if (cl->conf->state == NULL)
		return 0;
	rc = store_open(cl->base, cl->conf->state, &cl->store, &e);
	if (rc != 0) {
		log_config_error("cloud", false, "isthmus cloud: %s", e.msg);
		return rc;
	}
	store_get_stats(cl->store, &st);
	store_safe_name(cl->conf->state, name, sizeof(name));
	if (!st.available)
		log_warn("cloud", "store_unavailable", "state=%s error=%s "
		    "action=%s", name, e.msg, "tunnels and streams "
		    "go on; registry updates wait in memory and are written "
		    "when it can be");
	return 0;
}

int
cloud_main(int argc, char **argv)
{
	struct cloud_daemon d;
	struct privdrop pd;
	bool check = false;
	struct err e;
	int rc;

	memset(&d, 0, sizeof(d));
	rc = cli_daemon_args(argc, argv, "cloud", usage_cloud, &d.path,
	    &check);
	if (rc != CLI_GO_ON)
		return rc;
	if (load(d.path, false, &d.cl.conf, &d.cl.ssl_ctx) != 0)
		return EXIT_USAGE;
	if (check) {
		printf("%s: ok\n", d.path);
		rc = EXIT_OK;
		goto out;
	}
	if (privdrop_plan(d.cl.conf->user, "cloud", "cloud", &pd, &e) != 0) {
		log_config_error("cloud", false, "%s", e.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	d.cl.base = event_base_new();
	if (d.cl.base == NULL) {
		rc = EXIT_FAIL;
		goto out;
	}
	d.cl.started = time(NULL);
	tunnel_init();
	if (workers_init(&d.cl, worker_count(d.cl.conf), PEER_LOG_BURST,
	    PEER_LOG_PER_SEC) != 0) {
		log_config_error("cloud", false,
		    "isthmus cloud: out of memory");
		rc = EXIT_FAIL;
		goto out;
	}
	if (ready_new(d.cl.base, &d.cl.ready) != 0) {
		log_config_error("cloud", false,
		    "isthmus cloud: out of memory");
		rc = EXIT_FAIL;
		goto out;
	}
	rc = serve(&d, &pd);
out:
	workers_stop(&d.cl);
	store_close(d.cl.store);	/* writes the tunnels' last downs */
	manage_schedule_stop(&d.cl);
	cloud_manage_free(&d.cl);	/* after the store's last answers */
	ready_free(d.cl.ready);		/* after the workers' streams */
	metrics_http_close(d.metrics);
	admin_close(d.admin);
	health_stop(d.health);
	filewatch_free(d.crl_watch);
	if (d.listener != NULL) {
		acceptguard_release(d.listener);
		evconnlistener_free(d.listener);
	}
	if (d.sig_hup != NULL)
		event_free(d.sig_hup);
	if (d.sig_term != NULL)
		event_free(d.sig_term);
	if (d.sig_int != NULL)
		event_free(d.sig_int);
	if (d.drain_timer != NULL)
		event_free(d.drain_timer);
	sdnotify_free(d.sd);
	if (d.cl.base != NULL)
		event_base_free(d.cl.base);
	SSL_CTX_free(d.cl.ssl_ctx);
	cloud_conf_unref(d.cl.conf);
	return rc;
}
