#include "cloud/tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "cloud/diag.h"
#include "cloud/dial.h"
#include "cloud/httpfwd.h"
#include "cloud/policy.h"
#include "cloud/pool.h"
#include "cloud/proxyproto.h"
#include "cloud/worker.h"
#include "common/h2conn.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/netutil.h"
#include "common/relay.h"
#include "common/stat.h"
#include "common/tlsctx.h"
#include "common/timeval.h"

struct tunnel {
	struct cloud *cl;
	struct worker *w;
	struct tunnel *next, **pprev;
	struct cloud_conf *conf;	/* a reference */
	struct bufferevent *bev;	/* during the handshake */
	struct event *hs_timer;		/* the whole handshake's limit */
	struct h2conn *h2;
	const struct cloud_edge *edge;
	enum admit admit;
	int verify_err;
	char edge_name[NAME_MAX_LEN + 1];
	char peer[64];
	time_t started;
};

/* One CONNECT stream's way to a backend. */
struct upstream {
	struct tunnel *t;
	struct relay *r;
	struct cloud_conf *conf;	/* a reference: svc lives in it */
	struct cloud_service *svc;
	struct dial dial;
	bool connected;
};

static int tunnel_idx = -1;

static const char *const hs_fail_names[HSF_COUNT] = {
	[HSF_UNTRUSTED] = "untrusted",
	[HSF_REVOKED] = "revoked",
	[HSF_EXPIRED] = "expired",
	[HSF_NOT_YET_VALID] = "not_yet_valid",
	[HSF_CRL_EXPIRED] = "crl_expired",
	[HSF_NO_IDENTITY] = "no_identity",
	[HSF_UNKNOWN_EDGE] = "unknown_edge",
	[HSF_TENANT_MISMATCH] = "tenant_mismatch",
	[HSF_PIN_MISMATCH] = "pin_mismatch",
	[HSF_NO_CLIENT_CERT] = "no_client_cert",
	[HSF_ALPN] = "alpn",
	[HSF_TLS_VERSION] = "tls_version",
	[HSF_TIMEOUT] = "timeout",
	[HSF_CLOSED] = "closed",
	[HSF_TLS_ERROR] = "tls_error",
};

const char *
hs_fail_name(enum hs_fail f)
{
	return (unsigned)f < HSF_COUNT ? hs_fail_names[f] : "?";
}

struct tunnel *
tunnel_next(struct tunnel *t)
{
	return t->next;
}

void
tunnel_free(struct tunnel *t)
{
	struct cloud *cl = t->cl;
	struct worker *w = t->w;
	bool empty;

	cloud_lock(cl);
	if (t->pprev != NULL) {
		*t->pprev = t->next;
		if (t->next != NULL)
			t->next->pprev = t->pprev;
		w->ntunnels--;
	}
	if (t->h2 != NULL) {
		/* Bytes go to the tenant as the running config has it (the
		 * tunnel's own may be the one before a reload). */
		struct cloud_tenant *tn = cloud_conf_tenant(cl->conf,
		    t->edge->tenant->name);
		struct h2conn_stats st;

		h2conn_stats(t->h2, &st);
		if (tn != NULL) {
			STAT_ADD(tn->stats.bytes_in, st.bytes_in);
			STAT_ADD(tn->stats.bytes_out, st.bytes_out);
		}
		h2conn_free(t->h2);
	} else if (t->bev != NULL)
		bufferevent_free(t->bev);
	empty = w->tunnels == NULL;
	cloud_unlock(cl);
	if (t->hs_timer != NULL)
		event_free(t->hs_timer);
	cloud_conf_unref(t->conf);
	free(t);
	/* A drain ends when every worker is empty: the control loop
	 * checks (worker.c). */
	if (empty && STAT_GET(cl->draining))
		worker_post(&cl->workers[0], WORKER_EMPTY);
}

