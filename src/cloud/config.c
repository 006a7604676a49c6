/* cloud.conf: the names of its settings and reasons, loading it into a
 * fresh struct cloud_conf and cross-checking it (config.h). */
#include "cloud/config.h"
#include "common/privdrop.h"
#include "common/proto.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const balance_names[] = {
	"round-robin", "least-conn", "hash", NULL
};

static const char *const health_names[] = { "none", "tcp", "http", NULL };

static const char *const mode_names[] = { "tcp", "http", NULL };
static const char *const store_forward_names[] = { "off", "on", "always",
	NULL };

static const char *const refusal_names[REFUSE_COUNT] = {
	[REFUSE_UNKNOWN_SERVICE] = PROTO_REFUSED_UNKNOWN_SERVICE,
	[REFUSE_NO_BACKEND] = PROTO_REFUSED_NO_BACKEND,
	[REFUSE_BAD_REQUEST] = PROTO_REFUSED_BAD_REQUEST,
	[REFUSE_INTERNAL] = PROTO_REFUSED_INTERNAL,
	[REFUSE_TENANT_STREAMS] = PROTO_REFUSED_TENANT_STREAMS,
};

const char *
refusal_name(enum refusal r)
{
	return (unsigned)r < REFUSE_COUNT ? refusal_names[r] : "?";
}

static const struct conf_key cloud_keys[] = {
	{ "listen", CONF_HOSTPORT, offsetof(struct cloud_conf, listen), 0, 0,
	    NULL, NULL, CONF_REQUIRED | CONF_PORT0 },
	{ "cert", CONF_PATH, offsetof(struct cloud_conf, cert), 0, 0, NULL,
	    NULL, CONF_REQUIRED },
	{ "key", CONF_PATH, offsetof(struct cloud_conf, key), 0, 0, NULL, NULL,
	    CONF_REQUIRED },
	{ "ca", CONF_PATH, offsetof(struct cloud_conf, ca), 0, 0, NULL, NULL,
	    CONF_REQUIRED },
	{ "crl", CONF_PATH, offsetof(struct cloud_conf, crl), 0, 0, NULL, NULL,
	    0 },
	{ "admin_socket", CONF_PATH, offsetof(struct cloud_conf, admin_socket),
	    0, 0, NULL, "cloud.sock", CONF_RUN_DIR },
	{ "user", CONF_STRING, offsetof(struct cloud_conf, user), 0, 0, NULL,
	    NULL, 0 },
	{ "state", CONF_PATH, offsetof(struct cloud_conf, state), 0, 0, NULL,
	    NULL, 0 },
	{ "metrics", CONF_HOSTPORT, offsetof(struct cloud_conf, metrics), 0, 0,
	    NULL, NULL, CONF_PORT0 | CONF_LOOPBACK },
	{ "handshake_timeout", CONF_DURATION,
	    offsetof(struct cloud_conf, handshake_timeout), 100, 300000, NULL,
	    "10s", 0 },
	{ "drain_timeout", CONF_DURATION,
	    offsetof(struct cloud_conf, drain_timeout), 0, 3600000, NULL,
	    "30s", 0 },
	{ "stream_idle_timeout", CONF_DURATION,
	    offsetof(struct cloud_conf, stream_idle_timeout), 0, 2592000000,
	    NULL, "2h", 0 },
	{ "workers", CONF_INT, offsetof(struct cloud_conf, workers), 1, 64,
	    NULL, "auto", CONF_AUTO },
	{ "keepalive", CONF_DURATION, offsetof(struct cloud_conf, keepalive),
	    100, 3600000, NULL, "30s", 0 },
	{ "keepalive_timeout", CONF_DURATION,
	    offsetof(struct cloud_conf, keepalive_timeout), 100, 600000, NULL,
	    "10s", 0 },
	{ "crl_check_interval", CONF_DURATION,
	    offsetof(struct cloud_conf, crl_check_interval), 0, 86400000,
	    NULL, "10s", 0 },
	{ "tunnel_max_streams", CONF_INT,
	    offsetof(struct cloud_conf, tunnel_max_streams), 1, 100000, NULL,
	    "1024", 0 },
	{ "tunnel_max_dials", CONF_INT,
	    offsetof(struct cloud_conf, tunnel_max_dials), 1, 10000, NULL,
	    "64", 0 },
	{ "instruction_ttl", CONF_DURATION,
	    offsetof(struct cloud_conf, instruction_ttl), 1000, 2592000000,
	    NULL, "24h", 0 },
	{ "instruction_timeout", CONF_DURATION,
	    offsetof(struct cloud_conf, instruction_timeout), 1000, 3600000,
	    NULL, "60s", 0 },
	/* Any address: edges send their probes here from the internet. */
	{ "readiness_udp", CONF_HOSTPORT,
	    offsetof(struct cloud_conf, readiness_udp), 0, 0, NULL, NULL,
	    CONF_PORT0 },
	{ "readiness_udp_host", CONF_STRING,
	    offsetof(struct cloud_conf, readiness_udp_host), 0, 0, NULL, NULL,
	    0 },
};

