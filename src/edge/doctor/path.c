/* The doctor's path checks, config to ALPN: the configuration, the
 * clock against the certificates, DNS, TCP, the site's proxy, TLS with
 * the cloud's certificate, and the protocol agreed. Each uses the
 * daemon's own code for its step. */
#include "edge/doctor/doctor-int.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/config.h"
#include "common/err.h"
#include "common/identity.h"
#include "common/netutil.h"
#include "common/timefmt.h"
#include "common/timeval.h"
#include "common/tls.h"
#include "common/tlsctx.h"
#include "edge/config.h"
#include "edge/device/devtls.h"
#include "edge/uplink/certdiag.h"
#include "edge/uplink/dialer.h"
#include "edge/uplink/proxy.h"
#include "edge/uplink/cloudtrust.h"
/* A certificate this close to its end gets a warning. */
#define EXPIRY_WARN_DAYS 30

static void
time_line(time_t t, char *buf, size_t cap)
{
	time_format(t, TIME_TEXT, buf, cap);
}

/* ---- config ---------------------------------------------------------- */

void
step_config(struct doctor *d)
{
	struct conf_errors errs;
	struct tlsctx_opts o = { .server = false };
	struct err er;
	X509 *cert = NULL;
	size_t i;

	if (!step_begin(d, "config"))
		return;
	if (edge_conf_load(d->path, &d->cf, &errs) != 0) {
		size_t len = 0;
		char buf[DETAIL_MAX] = "";

		for (i = 0; i < errs.n && len < sizeof(buf); i++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			    "%s%s", i > 0 ? "; " : "", errs.line[i]);
		step_end(d, V_FAIL, true, "%s", buf);
		return;
	}
	o.cert = d->cf->cert;
	o.key = d->cf->key;
	o.ca = d->cf->ca;
	o.crl = d->cf->crl;
	if (tlsctx_new(&o, &d->ctx, &er) != 0) {
		step_end(d, V_FAIL, true, "%s: %s", d->path, er.msg);
		return;
	}
	for (i = 0; i < d->cf->nlisteners; i++) {
		const struct edge_listener_conf *lc = d->cf->listeners[i];
		struct devtls *dt;

		if (lc->tls_cert == NULL)
			continue;
		if (devtls_new(lc, &dt, &er) != 0) {
			step_end(d, V_FAIL, true, "%s:%d: listener %s: %s",
			    d->path, lc->line, lc->name, er.msg);
			return;
		}
		devtls_free(dt);
	}
	snprintf(d->cloud, sizeof(d->cloud), "%s%s%s:%u",
	    strchr(d->cf->cloud.host, ':') != NULL ? "[" : "",
	    d->cf->cloud.host, strchr(d->cf->cloud.host, ':') != NULL ?
	    "]" : "", d->cf->cloud.port);
	if (tls_load_cert(d->cf->cert, &cert, &er) == 0) {
		identity_from_cert(cert, &d->me);
		tls_fp_spki(cert, d->my_pin);
		X509_free(cert);
	}
	step_end(d, V_PASS, true, "%s: edge '%s' of tenant '%s', %zu listener%s, "
	    "cloud %s%s%s", d->path, d->me.has_edge ? d->me.edge : "?",
	    d->me.has_edge ? d->me.tenant : "?", d->cf->nlisteners,
	    d->cf->nlisteners == 1 ? "" : "s", d->cloud,
	    d->cf->use_proxy ? " via proxy " : "",
	    d->cf->use_proxy ? d->cf->proxy.shown : "");
}

/* ---- clock ----------------------------------------------------------- */

/* Whether now is inside cert's validity; else why, in buf (a predicate:
 * bool). */
static bool
clock_fits(X509 *cert, const char *what, time_t now, char *buf, size_t cap)
{
	int64_t nb = tls_time_epoch(X509_get0_notBefore(cert));
	int64_t na = tls_time_epoch(X509_get0_notAfter(cert));
	char a[40], b[40], c[40];

	time_line(now, c, sizeof(c));
	time_line((time_t)nb, a, sizeof(a));
	time_line((time_t)na, b, sizeof(b));
	if (now < nb) {
		snprintf(buf, cap, "the local clock says %s but %s is valid "
		    "only from %s: the clock is behind (fix NTP), or the "
		    "certificate was issued with a date in the future", c,
		    what, a);
		return false;
	}
	if (now > na) {
		snprintf(buf, cap, "%s expired on %s (the local clock says "
		    "%s): issue a new one, or, if the clock is ahead, fix NTP",
		    what, b, c);
		return false;
	}
	return true;
}

