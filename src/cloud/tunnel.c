/* An edge's tunnel at the cloud: its handshake and admission, then its
 * life until it ends (tunnel.h). */
#include "cloud/tunnel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "cloud/dial.h"
#include "cloud/keepalive.h"
#include "cloud/policy.h"
#include "cloud/registry.h"
#include "cloud/stream.h"
#include "cloud/tunnel-int.h"
#include "common/h2conn.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/netutil.h"
#include "common/stat.h"
#include "common/tlsctx.h"
#include "common/timeval.h"
#include "common/tls.h"

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
	[HSF_WRONG_USAGE] = "wrong_usage",
	[HSF_SOURCE_ADDRESS] = "source_address",
	[HSF_NO_CLIENT_CERT] = "no_client_cert",
	[HSF_ALPN] = "alpn",
	[HSF_TLS_VERSION] = "tls_version",
	[HSF_TIMEOUT] = "timeout",
	[HSF_CLOSED] = "closed",
	[HSF_PEER_ALERT] = "peer_alert",
	[HSF_TLS_ERROR] = "tls_error",
};

const char *
hs_fail_name(enum hs_fail f)
{
	return (unsigned)f < HSF_COUNT ? hs_fail_names[f] : "?";
}

bool
hs_fail_recheckable(enum hs_fail f)
{
	return f <= HSF_SOURCE_ADDRESS;
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
		registry_tunnel_down(t);
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
		h2conn_free(t->h2);	/* every stream: dials, gate slots */
	} else if (t->bev != NULL)
		bufferevent_free(t->bev);
	empty = w->tunnels == NULL;
	cloud_unlock(cl);
	if (t->gate_ready)
		dial_gate_free(&t->gate);
	if (t->hs_timer != NULL)
		event_free(t->hs_timer);
	keepalive_free(t->ka);
	if (t->expiry_timer != NULL)
		event_free(t->expiry_timer);
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
	    (struct sockaddr *)&t->peer_ss, &t->edge, t->edge_name,
	    sizeof(t->edge_name));
	if (t->admit != ADMIT_OK) {
		X509_STORE_CTX_set_error(x, t->admit == ADMIT_SOURCE_ADDRESS ?
		    X509_V_ERR_IP_ADDRESS_MISMATCH :
		    X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

/* An X509_V_ERR_* from chain verification, as a reason. */
static enum hs_fail
verify_reason(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_REVOKED: return HSF_REVOKED;
	case X509_V_ERR_CERT_HAS_EXPIRED: return HSF_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID: return HSF_NOT_YET_VALID;
	case X509_V_ERR_CRL_HAS_EXPIRED: return HSF_CRL_EXPIRED;
	/* OpenSSL's own purpose check: an extendedKeyUsage without
	 * clientAuth (policy.c refuses the cases OpenSSL lets through). */
	case X509_V_ERR_INVALID_PURPOSE: return HSF_WRONG_USAGE;
	default: return HSF_UNTRUSTED;
	}
}

/* A refusal of policy.c's, as a reason; HSF_COUNT for ADMIT_OK. */
static enum hs_fail
admit_reason(enum admit a)
{
	switch (a) {
	case ADMIT_OK: break;
	case ADMIT_NO_IDENTITY: return HSF_NO_IDENTITY;
	case ADMIT_UNKNOWN_EDGE: return HSF_UNKNOWN_EDGE;
	case ADMIT_TENANT_MISMATCH: return HSF_TENANT_MISMATCH;
	case ADMIT_PIN_MISMATCH: return HSF_PIN_MISMATCH;
	case ADMIT_WRONG_USAGE: return HSF_WRONG_USAGE;
	case ADMIT_SOURCE_ADDRESS: return HSF_SOURCE_ADDRESS;
	}
	return HSF_COUNT;
}

static enum hs_fail
handshake_reason(struct tunnel *t, short what)
{
	unsigned long e = bufferevent_get_openssl_error(t->bev);

	if (t->admit != ADMIT_OK)
		return admit_reason(t->admit);
	if (t->verify_err != 0)
		return verify_reason(t->verify_err);
	if (what & BEV_EVENT_TIMEOUT)
		return HSF_TIMEOUT;
	/* OpenSSL reports an alert received as reason SSL_AD_REASON_OFFSET
	 * plus its code (SSL_R_TLSV1_ALERT_UNKNOWN_CA ...); close_notify
	 * is a close, not a refusal. */
	if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) > SSL_AD_REASON_OFFSET + SSL_AD_CLOSE_NOTIFY &&
	    ERR_GET_REASON(e) < SSL_AD_REASON_OFFSET + 256) {
		t->peer_alert = ERR_GET_REASON(e) - SSL_AD_REASON_OFFSET;
		return HSF_PEER_ALERT;
	}
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

