#include "edge/uplink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/relay.h"
#include "common/tls.h"
#include "common/tlsctx.h"

struct uplink {
	struct event_base *base;
	struct evdns_base *dns;
	const struct edge_conf *cf;
	SSL_CTX *ctx;
	uplink_state_fn state;
	void *arg;
	struct bufferevent *dial;	/* connecting / handshaking */
	struct h2conn *h2;
	struct event *retry_ev, *ping_ev, *pong_ev;
	unsigned failures;
	bool stopped;
	bool in_connect, failed_in_connect;
	int verify_err;
	bool pin_mismatch;
};

static int uplink_idx = -1;

struct h2conn *
uplink_h2(struct uplink *u)
{
	return u->h2;
}

static void
tv_ms(struct timeval *tv, uint64_t ms)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
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

	if (u->stopped)
		return;
	for (i = 0; i < u->failures && delay < u->cf->reconnect_max; i++)
		delay *= 2;
	if (delay > u->cf->reconnect_max)
		delay = u->cf->reconnect_max;
	half = delay / 2;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	delay = half + (half > 0 ? r % (half + 1) : 0);
	u->failures++;
	log_info("edge", "reconnect_scheduled", "in_ms=%llu attempt=%u",
	    (unsigned long long)delay, u->failures);
	tv_ms(&tv, delay);
	evtimer_add(u->retry_ev, &tv);
}

static void
tunnel_down(struct uplink *u, const char *why)
{
	if (u->h2 != NULL) {
		log_info("edge", "tunnel_down", "cloud=%s:%u reason=%s",
		    u->cf->cloud.host, u->cf->cloud.port, why);
		evtimer_del(u->ping_ev);
		evtimer_del(u->pong_ev);
		h2conn_free(u->h2);
		u->h2 = NULL;
		u->state(NULL, u->arg);
	}
	schedule_retry(u);
}

static void
on_closed(struct h2conn *c, const char *why, void *arg)
{
	(void)c;
	tunnel_down(arg, why);
}

static void
on_response(struct h2conn *c, struct relay *r, int status, void *arg)
{
	(void)c;
	(void)arg;
	if (status < 200 || status >= 300)
		log_info("edge", "stream_refused", "service=%s device=%s "
		    "status=%d", relay_info(r)->authority, relay_info(r)->device,
		    status);
}

static void
on_pong(struct h2conn *c, void *arg)
{
	struct uplink *u = arg;

	(void)c;
	evtimer_del(u->pong_ev);
}

static const struct h2conn_cbs uplink_cbs = {
	.response = on_response,
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
	if (u->h2 == NULL)
		return;
	if (!evtimer_pending(u->pong_ev, NULL)) {
		tv_ms(&tv, u->cf->keepalive_timeout);
		evtimer_add(u->pong_ev, &tv);
	}
	h2conn_ping(u->h2);
}

static void
on_pong_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tunnel_down(arg, "keepalive timeout");
}

