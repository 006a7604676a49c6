/* isthmus doctor: the step table, its runner and output, and the checks
 * along the path to the cloud; see doctor.h. Over 800 lines because it is
 * not split yet (issue 15: runner, path checks and tunnel checks are to
 * become files of their own in this folder). */
#include "edge/doctor/doctor.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "common/h2conn.h"
#include "common/identity.h"
#include "common/json.h"
#include "common/log.h"
#include "common/netutil.h"
#include "common/relay.h"
#include "common/timeval.h"
#include "common/tls.h"
#include "common/tlsctx.h"
#include "edge/uplink/certdiag.h"
#include "edge/config.h"
#include "edge/devtls.h"
#include "edge/uplink/dialer.h"
#include "edge/uplink/proxy.h"

/* The cloud's diagnostic authority (cloud/diag.h). */
#define DIAG_AUTHORITY ".isthmus"
/* A certificate this close to its end gets a warning. */
#define EXPIRY_WARN_DAYS 30
/* A clock this far from the cloud's gets a warning. */
#define SKEW_WARN_S 30
#define DETAIL_MAX 2048

static const char usage_doctor[] =
    "usage: isthmus doctor -c FILE [--json]\n"
    "\n"
    "Checks, one step at a time, that this edge can reach its cloud and\n"
    "its services: config, clock, dns, tcp, proxy, tls, certificate,\n"
    "alpn, admission, round_trip, then each service the listeners name.\n"
    "Each step prints its time and a verdict (ok, warn, FAIL, n/a); after\n"
    "a failure the later steps are skipped. It opens its own tunnel, so it\n"
    "runs beside a running edge. When something on the path refuses the\n"
    "edge's TLS offer, it makes one probe handshake (more key exchanges,\n"
    "TLS 1.2, no client certificate) to name the certificate shown.\n"
    "\n"
    "  -c, --config FILE  the edge's configuration (edge.conf)\n"
    "      --json         one JSON object instead of text\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 every step passed, 1 a step failed, 2 bad usage.\n";

enum verdict { V_PASS, V_WARN, V_FAIL, V_NA, V_SKIPPED };

static const char *const verdict_text[] = {
	[V_PASS] = "ok", [V_WARN] = "warn", [V_FAIL] = "FAIL",
	[V_NA] = "n/a", [V_SKIPPED] = "skip",
};
static const char *const verdict_json[] = {
	[V_PASS] = "pass", [V_WARN] = "warn", [V_FAIL] = "fail",
	[V_NA] = "n/a", [V_SKIPPED] = "skipped",
};

struct step {
	char name[80];
	enum verdict v;
	long us;			/* -1: not timed */
	char detail[DETAIL_MAX];
};

/* An answer to a diagnostic request (cloud/diag.h): its sentence says
 * what the cloud found; the fields are for the checks. */
struct answer {
	bool done;
	int status;
	char refused[40];		/* the cloud did not take it */
	int64_t cloud_time;
	char text[600];
	size_t tlen;
};

struct doctor {
	const char *path;
	struct event_base *base;
	struct evdns_base *dns;
	struct edge_conf *cf;
	SSL_CTX *ctx;
	char cloud[300];		/* host:port, for messages */
	struct cert_identity me;
	char my_pin[TLS_FP_LEN];
	struct step *steps;		/* grows: one per service too */
	size_t n, cap;
	const char *failed;		/* the first failed step */
	const char *blocked;		/* ... that the later ones need */
	bool independent;		/* a failure here blocks nothing */
	int64_t t0;			/* the current step's start */
	/* waiting for the loop */
	struct event *timer;
	bool done, timed_out;
	/* what the steps pass on */
	struct evutil_addrinfo *ai;
	int fd;
	struct proxy_dial *pd;
	char proxy_why[400];
	int proxy_status;
	struct bufferevent *tls;
	bool tls_up;
	char tls_why[1400];
	bool hello_refused;		/* ... before any certificate */
	unsigned long probe_err;
	struct certcheck ck;
	struct h2conn *h2;
	bool admitted;
	char closed_why[200];
	unsigned long closed_tls;
	bool ponged;
	int dns_err;
	struct dialer *tcp;
	struct dial_result conn;
	struct evdns_getaddrinfo_request *dns_req;
	struct relay *req;		/* the diagnostic request in flight */
	struct answer ans;
};

