/*
 * The edge's reload (SIGHUP), and the loading it shares with the start:
 * the configuration and every file it names are read into fresh storage;
 * only when all of it is good is it compared with the running state and
 * applied: listeners matched by address (kept with their socket and
 * devices, bound, or closed), device-TLS sessions checked again, the
 * stores under state_dir (trust, queue) opened or given their new
 * bounds, and a new tunnel when anything it is made from changed,
 * admitted before the old one drains (tunnels.c keeps the tunnels).
 */
#include "edge/reload.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/listener.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/tlsctx.h"
#include "edge/collect/collect.h"
#include "edge/daemon.h"
#include "edge/device/accept.h"
#include "edge/device/devtls.h"
#include "edge/device/handshake.h"
#include "edge/device/httpdev.h"
#include "edge/device/listener.h"
#include "edge/queue/queue.h"
#include "edge/trust/trust.h"
#include "edge/tunnels.h"
#include "edge/uplink/uplink.h"

int
edge_load(const char *path, bool logged, struct edge_conf **cf, SSL_CTX **ctx,
    struct err *why)
{
	struct conf_errors errs;
	struct tlsctx_opts o = { .server = false };
	char msg[600];
	struct err er;

	if (edge_conf_load(path, cf, &errs) != 0) {
		conf_errors_report(&errs, "edge", logged);
		if (why != NULL)
			err_set(why, -EINVAL, "%s", errs.n > 0 ? errs.line[0] :
			    "the configuration does not load");
		return -EINVAL;
	}
	o.cert = (*cf)->cert;
	o.key = (*cf)->key;
	o.ca = (*cf)->ca;
	o.crl = (*cf)->crl;
	if (tlsctx_new(&o, ctx, &er) != 0) {
		snprintf(msg, sizeof(msg), "%s: %s", path, er.msg);
		log_config_error("edge", logged, "%s", msg);
		if (why != NULL)
			err_set(why, -EINVAL, "%s", msg);
		edge_conf_free(*cf);
		*cf = NULL;
		return -EINVAL;
	}
	return 0;
}

void
edge_devtls_free_all(struct devtls **dt, size_t n)
{
	size_t i;

	for (i = 0; dt != NULL && i < n; i++)
		devtls_free(dt[i]);
	free(dt);
}

/* Each device-TLS listener's context, so --check finds bad files too. */
int
edge_load_device_tls(const struct edge_conf *cf, bool logged,
    struct devtls ***out)
{
	struct devtls **dt = calloc(cf->nlisteners + 1, sizeof(*dt));
	char msg[600];
	struct err er;
	size_t i;

	if (dt == NULL)
		return -ENOMEM;
	for (i = 0; i < cf->nlisteners; i++) {
		const struct edge_listener_conf *lc = cf->listeners[i];

		if (lc->tls_cert == NULL)
			continue;
		if (devtls_new(lc, &dt[i], &er) != 0) {
			snprintf(msg, sizeof(msg), "%s:%d: listener %s: %s",
			    cf->path, lc->line, lc->name, er.msg);
			log_config_error("edge", logged, "%s", msg);
			edge_devtls_free_all(dt, cf->nlisteners);
			return -EINVAL;
		}
	}
	*out = dt;
	return 0;
}

static void
digest_str(EVP_MD_CTX *md, const char *s)
{
	if (s == NULL)
		s = "";
	EVP_DigestUpdate(md, s, strlen(s) + 1);
}

/* What a tunnel is made from, files included: a reload whose digest
 * differs (a new certificate in the same file, say) needs a new
 * tunnel. */
