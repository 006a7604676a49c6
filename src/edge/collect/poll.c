/*
 * One poll of a device's HTTPS API (collect-int.h): its name resolved
 * and connected (dialer.h), a TLS handshake whose certificate check is
 * the collector's trust, and only when that passed the request with its
 * credentials; the answer read with http-parser within max_response;
 * all of it within the collector's timeout.
 *
 * The certificate is decided inside the handshake (the SSL_CTX's
 * certificate verify callback), so a device that is not the trusted one
 * gets an alert before a byte of the request exists: an unknown device a
 * handshake only (learned), a changed one nothing either.
 */
#include "edge/collect/collect-int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <http_parser.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "common/hdrs.h"
#include "common/netutil.h"
#include "common/timefmt.h"
#include "common/timeval.h"
#include "edge/trust/trust.h"
#include "edge/uplink/dialer.h"

/* The device's header fields we keep (we need its content-type). */
#define POLL_HEADERS_MAX 128

enum poll_phase { PH_DIAL, PH_TLS, PH_ANSWER, PH_DONE };

struct collect_poll {
	struct poll_env env;
	const struct edge_collector_conf *c;
	SSL_CTX *ctx;
	poll_done_fn done;
	void *arg;
	enum poll_phase phase;
	struct dialer *dial;
	struct bufferevent *bev;
	struct event *timer;		/* the whole poll's bound */
	struct event *report_ev;	/* done runs from here */
	/* the certificate check's verdict, when it refused */
	bool refused;
	enum collect_outcome refusal;
	/* the answer */
	http_parser hp;
	struct hdrs hdrs;
	struct hdrs_reader rd;
	uint64_t got;			/* bytes of the answer read */
	bool complete;
	bool parse_failed;		/* a callback refused (memory, fields) */
	struct poll_result r;
};

static void
poll_free(struct collect_poll *p)
{
	dialer_cancel(p->dial);
	if (p->bev != NULL)
		bufferevent_free(p->bev);
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->report_ev != NULL)
		event_free(p->report_ev);
	hdrs_free(&p->hdrs);
	hdrs_reader_reset(&p->rd);
	if (p->r.body != NULL)
		evbuffer_free(p->r.body);
	free(p->r.content_type);
	free(p);
}

/* The poll is over: the connection closes now, the owner hears of it
 * from the loop. */
static void
finish(struct collect_poll *p, enum collect_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
finish(struct collect_poll *p, enum collect_outcome o, const char *fmt, ...)
{
	va_list ap;

	if (p->phase == PH_DONE)
		return;
	p->phase = PH_DONE;
	p->r.outcome = o;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(p->r.error, sizeof(p->r.error), fmt, ap);
		va_end(ap);
	}
	dialer_cancel(p->dial);
	p->dial = NULL;
	if (p->bev != NULL) {
		bufferevent_free(p->bev);
		p->bev = NULL;
	}
	evtimer_del(p->timer);
	event_active(p->report_ev, EV_TIMEOUT, 1);
}

static void
on_report(evutil_socket_t fd, short what, void *arg)
{
	struct collect_poll *p = arg;
	struct poll_result r = p->r;
	poll_done_fn done = p->done;
	void *darg = p->arg;

	(void)fd;
	(void)what;
	p->r.body = NULL;		/* r's now */
	p->r.content_type = NULL;
	poll_free(p);
	done(&r, darg);
	if (r.body != NULL)
		evbuffer_free(r.body);
	free(r.content_type);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct collect_poll *p = arg;
	static const char *const during[] = {
		[PH_DIAL] = "resolving and connecting",
		[PH_TLS] = "the TLS handshake",
		[PH_ANSWER] = "waiting for the answer",
		[PH_DONE] = "-",
	};

	(void)fd;
	(void)what;
	finish(p, CO_TIMEOUT, "no end within timeout (%llu ms), during %s",
	    (unsigned long long)p->c->timeout, during[p->phase]);
}

