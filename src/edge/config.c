/* edge.conf: its settings, loading it into a fresh struct edge_conf and
 * cross-checking it (config.h). */
#include "edge/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/fsutil.h"
#include "common/mac.h"
#include "common/netutil.h"
#include "common/privdrop.h"
#include "common/proto.h"
#include "common/readiness.h"

/* The `manage` policy's words: docs/edge.md, "Management". The default
 * is what only reads (status, doctor) or only touches the cache
 * (purge-cache, prefetch); reload, logs, readiness (it moves up to
 * its byte budget on the site's link), trust (it decides which
 * devices are believed) and queue (its drop deletes readings the edge
 * promised to deliver) must be named. */
static const char *const manage_names[] = { "none", MANAGE_K_STATUS,
	MANAGE_K_DOCTOR, MANAGE_K_PURGE_CACHE, MANAGE_K_PREFETCH,
	MANAGE_K_RELOAD, MANAGE_K_LOGS, MANAGE_K_READINESS, MANAGE_K_TRUST,
	MANAGE_K_QUEUE, NULL };
#define MANAGE_DEFAULT "status, doctor, purge-cache, prefetch"

static const char *const trust_expired_names[] = { "accept", "refuse",
	NULL };

static const char *const replay_order_names[] = { "service", "device",
	NULL };
static const char *const store_forward_names[] = { "service", "off", "on",
	"always", NULL };