/* A schedule: from 10 s (tests, a lab) to a week. */
#define EVERY_MIN_MS 10000
#define EVERY_MAX_MS (7ll * 86400 * 1000)

static const struct conf_key tenant_keys[] = {
	{ "edges", CONF_LIST, offsetof(struct cloud_tenant, edges), 0, 0, NULL,
	    NULL, CONF_REQUIRED },
	{ "max_streams", CONF_INT, offsetof(struct cloud_tenant, max_streams),
	    1, 1000000, NULL, "8192", 0 },
	{ "readiness", CONF_EVERY, offsetof(struct cloud_tenant, readiness),
	    EVERY_MIN_MS, EVERY_MAX_MS, NULL, NULL, 0 },
};

static const struct conf_key edge_keys[] = {
	{ "pin", CONF_PINS, offsetof(struct cloud_edge, pins), 0, 0, NULL,
	    NULL, CONF_REQUIRED },
	{ "from", CONF_CIDRS, offsetof(struct cloud_edge, from), 0, 0, NULL,
	    NULL, 0 },
	{ "readiness", CONF_EVERY, offsetof(struct cloud_edge, readiness),
	    EVERY_MIN_MS, EVERY_MAX_MS, NULL, NULL, 0 },
};

static const struct conf_key service_keys[] = {
	{ "backends", CONF_LIST, offsetof(struct cloud_service, backends), 0,
	    0, NULL, NULL, CONF_REQUIRED },
	{ "balance", CONF_ENUM, offsetof(struct cloud_service, balance), 0, 0,
	    balance_names, "round-robin", 0 },
	{ "connect_timeout", CONF_DURATION,
	    offsetof(struct cloud_service, connect_timeout), 100, 60000, NULL,
	    "3s", 0 },
	{ "proxy_protocol", CONF_BOOL,
	    offsetof(struct cloud_service, proxy_protocol), 0, 0, NULL, "no",
	    0 },
	{ "health", CONF_ENUM, offsetof(struct cloud_service, health), 0, 0,
	    health_names, "tcp", 0 },
	{ "mode", CONF_ENUM, offsetof(struct cloud_service, mode), 0, 0,
	    mode_names, "tcp", 0 },
	{ "identity_headers", CONF_BOOL,
	    offsetof(struct cloud_service, identity_headers), 0, 0, NULL, "no",
	    0 },
	{ "confidential", CONF_BOOL,
	    offsetof(struct cloud_service, confidential), 0, 0, NULL, "no", 0 },
	{ "store_forward", CONF_ENUM,
	    offsetof(struct cloud_service, store_forward), 0, 0,
	    store_forward_names, "off", 0 },
	{ "response_timeout", CONF_DURATION,
	    offsetof(struct cloud_service, response_timeout), 100, 3600000,
	    NULL, "30s", 0 },
	{ "pool_idle_timeout", CONF_DURATION,
	    offsetof(struct cloud_service, pool_idle_timeout), 0, 3600000,
	    NULL, "30s", 0 },
	{ "pool_max_idle", CONF_INT,
	    offsetof(struct cloud_service, pool_max_idle), 0, 10000, NULL,
	    "256", 0 },
	{ "health_path", CONF_STRING,
	    offsetof(struct cloud_service, health_path), 0, 0, NULL, "/", 0 },
	{ "health_interval", CONF_DURATION,
	    offsetof(struct cloud_service, health_interval), 100, 3600000,
	    NULL, "2s", 0 },
	{ "health_timeout", CONF_DURATION,
	    offsetof(struct cloud_service, health_timeout), 50, 60000, NULL,
	    "1s", 0 },
	{ "health_rise", CONF_INT, offsetof(struct cloud_service, health_rise),
	    1, 100, NULL, "2", 0 },
	{ "health_fall", CONF_INT, offsetof(struct cloud_service, health_fall),
	    1, 100, NULL, "3", 0 },
};