/* --- The certificate: the collector's trust --------------------------- */

static enum collect_outcome
tofu_outcome(enum trust_verdict v, bool *wait)
{
	switch (v) {
	case TV_TRUSTED:
		return CO_OK;
	case TV_LEARNED:
		*wait = true;
		return CO_LEARNED;
	case TV_WAITING:
		*wait = true;
		return CO_WAITING;
	case TV_MISMATCH:
		*wait = true;
		return CO_MISMATCH;
	case TV_REJECTED:
		return CO_REJECTED;
	default:		/* expired, unavailable */
		return CO_UNTRUSTED;
	}
}

static bool
check_tofu(struct collect_poll *p, X509 *leaf)
{
	struct trust_meet m = {
		.kind = TK_API,
		.peer = p->c->peer,
		.address = p->r.device,
		.mac = NULL,
		.scope = p->c->name,
	};
	enum trust_verdict v;
	int64_t id = 0;

	if (p->env.trust == NULL) {
		p->refusal = CO_UNTRUSTED;
		snprintf(p->r.error, sizeof(p->r.error), "no trust store");
		return false;
	}
	v = trust_check(p->env.trust, &m, leaf, &id);
	p->refusal = tofu_outcome(v, &p->r.wait);
	/* what the store said of the device when it was refused: it is
	 * looked at again only once that moved (collect.c) */
	p->r.wait_digest = trust_peer_digest(p->env.trust, TK_API, m.peer);
	if (p->refusal == CO_OK)
		return true;
	snprintf(p->r.error, sizeof(p->r.error), "trust verdict %s%s",
	    trust_verdict_name(v), p->r.wait ? " (it waits for a person: "
	    "isthmus trust list --pending)" : "");
	return false;
}

static bool
check_pin(struct collect_poll *p, X509 *leaf)
{
	uint8_t cert[32], spki[32];

	if (tls_cert_sha256(leaf, cert) != 0 ||
	    tls_spki_sha256(leaf, spki) != 0 ||
	    (CRYPTO_memcmp(cert, p->c->pin, 32) != 0 &&
	    CRYPTO_memcmp(spki, p->c->pin, 32) != 0)) {
		p->refusal = CO_UNTRUSTED;
		snprintf(p->r.error, sizeof(p->r.error), "the certificate %s "
		    "matches neither way the pin", p->r.fp);
		return false;
	}
	return true;
}

static bool
check_ca(struct collect_poll *p, X509_STORE_CTX *x)
{
	if (X509_verify_cert(x) == 1)
		return true;
	p->refusal = CO_UNTRUSTED;
	snprintf(p->r.error, sizeof(p->r.error), "certificate verification "
	    "failed: %s", X509_verify_cert_error_string(
	    X509_STORE_CTX_get_error(x)));
	return false;
}

/* The SSL_CTX's certificate verify callback: 0 aborts the handshake
 * with an alert, before anything of the request is written. */
static int
cert_check(X509_STORE_CTX *x, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct collect_poll *p = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	bool ok = false;

	(void)arg;
	if (p == NULL || leaf == NULL)
		return 0;
	if (tls_fp_cert(leaf, p->r.fp) != 0)
		p->r.fp[0] = '\0';
	switch (p->c->trust) {
	case CT_TOFU:
		ok = check_tofu(p, leaf);
		break;
	case CT_PIN:
		ok = check_pin(p, leaf);
		break;
	case CT_CA:
		ok = check_ca(p, x);
		break;
	}
	if (!ok) {
		p->refused = true;
		if (p->c->trust != CT_CA)
			X509_STORE_CTX_set_error(x,
			    X509_V_ERR_APPLICATION_VERIFICATION);
	}
	return ok ? 1 : 0;
}