int
edge_tunnel_digest(const struct edge_conf *cf, uint8_t out[32], struct err *er)
{
	const char *files[] = { cf->cert, cf->key, cf->ca, cf->crl };
	const uint64_t nums[] = { cf->cloud.port, cf->keepalive,
	    cf->keepalive_timeout, cf->reconnect_min, cf->reconnect_max,
	    cf->handshake_timeout, cf->use_proxy, cf->proxy.port };
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t i, len;
	char *data;
	int rc = 0;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return err_set(er, -ENOMEM, "out of memory");
	}
	digest_str(md, cf->cloud.host);
	digest_str(md, cf->server_name);
	digest_str(md, cf->proxy_url);
	digest_str(md, cf->use_proxy ? cf->proxy.host : NULL);
	EVP_DigestUpdate(md, nums, sizeof(nums));
	EVP_DigestUpdate(md, cf->cloud_pin, sizeof(cf->cloud_pin));
	for (i = 0; rc == 0 && i < sizeof(files) / sizeof(files[0]); i++) {
		digest_str(md, files[i]);
		if (files[i] == NULL ||
		    (rc = fs_read_file(files[i], 64u << 20, &data, &len,
		    er)) != 0)
			continue;
		EVP_DigestUpdate(md, data, len);
		OPENSSL_cleanse(data, len);	/* the key among them */
		free(data);
	}
	if (rc == 0)
		EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
	return rc;
}

/* t takes over from the running tunnel at once: that one is not up, or
 * (untrusted) carries nothing more, its streams cut. */
static void
reload_replace(struct edge *e, struct edge_tunnel *t, bool untrusted)
{
	struct edge_tunnel *old = edge_tunnel_take_over(e, t);

	if (untrusted)
		edge_tunnel_free(old);
	else
		edge_tunnel_retire(e, old);
}

/* A reload's tunnel: none when nothing it is made from changed; else
 * a new one, which takes new streams once the cloud admitted it (make
 * before break) or at once when the running one is not up. Takes ctx.
 * Returns whether the tunnel changes. */
static bool
reload_tunnel(struct edge *e, struct edge_conf *cf, SSL_CTX *ctx,
    const uint8_t digest[32])
{
	struct edge_tunnel *target = e->next_tun != NULL ? e->next_tun :
	    e->tun, *t;
	bool untrusted;

	if (memcmp(digest, target->digest, 32) == 0) {
		SSL_CTX_free(ctx);
		return false;
	}
	if ((t = e->next_tun) != NULL) {
		e->next_tun = NULL;
		edge_tunnel_retire(e, t);
	}
	if (memcmp(digest, e->tun->digest, 32) == 0) {
		SSL_CTX_free(ctx);	/* back to the running one */
		return true;
	}
	/* Make before break is for a cloud we still trust: one the new
	 * ca, crl or cloud_pin refuse carries nothing more. */
	untrusted = !uplink_still_trusts(e->up, ctx, cf);
	if (edge_tunnel_new(e, cf, ctx, digest, &t) != 0) {
		log_error("edge", "tunnel_failed", "reason=%s action=%s",
		    "out of memory", "keeping the running tunnel");
		return false;
	}
	if (untrusted)
		log_warn("edge", "tunnel_untrusted", "cloud=%s:%u action=%s",
		    e->tun->cf->cloud.host, e->tun->cf->cloud.port,
		    "closed now with its streams: the new ca, crl or "
		    "cloud_pin do not admit this cloud");
	else
		log_info("edge", "tunnel_replacing", "cloud=%s:%u action=%s",
		    cf->cloud.host, cf->cloud.port, uplink_h2(e->up) != NULL ?
		    "the running tunnel serves until the new one is admitted" :
		    "the running tunnel is not up: replaced now");
	if (uplink_h2(e->up) != NULL && !untrusted)
		e->next_tun = t;
	else
		reload_replace(e, t, untrusted);
	uplink_start(t->up);
	return true;
}

/* The running listener that lc takes over on reload: the one on the
 * same address (with port 0, the kernel's pick, also of the same name).
 * Its socket stays bound and its devices stay connected. */
static size_t
listener_match(const struct edge *e, const struct edge_listener_conf *lc,
    const bool *taken)
{
	size_t j;

	for (j = 0; j < e->nlisteners; j++) {
		const struct edge_listener_conf *o = e->listeners[j]->lc;

		if (!taken[j] && o->listen.port == lc->listen.port &&
		    strcmp(o->listen.host, lc->listen.host) == 0 &&
		    (lc->listen.port != 0 || strcmp(o->name, lc->name) == 0))
			return j;
	}
	return SIZE_MAX;
}

/* A listener the new configuration dropped: no more connections; its
 * handshakes are cut, its HTTP devices close after their answer, its
 * streams finish. */