static const struct conf_key edge_keys[] = {
	{ "cloud", CONF_HOSTPORT, offsetof(struct edge_conf, cloud), 0, 0,
	    NULL, NULL, CONF_REQUIRED },
	{ "server_name", CONF_STRING, offsetof(struct edge_conf, server_name),
	    0, 0, NULL, NULL, 0 },
	{ "cert", CONF_PATH, offsetof(struct edge_conf, cert), 0, 0, NULL,
	    NULL, CONF_REQUIRED },
	{ "key", CONF_PATH, offsetof(struct edge_conf, key), 0, 0, NULL, NULL,
	    CONF_REQUIRED },
	{ "ca", CONF_PATH, offsetof(struct edge_conf, ca), 0, 0, NULL, NULL,
	    CONF_REQUIRED },
	{ "crl", CONF_PATH, offsetof(struct edge_conf, crl), 0, 0, NULL, NULL,
	    0 },
	{ "cloud_pin", CONF_PIN, offsetof(struct edge_conf, cloud_pin), 0, 0,
	    NULL, NULL, CONF_REQUIRED },
	{ "keepalive", CONF_DURATION, offsetof(struct edge_conf, keepalive),
	    100, 3600000, NULL, "15s", 0 },
	{ "keepalive_timeout", CONF_DURATION,
	    offsetof(struct edge_conf, keepalive_timeout), 100, 600000, NULL,
	    "10s", 0 },
	{ "reconnect_min", CONF_DURATION,
	    offsetof(struct edge_conf, reconnect_min), 10, 600000, NULL,
	    "200ms", 0 },
	{ "reconnect_max", CONF_DURATION,
	    offsetof(struct edge_conf, reconnect_max), 10, 3600000, NULL,
	    "30s", 0 },
	{ "pending_timeout", CONF_DURATION,
	    offsetof(struct edge_conf, pending_timeout), 0, 600000, NULL,
	    "10s", 0 },
	{ "handshake_timeout", CONF_DURATION,
	    offsetof(struct edge_conf, handshake_timeout), 100, 300000, NULL,
	    "10s", 0 },
	{ "drain_timeout", CONF_DURATION,
	    offsetof(struct edge_conf, drain_timeout), 0, 3600000, NULL,
	    "30s", 0 },
	{ "stream_idle_timeout", CONF_DURATION,
	    offsetof(struct edge_conf, stream_idle_timeout), 0, 2592000000,
	    NULL, "2h", 0 },
	{ "admin_socket", CONF_PATH, offsetof(struct edge_conf, admin_socket),
	    0, 0, NULL, "edge.sock", CONF_RUN_DIR },
	{ "user", CONF_STRING, offsetof(struct edge_conf, user), 0, 0, NULL,
	    NULL, 0 },
	{ "metrics", CONF_HOSTPORT, offsetof(struct edge_conf, metrics), 0, 0,
	    NULL, NULL, CONF_PORT0 | CONF_LOOPBACK },
	{ "proxy", CONF_STRING, offsetof(struct edge_conf, proxy_url), 0, 0,
	    NULL, NULL, 0 },
	{ "cache_dir", CONF_PATH, offsetof(struct edge_conf, cache_dir), 0, 0,
	    NULL, "cache", CONF_CACHE_DIR },
	{ "cache_max_size", CONF_SIZE,
	    offsetof(struct edge_conf, cache_max_size), 1024 * 1024, INT64_MAX,
	    NULL, "1g", 0 },
	{ "manage", CONF_LIST, offsetof(struct edge_conf, manage), 0, 0,
	    manage_names, MANAGE_DEFAULT, 0 },
	/* The most a readiness test may put on the site's link: a profile
	 * whose budget is over it is refused (docs/readiness.md). */
	{ "readiness_max_bytes", CONF_SIZE,
	    offsetof(struct edge_conf, readiness_max_bytes), 0,
	    READINESS_BYTES_MAX, NULL, "50M", 0 },
	{ "readiness_udp", CONF_BOOL,
	    offsetof(struct edge_conf, readiness_udp), 0, 0, NULL, "on", 0 },
	{ "state_dir", CONF_PATH, offsetof(struct edge_conf, state_dir), 0, 0,
	    NULL, "state", CONF_STATE_DIR },
	{ "trust_expired", CONF_ENUM, offsetof(struct edge_conf,
	    trust_expired), 0, 0, trust_expired_names, "accept", 0 },
	{ "queue_max_size", CONF_SIZE,
	    offsetof(struct edge_conf, queue_max_size), 64 * 1024,
	    INT64_MAX, NULL, "256m", 0 },
	{ "queue_max_age", CONF_DURATION,
	    offsetof(struct edge_conf, queue_max_age), 60000,
	    366ULL * 86400000, NULL, "7d", 0 },
	{ "queue_max_body", CONF_SIZE,
	    offsetof(struct edge_conf, queue_max_body), 1024,
	    64 * 1024 * 1024, NULL, "1m", 0 },
	{ "queue_max_memory", CONF_SIZE,
	    offsetof(struct edge_conf, queue_max_memory), 1024,
	    INT64_MAX, NULL, "64m", 0 },
	{ "replay_streams", CONF_INT,
	    offsetof(struct edge_conf, replay_streams), 1, 256, NULL, "8", 0 },
	{ "replay_order", CONF_ENUM, offsetof(struct edge_conf, replay_order),
	    0, 0, replay_order_names, "service", 0 },
};

static const char *const mode_names[] = { "tcp", "http", NULL };
static const char *const mac_from_names[] = {
	"uri", "cn", "serial", "ou", "san-dns", NULL
};
static const char *const tls_min_names[] = { "1.2", "1.3", NULL };
static const char *const device_trust_names[] = { "ca", "tofu", NULL };
static const char *const method_names[] = { "GET", "POST", "PUT", NULL };

