/* The tunnel to the cloud: one uplink's life (dial, TLS, HTTP/2, keepalive,
 * backoff and reconnect); see uplink.h. */
#include "edge/uplink/uplink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/netutil.h"
#include "common/relay.h"
#include "common/tls.h"
#include "common/tlsctx.h"
#include "common/timeval.h"
#include "edge/uplink/certdiag.h"
#include "edge/uplink/dialer.h"
#include "edge/uplink/proxy.h"
#include "edge/uplink/cloudtrust.h"

struct uplink {
	struct event_base *base;
	struct evdns_base *dns;
	const struct edge_conf *cf;
	char cloud_hostport[300];	/* for messages */
	const char *hop_host;		/* the first hop: the proxy or the */
	uint16_t hop_port;		/* cloud */
	SSL_CTX *ctx;
	uplink_state_fn state;
	uplink_pong_fn pong;		/* others' PINGs; with arg */
	uplink_retry_fn retry;		/* with arg */
	void *arg;
	struct dialer *tcp;		/* connecting to the cloud or proxy */
	struct proxy_dial *pdial;	/* asking the site's proxy */
	struct bufferevent *handshake;	/* the TLS handshake */
	struct h2conn *h2;
	struct event *retry_ev, *ping_ev, *pong_ev;
	unsigned failures;
	bool stopped;
	struct certcheck ck;	/* the cloud's certificate, this attempt */
	bool slow_retry;	/* the proxy refused our credentials */
	bool admitted;		/* the cloud's SETTINGS came: tunnel is up */
	/* for status and metrics */
	enum uplink_state st;
	int64_t st_since, retry_at, ping_sent;	/* mono_us() */
	char last_error[1400];
	char peer[600];	/* address, or "cloud via proxy host:port" */
	char cloud_subject[256];
	int64_t cloud_not_after;
	STACK_OF(X509) *cloud_chain;	/* as it sent it, leaf first */
	long rtt_us;
	uint64_t connects, drops, fails[UF_COUNT];
	uint64_t bytes_in, bytes_out;	/* of closed tunnels */
};

static const char *const fail_names[UF_COUNT] = {
	[UF_DNS] = "dns",
	[UF_CONNECT] = "connect",
	[UF_PROXY] = "proxy",
	[UF_TIMEOUT] = "timeout",
	[UF_CERTIFICATE] = "certificate",
	[UF_INTERCEPTION] = "interception",
	[UF_WRONG_SERVER] = "wrong_server",
	[UF_EXPIRED] = "expired",
	[UF_NOT_YET_VALID] = "not_yet_valid",
	[UF_REVOKED] = "revoked",
	[UF_PIN] = "pin_mismatch",
	[UF_ALPN] = "alpn",
	[UF_TLS] = "tls",
	[UF_REFUSED] = "refused_by_cloud",
	[UF_INTERNAL] = "internal",
};

static const char *const state_names[] = {
	[UPLINK_CONNECTING] = "connecting",
	[UPLINK_UP] = "up",
	[UPLINK_WAITING] = "waiting",
	[UPLINK_STOPPED] = "stopped",
};

const char *
uplink_fail_name(enum uplink_fail f)
{
	return (unsigned)f < UF_COUNT ? fail_names[f] : "?";
}

const char *
uplink_state_name(enum uplink_state s)
{
	return (unsigned)s <= UPLINK_STOPPED ? state_names[s] : "?";
}

static void
set_state(struct uplink *u, enum uplink_state st)
{
	if (u->st != st || st == UPLINK_CONNECTING)
		u->st_since = mono_us();
	u->st = st;
}

/* A failed attempt: counted, remembered for status, logged. */
static void
attempt_failed(struct uplink *u, enum uplink_fail why, const char *text)
{
	u->fails[why]++;
	snprintf(u->last_error, sizeof(u->last_error), "%s", text);
	log_warn("edge", "connect_failed", "cloud=%s:%u reason=%s error=%s",
	    u->cf->cloud.host, u->cf->cloud.port, uplink_fail_name(why), text);
}

struct h2conn *
uplink_h2(struct uplink *u)
{
	return u->admitted ? u->h2 : NULL;
}