static void
listener_close(struct edge *e, struct edge_listener *li)
{
	log_info("edge", "listener_closed", "listener=%s listen=%s",
	    li->lc->name, li->bound);
	evconnlistener_free(li->l);
	li->l = NULL;
	li->closed = true;
	li->next_closed = e->closed;
	e->closed = li;
	edge_listener_hold(li);
	handshake_drop(e, li);
	httpdev_drain(e, li);
	edge_listener_release(li);
}

/* The new listener set: kept ones get lc's settings, new ones are bound
 * (an address that cannot be had fails the whole reload, before anything
 * changed), dropped ones closed. Returns 1 when any changed, 0 when none,
 * -EINVAL on failure. */
static int
reload_listeners(struct edge *e, struct edge_conf *cf, struct devtls **dt)
{
	struct edge_listener **nl = calloc(cf->nlisteners + 1, sizeof(*nl));
	bool *taken = calloc(e->nlisteners + 1, sizeof(*taken));
	size_t *from = calloc(cf->nlisteners + 1, sizeof(*from));
	size_t i, j;
	int changed = cf->nlisteners != e->nlisteners, rc = 0;
	struct err er;

	if (nl == NULL || taken == NULL || from == NULL)
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < cf->nlisteners; i++) {
		if ((from[i] = listener_match(e, cf->listeners[i],
		    taken)) != SIZE_MAX)
			taken[from[i]] = true;
		else if ((rc = edge_listener_open(e, cf, cf->listeners[i],
		    &dt[i], &nl[i], &er)) != 0)
			log_config_error("edge", true, "%s", er.msg);
	}
	if (rc != 0) {
		for (i = 0; nl != NULL && i < cf->nlisteners; i++)
			edge_listener_free(nl[i]);
		goto out;
	}
	for (i = 0; i < cf->nlisteners; i++) {
		struct edge_listener *li = nl[i];

		if (li != NULL) {
			changed = 1;
			edge_listener_listening(li);
			continue;
		}
		li = nl[i] = e->listeners[from[i]];
		if (from[i] != i ||
		    !edge_listener_conf_equal(li->lc, cf->listeners[i]))
			changed = 1;
		edge_conf_free(li->cf);
		li->cf = edge_conf_ref(cf);
		li->lc = cf->listeners[i];
		devtls_free(li->devtls);
		li->devtls = dt[i];
		li->tls_gen++;
		dt[i] = NULL;
	}
	for (j = 0; j < e->nlisteners; j++)
		if (!taken[j]) {
			changed = 1;
			listener_close(e, e->listeners[j]);
		}
	free(e->listeners);
	e->listeners = nl;
	e->nlisteners = cf->nlisteners;
	nl = NULL;
	rc = changed;
out:
	free(nl);
	free(taken);
	free(from);
	return rc;
}

/* Keys a reload cannot apply: their sockets and the cache stay, and the
 * new configuration keeps the running values, so that it describes what
 * runs (and the next reload warns again; out of memory, the new value
 * stays, which only misnames what runs). */
static void
reload_carry(const struct edge *e, struct edge_conf *cf)
{
	char *tmp;
	char keys[128] = "";
	size_t i, n = 0;
	bool cache = false;

	for (i = 0; i < cf->nlisteners; i++)
		cache |= cf->listeners[i]->cache;
	if (strcmp(e->cf->admin_socket, cf->admin_socket) != 0)
		n += (size_t)snprintf(keys + n, sizeof(keys) - n,
		    ",admin_socket");
	if ((e->cf->user == NULL) != (cf->user == NULL) || (cf->user != NULL &&
	    strcmp(e->cf->user, cf->user) != 0))
		n += (size_t)snprintf(keys + n, sizeof(keys) - n, ",user");
	if (strcmp(e->cf->metrics.host, cf->metrics.host) != 0 ||
	    e->cf->metrics.port != cf->metrics.port)
		n += (size_t)snprintf(keys + n, sizeof(keys) - n, ",metrics");
	if (strcmp(e->cf->cache_dir, cf->cache_dir) != 0 ||
	    e->cf->cache_max_size != cf->cache_max_size ||
	    (cache && e->cache == NULL))
		n += (size_t)snprintf(keys + n, sizeof(keys) - n, ",cache");
	if (n > 0)
		log_warn("edge", "reload_partial", "keys=%s action=%s",
		    keys + 1, "restart the edge to apply them; the rest of "
		    "the configuration is in use");
	if ((tmp = strdup(e->cf->admin_socket)) != NULL) {
		free(cf->admin_socket);
		cf->admin_socket = tmp;
	}
	if ((tmp = strdup(e->cf->cache_dir)) != NULL) {
		free(cf->cache_dir);
		cf->cache_dir = tmp;
	}
	/* whom it became at start: said in status as it runs */
	tmp = e->cf->user != NULL ? strdup(e->cf->user) : NULL;
	if (e->cf->user == NULL || tmp != NULL) {
		free(cf->user);
		cf->user = tmp;
	}
	cf->metrics = e->cf->metrics;
	cf->cache_max_size = e->cf->cache_max_size;
}