/* The cloud's certificate: chain and name by OpenSSL, then the pin. */
static int
verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct uplink *u = SSL_get_ex_data(ssl, uplink_idx);
	uint8_t fc[32], fs[32];
	X509 *cert;

	if (!ok) {
		if (u->verify_err == 0)
			u->verify_err = X509_STORE_CTX_get_error(x);
		return 0;
	}
	if (X509_STORE_CTX_get_error_depth(x) != 0)
		return 1;
	cert = X509_STORE_CTX_get_current_cert(x);
	if (tls_cert_sha256(cert, fc) != 0 || tls_spki_sha256(cert, fs) != 0 ||
	    (CRYPTO_memcmp(fc, u->cf->cloud_pin, 32) != 0 &&
	    CRYPTO_memcmp(fs, u->cf->cloud_pin, 32) != 0)) {
		u->pin_mismatch = true;
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

static const char *
failure_reason(struct uplink *u, short what)
{
	if (u->pin_mismatch)
		return "cloud certificate does not match cloud_pin";
	if (u->verify_err != 0)
		return X509_verify_cert_error_string(u->verify_err);
	if (what & BEV_EVENT_TIMEOUT)
		return "timeout";
	if (bufferevent_get_openssl_error(u->dial) != 0)
		return "TLS handshake failed";
	if (bufferevent_socket_get_dns_error(u->dial) != 0)
		return evutil_gai_strerror(bufferevent_socket_get_dns_error(
		    u->dial));
	return evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
}

static void
dial_event(struct bufferevent *bev, short what, void *arg)
{
	struct uplink *u = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const unsigned char *alpn = NULL;
	unsigned int alpnlen = 0;
	struct timeval tv;

	if (u->in_connect) {
		u->failed_in_connect = true;
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
		if (alpnlen != strlen(TUNNEL_ALPN) ||
		    memcmp(alpn, TUNNEL_ALPN, alpnlen) != 0) {
			log_warn("edge", "connect_failed", "cloud=%s:%u "
			    "reason=%s", u->cf->cloud.host, u->cf->cloud.port,
			    "the server does not speak the isthmus protocol");
			bufferevent_free(bev);
			u->dial = NULL;
			schedule_retry(u);
			return;
		}
		bufferevent_set_timeouts(bev, NULL, NULL);
		u->dial = NULL;
		if (h2conn_new(bev, false, &uplink_cbs, u, &u->h2) != 0) {
			bufferevent_free(bev);
			schedule_retry(u);
			return;
		}
		u->failures = 0;
		log_info("edge", "tunnel_up", "cloud=%s:%u", u->cf->cloud.host,
		    u->cf->cloud.port);
		tv_ms(&tv, u->cf->keepalive);
		evtimer_add(u->ping_ev, &tv);
		u->state(u->h2, u->arg);
		return;
	}
	log_warn("edge", "connect_failed", "cloud=%s:%u reason=%s",
	    u->cf->cloud.host, u->cf->cloud.port, failure_reason(u, what));
	bufferevent_free(bev);
	u->dial = NULL;
	schedule_retry(u);
}

static void
dial(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	const char *name = u->cf->server_name != NULL ?
	    u->cf->server_name : u->cf->cloud.host;
	unsigned char ip[16];
	struct timeval tv;
	SSL *ssl;

	(void)fd;
	(void)what;
	if (u->stopped || u->h2 != NULL || u->dial != NULL)
		return;
	u->verify_err = 0;
	u->pin_mismatch = false;
	ssl = SSL_new(u->ctx);
	if (ssl == NULL) {
		schedule_retry(u);
		return;
	}
	SSL_set_ex_data(ssl, uplink_idx, u);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, verify_cb);
	if (inet_pton(AF_INET, name, ip) == 1 ||
	    inet_pton(AF_INET6, name, ip) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
	} else {
		SSL_set_tlsext_host_name(ssl, name);
		SSL_set1_host(ssl, name);
	}
	u->dial = bufferevent_openssl_socket_new(u->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (u->dial == NULL) {
		SSL_free(ssl);
		schedule_retry(u);
		return;
	}
	tv_ms(&tv, u->cf->handshake_timeout);
	bufferevent_set_timeouts(u->dial, &tv, &tv);
	bufferevent_setcb(u->dial, NULL, NULL, dial_event, u);
	u->in_connect = true;
	u->failed_in_connect = false;
	if (bufferevent_socket_connect_hostname(u->dial, u->dns, AF_UNSPEC,
	    u->cf->cloud.host, u->cf->cloud.port) != 0)
		u->failed_in_connect = true;
	u->in_connect = false;
	if (u->failed_in_connect) {
		log_warn("edge", "connect_failed", "cloud=%s:%u reason=%s",
		    u->cf->cloud.host, u->cf->cloud.port, "connect");
		bufferevent_free(u->dial);
		u->dial = NULL;
		schedule_retry(u);
	}
}

int
uplink_new(struct event_base *base, const struct edge_conf *cf, SSL_CTX *ctx,
    uplink_state_fn state, void *arg, struct uplink **out)
{
	struct uplink *u = calloc(1, sizeof(*u));

	if (uplink_idx < 0)
		uplink_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (u == NULL)
		return -ENOMEM;
	u->base = base;
	u->cf = cf;
	u->ctx = ctx;
	u->state = state;
	u->arg = arg;
	u->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (u->dns == NULL)	/* no resolv.conf: numeric addresses only */
		u->dns = evdns_base_new(base, 0);
	u->retry_ev = evtimer_new(base, dial, u);
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
uplink_start(struct uplink *u)
{
	dial(-1, 0, u);
}

void
uplink_stop(struct uplink *u)
{
	u->stopped = true;
	evtimer_del(u->retry_ev);
	if (u->dial != NULL) {
		bufferevent_free(u->dial);
		u->dial = NULL;
	}
	if (u->h2 != NULL)
		h2conn_shutdown(u->h2);
}

void
uplink_free(struct uplink *u)
{
	if (u == NULL)
		return;
	if (u->dial != NULL)
		bufferevent_free(u->dial);
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