void
step_clock(struct doctor *d)
{
	STACK_OF(X509) *cas = NULL;
	X509 *cert = NULL;
	struct err er;
	time_t now = time(NULL);
	char why[600], c[40], until[40];
	int64_t left;
	int i;

	if (!step_begin(d, "clock"))
		return;
	if (tls_load_cert(d->cf->cert, &cert, &er) != 0 ||
	    tls_load_certs(d->cf->ca, &cas, &er) != 0) {
		X509_free(cert);
		step_end(d, V_FAIL, true, "%s", er.msg);
		return;
	}
	if (!clock_fits(cert, "this edge's certificate", now, why,
	    sizeof(why))) {
		step_end(d, V_FAIL, true, "%s", why);
		goto out;
	}
	for (i = 0; i < sk_X509_num(cas); i++) {
		char what[300], subj[256];
		X509 *ca = sk_X509_value(cas, i);

		tls_name_line(X509_get_subject_name(ca), subj, sizeof(subj));
		snprintf(what, sizeof(what), "the cloud's CA '%s' (%s)", subj,
		    d->cf->ca);
		if (!clock_fits(ca, what, now, why, sizeof(why))) {
			step_end(d, V_FAIL, true, "%s", why);
			goto out;
		}
	}
	time_line(now, c, sizeof(c));
	left = tls_time_epoch(X509_get0_notAfter(cert)) - (int64_t)now;
	time_line((time_t)tls_time_epoch(X509_get0_notAfter(cert)), until,
	    sizeof(until));
	if (left < (int64_t)EXPIRY_WARN_DAYS * 86400)
		step_end(d, V_WARN, true, "the local clock (%s) is within the "
		    "certificates' validity, but this edge's certificate "
		    "expires in %lld days (%s): renew it", c,
		    (long long)(left / 86400), until);
	else
		step_end(d, V_PASS, true, "the local clock (%s) is within this "
		    "edge's certificate (until %s) and the CA's", c, until);
out:
	X509_free(cert);
	sk_X509_pop_free(cas, X509_free);
}

/* ---- dns ------------------------------------------------------------- */

static void
on_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct doctor *d = arg;

	d->done = true;
	d->dns_err = result;
	d->ai = ai;
}