/* state_dir is where the open stores' files are (the trust store, the
 * queue): a new one waits for a restart. */
static void
reload_state_dir(struct edge *e, struct edge_conf *cf)
{
	char *tmp;

	if ((e->trust == NULL && e->queue == NULL) ||
	    strcmp(e->cf->state_dir, cf->state_dir) == 0)
		return;
	log_warn("edge", "reload_partial", "keys=%s action=%s", "state_dir",
	    "restart the edge to apply it; the trust store and the queue in "
	    "use stay where they are");
	if ((tmp = strdup(e->cf->state_dir)) != NULL) {
		free(cf->state_dir);
		cf->state_dir = tmp;
	}
}

/* The trust store: opened by the first reload that learns certificates,
 * its trust_expired applied at once. */
static void
reload_trust(struct edge *e, struct edge_conf *cf)
{
	struct err er;
	char *path;

	if (e->trust != NULL) {
		trust_set_expired_ok(e->trust, cf->trust_expired ==
		    TRUST_EXPIRED_ACCEPT);
		return;
	}
	if (!edge_conf_uses_trust(cf))
		return;
	path = edge_trust_path(cf);
	if (path == NULL || trust_new(e->base, path, cf->trust_expired ==
	    TRUST_EXPIRED_ACCEPT, &e->trust, &er) != 0)
		log_error("edge", "trust_failed", "error=%s", path == NULL ?
		    "out of memory" : er.msg);
	free(path);
}

/* The queue's way to the cloud: the serving tunnel while it is up, and
 * none while the edge drains (replays would hold the tunnel open; what
 * waits stays on disk for the next start). */
static struct h2conn *
queue_h2(void *arg)
{
	struct edge *e = arg;

	return e->draining || e->up == NULL ? NULL : uplink_h2(e->up);
}

int
edge_queue_open(struct edge *e)
{
	const struct sfq_env env = { e->base, queue_h2, e };
	struct err er;

	if (e->queue != NULL || !edge_conf_may_queue(e->cf))
		return 0;
	/* A file that cannot be used is the queue's to report and retry;
	 * only memory or a thread fails here. */
	if (sfq_open(&env, e->cf, &e->queue, &er) != 0) {
		log_error("edge", "queue_failed", "error=%s", er.msg);
		return -ENOMEM;
	}
	return 0;
}

static void
changed_add(char *buf, size_t cap, const char *what)
{
	size_t n = strlen(buf);

	snprintf(buf + n, cap - n, ",%s", what);
}

/* Collectors of the new configuration (e->cf): kept, changed, new,
 * removed (collect.h). Out of memory leaves the ones running. */
static void
reload_collectors(struct edge *e)
{
	int rc = e->collectors != NULL ?
	    collectors_reload(e->collectors, e->cf) :
	    collectors_new(e, &e->collectors);

	if (rc != 0)
		log_error("edge", "collectors_not_reloaded", "error=%s",
		    "out of memory");
}

static void
reload_failed(struct edge *e)
{
	e->reload_failures++;
	log_error("edge", "reload_failed", "config=%s action=%s", e->cf->path,
	    "keeping the running configuration");
}