/* Certificate verification, with admission at the leaf: the edge's chain
 * was checked by OpenSSL up to here; policy decides the rest. */
static int
verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tunnel *t = SSL_get_ex_data(ssl, tunnel_idx);

	if (!ok) {
		if (t->verify_err == 0)
			t->verify_err = X509_STORE_CTX_get_error(x);
		return 0;
	}
	if (X509_STORE_CTX_get_error_depth(x) != 0)
		return 1;
	t->admit = policy_admit(t->conf, X509_STORE_CTX_get_current_cert(x),
	    &t->edge, t->edge_name, sizeof(t->edge_name));
	if (t->admit != ADMIT_OK) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

static enum hs_fail
handshake_reason(struct tunnel *t, short what)
{
	unsigned long e = bufferevent_get_openssl_error(t->bev);

	switch (t->admit) {
	case ADMIT_OK: break;
	case ADMIT_NO_IDENTITY: return HSF_NO_IDENTITY;
	case ADMIT_UNKNOWN_EDGE: return HSF_UNKNOWN_EDGE;
	case ADMIT_TENANT_MISMATCH: return HSF_TENANT_MISMATCH;
	case ADMIT_PIN_MISMATCH: return HSF_PIN_MISMATCH;
	}
	switch (t->verify_err) {
	case 0: break;
	case X509_V_ERR_CERT_REVOKED: return HSF_REVOKED;
	case X509_V_ERR_CERT_HAS_EXPIRED: return HSF_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID: return HSF_NOT_YET_VALID;
	case X509_V_ERR_CRL_HAS_EXPIRED: return HSF_CRL_EXPIRED;
	default: return HSF_UNTRUSTED;
	}
	if (what & BEV_EVENT_TIMEOUT)
		return HSF_TIMEOUT;
	if (ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		return HSF_NO_CLIENT_CERT;
	if (ERR_GET_REASON(e) == SSL_R_NO_APPLICATION_PROTOCOL)
		return HSF_ALPN;
	if (ERR_GET_REASON(e) == SSL_R_UNSUPPORTED_PROTOCOL)
		return HSF_TLS_VERSION;
	if (e == 0 || ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return HSF_CLOSED;
	return HSF_TLS_ERROR;
}

/* Counted always; logged within the limit. */
static void
handshake_failed(struct tunnel *t, enum hs_fail why)
{
	STAT_ADD(t->cl->stats.handshakes_failed[why], 1);
	log_limited(t->w->lim_handshake, LOG_INFO, "cloud",
	    "handshake_failed", "peer=%s edge=%s reason=%s", t->peer,
	    t->edge_name[0] ? t->edge_name : "-", hs_fail_name(why));
}

/* The stream r of tunnel t is refused with status; svc is the service
 * name the stream asked for (logged, never a metric label). */
void
tunnel_refuse(struct tunnel *t, struct relay *r, const char *svc,
    enum refusal why, int status)
{
	STAT_ADD(t->edge->tenant->stats.refused[why], 1);
	log_limited(t->w->lim_stream, LOG_INFO, "cloud", "stream_refused",
	    "edge=%s tenant=%s service=%s reason=%s", t->edge_name,
	    t->edge->tenant->name, svc, refusal_name(why));
	relay_refuse(r, status, refusal_name(why));
}

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
		tunnel_refuse(u->t, u->r, u->svc->name, REFUSE_NO_BACKEND,
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

static void
on_request(struct h2conn *c, struct relay *r, void *arg)
{
	struct tunnel *t = arg;
	const struct relay_info *ri = relay_info(r);
	struct cloud_service *svc;
	struct upstream *u;

	(void)c;
	if (strcmp(ri->authority, DIAG_AUTHORITY) == 0) {
		diag_start(t, r);	/* isthmus doctor asking */
		return;
	}
	svc = policy_service(t->conf, t->edge->tenant, ri->authority);
	if (svc == NULL) {
		tunnel_refuse(t, r, ri->authority, REFUSE_UNKNOWN_SERVICE,
		    403);
		return;
	}
	/* A TCP service takes CONNECT streams only, an HTTP one requests
	 * only: the edge's listener and the service disagree on the mode. */
	if ((strcmp(ri->method, "CONNECT") == 0) != (svc->mode ==
	    SERVICE_TCP)) {
		tunnel_refuse(t, r, svc->name, REFUSE_BAD_REQUEST, 405);
		return;
	}
	if (svc->mode == SERVICE_HTTP) {
		if (ri->bad_headers || relay_path(r) == NULL) {
			tunnel_refuse(t, r, svc->name, REFUSE_BAD_REQUEST,
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
		tunnel_refuse(t, r, svc->name, REFUSE_INTERNAL, 503);
		return;
	}
	u->t = t;
	u->r = r;
	u->conf = cloud_conf_ref(t->conf);
	u->svc = svc;
	STAT_ADD(svc->streams_opened, 1);
	relay_pending(r, upstream_done, u);
	dial_start(&u->dial, t->w, svc, ri->device, false, upstream_connected,
	    u);
}

static void
on_closed(struct h2conn *c, const char *why, void *arg)
{
	struct tunnel *t = arg;
	struct h2conn_stats st;

	h2conn_stats(c, &st);
	log_info("cloud", "tunnel_down", "edge=%s tenant=%s peer=%s reason=%s "
	    "streams=%llu bytes_in=%llu bytes_out=%llu", t->edge_name,
	    t->edge->tenant->name, t->peer, why,
	    (unsigned long long)st.streams_opened,
	    (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out);
	tunnel_free(t);
}

static const struct h2conn_cbs tunnel_cbs = {
	.request = on_request,
	.closed = on_closed,
};

static void
handshake_event(struct bufferevent *bev, short what, void *arg)
{
	struct tunnel *t = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const unsigned char *alpn = NULL;
	unsigned int alpnlen = 0;
	int rc;

	event_del(t->hs_timer);
	if (what & BEV_EVENT_CONNECTED) {
		SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
		if (t->edge == NULL || alpnlen != strlen(TUNNEL_ALPN) ||
		    memcmp(alpn, TUNNEL_ALPN, alpnlen) != 0) {
			handshake_failed(t, HSF_ALPN);
			tunnel_free(t);
			return;
		}
		bufferevent_set_timeouts(bev, NULL, NULL);
		/* Under the lock: status reads t->h2 from the control loop. */
		cloud_lock(t->cl);
		t->bev = NULL;
		t->started = time(NULL);
		rc = h2conn_new(bev, true, &tunnel_cbs, t, &t->h2);
		cloud_unlock(t->cl);
		if (rc != 0) {
			bufferevent_free(bev);
			tunnel_free(t);
			return;
		}
		STAT_ADD(t->cl->stats.handshakes_ok, 1);
		log_info("cloud", "tunnel_up", "edge=%s tenant=%s peer=%s",
		    t->edge_name, t->edge->tenant->name, t->peer);
		return;
	}
	handshake_failed(t, handshake_reason(t, what));
	tunnel_free(t);
}

/* The whole handshake took longer than handshake_timeout. */
static void
handshake_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;

	(void)fd;
	(void)what;
	handshake_failed(t, HSF_TIMEOUT);
	tunnel_free(t);
}

void
tunnel_accept(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa,
    int salen)
{
	struct cloud *cl = w->cl;
	struct tunnel *t;
	struct timeval tv;
	SSL *ssl;

	(void)salen;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		evutil_closesocket(fd);
		return;
	}
	t->cl = cl;
	t->w = w;
	net_format(sa, t->peer, sizeof(t->peer));
	net_nodelay(fd);
	cloud_lock(cl);
	t->conf = cloud_conf_ref(cl->conf);
	ssl = SSL_new(cl->ssl_ctx);
	cloud_unlock(cl);
	if (ssl == NULL) {
		cloud_conf_unref(t->conf);
		free(t);
		evutil_closesocket(fd);
		return;
	}
	SSL_set_ex_data(ssl, tunnel_idx, t);
	SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    verify_cb);
	t->bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (t->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		cloud_conf_unref(t->conf);
		free(t);
		return;
	}
	t->hs_timer = evtimer_new(w->base, handshake_timer, t);
	if (t->hs_timer == NULL) {
		bufferevent_free(t->bev);	/* the socket and the SSL */
		cloud_conf_unref(t->conf);
		free(t);
		return;
	}
	cloud_lock(cl);
	t->next = w->tunnels;
	if (t->next != NULL)
		t->next->pprev = &t->next;
	t->pprev = &w->tunnels;
	w->tunnels = t;
	w->ntunnels++;
	cloud_unlock(cl);
	tv_ms(&tv, t->conf->handshake_timeout);
	bufferevent_set_timeouts(t->bev, &tv, &tv);
	/* The bufferevent's timeouts restart with every byte: a peer that
	 * trickles its handshake would hold the slot for ever. */
	evtimer_add(t->hs_timer, &tv);
	bufferevent_setcb(t->bev, NULL, NULL, handshake_event, t);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
}

/* Before any thread exists: the SSL ex_data index all tunnels use. */
void
tunnel_init(void)
{
	if (tunnel_idx < 0)
		tunnel_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

struct worker *
tunnel_worker(const struct tunnel *t)
{
	return t->w;
}

struct cloud_conf *
tunnel_conf(const struct tunnel *t)
{
	return t->conf;
}

const char *
tunnel_edge(const struct tunnel *t)
{
	return t->edge_name;
}

const char *
tunnel_tenant(const struct tunnel *t)
{
	return t->edge->tenant->name;
}

const struct cloud_tenant *
tunnel_tenant_of(const struct tunnel *t)
{
	return t->edge->tenant;
}

const char *
tunnel_peer(const struct tunnel *t)
{
	return t->peer;
}

void
tunnel_shutdown(struct tunnel *t)
{
	if (t->h2 != NULL)
		h2conn_shutdown(t->h2);
	else
		tunnel_free(t);
}

void
tunnel_recheck(struct tunnel *t)
{
	struct cloud_conf *old = t->conf;
	const struct cloud_edge *edge = NULL;
	X509 *cert;
	char name[NAME_MAX_LEN + 1];
	enum admit a;

	if (t->h2 == NULL) {
		tunnel_free(t);	/* mid-handshake: let it retry */
		return;
	}
	cert = SSL_get0_peer_certificate(h2conn_ssl(t->h2));
	a = cert != NULL ? policy_admit(t->cl->conf, cert, &edge, name,
	    sizeof(name)) : ADMIT_NO_IDENTITY;
	if (a != ADMIT_OK) {
		log_info("cloud", "tunnel_revoked", "edge=%s reason=%s",
		    t->edge_name, policy_admit_reason(a));
		tunnel_free(t);
		return;
	}
	t->conf = cloud_conf_ref(t->cl->conf);
	t->edge = edge;
	cloud_conf_unref(old);
}

void
tunnel_info(const struct tunnel *t, struct tunnel_info *ti)
{
	struct h2conn_stats st = { 0 };

	memset(ti, 0, sizeof(*ti));
	ti->up = t->h2 != NULL;
	ti->edge = t->edge_name;
	ti->tenant = t->edge != NULL ? t->edge->tenant->name : "";
	ti->peer = t->peer;
	if (t->h2 != NULL) {
		h2conn_stats(t->h2, &st);
		ti->uptime_s = (long)(time(NULL) - t->started);
	}
	ti->streams_open = st.streams_open;
	ti->streams_opened = st.streams_opened;
	ti->bytes_in = st.bytes_in;
	ti->bytes_out = st.bytes_out;
}