/* Exponential backoff from reconnect_min to reconnect_max, with "equal
 * jitter" (half fixed, half random) so that many edges cut off at once do
 * not all come back in the same instant. */
static void
schedule_retry(struct uplink *u)
{
	uint64_t delay = u->cf->reconnect_min, half;
	unsigned i, r = 0;
	struct timeval tv;

	if (u->stopped) {
		set_state(u, UPLINK_STOPPED);
		return;
	}
	for (i = 0; i < u->failures && delay < u->cf->reconnect_max; i++)
		delay *= 2;
	if (delay > u->cf->reconnect_max)
		delay = u->cf->reconnect_max;
	if (u->slow_retry && delay < PROXY_AUTH_RETRY_MS)
		delay = PROXY_AUTH_RETRY_MS;
	u->slow_retry = false;
	half = delay / 2;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	delay = half + (half > 0 ? r % (half + 1) : 0);
	u->failures++;
	log_info("edge", "reconnect_scheduled", "in_ms=%llu attempt=%u",
	    (unsigned long long)delay, u->failures);
	tv_ms(&tv, delay);
	evtimer_add(u->retry_ev, &tv);
	set_state(u, UPLINK_WAITING);
	u->retry_at = mono_us() + (int64_t)delay * 1000;
	if (u->retry != NULL)
		u->retry(u->arg);
}

/* The TLS handshake finished but the cloud never spoke HTTP/2 to us: in
 * TLS 1.3 a refused client certificate shows up this way (the alert comes
 * after our Finished), or the cloud did not answer in time. */
static void
not_admitted(struct uplink *u, bool timeout)
{
	unsigned long e = h2conn_tls_error(u->h2);
	const char *alert = ERR_GET_LIB(e) != 0 ?
	    ERR_reason_error_string(e) : NULL;
	char text[400];

	if (timeout)
		snprintf(text, sizeof(text), "the cloud did not answer after "
		    "the TLS handshake");
	else
		snprintf(text, sizeof(text), "the cloud refused this edge's "
		    "certificate (%s); %s", alert != NULL ? alert :
		    "connection closed", certdiag_cloud_refusal(e));
	attempt_failed(u, timeout ? UF_TIMEOUT : UF_REFUSED, text);
	evtimer_del(u->pong_ev);
	h2conn_free(u->h2);
	u->h2 = NULL;
	schedule_retry(u);
}

static void
tunnel_down(struct uplink *u, const char *why)
{
	if (u->h2 != NULL && !u->admitted) {
		not_admitted(u, false);
		return;
	}
	if (u->h2 != NULL) {
		struct h2conn_stats hs;

		log_info("edge", "tunnel_down", "cloud=%s:%u reason=%s",
		    u->cf->cloud.host, u->cf->cloud.port, why);
		snprintf(u->last_error, sizeof(u->last_error),
		    "tunnel lost: %s", why);
		u->drops++;
		h2conn_stats(u->h2, &hs);
		u->bytes_in += hs.bytes_in;
		u->bytes_out += hs.bytes_out;
		evtimer_del(u->ping_ev);
		evtimer_del(u->pong_ev);
		h2conn_free(u->h2);
		u->h2 = NULL;
		u->admitted = false;
		u->state(NULL, u->arg);
	}
	schedule_retry(u);
}

/* The cloud's first SETTINGS: it admitted us. */
static void
on_settings(struct h2conn *c, void *arg)
{
	struct uplink *u = arg;
	struct timeval tv;

	(void)c;
	evtimer_del(u->pong_ev);	/* the admission timeout */
	u->admitted = true;
	u->failures = 0;
	u->connects++;
	u->rtt_us = -1;
	set_state(u, UPLINK_UP);
	log_info("edge", "tunnel_up", "cloud=%s:%u peer=%s", u->cf->cloud.host,
	    u->cf->cloud.port, u->peer);
	tv_ms(&tv, u->cf->keepalive);
	evtimer_add(u->ping_ev, &tv);
	u->state(u->h2, u->arg);
}

static void
on_closed(struct h2conn *c, const char *why, void *arg)
{
	(void)c;
	tunnel_down(arg, why);
}