#define NKEYS(k) (sizeof(k) / sizeof((k)[0]))

/* Appends p to the array *v of *n pointers; p is freed on failure. */
static void *
push(void ***v, size_t *n, void *p)
{
	void **nv;

	if (p == NULL)
		return NULL;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(p);
		return NULL;
	}
	nv[(*n)++] = p;
	*v = nv;
	return p;
}

static void *
open_cloud(void *ctx, const char *name, int line)
{
	(void)name;
	(void)line;
	return ctx;
}

static void *
open_tenant(void *ctx, const char *name, int line)
{
	struct cloud_conf *cf = ctx;
	struct cloud_tenant *t = calloc(1, sizeof(*t));

	if (t != NULL && (t->live = calloc(1, sizeof(*t->live))) == NULL) {
		free(t);
		t = NULL;
	}
	if (t != NULL) {
		snprintf(t->name, sizeof(t->name), "%s", name);
		t->line = line;
		t->live->refs = 1;
	}
	return push((void ***)&cf->tenants, &cf->ntenants, t);
}

static void *
open_edge(void *ctx, const char *name, int line)
{
	struct cloud_conf *cf = ctx;
	struct cloud_edge *ed = calloc(1, sizeof(*ed));

	if (ed != NULL) {
		snprintf(ed->name, sizeof(ed->name), "%s", name);
		ed->line = line;
	}
	return push((void ***)&cf->edges, &cf->nedges, ed);
}

static void *
open_service(void *ctx, const char *name, int line)
{
	struct cloud_conf *cf = ctx;
	struct cloud_service *s = calloc(1, sizeof(*s));
	const char *slash = strchr(name, '/');

	if (s != NULL) {
		snprintf(s->tenant_name, sizeof(s->tenant_name), "%.*s",
		    (int)(slash - name), name);
		snprintf(s->name, sizeof(s->name), "%s", slash + 1);
		s->line = line;
	}
	return push((void ***)&cf->services, &cf->nservices, s);
}

static void *
open_readiness(void *ctx, const char *name, int line)
{
	struct cloud_conf *cf = ctx;
	struct readiness_profile *p = calloc(1, sizeof(*p));

	if (p != NULL) {
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->line = line;
	}
	return push((void ***)&cf->profiles, &cf->nprofiles, p);
}

static const struct conf_section sections[] = {
	{ .name = "cloud", .keys = cloud_keys, .nkeys = NKEYS(cloud_keys),
	    .open = open_cloud },
	{ .name = "tenant", .named = true, .keys = tenant_keys,
	    .nkeys = NKEYS(tenant_keys), .open = open_tenant },
	{ .name = "edge", .named = true, .keys = edge_keys,
	    .nkeys = NKEYS(edge_keys), .open = open_edge },
	{ .name = "service", .named = true, .scoped = true,
	    .keys = service_keys, .nkeys = NKEYS(service_keys),
	    .open = open_service },
};

/* The sections above and [readiness NAME], whose keys are common/
 * readiness.c's (their count is no constant expression, so the schema is
 * put together here). */
static void
make_schema(struct conf_section *all, struct conf_schema *schema)
{
	memcpy(all, sections, sizeof(sections));
	all[NKEYS(sections)] = (struct conf_section){ .name = "readiness",
	    .named = true, .keys = readiness_keys, .nkeys = readiness_nkeys,
	    .open = open_readiness };
	schema->sections = all;
	schema->nsections = NKEYS(sections) + 1;
}

static struct cloud_edge *
find_edge(struct cloud_conf *cf, const char *name)
{
	size_t i;

	for (i = 0; i < cf->nedges; i++)
		if (strcmp(cf->edges[i]->name, name) == 0)
			return cf->edges[i];
	return NULL;
}

struct cloud_tenant *
cloud_conf_tenant(const struct cloud_conf *cf, const char *name)
{
	size_t i;

	for (i = 0; i < cf->ntenants; i++)
		if (strcmp(cf->tenants[i]->name, name) == 0)
			return cf->tenants[i];
	return NULL;
}

/* Every edge is listed by exactly one tenant and has its [edge] section
 * with a pin: an edge's tenant is never ambiguous. */