#define LKEY(f) offsetof(struct edge_listener_conf, f)
static const struct conf_key listener_keys[] = {
	{ "listen", CONF_HOSTPORT, LKEY(listen), 0, 0, NULL, NULL,
	    CONF_REQUIRED | CONF_PORT0 },
	{ "service", CONF_STRING, LKEY(service), 0, 0, NULL, NULL, 0 },
	{ "transparent", CONF_BOOL, LKEY(transparent), 0, 0, NULL, "no", 0 },
	{ "map", CONF_LIST, LKEY(map), 0, 0, NULL, NULL, 0 },
	{ "mode", CONF_ENUM, LKEY(mode), 0, 0, mode_names, "tcp", 0 },
	{ "max_header_size", CONF_SIZE, LKEY(max_header_size), 1024,
	    1024 * 1024, NULL, "16k", 0 },
	{ "max_headers", CONF_INT, LKEY(max_headers), 1, 1000, NULL, "100",
	    0 },
	{ "max_body", CONF_SIZE, LKEY(max_body), 0, INT64_MAX, NULL, "1g", 0 },
	{ "idle_timeout", CONF_DURATION, LKEY(idle_timeout), 100, 3600000,
	    NULL, "60s", 0 },
	{ "request_timeout", CONF_DURATION, LKEY(request_timeout), 100,
	    600000, NULL, "10s", 0 },
	{ "tls_cert", CONF_PATH, LKEY(tls_cert), 0, 0, NULL, NULL, 0 },
	{ "tls_key", CONF_PATH, LKEY(tls_key), 0, 0, NULL, NULL, 0 },
	{ "device_ca", CONF_LIST, LKEY(device_ca), 0, 0, NULL, NULL, 0 },
	{ "mac_from", CONF_ENUM, LKEY(mac_from), 0, 0, mac_from_names, "uri",
	    0 },
	{ "mac_allow", CONF_LIST, LKEY(mac_allow), 0, 0, NULL, NULL, 0 },
	{ "tls_min_version", CONF_ENUM, LKEY(tls_min), 0, 0, tls_min_names,
	    "1.2", 0 },
	{ "cache", CONF_BOOL, LKEY(cache), 0, 0, NULL, "off", 0 },
	{ "device_trust", CONF_ENUM, LKEY(device_trust), 0, 0,
	    device_trust_names, "ca", 0 },
	{ "store_forward", CONF_ENUM, LKEY(store_forward), 0, 0,
	    store_forward_names, "service", 0 },
	{ "response_timeout", CONF_DURATION, LKEY(response_timeout), 100,
	    600000, NULL, "10s", 0 },
	{ "store_forward_status", CONF_INT, LKEY(store_forward_status), 200,
	    299, NULL, "202", 0 },
};
#undef LKEY

#define CKEY(f) offsetof(struct edge_collector_conf, f)
static const struct conf_key collector_keys[] = {
	{ "url", CONF_STRING, CKEY(url), 0, 0, NULL, NULL, CONF_REQUIRED },
	{ "service", CONF_STRING, CKEY(service), 0, 0, NULL, NULL,
	    CONF_REQUIRED },
	{ "interval", CONF_DURATION, CKEY(interval), 1000, 86400000, NULL,
	    "60s", 0 },
	/* unset (0): 10 s, or the interval when that is shorter */
	{ "timeout", CONF_DURATION, CKEY(timeout), 100, 300000, NULL, NULL,
	    0 },
	{ "method", CONF_ENUM, CKEY(method), 0, 0, method_names, "GET", 0 },
	{ "header", CONF_LINES, CKEY(header), 0, 0, NULL, NULL, 0 },
	{ "body", CONF_STRING, CKEY(body), 0, 0, NULL, NULL, 0 },
	{ "body_type", CONF_STRING, CKEY(body_type), 0, 0, NULL, NULL, 0 },
	{ "max_response", CONF_SIZE, CKEY(max_response), 1024,
	    64 * 1024 * 1024, NULL, "1M", 0 },
	{ "target", CONF_STRING, CKEY(target), 0, 0, NULL, NULL, 0 },
	{ "tls_min_version", CONF_ENUM, CKEY(tls_min), 0, 0, tls_min_names,
	    "1.2", 0 },
	{ "auth", CONF_STRING, CKEY(auth_spec), 0, 0, NULL, NULL, 0 },
	{ "trust", CONF_STRING, CKEY(trust_spec), 0, 0, NULL, "tofu", 0 },
};
#undef CKEY