/* The same collectors, in the same order, with the same settings. */
static bool
collectors_same(const struct edge_conf *a, const struct edge_conf *b)
{
	size_t i;

	if (a->ncollectors != b->ncollectors)
		return false;
	for (i = 0; i < a->ncollectors; i++)
		if (!edge_collector_conf_equal(a->collectors[i],
		    b->collectors[i]))
			return false;
	return true;
}

/* SIGHUP, as the cloud does it: parse and load everything into fresh
 * storage and swap it in only when all of it is good. */
static int
reload_apply(struct edge *e, struct err *why)
{
	struct edge_conf *cf = NULL;
	struct devtls **dt = NULL;
	SSL_CTX *ctx = NULL;
	uint8_t digest[32];
	char changed[80] = "";
	struct err er;
	int lrc;

	if (e->draining) {
		log_info("edge", "reload_ignored", "reason=%s", "draining");
		return err_set(why, -EINVAL, "the edge is draining");
	}
	if (edge_load(e->cf->path, true, &cf, &ctx, why) != 0) {
		reload_failed(e);
		return -EINVAL;
	}
	if (edge_load_device_tls(cf, true, &dt) != 0) {
		SSL_CTX_free(ctx);
		edge_conf_free(cf);
		reload_failed(e);
		return err_set(why, -EINVAL, "a listener's device TLS files "
		    "do not load (the edge's log says which)");
	}
	if (edge_tunnel_digest(cf, digest, &er) != 0) {
		log_config_error("edge", true, "%s", er.msg);
		err_set(why, -EINVAL, "%s", er.msg);
		goto fail;
	}
	if ((lrc = reload_listeners(e, cf, dt)) < 0) {
		err_set(why, -EINVAL, "a new listener cannot be opened (the "
		    "edge's log says which)");
		goto fail;
	}
	if (lrc > 0)
		changed_add(changed, sizeof(changed), "listeners");
	edge_devtls_free_all(dt, cf->nlisteners);
	reload_carry(e, cf);
	reload_state_dir(e, cf);
	/* The store first: devices a listener now admits by their pinned
	 * certificate are checked against it. */
	reload_trust(e, cf);
	httpdev_recheck_tls(e);
	if (!edge_conf_settings_equal(e->cf, cf))
		changed_add(changed, sizeof(changed), "settings");
	if (reload_tunnel(e, cf, ctx, digest))
		changed_add(changed, sizeof(changed), "tunnel");
	if (!collectors_same(e->cf, cf))
		changed_add(changed, sizeof(changed), "collectors");
	edge_conf_free(e->cf);
	e->cf = cf;
	reload_collectors(e);
	/* Its bounds and replay settings at once (requests it holds stay,
	 * whatever the new listeners say); opened by the first reload
	 * with a listener that may queue. */
	if (e->queue != NULL)
		sfq_reconfigure(e->queue, cf);
	else
		(void)edge_queue_open(e);	/* logged; the edge goes on */
	e->reloads++;
	log_info("edge", "reloaded", "config=%s changed=%s", cf->path,
	    changed[0] != '\0' ? changed + 1 : "none");
	return 0;
fail:
	edge_devtls_free_all(dt, cf->nlisteners);
	SSL_CTX_free(ctx);
	edge_conf_free(cf);
	reload_failed(e);
	return -EINVAL;
}

/* systemd hears that a reload runs and when it has ended, either way;
 * only once the edge was READY=1 (else this READY=1 would come before
 * the first attempt to reach the cloud has ended) and not in a drain
 * (then systemd is stopping us). */
int
edge_reload(struct edge *e, struct err *why)
{
	char status[SDNOTIFY_STATUS_MAX + 1];
	bool tell = e->sd_ready && !e->draining;
	int rc;

	if (tell)
		sdnotify_reloading();
	rc = reload_apply(e, why);
	if (!tell)
		return rc;
	edge_tunnel_status(e, status, sizeof(status));
	if (rc == 0)
		sdnotify_ready("reloaded; %s", status);
	else
		sdnotify_ready("reload refused, running configuration kept "
		    "(see the log); %s", status);
	return rc;
}