static void
check_edges(struct cloud_conf *cf, struct conf_errors *errs)
{
	size_t i, k;

	for (i = 0; i < cf->ntenants; i++) {
		struct cloud_tenant *t = cf->tenants[i];

		for (k = 0; k < t->edges.n; k++) {
			struct cloud_edge *ed = find_edge(cf, t->edges.v[k]);

			if (ed == NULL)
				conf_errors_add(errs, cf->path, t->line, "edges", "edge "
				    "'%s' has no [edge %s] section with its pin",
				    t->edges.v[k], t->edges.v[k]);
			else if (ed->tenant != NULL)
				conf_errors_add(errs, cf->path, t->line, "edges", "edge "
				    "'%s' is already in tenant %s; an edge "
				    "belongs to exactly one tenant",
				    ed->name, ed->tenant->name);
			else
				ed->tenant = t;
		}
	}
	for (i = 0; i < cf->nedges; i++)
		if (cf->edges[i]->tenant == NULL)
			conf_errors_add(errs, cf->path, cf->edges[i]->line, "[edge]",
			    "edge '%s' is in no tenant's edges list",
			    cf->edges[i]->name);
}

static int
resolve_backend(const char *spec, struct cloud_backend *be, char *why,
    size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct hostport hp;
	struct err e;
	char port[8];
	int rc;

	if (conf_parse_hostport(spec, false, &hp, &e) != 0) {
		snprintf(why, whylen, "%s", e.msg);
		return -EINVAL;
	}
	snprintf(port, sizeof(port), "%u", hp.port);
	rc = getaddrinfo(hp.host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(why, whylen, "cannot resolve '%s': %s", hp.host,
		    gai_strerror(rc));
		return -EINVAL;
	}
	memcpy(&be->ss, ai->ai_addr, ai->ai_addrlen);
	be->sslen = ai->ai_addrlen;
	hostport_format(&hp, be->addr, sizeof(be->addr));
	freeaddrinfo(ai);
	return 0;
}

static void
check_services(struct cloud_conf *cf, struct conf_errors *errs)
{
	size_t i, k;
	char why[600];

	for (i = 0; i < cf->nservices; i++) {
		struct cloud_service *s = cf->services[i];

		s->tenant = cloud_conf_tenant(cf, s->tenant_name);
		if (s->tenant == NULL)
			conf_errors_add(errs, cf->path, s->line, "[service]", "tenant "
			    "'%s' has no [tenant %s] section", s->tenant_name,
			    s->tenant_name);
		/* Never sent in HTTP mode: one kept-alive backend connection
		 * carries many devices' requests. Refused, not ignored, since
		 * a backend that waits for the header fails every request. */
		if (s->mode == SERVICE_HTTP && s->proxy_protocol)
			conf_errors_add(errs, cf->path, s->line, "proxy_protocol",
			    "a mode = http service sends no PROXY header (one "
			    "backend connection carries many devices' requests); "
			    "use identity_headers = yes for the device's address");
		/* A queue keeps requests on the site's disk: never those
		 * of a service whose data the edge must not store. */
		if (s->store_forward != CSF_OFF && s->confidential)
			conf_errors_add(errs, cf->path, s->line, "store_forward",
			    "a confidential service cannot be store and forward "
			    "(the edge would keep its requests on disk)");
		if (s->store_forward != CSF_OFF && s->mode != SERVICE_HTTP)
			conf_errors_add(errs, cf->path, s->line, "store_forward",
			    "store and forward is for mode = http services");
		s->be = calloc(s->backends.n, sizeof(*s->be));
		if (s->be == NULL && s->backends.n > 0) {
			conf_errors_add(errs, cf->path, s->line, "backends",
			    "out of memory");
			continue;
		}
		for (k = 0; k < s->backends.n; k++) {
			if (resolve_backend(s->backends.v[k], &s->be[s->nbe],
			    why, sizeof(why)) != 0)
				conf_errors_add(errs, cf->path, s->line, "backends",
				    "%s", why);
			else
				s->be[s->nbe++].healthy = true;
		}
	}
}

const struct readiness_profile *
cloud_conf_readiness(const struct cloud_conf *cf, const char *name)
{
	size_t i;

	for (i = 0; i < cf->nprofiles; i++)
		if (strcmp(cf->profiles[i]->name, name) == 0)
			return cf->profiles[i];
	return strcmp(name, READINESS_DEFAULT) == 0 ? &cf->builtin : NULL;
}