/* The keepalive's PINGs carry zeros; others' answers are theirs, and no
 * keepalive round trip. */
static void
on_pong(struct h2conn *c, const uint8_t opaque[8], void *arg)
{
	static const uint8_t zeros[8];
	struct uplink *u = arg;

	(void)c;
	if (memcmp(opaque, zeros, sizeof(zeros)) != 0) {
		if (u->pong != NULL)
			u->pong(opaque, u->arg);
		return;
	}
	if (evtimer_pending(u->pong_ev, NULL))
		u->rtt_us = (long)(mono_us() - u->ping_sent);
	evtimer_del(u->pong_ev);
}

static const struct h2conn_cbs uplink_cbs = {
	.settings = on_settings,
	.pong = on_pong,
	.closed = on_closed,
};

static void
on_ping_timer(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (u->h2 == NULL || !u->admitted)
		return;
	if (!evtimer_pending(u->pong_ev, NULL)) {
		tv_ms(&tv, u->cf->keepalive_timeout);
		evtimer_add(u->pong_ev, &tv);
		u->ping_sent = mono_us();
	}
	h2conn_ping(u->h2);
}

/* Also the TLS handshake's overall limit (the bufferevent's timeouts
 * restart with every byte a slow peer trickles), and the admission
 * timeout before the cloud's SETTINGS. */
static void
on_pong_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;

	(void)fd;
	(void)what;
	if (u->handshake != NULL) {
		attempt_failed(u, UF_TIMEOUT, "no complete TLS handshake "
		    "within handshake_timeout");
		bufferevent_free(u->handshake);
		u->handshake = NULL;
		schedule_retry(u);
		return;
	}
	if (u->h2 != NULL && !u->admitted)
		not_admitted(u, true);
	else
		tunnel_down(u, "keepalive timeout");
}

/* Why the TLS handshake failed, with a text for the log and status in
 * buf. */
static enum uplink_fail
classify(struct uplink *u, short what, char *buf, size_t cap)
{
	int se = EVUTIL_SOCKET_ERROR();
	unsigned long e = bufferevent_get_openssl_error(u->handshake);
	const char *r;

	if (certcheck_failed(&u->ck))
		return certcheck_explain(&u->ck, u->cloud_hostport, buf, cap);
	if (what & BEV_EVENT_TIMEOUT) {
		snprintf(buf, cap, "no answer within handshake_timeout");
		return UF_TIMEOUT;
	}
	/* A TLS library error (an alert from the cloud, say) has a reason
	 * string; libevent reports a bare I/O failure as a small code. */
	if (certcheck_hello_refused(&u->ck, e, u->cloud_hostport, buf, cap))
		return UF_INTERCEPTION;
	r = ERR_GET_LIB(e) != 0 ? ERR_reason_error_string(e) : NULL;
	if (r != NULL)
		snprintf(buf, cap, "TLS handshake failed: %s%s", r,
		    u->cf->use_proxy ? " (through the proxy: it, or something "
		    "behind it, may have answered instead of the cloud)" : "");
	else
		snprintf(buf, cap, "TLS handshake failed: %s",
		    se != 0 ? evutil_socket_error_to_string(se) :
		    "connection closed by the peer");
	return UF_TLS;
}

/* What status shows of the cloud we are connected to. */
static void
note_cloud(struct uplink *u, struct bufferevent *bev, SSL *ssl)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	X509 *cert = SSL_get0_peer_certificate(ssl);

	u->peer[0] = '\0';
	if (u->cf->use_proxy)
		snprintf(u->peer, sizeof(u->peer), "%s via proxy %s:%u",
		    u->cloud_hostport, u->cf->proxy.host, u->cf->proxy.port);
	else if (getpeername(bufferevent_getfd(bev), (struct sockaddr *)&ss,
	    &sslen) == 0)
		net_format((struct sockaddr *)&ss, u->peer, sizeof(u->peer));
	u->cloud_subject[0] = '\0';
	u->cloud_not_after = 0;
	sk_X509_pop_free(u->cloud_chain, X509_free);
	/* Kept for a reload to check it again (uplink_still_trusts). */
	u->cloud_chain = X509_chain_up_ref(SSL_get_peer_cert_chain(ssl));
	if (cert == NULL)
		return;
	u->cloud_not_after = tls_time_epoch(X509_get0_notAfter(cert));
	tls_name_line(X509_get_subject_name(cert), u->cloud_subject,
	    sizeof(u->cloud_subject));
}