int
poll_ctx_new(const struct edge_collector_conf *c, SSL_CTX **out,
    struct err *e)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	/* Never below TLS 1.2, whatever the system's policy allows. */
	if (SSL_CTX_set_min_proto_version(ctx, c->tls_min ? TLS1_3_VERSION :
	    TLS1_2_VERSION) != 1) {
		SSL_CTX_free(ctx);
		return err_set(e, -EINVAL, "collector %s: TLS versions not "
		    "available", c->name);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, cert_check, NULL);
	if (c->trust == CT_CA && tls_load_ca_bundle(c->ca_file,
	    SSL_CTX_get_cert_store(ctx), e) != 0) {
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	*out = ctx;
	return 0;
}

/* --- The request and the answer --------------------------------------- */

static const char *
method_name(int m)
{
	return m == CM_POST ? "POST" : m == CM_PUT ? "PUT" : "GET";
}

/* Only once the handshake proved the device: credentials go here. */
static int
write_request(struct collect_poll *p)
{
	const struct edge_collector_conf *c = p->c;
	struct evbuffer *out = bufferevent_get_output(p->bev);
	bool body = c->method != CM_GET;
	size_t blen = body && c->body != NULL ? strlen(c->body) : 0;
	size_t i;
	int rc = 0;

	rc |= evbuffer_add_printf(out, "%s %s HTTP/1.1\r\n", method_name(
	    c->method), c->path) < 0;
	if (c->at.port == 443)
		rc |= evbuffer_add_printf(out, "Host: %s%s%s\r\n",
		    c->at.family == AF_INET6 ? "[" : "", c->at.host,
		    c->at.family == AF_INET6 ? "]" : "") < 0;
	else
		rc |= evbuffer_add_printf(out, "Host: %s\r\n", c->peer) < 0;
	for (i = 0; i < c->header.n; i++)
		rc |= evbuffer_add_printf(out, "%s\r\n", c->header.v[i]) < 0;
	if (c->authorization != NULL)
		rc |= evbuffer_add_printf(out, "Authorization: %s\r\n",
		    c->authorization) < 0;
	if (body && c->body_type != NULL)
		rc |= evbuffer_add_printf(out, "Content-Type: %s\r\n",
		    c->body_type) < 0;
	if (body)
		rc |= evbuffer_add_printf(out, "Content-Length: %zu\r\n",
		    blen) < 0;
	rc |= evbuffer_add(out, "Connection: close\r\n\r\n", 21) != 0;
	if (blen > 0)
		rc |= evbuffer_add(out, c->body, blen) != 0;
	return rc != 0 ? -ENOMEM : 0;
}

static int
on_message_begin(http_parser *hp)
{
	struct collect_poll *p = hp->data;

	hdrs_clear(&p->hdrs);
	hdrs_reader_reset(&p->rd);
	evbuffer_drain(p->r.body, evbuffer_get_length(p->r.body));
	return 0;
}

static int
on_header_field(http_parser *hp, const char *at, size_t n)
{
	struct collect_poll *p = hp->data;

	if (hdrs_reader_field(&p->rd, &p->hdrs, POLL_HEADERS_MAX, at, n) != 0)
		p->parse_failed = true;
	return p->parse_failed ? -1 : 0;
}

static int
on_header_value(http_parser *hp, const char *at, size_t n)
{
	struct collect_poll *p = hp->data;

	if (hdrs_reader_value(&p->rd, at, n) != 0)
		p->parse_failed = true;
	return p->parse_failed ? -1 : 0;
}

static int
on_headers_complete(http_parser *hp)
{
	struct collect_poll *p = hp->data;

	if (hdrs_reader_end(&p->rd, &p->hdrs, POLL_HEADERS_MAX) != 0) {
		p->parse_failed = true;
		return -1;
	}
	return 0;
}

static int
on_body(http_parser *hp, const char *at, size_t n)
{
	struct collect_poll *p = hp->data;

	if (evbuffer_add(p->r.body, at, n) != 0) {
		p->parse_failed = true;
		return -1;
	}
	return 0;
}