/* Starts a step: false (and the step is marked skipped) after a failure. */
static bool
begin(struct doctor *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool
begin(struct doctor *d, const char *fmt, ...)
{
	struct step *s;
	va_list ap;

	if (d->n == d->cap) {
		size_t cap = d->cap > 0 ? d->cap * 2 : 16;
		struct step *nv = realloc(d->steps, cap * sizeof(*nv));

		if (nv == NULL) {
			/* Nothing can be shown for this step: the run fails,
			 * it never passes with a step left out. */
			d->failed = d->blocked = "out of memory";
			return false;
		}
		d->steps = nv;
		d->cap = cap;
	}
	s = &d->steps[d->n];
	memset(s, 0, sizeof(*s));
	va_start(ap, fmt);
	vsnprintf(s->name, sizeof(s->name), fmt, ap);
	va_end(ap);
	s->us = -1;
	d->n++;
	if (d->blocked != NULL) {
		s->v = V_SKIPPED;
		snprintf(s->detail, sizeof(s->detail), "not run: %s failed",
		    d->blocked);
		return false;
	}
	d->t0 = mono_us();
	return true;
}

static void
end(struct doctor *d, enum verdict v, bool timed, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
end(struct doctor *d, enum verdict v, bool timed, const char *fmt, ...)
{
	struct step *s = &d->steps[d->n - 1];
	va_list ap;

	s->v = v;
	s->us = timed ? (long)(mono_us() - d->t0) : -1;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
	if (v == V_FAIL && d->failed == NULL)
		d->failed = s->name;
	if (v == V_FAIL && d->blocked == NULL && !d->independent)
		d->blocked = s->name;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct doctor *d = arg;

	(void)fd;
	(void)what;
	d->timed_out = true;
}

/* Runs the loop until a callback says done, or for timeout_ms. Set
 * d->done = false before starting what is awaited: it may finish at
 * once. */
static void
await(struct doctor *d, uint64_t timeout_ms)
{
	struct timeval tv;

	d->timed_out = false;
	tv_ms(&tv, timeout_ms);
	evtimer_add(d->timer, &tv);
	while (!d->done && !d->timed_out)
		event_base_loop(d->base, EVLOOP_ONCE);
	evtimer_del(d->timer);
}

static void
time_line(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* ---- config ---------------------------------------------------------- */

static void
step_config(struct doctor *d)
{
	struct conf_errors errs;
	struct tlsctx_opts o = { .server = false };
	struct err er;
	X509 *cert = NULL;
	size_t i;

	if (!begin(d, "config"))
		return;
	if (edge_conf_load(d->path, &d->cf, &errs) != 0) {
		size_t len = 0;
		char buf[DETAIL_MAX] = "";

		for (i = 0; i < errs.n && len < sizeof(buf); i++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			    "%s%s", i > 0 ? "; " : "", errs.line[i]);
		end(d, V_FAIL, true, "%s", buf);
		return;
	}
	o.cert = d->cf->cert;
	o.key = d->cf->key;
	o.ca = d->cf->ca;
	o.crl = d->cf->crl;
	if (tlsctx_new(&o, &d->ctx, &er) != 0) {
		end(d, V_FAIL, true, "%s: %s", d->path, er.msg);
		return;
	}
	for (i = 0; i < d->cf->nlisteners; i++) {
		const struct edge_listener_conf *lc = d->cf->listeners[i];
		struct devtls *dt;

		if (lc->tls_cert == NULL)
			continue;
		if (devtls_new(lc, &dt, &er) != 0) {
			end(d, V_FAIL, true, "%s:%d: listener %s: %s",
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
	end(d, V_PASS, true, "%s: edge '%s' of tenant '%s', %zu listener%s, "
	    "cloud %s%s%s", d->path, d->me.has_edge ? d->me.edge : "?",
	    d->me.has_edge ? d->me.tenant : "?", d->cf->nlisteners,
	    d->cf->nlisteners == 1 ? "" : "s", d->cloud,
	    d->cf->use_proxy ? " via proxy " : "",
	    d->cf->use_proxy ? d->cf->proxy.shown : "");
}

/* ---- clock ----------------------------------------------------------- */

/* Whether now is inside cert's validity; else why, in buf. */
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

static void
step_clock(struct doctor *d)
{
	STACK_OF(X509) *cas = NULL;
	X509 *cert = NULL;
	struct err er;
	time_t now = time(NULL);
	char why[600], c[40], until[40];
	int64_t left;
	int i;

	if (!begin(d, "clock"))
		return;
	if (tls_load_cert(d->cf->cert, &cert, &er) != 0 ||
	    tls_load_certs(d->cf->ca, &cas, &er) != 0) {
		X509_free(cert);
		end(d, V_FAIL, true, "%s", er.msg);
		return;
	}
	if (!clock_fits(cert, "this edge's certificate", now, why,
	    sizeof(why))) {
		end(d, V_FAIL, true, "%s", why);
		goto out;
	}
	for (i = 0; i < sk_X509_num(cas); i++) {
		char what[300], subj[256];
		X509 *ca = sk_X509_value(cas, i);

		tls_name_line(X509_get_subject_name(ca), subj, sizeof(subj));
		snprintf(what, sizeof(what), "the cloud's CA '%s' (%s)", subj,
		    d->cf->ca);
		if (!clock_fits(ca, what, now, why, sizeof(why))) {
			end(d, V_FAIL, true, "%s", why);
			goto out;
		}
	}
	time_line(now, c, sizeof(c));
	left = tls_time_epoch(X509_get0_notAfter(cert)) - (int64_t)now;
	time_line((time_t)tls_time_epoch(X509_get0_notAfter(cert)), until,
	    sizeof(until));
	if (left < (int64_t)EXPIRY_WARN_DAYS * 86400)
		end(d, V_WARN, true, "the local clock (%s) is within the "
		    "certificates' validity, but this edge's certificate "
		    "expires in %lld days (%s): renew it", c,
		    (long long)(left / 86400), until);
	else
		end(d, V_PASS, true, "the local clock (%s) is within this "
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

static void
step_dns(struct doctor *d)
{
	struct evutil_addrinfo hints, *a;
	const char *host;
	char port[8], addrs[400] = "";
	size_t len = 0;
	unsigned char ip[16];

	if (!begin(d, "dns"))
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
		end(d, V_FAIL, true, "cannot resolve %s", host);
		return;
	}
	await(d, d->cf->handshake_timeout);
	if (!d->done) {
		/* Its callback runs now, with EVUTIL_EAI_CANCEL; libevent
		 * frees the request in callbacks it defers to the loop. */
		evdns_getaddrinfo_cancel(d->dns_req);
		for (int i = 0; i < 3; i++)
			event_base_loop(d->base, EVLOOP_NONBLOCK);
		end(d, V_FAIL, true, "no answer for %s within "
		    "handshake_timeout from the name servers in "
		    "/etc/resolv.conf", host);
		return;
	}
	if (d->ai == NULL) {
		end(d, V_FAIL, true, "cannot resolve %s%s: %s", host,
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
	if (evutil_inet_pton(AF_INET, host, ip) == 1 ||
	    evutil_inet_pton(AF_INET6, host, ip) == 1)
		end(d, V_PASS, true, "%s is an address: nothing to resolve",
		    host);
	else
		end(d, V_PASS, true, "%s%s resolves to %s%s", d->cf->use_proxy ?
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

static void
step_tcp(struct doctor *d)
{
	if (!begin(d, "tcp"))
		return;
	d->done = false;
	if (dialer_addrs(d->base, d->ai, d->cf->handshake_timeout, on_tcp, d,
	    &d->tcp) != 0) {
		end(d, V_FAIL, true, "out of memory");
		return;
	}
	/* The dialer gives each address handshake_timeout. */
	while (!d->done)
		event_base_loop(d->base, EVLOOP_ONCE);
	if (d->fd < 0) {
		end(d, V_FAIL, true, "cannot connect to %s %s: %s%s",
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
		end(d, V_WARN, true, "connected to %s; before that %s",
		    d->conn.addr, d->conn.errors);
	else
		end(d, V_PASS, true, "connected to %s %s", d->cf->use_proxy ?
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

static void
step_proxy(struct doctor *d)
{
	int fd;

	if (!begin(d, "proxy"))
		return;
	fd = d->fd;
	if (!d->cf->use_proxy) {
		end(d, V_NA, false, "no proxy configured: a direct connection "
		    "to the cloud");
		return;
	}
	d->done = false;
	d->fd = -1;
	if (proxy_dial_fd(d->base, fd, &d->cf->proxy, d->cf->cloud.host,
	    d->cf->cloud.port, d->cf->handshake_timeout, on_proxy, d,
	    &d->pd) != 0) {
		close(fd);
		end(d, V_FAIL, true, "out of memory");
		return;
	}
	while (!d->done)	/* the dial has its own timeout */
		event_base_loop(d->base, EVLOOP_ONCE);
	if (d->fd < 0) {
		end(d, V_FAIL, true, "%s", d->proxy_why);
		return;
	}
	end(d, V_PASS, true, "the proxy %s answered %d to CONNECT %s: a "
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
 * the first (they passed), or -1 and why not in buf. */
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
		end(d, V_FAIL, true, "%s. A probe handshake to see its "
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
	await(d, d->cf->handshake_timeout);
	probe_verdict(d, &ck, ssl, seen, sizeof(seen));
	bufferevent_free(bev);
	certcheck_clear(&ck);
	end(d, V_FAIL, true, "%s. Then %s", d->tls_why, seen);
}

static const char *
group_name(SSL *ssl)
{
	const char *g = SSL_group_to_name(ssl, SSL_get_negotiated_group(ssl));

	return g != NULL ? g : "?";
}

static void
step_tls(struct doctor *d)
{
	struct timeval tv;
	SSL *ssl;
	int fd;

	if (!begin(d, "tls"))
		return;
	fd = d->fd;
	d->fd = -1;
	ssl = certcheck_ssl(d->ctx, d->cf, &d->ck);
	if (ssl != NULL)
		d->tls = bufferevent_openssl_socket_new(d->base, fd, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (ssl == NULL || d->tls == NULL) {
		close(fd);
		end(d, V_FAIL, true, "out of memory");
		return;
	}
	tv_ms(&tv, d->cf->handshake_timeout);
	bufferevent_set_timeouts(d->tls, &tv, &tv);
	bufferevent_setcb(d->tls, NULL, NULL, on_tls, d);
	d->done = false;
	/* The whole handshake within handshake_timeout: the bufferevent's
	 * own timeouts restart with every byte a slow peer trickles. */
	await(d, d->cf->handshake_timeout);
	if (!d->done)
		snprintf(d->tls_why, sizeof(d->tls_why), "no complete TLS "
		    "handshake with %s within handshake_timeout%s", d->cloud,
		    d->cf->use_proxy ? " (through the proxy)" : "");
	if (d->tls_up)
		end(d, V_PASS, true, "%s, %s, %s", SSL_get_version(ssl),
		    SSL_get_cipher_name(ssl), group_name(ssl));
	else if (d->hello_refused)
		step_tls_probe(d);
	else if (certcheck_failed(&d->ck))
		end(d, V_PASS, true, "%s server hello; this edge stopped the "
		    "handshake at the certificate check, before sending its "
		    "own", SSL_get_version(ssl));
	else
		end(d, V_FAIL, true, "%s", d->tls_why);
}

static void
step_certificate(struct doctor *d)
{
	SSL *ssl;
	X509 *cert;
	char subj[256], issuer[256], until[40], fp[TLS_FP_LEN];
	uint8_t fc[32];
	int64_t na;

	if (!begin(d, "certificate"))
		return;
	if (certcheck_failed(&d->ck)) {
		char why[1400];
		enum uplink_fail f = certcheck_explain(&d->ck, d->cloud, why,
		    sizeof(why));

		end(d, V_FAIL, false, "%s: %s", uplink_fail_name(f), why);
		return;
	}
	ssl = bufferevent_openssl_get_ssl(d->tls);
	cert = SSL_get0_peer_certificate(ssl);
	if (cert == NULL) {
		end(d, V_FAIL, false, "the cloud presented no certificate");
		return;
	}
	tls_name_line(X509_get_subject_name(cert), subj, sizeof(subj));
	tls_name_line(X509_get_issuer_name(cert), issuer, sizeof(issuer));
	na = tls_time_epoch(X509_get0_notAfter(cert));
	time_line((time_t)na, until, sizeof(until));
	tls_fp_format(d->cf->cloud_pin, fp);
	tls_cert_sha256(cert, fc);
	if (na - (int64_t)time(NULL) < (int64_t)EXPIRY_WARN_DAYS * 86400)
		end(d, V_WARN, false, "'%s' issued by '%s' verifies and "
		    "matches the pin, but expires on %s: the cloud's operator "
		    "must renew it", subj, issuer, until);
	else
		end(d, V_PASS, false, "'%s' issued by '%s' verifies for %s; "
		    "its %s matches cloud_pin %s; valid until %s", subj,
		    issuer, certcheck_server_name(d->cf),
		    CRYPTO_memcmp(fc, d->cf->cloud_pin, 32) == 0 ?
		    "certificate" : "key", fp, until);
}

static void
step_alpn(struct doctor *d)
{
	const unsigned char *alpn = NULL;
	unsigned int n = 0;

	if (!begin(d, "alpn"))
		return;
	SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(d->tls), &alpn,
	    &n);
	if (n != strlen(TUNNEL_ALPN) || memcmp(alpn, TUNNEL_ALPN, n) != 0) {
		end(d, V_FAIL, false, "the server does not speak the isthmus "
		    "protocol (it chose %s%.*s%s, not %s): %s is not an "
		    "isthmus cloud's tunnel port", n > 0 ? "'" : "no protocol",
		    (int)n, n > 0 ? (const char *)alpn : "", n > 0 ? "'" : "",
		    TUNNEL_ALPN, d->cloud);
		return;
	}
	end(d, V_PASS, false, "%s", TUNNEL_ALPN);
}

/* ---- the tunnel: admission, round trip, services ---------------------- */

static void
on_settings(struct h2conn *c, void *arg)
{
	struct doctor *d = arg;

	(void)c;
	d->admitted = true;
	d->done = true;
}

static void
on_pong(struct h2conn *c, void *arg)
{
	struct doctor *d = arg;

	(void)c;
	d->ponged = true;
	d->done = true;
}

static void
on_closed(struct h2conn *c, const char *why, void *arg)
{
	struct doctor *d = arg;

	snprintf(d->closed_why, sizeof(d->closed_why), "%s", why);
	d->closed_tls = h2conn_tls_error(c);
	h2conn_free(c);
	d->h2 = NULL;
	d->done = true;
}

static const struct h2conn_cbs doctor_cbs = {
	.settings = on_settings,
	.pong = on_pong,
	.closed = on_closed,
};

static void
copy_field(const struct hdrs *h, const char *name, char *buf, size_t cap)
{
	const char *v = hdrs_get(h, name);

	snprintf(buf, cap, "%s", v != NULL ? v : "");
}

static void
on_head(struct relay *r, void *arg)
{
	struct doctor *d = arg;
	const struct hdrs *h = relay_hdrs(r);
	const char *t = hdrs_get(h, "isthmus-time");

	d->ans.status = relay_info(r)->status;
	copy_field(h, HTTP_REFUSED_FIELD, d->ans.refused,
	    sizeof(d->ans.refused));
	d->ans.cloud_time = t != NULL ? strtoll(t, NULL, 10) : 0;
}

static void
on_body(struct relay *r, void *arg)
{
	struct doctor *d = arg;
	struct evbuffer *in = relay_body_in(r);
	size_t n = evbuffer_get_length(in), room;

	room = sizeof(d->ans.text) - 1 - d->ans.tlen;
	evbuffer_remove(in, d->ans.text + d->ans.tlen, n < room ? n : room);
	d->ans.tlen += n < room ? n : room;
	d->ans.text[d->ans.tlen] = '\0';
	evbuffer_drain(in, evbuffer_get_length(in));
	relay_body_ack(r, n);
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	struct doctor *d = arg;

	(void)r;
	(void)complete;
	d->req = NULL;
	d->ans.done = true;
	d->done = true;
}

static const struct relay_http_ops ask_ops = {
	.head = on_head,
	.body = on_body,
	.done = on_done,
};

/* Asks the cloud path (cloud/diag.h); false when no answer came. */
static bool
ask(struct doctor *d, const char *path)
{
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
		{ (uint8_t *)":authority", (uint8_t *)DIAG_AUTHORITY, 10,
		    strlen(DIAG_AUTHORITY), 0 },
		{ (uint8_t *)":path", (uint8_t *)(uintptr_t)path, 5,
		    strlen(path), 0 },
	};
	char *nl;

	memset(&d->ans, 0, sizeof(d->ans));
	if (d->h2 == NULL)
		return false;
	d->done = false;
	if (relay_http_request(d->h2, nv, 4, false, &ask_ops, d,
	    &d->req) != 0) {
		d->req = NULL;
		return false;
	}
	h2conn_flush(d->h2);
	await(d, d->cf->handshake_timeout);
	if (d->req != NULL) {
		/* Abandoned: reset, so that a late answer is not taken for
		 * the next question's (an aborted relay calls no more). */
		relay_abort(d->req);
		d->req = NULL;
		h2conn_flush(d->h2);
	}
	nl = strchr(d->ans.text, '\n');
	if (nl != NULL)
		*nl = '\0';
	return d->ans.done && d->ans.status != 0;
}

static void
step_admission(struct doctor *d)
{
	int64_t skew;
	char extra[200] = "";

	if (!begin(d, "admission"))
		return;
	bufferevent_set_timeouts(d->tls, NULL, NULL);
	d->done = false;
	if (h2conn_new(d->tls, false, &doctor_cbs, d, &d->h2) != 0) {
		end(d, V_FAIL, true, "out of memory");
		return;
	}
	d->tls = NULL;		/* the session's now */
	await(d, d->cf->handshake_timeout);
	if (!d->admitted) {
		const char *alert = ERR_GET_LIB(d->closed_tls) != 0 ?
		    ERR_reason_error_string(d->closed_tls) : NULL;

		if (d->h2 != NULL)
			end(d, V_FAIL, true, "the cloud did not speak HTTP/2 "
			    "within handshake_timeout after the TLS handshake");
		else
			end(d, V_FAIL, true, "the cloud refused this edge "
			    "(%s): %s (edge '%s', tenant '%s', pin %s); the "
			    "cloud's log says why (event=handshake_failed)",
			    alert != NULL ? alert : d->closed_why,
			    certdiag_cloud_refusal(d->closed_tls),
			    d->me.has_edge ? d->me.edge : "?",
			    d->me.has_edge ? d->me.tenant : "?", d->my_pin);
		return;
	}
	if (!ask(d, "/whoami")) {
		end(d, V_FAIL, true, "the cloud admitted the tunnel but did "
		    "not answer a request on it%s%s", d->closed_why[0] ?
		    ": " : "", d->closed_why);
		return;
	}
	if (d->ans.status != 200) {
		end(d, V_WARN, true, "admitted; the cloud does not answer "
		    "diagnostic requests (%d %s): is it an older version?",
		    d->ans.status, d->ans.refused);
		return;
	}
	skew = d->ans.cloud_time != 0 ? (int64_t)time(NULL) -
	    d->ans.cloud_time : 0;
	if (skew > SKEW_WARN_S || skew < -SKEW_WARN_S) {
		snprintf(extra, sizeof(extra), "; but the local clock is %lld "
		    "s %s the cloud's: fix NTP", (long long)(skew < 0 ? -skew :
		    skew), skew < 0 ? "behind" : "ahead of");
		end(d, V_WARN, true, "%s%s", d->ans.text, extra);
		return;
	}
	end(d, V_PASS, true, "%s", d->ans.text);
}

static void
step_round_trip(struct doctor *d)
{
	if (!begin(d, "round_trip"))
		return;
	d->done = false;
	d->ponged = false;
	if (d->h2 == NULL || h2conn_ping(d->h2) != 0) {
		end(d, V_FAIL, true, "the tunnel is gone: %s", d->closed_why);
		return;
	}
	await(d, d->cf->keepalive_timeout);
	if (!d->ponged) {
		end(d, V_FAIL, true, "%s%s", d->h2 == NULL ?
		    "the tunnel closed: " : "no answer to PING within "
		    "keepalive_timeout", d->h2 == NULL ? d->closed_why : "");
		return;
	}
	end(d, V_PASS, true, "PING answered through the tunnel");
}

static void
step_service(struct doctor *d, const char *svc, bool tcp)
{
	char path[NAME_MAX_LEN + 40];

	if (!begin(d, "service %s", svc))
		return;
	snprintf(path, sizeof(path), "/service/%s?mode=%s", svc,
	    tcp ? "tcp" : "http");
	if (!ask(d, path)) {
		end(d, V_FAIL, true, "no answer from the cloud%s%s",
		    d->closed_why[0] ? ": " : "", d->closed_why);
		return;
	}
	if (d->ans.status == 200)
		end(d, V_PASS, true, "%s", d->ans.text);
	else if (d->ans.refused[0] != '\0')
		end(d, V_FAIL, true, "the cloud does not answer diagnostic "
		    "requests (%d %s)", d->ans.status, d->ans.refused);
	else
		end(d, V_FAIL, true, "%s", d->ans.text);
}

/* Whether an earlier listener or route than (li, ri) names svc in the
 * same mode (a service used in both modes is checked in both). */
static bool
named_before(const struct edge_conf *cf, size_t li, size_t ri,
    const char *svc)
{
	int mode = cf->listeners[li]->mode;
	size_t i, j;

	for (i = 0; i <= li; i++) {
		const struct edge_listener_conf *lc = cf->listeners[i];

		if (lc->mode != mode)
			continue;
		if (!lc->transparent) {
			if (i < li && strcmp(lc->service, svc) == 0)
				return true;
			continue;
		}
		for (j = 0; j < lc->nroutes && (i < li || j < ri); j++)
			if (strcmp(lc->routes[j].service, svc) == 0)
				return true;
	}
	return false;
}

static void
step_services(struct doctor *d)
{
	size_t i, j;

	if (d->cf == NULL) {	/* nothing to name them by */
		begin(d, "services");
		return;
	}
	/* Services do not depend on each other. */
	d->independent = true;
	for (i = 0; i < d->cf->nlisteners; i++) {
		const struct edge_listener_conf *lc = d->cf->listeners[i];
		bool tcp = lc->mode == LISTEN_TCP;

		if (!lc->transparent) {
			if (!named_before(d->cf, i, 0, lc->service))
				step_service(d, lc->service, tcp);
			continue;
		}
		for (j = 0; j < lc->nroutes; j++)
			if (!named_before(d->cf, i, j, lc->routes[j].service))
				step_service(d, lc->routes[j].service, tcp);
	}
}

/* ---- output ----------------------------------------------------------- */

static void
print_text(const struct doctor *d, FILE *f)
{
	size_t i, k, nrun = 0;

	fprintf(f, "isthmus doctor: %s\n", d->path);
	for (i = 0; i < d->n; i++) {
		const struct step *s = &d->steps[i];
		char t[24] = "";

		if (s->us >= 0)
			snprintf(t, sizeof(t), s->us < 10000 ? "%.2f ms" :
			    "%.1f ms", (double)s->us / 1000);
		fprintf(f, "  %-4s  %-20s %9s  %s\n", verdict_text[s->v],
		    s->name, t, s->detail);
		nrun += s->v != V_SKIPPED;
	}
	if (d->failed == NULL) {
		fprintf(f, "All checks passed: this edge can reach its cloud "
		    "and its services.\n");
		return;
	}
	fprintf(f, "FAILED:");
	for (i = 0, k = 0; i < d->n; i++)
		if (d->steps[i].v == V_FAIL)
			fprintf(f, "%s %s", k++ > 0 ? "," : "",
			    d->steps[i].name);
	fputc('.', f);
	if (d->n > nrun)
		fprintf(f, " %zu later step%s skipped.", d->n - nrun,
		    d->n - nrun == 1 ? "" : "s");
	fprintf(f, " Fix the first failure and run isthmus doctor again.\n");
}

static void
print_json(const struct doctor *d, FILE *f)
{
	struct json j;
	size_t i;

	json_init(&j, f);
	json_begin_object(&j);
	json_key(&j, "config");
	json_string(&j, d->path);
	json_key(&j, "ok");
	json_bool(&j, d->failed == NULL);
	json_key(&j, "failed");
	json_string(&j, d->failed);
	json_key(&j, "steps");
	json_begin_array(&j);
	for (i = 0; i < d->n; i++) {
		const struct step *s = &d->steps[i];

		json_begin_object(&j);
		json_key(&j, "name");
		json_string(&j, s->name);
		json_key(&j, "verdict");
		json_string(&j, verdict_json[s->v]);
		json_key(&j, "us");
		if (s->us >= 0)
			json_int(&j, s->us);
		else
			json_null(&j);
		json_key(&j, "detail");
		json_string(&j, s->detail);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	fputc('\n', f);
}

/* ---- main --------------------------------------------------------------- */

void
doctor_usage(FILE *f)
{
	fputs(usage_doctor, f);
}

static void
doctor_free(struct doctor *d)
{
	if (d->h2 != NULL)
		h2conn_free(d->h2);
	if (d->tls != NULL)
		bufferevent_free(d->tls);
	proxy_dial_cancel(d->pd);
	dialer_cancel(d->tcp);
	if (d->fd >= 0)
		close(d->fd);
	if (d->ai != NULL)
		evutil_freeaddrinfo(d->ai);
	certcheck_clear(&d->ck);
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->dns != NULL)
		evdns_base_free(d->dns, 0);
	if (d->base != NULL)
		event_base_free(d->base);
	SSL_CTX_free(d->ctx);
	edge_conf_free(d->cf);
	free(d->steps);
}

int
doctor_main(int argc, char **argv)
{
	struct doctor *d;
	const char *path;
	bool json;
	int rc;

	rc = cli_config_args(argc, argv, "doctor", usage_doctor, "json",
	    &path, &json);
	if (rc >= 0)
		return rc;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return cli_fail("doctor", EXIT_FAIL, "out of memory");
	d->path = path;
	d->fd = -1;
	signal(SIGPIPE, SIG_IGN);
	d->base = event_base_new();
	if (d->base != NULL) {
		d->timer = evtimer_new(d->base, on_timer, d);
		d->dns = evdns_base_new(d->base,
		    EVDNS_BASE_INITIALIZE_NAMESERVERS);
		if (d->dns == NULL)	/* no resolv.conf */
			d->dns = evdns_base_new(d->base, 0);
	}
	if (d->base == NULL || d->timer == NULL || d->dns == NULL) {
		doctor_free(d);
		free(d);
		return cli_fail("doctor", EXIT_FAIL, "out of memory");
	}
	/* Each step skips itself after a failure, before touching what
	 * the failed one did not provide. */
	step_config(d);
	step_clock(d);
	step_dns(d);
	step_tcp(d);
	step_proxy(d);
	step_tls(d);
	step_certificate(d);
	step_alpn(d);
	step_admission(d);
	step_round_trip(d);
	step_services(d);
	if (json)
		print_json(d, stdout);
	else
		print_text(d, stdout);
	fflush(stdout);
	rc = d->failed == NULL ? EXIT_OK : EXIT_FAIL;
	doctor_free(d);
	free(d);
	return rc;
}