void
step_dns(struct doctor *d)
{
	struct evutil_addrinfo hints, *a;
	const char *host;
	char port[8], addrs[400] = "";
	size_t len = 0;

	if (!step_begin(d, "dns"))
		return;
	host = d->cf->use_proxy ? d->cf->proxy.host : d->cf->cloud.host;
	snprintf(port, sizeof(port), "%u", d->cf->use_proxy ?
	    d->cf->proxy.port : d->cf->cloud.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;	/* as edge/dialer.c asks */
	d->done = false;
	d->dns_req = evdns_getaddrinfo(d->dns, host, port, &hints,
	    on_resolved, d);
	if (d->dns_req == NULL && !d->done) {
		step_end(d, V_FAIL, true, "cannot resolve %s", host);
		return;
	}
	doctor_await(d, d->cf->handshake_timeout);
	if (!d->done) {
		/* Its callback runs now, with EVUTIL_EAI_CANCEL; libevent
		 * frees the request in callbacks it defers to the loop. */
		evdns_getaddrinfo_cancel(d->dns_req);
		for (int i = 0; i < 3; i++)
			event_base_loop(d->base, EVLOOP_NONBLOCK);
		step_end(d, V_FAIL, true, "no answer for %s within "
		    "handshake_timeout from the name servers in "
		    "/etc/resolv.conf", host);
		return;
	}
	if (d->ai == NULL) {
		step_end(d, V_FAIL, true, "cannot resolve %s%s: %s", host,
		    d->cf->use_proxy ? " (the proxy's name)" : "",
		    dial_dns_error(d->dns_err));
		return;
	}
	for (a = d->ai; a != NULL && len + 60 < sizeof(addrs);
	    a = a->ai_next) {
		char one[64];
		const void *sa = a->ai_family == AF_INET6 ?
		    (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;

		if (evutil_inet_ntop(a->ai_family, sa, one, sizeof(one)) ==
		    NULL)
			continue;
		len += (size_t)snprintf(addrs + len, sizeof(addrs) - len,
		    "%s%s", len > 0 ? ", " : "", one);
	}
	if (net_is_address(host))
		step_end(d, V_PASS, true, "%s is an address: nothing to resolve",
		    host);
	else
		step_end(d, V_PASS, true, "%s%s resolves to %s%s", d->cf->use_proxy ?
	    "the proxy " : "", host, addrs, d->cf->use_proxy ?
	    " (the cloud's name is the proxy's to resolve)" : "");
}

/* ---- tcp ------------------------------------------------------------- */

static void
on_tcp(const struct dial_result *r, void *arg)
{
	struct doctor *d = arg;

	d->tcp = NULL;
	d->fd = r->fd;
	d->conn = *r;
	d->done = true;
}

void
step_tcp(struct doctor *d)
{
	if (!step_begin(d, "tcp"))
		return;
	d->done = false;
	if (dialer_addrs(d->base, d->ai, d->cf->handshake_timeout, on_tcp, d,
	    &d->tcp) != 0) {
		step_end(d, V_FAIL, true, "out of memory");
		return;
	}
	/* The dialer gives each address handshake_timeout. */
	while (!d->done)
		event_base_loop(d->base, EVLOOP_ONCE);
	if (d->fd < 0) {
		step_end(d, V_FAIL, true, "cannot connect to %s %s: %s%s",
		    d->cf->use_proxy ? "the proxy" : "the cloud",
		    d->cf->use_proxy ? d->cf->proxy.shown : d->cloud,
		    d->conn.fail == DIAL_CONNECT ? d->conn.errors :
		    "out of memory", d->cf->use_proxy ? "" : ": a firewall may "
		    "block outbound connections to this port; ask IT to allow "
		    "it, or give the site's proxy (proxy = http://HOST:PORT)");
		return;
	}
	net_nodelay(d->fd);
	if (d->conn.failed > 0)
		step_end(d, V_WARN, true, "connected to %s; before that %s",
		    d->conn.addr, d->conn.errors);
	else
		step_end(d, V_PASS, true, "connected to %s %s", d->cf->use_proxy ?
		    "the proxy at" : "the cloud at", d->conn.addr);
}

/* ---- proxy ----------------------------------------------------------- */

static void
on_proxy(int fd, int status, bool creds_refused, const char *why, void *arg)
{
	struct doctor *d = arg;

	(void)creds_refused;
	d->pd = NULL;
	d->fd = fd;
	d->proxy_status = status;
	if (why != NULL)
		snprintf(d->proxy_why, sizeof(d->proxy_why), "%s", why);
	d->done = true;
}

void
step_proxy(struct doctor *d)
{
	int fd;

	if (!step_begin(d, "proxy"))
		return;
	fd = d->fd;
	if (!d->cf->use_proxy) {
		step_end(d, V_NA, false, "no proxy configured: a direct connection "
		    "to the cloud");
		return;
	}
	d->done = false;
	d->fd = -1;
	if (proxy_dial_fd(d->base, fd, &d->cf->proxy, d->cf->cloud.host,
	    d->cf->cloud.port, d->cf->handshake_timeout, on_proxy, d,
	    &d->pd) != 0) {
		close(fd);
		step_end(d, V_FAIL, true, "out of memory");
		return;
	}
	while (!d->done)	/* the dial has its own timeout */
		event_base_loop(d->base, EVLOOP_ONCE);
	if (d->fd < 0) {
		step_end(d, V_FAIL, true, "%s", d->proxy_why);
		return;
	}
	step_end(d, V_PASS, true, "the proxy %s answered %d to CONNECT %s: a "
	    "tunnel to the cloud", d->cf->proxy.shown, d->proxy_status,
	    d->cloud);
}

/* ---- tls, certificate, alpn ------------------------------------------ */

static void
on_tls(struct bufferevent *bev, short what, void *arg)
{
	struct doctor *d = arg;
	unsigned long e = bufferevent_get_openssl_error(bev);
	int se = EVUTIL_SOCKET_ERROR();
	const char *r = ERR_GET_LIB(e) != 0 ? ERR_reason_error_string(e) :
	    NULL;
	const char *via = d->cf->use_proxy ? " (through the proxy: it, or "
	    "something behind it, may have answered instead of the cloud)" :
	    "";

	d->done = true;
	if (what & BEV_EVENT_CONNECTED) {
		d->tls_up = true;
		return;
	}
	if (certcheck_hello_refused(&d->ck, e, d->cloud, d->tls_why,
	    sizeof(d->tls_why)))
		d->hello_refused = true;
	else if (what & BEV_EVENT_TIMEOUT)
		snprintf(d->tls_why, sizeof(d->tls_why), "no TLS answer from "
		    "%s within handshake_timeout%s", d->cloud, via);
	else if (r != NULL && strstr(r, "wrong version number") != NULL)
		snprintf(d->tls_why, sizeof(d->tls_why), "%s does not speak "
		    "TLS (%s): is this the cloud's tunnel port?%s", d->cloud,
		    r, via);
	else if (r != NULL)
		snprintf(d->tls_why, sizeof(d->tls_why), "TLS handshake with "
		    "%s failed: %s%s", d->cloud, r, via);
	else
		snprintf(d->tls_why, sizeof(d->tls_why), "%s closed the "
		    "connection during the TLS handshake (%s): is it an "
		    "isthmus cloud, and this its tunnel port?%s", d->cloud,
		    se != 0 ? evutil_socket_error_to_string(se) :
		    "end of stream", via);
}

/* ---- the probe after a refused ClientHello -------------------------- */

/* What inspecting proxies do that the edge does not offer: more groups,
 * TLS 1.2, AES-128. */
#define PROBE_GROUPS "X25519:P-256:P-384:P-521:X448:ffdhe2048"
#define PROBE_CIPHERSUITES "TLS_AES_256_GCM_SHA384:" \
	"TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"

static void on_tcp(const struct dial_result *r, void *arg);
static void on_proxy(int fd, int status, bool creds_refused,
    const char *why, void *arg);

static void
on_probe(struct bufferevent *bev, short what, void *arg)
{
	struct doctor *d = arg;

	(void)what;
	d->probe_err = bufferevent_get_openssl_error(bev);
	d->done = true;
}

/* A connection to the cloud again, the way the tcp and proxy steps made
 * the first (they passed): its descriptor, or -1 and why not in buf (a
 * descriptor-or--1, like socket(); the sentence is the error). */
static int
probe_connect(struct doctor *d, char *buf, size_t cap)
{
	int fd;

	snprintf(buf, cap, "out of memory");
	d->done = false;
	d->fd = -1;
	if (dialer_addrs(d->base, d->ai, d->cf->handshake_timeout, on_tcp, d,
	    &d->tcp) != 0)
		return -1;
	while (!d->done)	/* the dialer has its own timeouts */
		event_base_loop(d->base, EVLOOP_ONCE);
	if (d->fd < 0 && d->conn.fail == DIAL_CONNECT)
		snprintf(buf, cap, "%s", d->conn.errors);
	if (d->fd < 0 || !d->cf->use_proxy)
		return d->fd;
	fd = d->fd;
	d->fd = -1;
	d->done = false;
	if (proxy_dial_fd(d->base, fd, &d->cf->proxy, d->cf->cloud.host,
	    d->cf->cloud.port, d->cf->handshake_timeout, on_proxy, d,
	    &d->pd) != 0) {
		close(fd);
		return -1;
	}
	while (!d->done)
		event_base_loop(d->base, EVLOOP_ONCE);
	if (d->fd < 0)
		snprintf(buf, cap, "%s", d->proxy_why);
	fd = d->fd;
	d->fd = -1;
	return fd;
}

/* The probe's session: what the edge checks, more to offer, and no
 * client certificate, so whatever answers learns nothing of ours. */
static SSL *
probe_ssl(struct doctor *d, struct certcheck *ck)
{
	SSL *ssl = certcheck_ssl(d->ctx, d->cf, ck);

	if (ssl == NULL)
		return NULL;
	SSL_certs_clear(ssl);
	if (SSL_set1_groups_list(ssl, PROBE_GROUPS) != 1 ||
	    SSL_set_ciphersuites(ssl, PROBE_CIPHERSUITES) != 1 ||
	    SSL_set_min_proto_version(ssl, TLS1_2_VERSION) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* What the probe saw, into buf. */
static void
probe_verdict(struct doctor *d, struct certcheck *ck, SSL *ssl, char *buf,
    size_t cap)
{
	static const char offer[] = "a probe handshake offering more key "
	    "exchanges (" PROBE_GROUPS ") and TLS 1.2, without a client "
	    "certificate,";
	char why[1200];
	const char *r = ERR_GET_LIB(d->probe_err) != 0 ?
	    ERR_reason_error_string(d->probe_err) : NULL;
	X509 *cert = SSL_get0_peer_certificate(ssl);
	char subj[200], issuer[200];

	if (certcheck_failed(ck)) {
		enum uplink_fail f = certcheck_explain(ck, d->cloud, why,
		    sizeof(why));

		snprintf(buf, cap, "%s was shown a certificate: %s: %s", offer,
		    uplink_fail_name(f), why);
	} else if (cert != NULL) {
		tls_name_line(X509_get_subject_name(cert), subj, sizeof(subj));
		tls_name_line(X509_get_issuer_name(cert), issuer,
		    sizeof(issuer));
		snprintf(buf, cap, "%s was shown the pinned cloud certificate "
		    "'%s' issued by '%s' (%s): what answers holds the cloud's "
		    "key but not its TLS settings", offer, subj, issuer,
		    SSL_get_version(ssl));
	} else if (!d->done)
		snprintf(buf, cap, "%s got no answer within handshake_timeout",
		    offer);
	else
		snprintf(buf, cap, "%s was refused too (%s): what answers "
		    "shows no certificate", offer, r != NULL ? r :
		    "connection closed");
}

/* The tls step after a refused ClientHello: one more handshake to name
 * what answered. */
static void
step_tls_probe(struct doctor *d)
{
	struct certcheck ck = { 0 };
	struct bufferevent *bev = NULL;
	char seen[1400];
	struct timeval tv;
	SSL *ssl = NULL;
	int fd = probe_connect(d, seen, sizeof(seen));

	if (fd >= 0 && (ssl = probe_ssl(d, &ck)) != NULL)
		bev = bufferevent_openssl_socket_new(d->base, fd, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		/* libevent freed ssl on failure, but not our socket */
		if (fd >= 0)
			close(fd);
		step_end(d, V_FAIL, true, "%s. A probe handshake to see its "
		    "certificate could not be made (%s)", d->tls_why,
		    fd >= 0 ? "out of memory" : seen);
		certcheck_clear(&ck);
		return;
	}
	tv_ms(&tv, d->cf->handshake_timeout);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setcb(bev, NULL, NULL, on_probe, d);
	d->done = false;
	d->probe_err = 0;
	doctor_await(d, d->cf->handshake_timeout);
	probe_verdict(d, &ck, ssl, seen, sizeof(seen));
	bufferevent_free(bev);
	certcheck_clear(&ck);
	step_end(d, V_FAIL, true, "%s. Then %s", d->tls_why, seen);
}

static const char *
group_name(SSL *ssl)
{
	const char *g = SSL_group_to_name(ssl, SSL_get_negotiated_group(ssl));

	return g != NULL ? g : "?";
}

void
step_tls(struct doctor *d)
{
	struct timeval tv;
	SSL *ssl;
	int fd;

	if (!step_begin(d, "tls"))
		return;
	fd = d->fd;
	d->fd = -1;
	ssl = certcheck_ssl(d->ctx, d->cf, &d->ck);
	if (ssl != NULL)
		d->tls = bufferevent_openssl_socket_new(d->base, fd, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (ssl == NULL || d->tls == NULL) {
		close(fd);
		step_end(d, V_FAIL, true, "out of memory");
		return;
	}
	tv_ms(&tv, d->cf->handshake_timeout);
	bufferevent_set_timeouts(d->tls, &tv, &tv);
	bufferevent_setcb(d->tls, NULL, NULL, on_tls, d);
	d->done = false;
	/* The whole handshake within handshake_timeout: the bufferevent's
	 * own timeouts restart with every byte a slow peer trickles. */
	doctor_await(d, d->cf->handshake_timeout);
	if (!d->done)
		snprintf(d->tls_why, sizeof(d->tls_why), "no complete TLS "
		    "handshake with %s within handshake_timeout%s", d->cloud,
		    d->cf->use_proxy ? " (through the proxy)" : "");
	if (d->tls_up)
		step_end(d, V_PASS, true, "%s, %s, %s", SSL_get_version(ssl),
		    SSL_get_cipher_name(ssl), group_name(ssl));
	else if (d->hello_refused)
		step_tls_probe(d);
	else if (certcheck_failed(&d->ck))
		step_end(d, V_PASS, true, "%s server hello; this edge stopped the "
		    "handshake at the certificate check, before sending its "
		    "own", SSL_get_version(ssl));
	else
		step_end(d, V_FAIL, true, "%s", d->tls_why);
}

void
step_certificate(struct doctor *d)
{
	SSL *ssl;
	X509 *cert;
	char subj[256], issuer[256], until[40], fp[TLS_FP_LEN];
	uint8_t fc[32];
	int64_t na;

	if (!step_begin(d, "certificate"))
		return;
	if (certcheck_failed(&d->ck)) {
		char why[1400];
		enum uplink_fail f = certcheck_explain(&d->ck, d->cloud, why,
		    sizeof(why));

		step_end(d, V_FAIL, false, "%s: %s", uplink_fail_name(f), why);
		return;
	}
	ssl = bufferevent_openssl_get_ssl(d->tls);
	cert = SSL_get0_peer_certificate(ssl);
	if (cert == NULL) {
		step_end(d, V_FAIL, false, "the cloud presented no certificate");
		return;
	}
	tls_name_line(X509_get_subject_name(cert), subj, sizeof(subj));
	tls_name_line(X509_get_issuer_name(cert), issuer, sizeof(issuer));
	na = tls_time_epoch(X509_get0_notAfter(cert));
	time_line((time_t)na, until, sizeof(until));
	tls_fp_format(d->cf->cloud_pin, fp);
	tls_cert_sha256(cert, fc);
	if (na - (int64_t)time(NULL) < (int64_t)EXPIRY_WARN_DAYS * 86400)
		step_end(d, V_WARN, false, "'%s' issued by '%s' verifies and "
		    "matches the pin, but expires on %s: the cloud's operator "
		    "must renew it", subj, issuer, until);
	else
		step_end(d, V_PASS, false, "'%s' issued by '%s' verifies for %s; "
		    "its %s matches cloud_pin %s; valid until %s", subj,
		    issuer, cloud_trust_name(d->cf),
		    CRYPTO_memcmp(fc, d->cf->cloud_pin, 32) == 0 ?
		    "certificate" : "key", fp, until);
}

void
step_alpn(struct doctor *d)
{
	const unsigned char *alpn = NULL;
	unsigned int n = 0;

	if (!step_begin(d, "alpn"))
		return;
	SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(d->tls), &alpn,
	    &n);
	if (n != strlen(TUNNEL_ALPN) || memcmp(alpn, TUNNEL_ALPN, n) != 0) {
		step_end(d, V_FAIL, false, "the server does not speak the isthmus "
		    "protocol (it chose %s%.*s%s, not %s): %s is not an "
		    "isthmus cloud's tunnel port", n > 0 ? "'" : "no protocol",
		    (int)n, n > 0 ? (const char *)alpn : "", n > 0 ? "'" : "",
		    TUNNEL_ALPN, d->cloud);
		return;
	}
	step_end(d, V_PASS, false, "%s", TUNNEL_ALPN);
}