static void
handshake_event(struct bufferevent *bev, short what, void *arg)
{
	struct uplink *u = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const unsigned char *alpn = NULL;
	unsigned int alpnlen = 0;
	struct timeval tv;

	evtimer_del(u->pong_ev);	/* the handshake's limit */
	if (what & BEV_EVENT_CONNECTED) {
		SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
		if (alpnlen != strlen(TUNNEL_ALPN) ||
		    memcmp(alpn, TUNNEL_ALPN, alpnlen) != 0) {
			attempt_failed(u, UF_ALPN, "the server does not speak "
			    "the isthmus protocol");
			bufferevent_free(bev);
			u->handshake = NULL;
			schedule_retry(u);
			return;
		}
		bufferevent_set_timeouts(bev, NULL, NULL);
		net_nodelay(bufferevent_getfd(bev));
		u->handshake = NULL;
		note_cloud(u, bev, ssl);
		if (h2conn_new(bev, false, &uplink_cbs, u, &u->h2) != 0) {
			attempt_failed(u, UF_INTERNAL, "out of memory");
			bufferevent_free(bev);
			schedule_retry(u);
			return;
		}
		/* Up once the cloud's SETTINGS show it admitted us. */
		u->admitted = false;
		tv_ms(&tv, u->cf->handshake_timeout);
		evtimer_add(u->pong_ev, &tv);
		return;
	}
	{
		char text[1400];
		enum uplink_fail why = classify(u, what, text, sizeof(text));

		attempt_failed(u, why, text);
	}
	bufferevent_free(bev);
	u->handshake = NULL;
	schedule_retry(u);
}