bool
cloud_conf_schedule(const struct cloud_conf *cf, const char *tenant,
    const char *edge, const struct readiness_profile **p,
    uint64_t *every_ms)
{
	const struct conf_every *ev = NULL;
	size_t i;

	for (i = 0; i < cf->nedges; i++)
		if (strcmp(cf->edges[i]->name, edge) == 0 &&
		    cf->edges[i]->tenant != NULL &&
		    strcmp(cf->edges[i]->tenant->name, tenant) == 0)
			break;
	if (i == cf->nedges)
		return false;
	/* The edge's own line wins, "off" included. */
	if (cf->edges[i]->readiness.set)
		ev = &cf->edges[i]->readiness;
	else if (cf->edges[i]->tenant->readiness.set)
		ev = &cf->edges[i]->tenant->readiness;
	if (ev == NULL || ev->off ||
	    (*p = cloud_conf_readiness(cf, ev->name)) == NULL)
		return false;
	*every_ms = ev->ms;
	return true;
}

static void
check_schedule(const struct cloud_conf *cf, const struct conf_every *ev,
    int line, struct conf_errors *errs)
{
	if (!ev->set || ev->off || cloud_conf_readiness(cf, ev->name) != NULL)
		return;
	conf_errors_add(errs, cf->path, line, "readiness", "no profile "
	    "'%s': add a [readiness %s] section, or name '%s' (the "
	    "built-in one)", ev->name, ev->name, READINESS_DEFAULT);
}

/* Each profile as a whole (what the loader cannot check key by key), and
 * every schedule names a profile there is. */
static void
check_readiness(struct cloud_conf *cf, struct conf_errors *errs)
{
	char what[NAME_MAX_LEN + 16];
	struct err e;
	size_t i;

	for (i = 0; i < cf->nprofiles; i++) {
		if (readiness_profile_check(cf->profiles[i], &e) == 0)
			continue;
		snprintf(what, sizeof(what), "[readiness %s]",
		    cf->profiles[i]->name);
		conf_errors_add(errs, cf->path, cf->profiles[i]->line, what,
		    "%s", e.msg);
	}
	for (i = 0; i < cf->ntenants; i++)
		check_schedule(cf, &cf->tenants[i]->readiness,
		    cf->tenants[i]->line, errs);
	for (i = 0; i < cf->nedges; i++)
		check_schedule(cf, &cf->edges[i]->readiness,
		    cf->edges[i]->line, errs);
	if (cf->readiness_udp_host != NULL &&
	    strlen(cf->readiness_udp_host) >= HOSTPORT_HOST_MAX)
		conf_errors_add(errs, cf->path, 0, "readiness_udp_host",
		    "longer than a DNS name");
}

/* user names someone this system knows (privdrop.h). */
static void
check_user(const struct cloud_conf *cf, struct conf_errors *errs)
{
	struct err e;

	if (cf->user != NULL && privdrop_known(cf->user, &e) != 0)
		conf_errors_add(errs, cf->path, 0, "user", "%s", e.msg);
}

/* `state` is a file, resolved against the config's directory like every
 * path, or a PostgreSQL URI (cloud/store/store.h), taken as written:
 * undoes the resolution, "DIR/postgresql://..." back to the URI. */
static void
state_uri(struct cloud_conf *cf)
{
	static const char *const schemes[] = { "postgresql://",
	    "postgres://" };
	const char *slash = strrchr(cf->path, '/');
	size_t skip = 0, i;

	if (cf->state == NULL)
		return;
	if (slash != NULL)	/* DIR and its '/' ("/" + '/' at the root) */
		skip = (slash == cf->path ? 1 : (size_t)(slash - cf->path)) + 1;
	if (strlen(cf->state) <= skip || (skip > 0 &&
	    (strncmp(cf->state, cf->path, skip - 1) != 0 ||
	    cf->state[skip - 1] != '/')))
		return;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(cf->state + skip, schemes[i],
		    strlen(schemes[i])) == 0) {
			memmove(cf->state, cf->state + skip,
			    strlen(cf->state + skip) + 1);
			return;
		}
}

