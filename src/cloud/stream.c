/* A stream of an admitted tunnel: the tenant's cap, the dispatch by
 * service, and the TCP services' upstream (stream.h). */
#include "cloud/stream.h"

#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "cloud/diag.h"
#include "cloud/dial.h"
#include "cloud/httpfwd.h"
#include "cloud/manage/manage.h"
#include "cloud/policy.h"
#include "cloud/proxyproto.h"
#include "cloud/readiness/readiness.h"
#include "cloud/refuse.h"
#include "cloud/tunnel-int.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/loglimit.h"
#include "common/relay.h"
#include "common/stat.h"

/* One CONNECT stream's way to a backend. */
struct upstream {
	struct tunnel *t;
	struct relay *r;
	struct cloud_conf *conf;	/* a reference: svc lives in it */
	struct cloud_service *svc;
	struct dial dial;
	bool connected;
};

/* The stream's idle timer ended it (relay_idle_timeout): counted always,
 * logged within the limit. */
static void
upstream_idle(const struct upstream *u, const struct relay_info *ri)
{
	STAT_ADD(u->t->edge->tenant->stats.idle_closed, 1);
	log_limited(u->t->w->lim_stream, LOG_INFO, "cloud",
	    "stream_idle_timeout", "edge=%s tenant=%s service=%s device=%s "
	    "idle_ms=%llu", u->t->edge_name, u->t->edge->tenant->name,
	    u->svc->name, ri->device,
	    (unsigned long long)u->conf->stream_idle_timeout);
}

static void
upstream_done(struct relay *r, void *arg)
{
	struct upstream *u = arg;

	if (relay_info(r)->idle)
		upstream_idle(u, relay_info(r));
	if (u->connected)
		STAT_SUB(u->svc->be[u->dial.idx].active, 1);
	else
		dial_cancel(&u->dial);
	cloud_conf_unref(u->conf);
	free(u);
}

static void
upstream_connected(struct dial *d, struct bufferevent *bev, bool reused,
    void *arg)
{
	struct upstream *u = arg;
	struct cloud_backend *be;

	(void)reused;
	if (bev == NULL) {
		/* relay_refuse frees u, now or later */
		refuse_stream(u->t, u->r, u->svc->name, REFUSE_NO_BACKEND,
		    503);
		return;
	}
	u->connected = true;
	be = &u->svc->be[d->idx];
	if (u->svc->proxy_protocol) {
		unsigned char pp[PP2_MAX];
		size_t n = proxyproto_v2(pp, relay_info(u->r)->device,
		    (struct sockaddr *)&be->ss, u->svc->tenant_name,
		    u->t->edge_name);

		bufferevent_write(bev, pp, n);
	}
	log_debug("cloud", "stream_connected", "edge=%s service=%s "
	    "backend=%s", u->t->edge_name, u->svc->name, be->addr);
	relay_accept(u->r, bev);	/* may free u */
}

void
stream_request(struct h2conn *c, struct relay *r, void *arg)
{
	struct tunnel *t = arg;
	const struct relay_info *ri = relay_info(r);
	struct cloud_service *svc;
	struct upstream *u;

	(void)c;
	/* Past its tenant's cap, a stream is refused before anything is
	 * done for it: one customer's edges cannot take every socket. */
	if (STAT_GET(t->edge->tenant->live->streams_open) >
	    (unsigned)t->edge->tenant->max_streams) {
		STAT_ADD(t->edge->tenant->stats.refused[REFUSE_TENANT_STREAMS],
		    1);
		log_limited(t->w->lim_stream, LOG_INFO, "cloud",
		    "stream_refused", "edge=%s tenant=%s service=%s reason=%s "
		    "max_streams=%lld", t->edge_name, t->edge->tenant->name,
		    ri->authority, refusal_name(REFUSE_TENANT_STREAMS),
		    (long long)t->edge->tenant->max_streams);
		relay_reset(r, NGHTTP2_REFUSED_STREAM);
		return;
	}
	if (strcmp(ri->authority, DIAG_AUTHORITY) == 0) {
		const char *path = relay_path(r);

		if (path != NULL && strcmp(path, MANAGE_PATH) == 0)
			manage_session_start(t, r);	/* its one channel */
		else if (path != NULL && (strcmp(path, READY_PATH_DOWN) == 0 ||
		    strcmp(path, READY_PATH_UP) == 0))
			ready_flow_start(t, r);	/* a readiness test's */
		else
			diag_start(t, r);	/* isthmus doctor asking */
		return;
	}
	svc = policy_service(t->conf, t->edge->tenant, ri->authority);
	if (svc == NULL) {
		refuse_stream(t, r, ri->authority, REFUSE_UNKNOWN_SERVICE,
		    403);
		return;
	}
	/* A TCP service takes CONNECT streams only, an HTTP one requests
	 * only: the edge's listener and the service disagree on the mode. */
	if ((strcmp(ri->method, "CONNECT") == 0) != (svc->mode ==
	    SERVICE_TCP)) {
		refuse_stream(t, r, svc->name, REFUSE_BAD_REQUEST, 405);
		return;
	}
	if (svc->mode == SERVICE_HTTP) {
		if (ri->bad_headers || relay_path(r) == NULL) {
			refuse_stream(t, r, svc->name, REFUSE_BAD_REQUEST,
			    ri->bad_headers ? 431 : 400);
			return;
		}
		httpfwd_start(t, r, svc);
		return;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL ||
	    relay_idle_timeout(r, t->conf->stream_idle_timeout) != 0) {
		free(u);
		refuse_stream(t, r, svc->name, REFUSE_INTERNAL, 503);
		return;
	}
	u->t = t;
	u->r = r;
	u->conf = cloud_conf_ref(t->conf);
	u->svc = svc;
	STAT_ADD(svc->streams_opened, 1);
	relay_pending(r, upstream_done, u);
	dial_start(&u->dial, t->w, svc, ri->device, false, &t->gate,
	    upstream_connected, u);
}

/* Every stream of the tunnel counts against its tenant's max_streams,
 * whatever it asks for, until it ends. */
void
stream_count(struct h2conn *c, bool open, void *arg)
{
	struct tunnel *t = arg;
	struct tenant_live *l = t->edge->tenant->live;

	(void)c;
	if (open)
		STAT_ADD(l->streams_open, 1);
	else
		STAT_SUB(l->streams_open, 1);
}