static void *
open_edge(void *ctx, const char *name, int line)
{
	(void)name;
	(void)line;
	return ctx;
}

static void *
open_listener(void *ctx, const char *name, int line)
{
	struct edge_conf *cf = ctx;
	struct edge_listener_conf *l = calloc(1, sizeof(*l)), **nv;

	if (l == NULL)
		return NULL;
	nv = realloc(cf->listeners, (cf->nlisteners + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(l);
		return NULL;
	}
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->line = line;
	nv[cf->nlisteners++] = l;
	cf->listeners = nv;
	return l;
}

static void *
open_collector(void *ctx, const char *name, int line)
{
	struct edge_conf *cf = ctx;
	struct edge_collector_conf *c = calloc(1, sizeof(*c)), **nv;

	if (c == NULL)
		return NULL;
	nv = realloc(cf->collectors, (cf->ncollectors + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(c);
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->line = line;
	nv[cf->ncollectors++] = c;
	cf->collectors = nv;
	return c;
}

static const struct conf_section sections[] = {
	{ .name = "edge", .keys = edge_keys,
	    .nkeys = sizeof(edge_keys) / sizeof(edge_keys[0]),
	    .open = open_edge },
	{ .name = "listener", .named = true, .keys = listener_keys,
	    .nkeys = sizeof(listener_keys) / sizeof(listener_keys[0]),
	    .open = open_listener },
	{ .name = "collector", .named = true, .keys = collector_keys,
	    .nkeys = sizeof(collector_keys) / sizeof(collector_keys[0]),
	    .open = open_collector },
};

static const struct conf_schema schema = { sections, 3 };

/* Device TLS needs its three keys together, HTTP mode, and MACs that
 * parse; CA paths are relative to the file like every path. */
static int
check_device_tls(const struct edge_conf *cf, struct edge_listener_conf *l,
    struct conf_errors *errs)
{
	bool tofu = l->device_trust == DEVICE_TRUST_TOFU;
	bool on = l->tls_cert != NULL || l->tls_key != NULL ||
	    l->device_ca.n > 0 || tofu;
	char *dir, *slash;
	struct err e;
	uint8_t mac[6];
	size_t i;
	int rc = 0;

	if (!on) {
		if (l->mac_allow.n > 0) {
			conf_errors_add(errs, cf->path, l->line, "mac_allow",
			    "needs device TLS (tls_cert, tls_key, device_ca)");
			return -EINVAL;
		}
		return 0;
	}
	if (l->tls_cert == NULL || l->tls_key == NULL ||
	    (l->device_ca.n == 0 && !tofu)) {
		conf_errors_add(errs, cf->path, l->line, "tls_cert",
		    "device TLS needs tls_cert, tls_key and device_ca together "
		    "(device_ca may be left out with device_trust = tofu)");
		return -EINVAL;
	}
	if (l->mode != LISTEN_HTTP) {
		conf_errors_add(errs, cf->path, l->line, "mode",
		    "device TLS is for mode = http listeners");
		return -EINVAL;
	}
	for (i = 0; i < l->mac_allow.n; i++)
		if (mac_parse(l->mac_allow.v[i], mac, &e) != 0) {
			conf_errors_add(errs, cf->path, l->line, "mac_allow",
			    "%s", e.msg);
			rc = -EINVAL;
		}
	if ((dir = strdup(cf->path)) == NULL)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash != NULL)
		slash[1] = '\0';
	for (i = 0; rc == 0 && slash != NULL && i < l->device_ca.n; i++) {
		char *p;

		if (l->device_ca.v[i][0] == '/')
			continue;
		if (asprintf(&p, "%s%s", dir, l->device_ca.v[i]) < 0) {
			rc = -ENOMEM;
			break;
		}
		free(l->device_ca.v[i]);
		l->device_ca.v[i] = p;
	}
	free(dir);
	return rc;
}

/* One map entry, "ADDRESS:PORT SERVICE", into r. */
static int
parse_route(const char *item, struct edge_route *r, struct err *e)
{
	const char *sp = strpbrk(item, " \t");
	char addr[80];
	struct hostport hp;
	socklen_t len;
	size_t n = sp != NULL ? (size_t)(sp - item) : 0;

	if (sp == NULL || n >= sizeof(addr))
		return err_set(e, -EINVAL, "'%s' is not ADDRESS:PORT SERVICE",
		    item);
	memcpy(addr, item, n);
	addr[n] = '\0';
	sp += strspn(sp, " \t");
	if (conf_parse_hostport(addr, false, &hp, e) != 0)
		return -EINVAL;
	if (hp.family == AF_UNSPEC)
		return err_set(e, -EINVAL, "'%s': the destination must be an "
		    "IP address, not a name (the firewall redirects by "
		    "address)", addr);
	memset(r, 0, sizeof(*r));
	if (net_resolve(&hp, &r->dst, &len, e) != 0)	/* a literal */
		return -EINVAL;
	/* As the original destination is read: ::ffff:a.b.c.d is a.b.c.d
	 * (and a duplicate of it). */
	net_unmap(&r->dst);
	if (!name_valid(sp))
		return err_set(e, -EINVAL, "'%s': invalid service name '%s'",
		    item, sp);
	snprintf(r->service, sizeof(r->service), "%s", sp);
	hostport_format(&hp, r->text, sizeof(r->text));
	return 0;
}

/* A listener names its service, or is transparent and maps destinations
 * to services; the table parses and names each destination once. */
static int
check_routes(struct edge_conf *cf, struct edge_listener_conf *lc,
    struct conf_errors *errs)
{
	struct err e;
	size_t i, j;

	if (!lc->transparent) {
		if (lc->map.n > 0) {
			conf_errors_add(errs, cf->path, lc->line, "map", "only "
			    "for a listener with transparent = yes");
			return -EINVAL;
		}
		if (lc->service == NULL) {
			conf_errors_add(errs, cf->path, lc->line, "service",
			    "required in [listener %s]", lc->name);
			return -EINVAL;
		}
		return 0;
	}
	if (lc->service != NULL) {
		conf_errors_add(errs, cf->path, lc->line, "service", "a "
		    "transparent listener takes its services from map");
		return -EINVAL;
	}
	if (lc->map.n == 0) {
		conf_errors_add(errs, cf->path, lc->line, "map", "a "
		    "transparent listener needs its table: map = ADDRESS:PORT "
		    "SERVICE, ...");
		return -EINVAL;
	}
	lc->routes = calloc(lc->map.n, sizeof(*lc->routes));
	if (lc->routes == NULL || (lc->service = strdup("-")) == NULL)
		return -ENOMEM;
	for (i = 0; i < lc->map.n; i++) {
		if (parse_route(lc->map.v[i], &lc->routes[i], &e) != 0) {
			conf_errors_add(errs, cf->path, lc->line, "map", "%s",
			    e.msg);
			return -EINVAL;
		}
		for (j = 0; j < i; j++)
			if (net_same_addr(&lc->routes[j].dst,
			    &lc->routes[i].dst)) {
				conf_errors_add(errs, cf->path, lc->line, "map",
				    "%s is mapped twice", lc->routes[i].text);
				return -EINVAL;
			}
		lc->nroutes++;
	}
	return 0;
}

const char *
edge_route_find(const struct edge_listener_conf *lc,
    const struct sockaddr_storage *dst)
{
	size_t i;

	for (i = 0; i < lc->nroutes; i++)
		if (net_same_addr(&lc->routes[i].dst, dst))
			return lc->routes[i].service;
	return NULL;
}

/* The proxy: the config's (none: a direct line), else https_proxy from
 * the environment unless no_proxy covers the cloud's host. */
static int
resolve_proxy(struct edge_conf *cf, struct conf_errors *errs)
{
	const char *url = cf->proxy_url, *src = "proxy", *no;
	struct err e;

	if (url == NULL) {
		static const char *const vars[] = { "https_proxy",
		    "HTTPS_PROXY" };
		size_t i;

		for (i = 0; i < 2 && url == NULL; i++)
			if ((url = getenv(vars[i])) != NULL && *url == '\0')
				url = NULL;
			else
				src = vars[i];
		no = getenv("no_proxy") != NULL ? getenv("no_proxy") :
		    getenv("NO_PROXY");
		if (url != NULL && no != NULL &&
		    proxy_bypassed(no, cf->cloud.host))
			url = NULL;
	}
	if (url == NULL || strcmp(url, "none") == 0)
		return 0;
	if (proxy_parse(url, &cf->proxy, &e) != 0) {
		conf_errors_add(errs, cf->path, 0, src, "%s", e.msg);
		return -EINVAL;
	}
	snprintf(cf->proxy.source, sizeof(cf->proxy.source), "%s", src);
	cf->use_proxy = true;
	return 0;
}

int
edge_conf_load(const char *path, struct edge_conf **out,
    struct conf_errors *errs)
{
	struct edge_conf *cf = calloc(1, sizeof(*cf));
	struct err pe;
	size_t i;
	int rc;

	if (cf == NULL || (cf->path = strdup(path)) == NULL) {
		free(cf);
		return -ENOMEM;
	}
	cf->refs = 1;
	rc = conf_load_file(&schema, cf, path, errs);
	for (i = 0; rc == 0 && i < cf->nlisteners; i++)
		rc = check_routes(cf, cf->listeners[i], errs);
	for (i = 0; rc == 0 && i < cf->nlisteners; i++) {
		if (!cf->listeners[i]->transparent &&
		    !name_valid(cf->listeners[i]->service)) {
			conf_errors_add(errs, path, cf->listeners[i]->line,
			    "service", "invalid service name '%s'",
			    cf->listeners[i]->service);
			rc = -EINVAL;
		}
	}
	for (i = 0; rc == 0 && i < cf->nlisteners; i++)
		rc = check_device_tls(cf, cf->listeners[i], errs);
	for (i = 0; rc == 0 && i < cf->nlisteners; i++)
		if (cf->listeners[i]->cache &&
		    cf->listeners[i]->mode != LISTEN_HTTP) {
			conf_errors_add(errs, path, cf->listeners[i]->line,
			    "cache", "the cache is for mode = http listeners");
			rc = -EINVAL;
		}
	for (i = 0; rc == 0 && i < cf->nlisteners; i++)
		if ((cf->listeners[i]->store_forward == SF_ON ||
		    cf->listeners[i]->store_forward == SF_ALWAYS) &&
		    cf->listeners[i]->mode != LISTEN_HTTP) {
			conf_errors_add(errs, path, cf->listeners[i]->line,
			    "store_forward", "store and forward is for mode = "
			    "http listeners (it queues whole requests)");
			rc = -EINVAL;
		}
	for (i = 0; rc == 0 && i < cf->nlisteners; i++)
		if (cf->listeners[i]->store_forward_status == 204 ||
		    cf->listeners[i]->store_forward_status == 205) {
			conf_errors_add(errs, path, cf->listeners[i]->line,
			    "store_forward_status", "204 and 205 carry no "
			    "body; the edge's answer has one (say 200..203 "
			    "or 206..299)");
			rc = -EINVAL;
		}
	for (i = 0; rc == 0 && i < cf->ncollectors; i++)
		rc = edge_collector_check(cf, cf->collectors[i], errs);
	if (rc == 0)
		rc = resolve_proxy(cf, errs);
	if (rc == 0 && edge_conf_may_queue(cf) &&
	    cf->queue_max_body > cf->queue_max_size) {
		/* Such a request could never be queued, even in an empty
		 * queue: refused for ever with "full". */
		conf_errors_add(errs, path, 0, "queue_max_body",
		    "must not be over queue_max_size");
		rc = -EINVAL;
	}
	if (rc == 0 && cf->user != NULL &&
	    privdrop_known(cf->user, &pe) != 0) {
		conf_errors_add(errs, path, 0, "user", "%s", pe.msg);
		rc = -EINVAL;
	}
	if (rc == 0 && edge_conf_may_queue(cf) &&
	    cf->queue_max_body > cf->queue_max_memory) {
		/* A body that large could never be held to be read. */
		conf_errors_add(errs, path, 0, "queue_max_body",
		    "must not be over queue_max_memory");
		rc = -EINVAL;
	}
	if (rc == 0 && cf->reconnect_max < cf->reconnect_min) {
		conf_errors_add(errs, path, 0, "reconnect_max",
		    "must not be below reconnect_min");
		rc = -EINVAL;
	}
	if (rc != 0) {
		edge_conf_free(cf);
		return rc;
	}
	*out = cf;
	return 0;
}

struct edge_conf *
edge_conf_ref(struct edge_conf *cf)
{
	cf->refs++;
	return cf;
}

bool
edge_conf_settings_equal(const struct edge_conf *a, const struct edge_conf *b)
{
	return conf_fields_equal(&sections[0], a, b);
}

bool
edge_collector_conf_equal(const struct edge_collector_conf *a,
    const struct edge_collector_conf *b)
{
	return strcmp(a->name, b->name) == 0 &&
	    conf_fields_equal(&sections[2], a, b) &&
	    (a->authorization == NULL) == (b->authorization == NULL) &&
	    (a->authorization == NULL ||
	    strcmp(a->authorization, b->authorization) == 0);
}

char *
edge_trust_path(const struct edge_conf *cf)
{
	return fs_join(cf->state_dir, "trust.db");
}

char *
edge_queue_path(const struct edge_conf *cf)
{
	return fs_join(cf->state_dir, "queue.db");
}

bool
edge_conf_may_queue(const struct edge_conf *cf)
{
	size_t i;

	for (i = 0; i < cf->nlisteners; i++)
		if (cf->listeners[i]->mode == LISTEN_HTTP &&
		    cf->listeners[i]->store_forward != SF_OFF)
			return true;
	return false;
}

bool
edge_conf_uses_trust(const struct edge_conf *cf)
{
	size_t i;

	for (i = 0; i < cf->nlisteners; i++)
		if (cf->listeners[i]->device_trust == DEVICE_TRUST_TOFU)
			return true;
	for (i = 0; i < cf->ncollectors; i++)
		if (cf->collectors[i]->trust == CT_TOFU)
			return true;
	return false;
}

bool
edge_listener_conf_equal(const struct edge_listener_conf *a,
    const struct edge_listener_conf *b)
{
	return strcmp(a->name, b->name) == 0 &&
	    conf_fields_equal(&sections[1], a, b);
}

void
edge_conf_free(struct edge_conf *cf)
{
	size_t i;

	if (cf == NULL || --cf->refs > 0)
		return;
	proxy_conf_clear(&cf->proxy);
	if (cf->proxy_url != NULL)	/* it may hold a password */
		OPENSSL_cleanse(cf->proxy_url, strlen(cf->proxy_url));
	conf_free_fields(&sections[0], cf);
	for (i = 0; i < cf->nlisteners; i++) {
		conf_free_fields(&sections[1], cf->listeners[i]);
		free(cf->listeners[i]->routes);
		free(cf->listeners[i]);
	}
	free(cf->listeners);
	for (i = 0; i < cf->ncollectors; i++) {
		conf_free_fields(&sections[2], cf->collectors[i]);
		edge_collector_conf_clear(cf->collectors[i]);
		free(cf->collectors[i]);
	}
	free(cf->collectors);
	free(cf->path);
	free(cf);
}
