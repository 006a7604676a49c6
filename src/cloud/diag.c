/* The cloud's answers to isthmus doctor on an edge's own tunnel
 * (diag.h). */
#include "cloud/diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "version.h"

#include "cloud/dial.h"
#include "cloud/policy.h"
#include "cloud/refuse.h"
#include "cloud/tunnel-int.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/names.h"
#include "common/proto.h"
#include "common/relay.h"
#include "common/stat.h"
#include "common/timeval.h"

struct diag {
	struct tunnel *t;
	struct relay *r;
	struct cloud_conf *conf;	/* a reference: svc lives in it */
	struct cloud_service *svc;
	struct dial dial;
	bool dialing;
	int64_t t0;		/* mono_us() */
};

#define NV(n, v) ((nghttp2_nv){ (uint8_t *)(uintptr_t)(n), \
	(uint8_t *)(uintptr_t)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE })

/* Answers status with the fields in nv and the sentence text. */
static void
answer(struct diag *g, int status, nghttp2_nv *nv, size_t n,
    const char *text)
{
	nghttp2_nv all[8];
	char len[24], body[600];
	size_t i, k = 0;

	snprintf(body, sizeof(body), "%s\n", text);
	snprintf(len, sizeof(len), "%zu", strlen(body));
	all[k++] = NV("content-type", "text/plain");
	all[k++] = NV("content-length", len);
	for (i = 0; i < n && k < sizeof(all) / sizeof(all[0]); i++)
		all[k++] = nv[i];
	if (relay_http_respond(g->r, status, all, k, true) != 0 ||
	    relay_body_write(g->r, body, strlen(body)) != 0) {
		/* An aborted relay calls no more: g goes now. */
		relay_abort(g->r);
		cloud_conf_unref(g->conf);
		free(g);
		return;
	}
	relay_body_end(g->r);
}

static void
whoami(struct diag *g)
{
	const char *edge = tunnel_edge(g->t), *tenant = tunnel_tenant(g->t);
	const char *peer = tunnel_peer(g->t);
	char text[300], now[24];

	/* The edge compares clocks: a skewed one breaks certificates. */
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	nghttp2_nv nv[] = {
		NV(DIAG_FIELD_EDGE, edge),
		NV(DIAG_FIELD_TENANT, tenant),
		NV(DIAG_FIELD_SEEN_FROM, peer),
		NV(DIAG_FIELD_VERSION, ISTHMUS_VERSION),
		NV(DIAG_FIELD_TIME, now),
	};


	snprintf(text, sizeof(text), "admitted as edge '%s' of tenant '%s', "
	    "connected from %s", edge, tenant, peer);
	answer(g, 200, nv, 5, text);
}

static unsigned
healthy(const struct cloud_service *svc)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < svc->nbe; i++)
		n += STAT_GET(svc->be[i].healthy);
	return n;
}

static void
on_connected(struct dial *d, struct bufferevent *bev, bool reused, void *arg)
{
	struct diag *g = arg;
	struct cloud_service *svc = g->svc;
	char text[512], ratio[32], ms[24];

	(void)reused;
	g->dialing = false;
	snprintf(ratio, sizeof(ratio), "%u/%zu", healthy(svc), svc->nbe);
	if (bev == NULL) {
		nghttp2_nv nv[] = { NV(DIAG_FIELD_HEALTHY, ratio) };

		snprintf(text, sizeof(text), "no backend of service '%s' "
		    "accepts a connection (%s healthy): the backends are "
		    "down or unreachable from the cloud", svc->name, ratio);
		answer(g, 503, nv, 1, text);
		return;
	}
	snprintf(ms, sizeof(ms), "%lld", (long long)((mono_us() - g->t0) /
	    1000));
	{
		const char *be = svc->be[d->idx].addr;
		nghttp2_nv nv[] = {
			NV(DIAG_FIELD_BACKEND, be),
			NV(DIAG_FIELD_HEALTHY, ratio),
			NV(DIAG_FIELD_CONNECT_MS, ms),
		};

		snprintf(text, sizeof(text), "service '%s' reached: backend "
		    "%s accepted a connection (%s healthy)", svc->name, be,
		    ratio);
		/* A connect and a close, as a TCP health check does. */
		STAT_SUB(svc->be[d->idx].active, 1);
		bufferevent_free(bev);
		answer(g, 200, nv, 3, text);
	}
}