/* fd: connected to the cloud, directly or through the proxy. */
static void
start_tls(struct uplink *u, int fd)
{
	struct timeval tv;
	SSL *ssl = certcheck_ssl(u->ctx, u->cf, &u->ck);

	if (ssl != NULL)
		u->handshake = bufferevent_openssl_socket_new(u->base, fd, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (ssl == NULL || u->handshake == NULL) {
		/* On failure libevent freed ssl itself (CLOSE_ON_FREE), but
		 * not a socket it did not create. */
		evutil_closesocket(fd);
		attempt_failed(u, UF_INTERNAL, "out of memory");
		schedule_retry(u);
		return;
	}
	tv_ms(&tv, u->cf->handshake_timeout);
	bufferevent_set_timeouts(u->handshake, &tv, &tv);
	evtimer_add(u->pong_ev, &tv);
	bufferevent_setcb(u->handshake, NULL, NULL, handshake_event, u);
}

/* The proxy gave us a tunnel to the cloud, or said why not. */
static void
on_proxy(int fd, int status, bool creds_refused, const char *why, void *arg)
{
	struct uplink *u = arg;

	(void)status;
	u->pdial = NULL;
	if (fd < 0) {
		char text[600];

		/* The slow retry is the daemon's, not the doctor's: said
		 * here, not in the proxy's verdict they share. */
		snprintf(text, sizeof(text), "%s%s", why, creds_refused ?
		    " (the next attempt waits minutes, so that an expired "
		    "password does not lock the account)" : "");
		attempt_failed(u, UF_PROXY, text);
		u->slow_retry = creds_refused;
		schedule_retry(u);
		return;
	}
	start_tls(u, fd);
}

/* Why no connection to the cloud (or the proxy) came about. */
static enum uplink_fail
tcp_failure(struct uplink *u, const struct dial_result *r, char *buf,
    size_t cap)
{
	const char *host = u->hop_host;
	unsigned port = u->hop_port;
	const char *whose = u->cf->use_proxy ? "the proxy " : "";

	switch (r->fail) {
	case DIAL_DNS:
		snprintf(buf, cap, "cannot resolve %s%.100s: %s", whose, host,
		    dial_dns_error(r->dns_err));
		break;
	case DIAL_DNS_TIMEOUT:
		snprintf(buf, cap, "no answer for %s%.100s within "
		    "handshake_timeout from the name servers in "
		    "/etc/resolv.conf", whose, host);
		break;
	case DIAL_CONNECT:
		/* One address: its reason alone, as the log line names the
		 * cloud already; several: each with its reason. */
		if (u->cf->use_proxy)
			snprintf(buf, cap, "cannot reach the proxy %.100s:%u: "
			    "%s", host, port, r->failed > 1 ? r->errors :
			    r->error);
		else
			snprintf(buf, cap, "%s", r->failed > 1 ? r->errors :
			    r->error);
		break;
	default:
		snprintf(buf, cap, "out of memory");
		return UF_INTERNAL;
	}
	if (u->cf->use_proxy)
		return UF_PROXY;
	if (r->fail == DIAL_CONNECT)
		return r->all_timed_out ? UF_TIMEOUT : UF_CONNECT;
	return UF_DNS;
}

/* The TCP connection to the cloud or the proxy is up, or failed. */
static void
on_tcp(const struct dial_result *r, void *arg)
{
	struct uplink *u = arg;
	char text[800];

	u->tcp = NULL;
	if (r->fd < 0) {
		enum uplink_fail why = tcp_failure(u, r, text, sizeof(text));

		attempt_failed(u, why, text);
		schedule_retry(u);
		return;
	}
	if (r->failed > 0)
		log_warn("edge", "address_failed", "%s=%s:%u connected=%s "
		    "failed=%s", u->cf->use_proxy ? "proxy" : "cloud",
		    u->hop_host, u->hop_port, r->addr, r->errors);
	if (!u->cf->use_proxy) {
		start_tls(u, r->fd);
		return;
	}
	if (proxy_dial_fd(u->base, r->fd, &u->cf->proxy, u->cf->cloud.host,
	    u->cf->cloud.port, u->cf->handshake_timeout, on_proxy, u,
	    &u->pdial) != 0) {
		evutil_closesocket(r->fd);
		attempt_failed(u, UF_INTERNAL, "out of memory");
		schedule_retry(u);
	}
}

static void
attempt(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;

	(void)fd;
	(void)what;
	if (u->stopped || u->h2 != NULL || u->handshake != NULL ||
	    u->pdial != NULL || u->tcp != NULL)
		return;
	certcheck_clear(&u->ck);
	set_state(u, UPLINK_CONNECTING);
	if (dialer_start(u->base, u->dns, u->hop_host, u->hop_port,
	    u->cf->handshake_timeout, on_tcp, u, &u->tcp) != 0) {
		attempt_failed(u, UF_INTERNAL, "out of memory");
		schedule_retry(u);
	}
}

int
uplink_new(struct event_base *base, const struct edge_conf *cf, SSL_CTX *ctx,
    uplink_state_fn state, void *arg, struct uplink **out)
{
	struct uplink *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return -ENOMEM;
	u->base = base;
	u->cf = cf;
	snprintf(u->cloud_hostport, sizeof(u->cloud_hostport), "%s%s%s:%u",
	    strchr(cf->cloud.host, ':') != NULL ? "[" : "", cf->cloud.host,
	    strchr(cf->cloud.host, ':') != NULL ? "]" : "", cf->cloud.port);
	u->hop_host = cf->use_proxy ? cf->proxy.host : cf->cloud.host;
	u->hop_port = cf->use_proxy ? cf->proxy.port : cf->cloud.port;
	u->ctx = ctx;
	u->state = state;
	u->arg = arg;
	u->rtt_us = -1;
	set_state(u, UPLINK_CONNECTING);
	u->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (u->dns == NULL)	/* no resolv.conf: numeric addresses only */
		u->dns = evdns_base_new(base, 0);
	u->retry_ev = evtimer_new(base, attempt, u);
	u->ping_ev = event_new(base, -1, EV_PERSIST, on_ping_timer, u);
	u->pong_ev = evtimer_new(base, on_pong_timeout, u);
	if (u->dns == NULL || !u->retry_ev || !u->ping_ev || !u->pong_ev) {
		uplink_free(u);
		return -ENOMEM;
	}
	*out = u;
	return 0;
}

void
uplink_set_pong(struct uplink *u, uplink_pong_fn fn)
{
	u->pong = fn;
}

void
uplink_set_retry(struct uplink *u, uplink_retry_fn fn)
{
	u->retry = fn;
}

void
uplink_start(struct uplink *u)
{
	attempt(-1, 0, u);
}

void
uplink_stop(struct uplink *u)
{
	if (u->stopped)
		return;
	u->stopped = true;
	set_state(u, UPLINK_STOPPED);
	evtimer_del(u->retry_ev);
	dialer_cancel(u->tcp);
	u->tcp = NULL;
	if (u->handshake != NULL) {
		bufferevent_free(u->handshake);
		u->handshake = NULL;
	}
	proxy_dial_cancel(u->pdial);
	u->pdial = NULL;
	if (u->h2 != NULL && !u->admitted) {
		/* Not a tunnel yet: nothing to drain, and its end is no
		 * verdict of the cloud's (not_admitted would say so). */
		evtimer_del(u->pong_ev);
		h2conn_free(u->h2);
		u->h2 = NULL;
	} else if (u->h2 != NULL) {
		h2conn_shutdown(u->h2);
	}
}

void
uplink_free(struct uplink *u)
{
	if (u == NULL)
		return;
	dialer_cancel(u->tcp);
	if (u->handshake != NULL)
		bufferevent_free(u->handshake);
	proxy_dial_cancel(u->pdial);
	certcheck_clear(&u->ck);
	sk_X509_pop_free(u->cloud_chain, X509_free);
	if (u->h2 != NULL)
		h2conn_free(u->h2);
	if (u->retry_ev != NULL)
		event_free(u->retry_ev);
	if (u->ping_ev != NULL)
		event_free(u->ping_ev);
	if (u->pong_ev != NULL)
		event_free(u->pong_ev);
	if (u->dns != NULL)
		evdns_base_free(u->dns, 0);
	free(u);
}

void
uplink_info(const struct uplink *u, struct uplink_info *ui)
{
	struct h2conn_stats hs = { 0 };
	int64_t now = mono_us();

	memset(ui, 0, sizeof(*ui));
	ui->state = u->st;
	ui->state_s = (long)((now - u->st_since) / 1000000);
	ui->attempts = u->failures;
	ui->retry_ms = u->st == UPLINK_WAITING ?
	    (long)((u->retry_at - now) / 1000) : 0;
	if (ui->retry_ms < 0)
		ui->retry_ms = 0;
	ui->last_error = u->last_error;
	ui->proxy = u->cf->use_proxy ? u->cf->proxy.shown : "";
	ui->peer = u->admitted ? u->peer : "";
	ui->cloud_subject = u->admitted ? u->cloud_subject : "";
	ui->cloud_not_after = u->admitted ? u->cloud_not_after : 0;
	ui->rtt_us = u->admitted ? u->rtt_us : -1;
	ui->connects = u->connects;
	ui->drops = u->drops;
	memcpy(ui->failures, u->fails, sizeof(ui->failures));
	if (u->admitted)
		h2conn_stats(u->h2, &hs);
	ui->bytes_in = u->bytes_in + hs.bytes_in;
	ui->bytes_out = u->bytes_out + hs.bytes_out;
	ui->streams_open = hs.streams_open;
	ui->streams_opened = hs.streams_opened;
}

void
uplink_carry(struct uplink *to, const struct uplink *from)
{
	struct uplink_info ui;
	size_t i;

	uplink_info(from, &ui);
	to->connects += ui.connects;
	to->drops += ui.drops;
	for (i = 0; i < UF_COUNT; i++)
		to->fails[i] += ui.failures[i];
	to->bytes_in += ui.bytes_in;
	to->bytes_out += ui.bytes_out;
}

bool
uplink_still_trusts(const struct uplink *u, SSL_CTX *ctx,
    const struct edge_conf *cf)
{
	if (!u->admitted || u->cloud_chain == NULL ||
	    sk_X509_num(u->cloud_chain) == 0)
		return true;
	return cloud_trust_chain(u->cloud_chain, ctx, cf);
}