/* Counted always; logged within the limit. A peer's alert is named, and
 * when it is about our certificate (an edge with another CA or pin, or an
 * interceptor's client), the cloud's operator is told so at warn. */
static void
handshake_failed(struct tunnel *t, enum hs_fail why)
{
	int a = t->peer_alert;
	bool ours;

	STAT_ADD(t->cl->stats.handshakes_failed[why], 1);
	if (why != HSF_PEER_ALERT) {
		log_limited(t->w->lim_handshake, LOG_INFO, "cloud",
		    "handshake_failed", "peer=%s edge=%s reason=%s", t->peer,
		    t->edge_name[0] ? t->edge_name : "-", hs_fail_name(why));
		return;
	}
	ours = a == SSL_AD_HANDSHAKE_FAILURE || a == SSL_AD_UNKNOWN_CA ||
	    (a >= SSL_AD_BAD_CERTIFICATE && a <= SSL_AD_CERTIFICATE_UNKNOWN);
	log_limited(t->w->lim_handshake, ours ? LOG_WARN : LOG_INFO, "cloud",
	    "handshake_failed", "peer=%s edge=%s reason=%s alert=%s "
	    "alert_code=%d meaning=%s", t->peer,
	    t->edge_name[0] ? t->edge_name : "-", hs_fail_name(why),
	    SSL_alert_desc_string_long(a), a, ours ?
	    "the peer refused this cloud's certificate: an edge whose ca or "
	    "cloud_pin does not match it, or a client that is no edge" :
	    "the peer aborted the handshake");
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
	snprintf(t->end_buf, sizeof(t->end_buf), "%s", why);
	t->end_reason = t->end_buf;
	tunnel_free(t);
}

static void
on_pong(struct h2conn *c, const uint8_t opaque[8], void *arg)
{
	struct tunnel *t = arg;

	(void)c;
	(void)opaque;		/* the cloud sends only keepalive PINGs */
	if (t->ka != NULL)
		keepalive_pong(t->ka);
}

static const struct h2conn_cbs tunnel_cbs = {
	.request = stream_request,
	.stream = stream_count,
	.pong = on_pong,
	.closed = on_closed,
};

/* Nothing came back from the edge, not even a PING's answer. */
static void
on_dead(int64_t silent_ms, void *arg)
{
	struct tunnel *t = arg;
	struct h2conn_stats st;

	h2conn_stats(t->h2, &st);
	STAT_ADD(t->cl->stats.tunnels_reaped, 1);
	log_info("cloud", "tunnel_reaped", "edge=%s tenant=%s peer=%s "
	    "reason=keepalive_timeout silent_ms=%lld streams_open=%u",
	    t->edge_name, t->edge->tenant->name, t->peer,
	    (long long)silent_ms, st.streams_open);
	t->end_reason = "keepalive_timeout";
	tunnel_free(t);
}

/* The edge's certificate (or a CA above it) ends while the tunnel is up:
 * it is checked again then, as a new handshake would be. */
static void
on_expiry(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	struct cloud *cl = t->cl;

	(void)fd;
	(void)what;
	cloud_lock(cl);		/* tunnel_recheck reads cl's config */
	tunnel_recheck(t);
	cloud_unlock(cl);
}

/* The earliest notAfter of the chain the edge was admitted with. */
static int64_t
chain_not_after(SSL *ssl)
{
	STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
	int64_t end = 0, na;
	int i;

	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		na = tls_time_epoch(X509_get0_notAfter(sk_X509_value(chain,
		    i)));
		if (na != 0 && (end == 0 || na < end))
			end = na;
	}
	return end;
}

static void
arm_expiry(struct tunnel *t, SSL *ssl)
{
	int64_t end = chain_not_after(ssl), left;
	struct timeval tv = { 0, 0 };

	if (end == 0)
		return;
	/* One second past notAfter: X509 treats notAfter itself as valid.
	 * libevent takes any time_t; a far end is just a far timer. */
	left = end - (int64_t)time(NULL) + 1;
	tv.tv_sec = (time_t)(left > 1 ? left : 1);
	evtimer_add(t->expiry_timer, &tv);
}

/* Once the session exists: its keepalive, the end of the edge's
 * certificate, the cap on its backend dials. */
static int
tunnel_timers(struct tunnel *t, SSL *ssl)
{
	t->expiry_timer = evtimer_new(t->w->base, on_expiry, t);
	if (t->expiry_timer == NULL ||
	    keepalive_new(t->w->base, t->h2, t->conf->keepalive,
	    t->conf->keepalive_timeout, on_dead, t, &t->ka) != 0 ||
	    dial_gate_init(&t->gate, t->w->base,
	    (unsigned)t->conf->tunnel_max_dials) != 0)
		return -ENOMEM;
	t->gate_ready = true;
	arm_expiry(t, ssl);
	return 0;
}

/* An edge that comes back usually left its old tunnel dead on a link
 * that went away: PING the older ones at once, so a dead one goes within
 * keepalive_timeout instead of waiting for its next quiet tick. */