static void
service(struct diag *g, const char *path)
{
	const char *q = strchr(path, '?');
	char name[NAME_MAX_LEN + 2], text[400];
	size_t n = q != NULL ? (size_t)(q - path) : strlen(path);
	bool tcp = q != NULL && strcmp(q, "?mode=tcp") == 0;
	bool http = q != NULL && strcmp(q, "?mode=http") == 0;

	if (n >= sizeof(name) - 1 || (!tcp && !http)) {
		answer(g, 400, NULL, 0, "bad diagnostic request");
		return;
	}
	memcpy(name, path, n);
	name[n] = '\0';
	g->svc = name_valid(name) ? policy_service(g->conf,
	    tunnel_tenant_of(g->t), name) : NULL;
	if (g->svc == NULL) {
		snprintf(text, sizeof(text), "tenant '%s' has no service "
		    "'%s': the cloud's operator must add it, or the edge's "
		    "listener names the wrong service", tunnel_tenant(g->t),
		    name);
		answer(g, 404, NULL, 0, text);
		return;
	}
	if ((g->svc->mode == SERVICE_TCP) != tcp) {
		snprintf(text, sizeof(text), "service '%s' is in %s mode at "
		    "the cloud but the edge's listener is in %s mode: set "
		    "mode = %s on the listener", name, tcp ? "HTTP" : "TCP",
		    tcp ? "TCP" : "HTTP", tcp ? "http" : "tcp");
		answer(g, 409, NULL, 0, text);
		return;
	}
	g->dialing = true;
	g->t0 = mono_us();
	dial_start(&g->dial, tunnel_worker(g->t), g->svc, "", false, NULL,
	    on_connected, g);
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	struct diag *g = arg;

	(void)r;
	(void)complete;
	if (g->dialing)
		dial_cancel(&g->dial);
	cloud_conf_unref(g->conf);
	free(g);
}

static const struct relay_http_ops diag_ops = {
	.body = relay_body_drop,
	.done = on_done,
};

void
diag_start(struct tunnel *t, struct relay *r)
{
	const char *path = relay_path(r);
	struct diag *g;

	if (path == NULL || strcmp(relay_info(r)->method, "GET") != 0) {
		refuse_stream(t, r, DIAG_AUTHORITY, REFUSE_BAD_REQUEST, 405);
		return;
	}
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		refuse_stream(t, r, DIAG_AUTHORITY, REFUSE_INTERNAL, 503);
		return;
	}
	g->t = t;
	g->r = r;
	g->conf = cloud_conf_ref(tunnel_conf(t));
	g->dial.idx = -1;
	if (relay_http_take(r, &diag_ops, g) != 0) {
		cloud_conf_unref(g->conf);
		free(g);
		refuse_stream(t, r, DIAG_AUTHORITY, REFUSE_INTERNAL, 503);
		return;
	}
	/* The path is the edge's and not logged: only what it asked. */
	log_limited(tunnel_worker(t)->lim_stream, LOG_INFO, "cloud",
	    "diagnostic", "edge=%s tenant=%s request=%s", tunnel_edge(t),
	    tunnel_tenant(t), strcmp(path, DIAG_PATH_WHOAMI) == 0 ? "whoami" :
	    strncmp(path, DIAG_PATH_SERVICE,
	    strlen(DIAG_PATH_SERVICE)) == 0 ? "service" : "other");
	if (strcmp(path, DIAG_PATH_WHOAMI) == 0)
		whoami(g);
	else if (strncmp(path, DIAG_PATH_SERVICE,
	    strlen(DIAG_PATH_SERVICE)) == 0)
		service(g, path + strlen(DIAG_PATH_SERVICE));
	else
		answer(g, 404, NULL, 0, "unknown diagnostic request");
}