/* An interim answer (1xx) is passed over; the final one ends parsing. */
static int
on_message_complete(http_parser *hp)
{
	struct collect_poll *p = hp->data;

	if (hp->status_code < 200)
		return 0;
	p->complete = true;
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings parse_cbs = {
	.on_message_begin = on_message_begin,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* The whole answer is in: what the delivery needs of it. */
static void
answered(struct collect_poll *p)
{
	const char *ct = hdrs_get(&p->hdrs, "content-type");
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	time_format_ms(&ts, p->r.time, sizeof(p->r.time));
	p->r.status = (int)p->hp.status_code;
	if (ct != NULL && (p->r.content_type = strdup(ct)) == NULL) {
		finish(p, CO_BAD_RESPONSE, "out of memory");
		return;
	}
	finish(p, CO_OK, NULL);
}

/* After http_parser_execute: the answer whole, broken, or more to come. */
static bool
parsed(struct collect_poll *p)
{
	enum http_errno err = HTTP_PARSER_ERRNO(&p->hp);

	if (p->complete) {
		answered(p);
		return true;
	}
	if (err != HPE_OK || p->parse_failed) {
		p->r.status = (int)p->hp.status_code;
		finish(p, CO_BAD_RESPONSE, "not an HTTP/1.x answer: %s",
		    p->parse_failed ? "out of memory, or too many header "
		    "fields" : http_errno_description(err));
		return true;
	}
	return false;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct collect_poll *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n, room;
	unsigned char *data;

	while ((n = evbuffer_get_contiguous_space(in)) > 0) {
		room = (size_t)(p->c->max_response - p->got);
		if (room == 0)	/* (a length of 0 would tell the parser EOF) */
			break;
		data = evbuffer_pullup(in, (ev_ssize_t)n);
		http_parser_execute(&p->hp, &parse_cbs, (const char *)data,
		    n < room ? n : room);
		if (parsed(p))
			return;
		if (n > room) {
			finish(p, CO_TOO_LARGE, "the answer is over "
			    "max_response (%llu bytes)",
			    (unsigned long long)p->c->max_response);
			return;
		}
		p->got += n;
		evbuffer_drain(in, n);
	}
	if (n > 0)
		finish(p, CO_TOO_LARGE, "the answer is over max_response "
		    "(%llu bytes)", (unsigned long long)p->c->max_response);
}

/* --- The connection ---------------------------------------------------- */

/* Why the handshake or the connection failed, in words. */
static void
conn_error(struct collect_poll *p, short what, char *buf, size_t cap)
{
	unsigned long e = bufferevent_get_openssl_error(p->bev);
	int se = EVUTIL_SOCKET_ERROR();
	const char *r = ERR_GET_LIB(e) != 0 ? ERR_reason_error_string(e) :
	    NULL;

	while (bufferevent_get_openssl_error(p->bev) != 0)
		;
	if (r != NULL)
		snprintf(buf, cap, "%s", r);
	else if ((what & BEV_EVENT_EOF) || se == 0)
		snprintf(buf, cap, "connection closed by the device");
	else
		snprintf(buf, cap, "%s", evutil_socket_error_to_string(se));
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct collect_poll *p = arg;
	char why[200];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		p->phase = PH_ANSWER;
		p->r.reached = true;
		if (write_request(p) != 0) {
			finish(p, CO_CONNECT, "out of memory");
			return;
		}
		bufferevent_enable(p->bev, EV_READ);
		return;
	}
	if (p->refused) {
		finish(p, p->refusal, NULL);
		return;
	}
	if (p->phase == PH_ANSWER && (what & BEV_EVENT_EOF)) {
		/* The end of an answer framed by the connection's close. */
		http_parser_execute(&p->hp, &parse_cbs, NULL, 0);
		if (!parsed(p))
			finish(p, CO_BAD_RESPONSE, "the device closed the "
			    "connection before its answer was complete");
		return;
	}
	conn_error(p, what, why, sizeof(why));
	finish(p, CO_CONNECT, "%s: %s", p->phase == PH_TLS ? "TLS handshake "
	    "failed" : "the connection failed", why);
}

static SSL *
new_ssl(struct collect_poll *p)
{
	const struct edge_collector_conf *c = p->c;
	SSL *ssl = SSL_new(p->ctx);
	bool name = c->at.family == AF_UNSPEC && !net_is_address(c->at.host);
	int ok = 1;

	if (ssl == NULL)
		return NULL;
	SSL_set_app_data(ssl, p);
	if (name)		/* SNI names a host, never an address */
		ok &= SSL_set_tlsext_host_name(ssl, c->at.host);
	/* ca: the host name checked as a browser would; tofu and pin
	 * authenticate by the certificate itself, which names no host. */
	if (c->trust == CT_CA)
		ok &= name ? SSL_set1_host(ssl, c->at.host) :
		    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    c->at.host);
	if (ok != 1) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static void
on_dialed(const struct dial_result *dr, void *arg)
{
	struct collect_poll *p = arg;
	SSL *ssl;

	p->dial = NULL;
	if (dr->fail == DIAL_DNS || dr->fail == DIAL_DNS_TIMEOUT) {
		finish(p, CO_CONNECT, "cannot resolve %s: %s", p->c->at.host,
		    dr->fail == DIAL_DNS ? dial_dns_error(dr->dns_err) :
		    "no answer from the name servers in /etc/resolv.conf");
		return;
	}
	if (dr->fail != DIAL_OK) {
		finish(p, CO_CONNECT, "%s", dr->fail == DIAL_INTERNAL ?
		    "out of memory or sockets" : dr->errors);
		return;
	}
	snprintf(p->r.device, sizeof(p->r.device), "%s", dr->addr);
	p->phase = PH_TLS;
	if ((ssl = new_ssl(p)) == NULL) {
		evutil_closesocket(dr->fd);
		finish(p, CO_CONNECT, "out of memory");
		return;
	}
	p->bev = bufferevent_openssl_socket_new(p->env.base, dr->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (p->bev == NULL) {
		/* libevent freed ssl (CLOSE_ON_FREE), not the socket */
		evutil_closesocket(dr->fd);
		finish(p, CO_CONNECT, "out of memory");
		return;
	}
	/* Devices often close without close_notify; an answer framed by
	 * the close is still read to its end (http-parser says whether it
	 * is whole). */
	bufferevent_openssl_set_allow_dirty_shutdown(p->bev, 1);
	bufferevent_setcb(p->bev, on_read, NULL, on_event, p);
}

int
poll_start(const struct poll_env *env, const struct edge_collector_conf *c,
    SSL_CTX *ctx, poll_done_fn done, void *arg, struct collect_poll **out)
{
	struct collect_poll *p = calloc(1, sizeof(*p));
	struct timeval tv;

	if (p == NULL)
		return -ENOMEM;
	p->env = *env;
	p->c = c;
	p->ctx = ctx;
	p->done = done;
	p->arg = arg;
	hdrs_init(&p->hdrs);
	http_parser_init(&p->hp, HTTP_RESPONSE);
	p->hp.data = p;
	p->timer = evtimer_new(env->base, on_timeout, p);
	p->report_ev = event_new(env->base, -1, 0, on_report, p);
	p->r.body = evbuffer_new();
	if (p->timer == NULL || p->report_ev == NULL || p->r.body == NULL ||
	    dialer_start(env->base, env->dns, c->at.host, c->at.port,
	    c->timeout, on_dialed, p, &p->dial) != 0) {
		poll_free(p);
		return -ENOMEM;
	}
	tv_ms(&tv, c->timeout);
	evtimer_add(p->timer, &tv);
	*out = p;
	return 0;
}

void
poll_cancel(struct collect_poll *p)
{
	if (p != NULL)
		poll_free(p);
}

bool
poll_resolving(const struct collect_poll *p)
{
	return p != NULL && p->dial != NULL;
}