static void
probe_older(struct tunnel *nt)
{
	struct cloud *cl = nt->cl;
	struct tunnel *t;
	unsigned wi;

	cloud_lock(cl);
	CLOUD_FOREACH_TUNNEL(cl, wi, t) {
		if (t == nt || t->h2 == NULL ||
		    strcmp(t->edge_name, nt->edge_name) != 0)
			continue;
		STAT_SET(t->probe, true);
		worker_post(t->w, WORKER_PROBE);
	}
	cloud_unlock(cl);
}

void
tunnel_probe(struct tunnel *t)
{
	if (!STAT_GET(t->probe))
		return;
	STAT_SET(t->probe, false);
	if (t->ka != NULL)
		keepalive_probe(t->ka);
}

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
		/* one more than the devices get: the management stream's */
		rc = h2conn_new_server(bev,
		    (uint32_t)t->conf->tunnel_max_streams + 1, &tunnel_cbs, t,
		    &t->h2);
		cloud_unlock(t->cl);
		if (rc != 0) {
			bufferevent_free(bev);
			tunnel_free(t);
			return;
		}
		if (tunnel_timers(t, ssl) != 0) {
			tunnel_free(t);	/* and its session */
			return;
		}
		STAT_ADD(t->cl->stats.handshakes_ok, 1);
		log_info("cloud", "tunnel_up", "edge=%s tenant=%s peer=%s",
		    t->edge_name, t->edge->tenant->name, t->peer);
		registry_tunnel_up(t, ssl);
		probe_older(t);
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

	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		evutil_closesocket(fd);
		return;
	}
	t->cl = cl;
	t->w = w;
	net_format(sa, t->peer, sizeof(t->peer));
	if ((size_t)salen <= sizeof(t->peer_ss))
		memcpy(&t->peer_ss, sa, (size_t)salen);
	net_nodelay(fd);
	cloud_lock(cl);
	t->conf = cloud_conf_ref(cl->conf);
	/* A dead edge with bytes of ours unacknowledged goes when the
	 * keepalive would have dropped it, not after ~15 min of
	 * retransmissions. */
	net_user_timeout(fd, t->conf->keepalive + t->conf->keepalive_timeout);
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

void
tunnel_shutdown(struct tunnel *t)
{
	if (t->h2 != NULL)
		h2conn_shutdown(t->h2);
	else
		tunnel_free(t);
}

/* A live tunnel that would not be admitted now is dropped, with its
 * streams: revocation reaches tunnels that are already up. */
static void
revoked(struct tunnel *t, enum hs_fail why, int verr)
{
	struct h2conn_stats st;

	h2conn_stats(t->h2, &st);
	STAT_ADD(t->cl->stats.tunnels_revoked[why], 1);
	log_info("cloud", "tunnel_revoked", "edge=%s reason=%s tenant=%s "
	    "peer=%s streams_open=%u error=%s", t->edge_name,
	    hs_fail_name(why), t->edge->tenant->name, t->peer,
	    st.streams_open, verr != X509_V_OK ?
	    X509_verify_cert_error_string(verr) : "-");
	t->end_reason = hs_fail_name(why);
	tunnel_free(t);
}

void
tunnel_recheck(struct tunnel *t)
{
	struct cloud_conf *old = t->conf;
	const struct cloud_edge *edge = NULL;
	enum hs_fail why = HSF_COUNT;
	X509 *cert;
	char name[NAME_MAX_LEN + 1];
	enum admit a;
	int verr;

	if (t->h2 == NULL) {
		tunnel_free(t);	/* mid-handshake: let it retry */
		return;
	}
	/* The chain again, under the trust store as it is now: a CRL that
	 * lists the edge, a CA no longer trusted, a certificate past its
	 * end. Then admission under the current configuration. */
	verr = tlsctx_verify_client(t->cl->ssl_ctx, h2conn_ssl(t->h2));
	cert = SSL_get0_peer_certificate(h2conn_ssl(t->h2));
	if (verr != X509_V_OK)
		why = verify_reason(verr);
	else if (cert == NULL)
		why = HSF_NO_IDENTITY;
	else if ((a = policy_admit(t->cl->conf, cert,
	    (struct sockaddr *)&t->peer_ss, &edge, name, sizeof(name))) !=
	    ADMIT_OK)
		why = admit_reason(a);
	else if (strcmp(edge->tenant->name, t->edge->tenant->name) != 0)
		why = HSF_TENANT_MISMATCH;	/* re-admit under the new one */
	if (why != HSF_COUNT) {
		revoked(t, why, verr);
		return;
	}
	t->conf = cloud_conf_ref(t->cl->conf);
	t->edge = edge;
	cloud_conf_unref(old);
	arm_expiry(t, h2conn_ssl(t->h2));	/* a CA's end may have moved */
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