int
cloud_conf_load(const char *path, struct cloud_conf **out,
    struct conf_errors *errs)
{
	struct cloud_conf *cf = calloc(1, sizeof(*cf));
	struct conf_section all[NKEYS(sections) + 1];
	struct conf_schema schema;
	int rc;

	if (cf == NULL || (cf->path = strdup(path)) == NULL) {
		free(cf);
		return -ENOMEM;
	}
	make_schema(all, &schema);
	readiness_profile_default(&cf->builtin);
	rc = conf_load_file(&schema, cf, path, errs);
	state_uri(cf);
	/* Cross-checks run on a file with errors too (what parsed is
	 * consistent), so one --check run reports everything. */
	if (rc == 0 || (rc == -EINVAL && errs->n > 0 &&
	    strstr(errs->line[0], "cannot read config") == NULL)) {
		check_edges(cf, errs);
		check_services(cf, errs);
		check_readiness(cf, errs);
		check_user(cf, errs);
		if (errs->total > 0)
			rc = -EINVAL;
	}
	if (rc != 0) {
		cloud_conf_free(cf);
		return rc;
	}
	cf->refs = 1;
	*out = cf;
	return 0;
}

static const struct cloud_service *
find_service(const struct cloud_conf *cf, const char *tenant,
    const char *name)
{
	size_t i;

	for (i = 0; i < cf->nservices; i++)
		if (strcmp(cf->services[i]->tenant_name, tenant) == 0 &&
		    strcmp(cf->services[i]->name, name) == 0)
			return cf->services[i];
	return NULL;
}

static void
tenant_live_unref(struct tenant_live *l)
{
	if (l != NULL && __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(l);
}

void
cloud_conf_carry(struct cloud_conf *nw, const struct cloud_conf *old)
{
	size_t i, k, j;

	for (i = 0; i < nw->ntenants; i++) {
		const struct cloud_tenant *o = cloud_conf_tenant(old,
		    nw->tenants[i]->name);

		if (o != NULL) {
			nw->tenants[i]->stats = o->stats;
			tenant_live_unref(nw->tenants[i]->live);
			nw->tenants[i]->live = o->live;
			__atomic_add_fetch(&o->live->refs, 1,
			    __ATOMIC_RELAXED);
		}
	}
	for (i = 0; i < nw->nservices; i++) {
		struct cloud_service *s = nw->services[i];
		const struct cloud_service *o = find_service(old,
		    s->tenant_name, s->name);

		if (o == NULL)
			continue;
		s->streams_opened = o->streams_opened;
		s->http_requests = o->http_requests;
		memcpy(s->http_failed, o->http_failed, sizeof(s->http_failed));
		for (k = 0; k < s->nbe; k++)
			for (j = 0; j < o->nbe; j++) {
				if (strcmp(s->be[k].addr, o->be[j].addr) != 0)
					continue;
				s->be[k].healthy = o->be[j].healthy;
				s->be[k].streams = o->be[j].streams;
				s->be[k].connect_failures =
				    o->be[j].connect_failures;
				s->be[k].reused = o->be[j].reused;
				break;
			}
	}
}

/* Atomic: tunnels of every worker thread hold references. */
struct cloud_conf *
cloud_conf_ref(struct cloud_conf *cf)
{
	__atomic_add_fetch(&cf->refs, 1, __ATOMIC_RELAXED);
	return cf;
}

void
cloud_conf_unref(struct cloud_conf *cf)
{
	if (cf != NULL &&
	    __atomic_sub_fetch(&cf->refs, 1, __ATOMIC_ACQ_REL) == 0)
		cloud_conf_free(cf);
}

void
cloud_conf_free(struct cloud_conf *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	conf_free_fields(&sections[0], cf);
	for (i = 0; i < cf->ntenants; i++) {
		conf_free_fields(&sections[1], cf->tenants[i]);
		tenant_live_unref(cf->tenants[i]->live);
		free(cf->tenants[i]);
	}
	for (i = 0; i < cf->nedges; i++)
		free(cf->edges[i]);
	for (i = 0; i < cf->nservices; i++) {
		conf_free_fields(&sections[3], cf->services[i]);
		free(cf->services[i]->be);
		free(cf->services[i]);
	}
	for (i = 0; i < cf->nprofiles; i++)
		free(cf->profiles[i]);	/* no strings: nothing inside */
	free(cf->profiles);
	free(cf->tenants);
	free(cf->edges);
	free(cf->services);
	free(cf->path);
	free(cf);
}
