/*
 * The cloud's reading of what others send it on an admitted tunnel: a
 * stream's request head, its service name (:authority) first (common/
 * h2conn.c, relay.c, names.c, cloud/tunnel.c, stream.c, policy.c), and,
 * for an HTTP service, its backend's HTTP/1.1 answer (cloud/httpfwd.c
 * with hdrs.c and http1.c).
 *
 * All real and in one process (fuzz_gw.c): a PKI made by `isthmus pki` at
 * start, the cloud's config loader and TLS context, one cloud worker on
 * the harness's loop taking one end of a socketpair (tunnel_accept), the
 * edge's side as the edge builds it (tlsctx, a TLS bufferevent, h2conn as
 * client, streams by relay_http_request), and a backend socket.
 * The tunnel is made once and kept (re-made if a stream breaks it).
 *
 * First byte even: the input is the backend's answer to "GET /fuzz" on
 * service web. Odd: the input is the request: its lines are :authority,
 * :method, :path, then "name: value" fields; the backend, if dialled,
 * answers 200. Every stream must end within 5 s, whatever happened.
 */
#include "fuzz.h"
#include "fuzz_gw.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "cloud/config.h"
#include "cloud/tunnel.h"
#include "common/h2conn.h"
#include "common/relay.h"
#include "common/tls.h"
#include "common/tlsctx.h"

static struct cloud cl;
static SSL_CTX *edge_ctx;
static struct h2conn *h2;
static bool admitted, broken;

static struct {
	bool done;
} cur;

static const uint8_t ok_answer[] =
	"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/* The edge's side of the tunnel. */
static void
on_settings(struct h2conn *c, void *arg)
{
	(void)c;
	(void)arg;
	admitted = true;
}

static void
on_closed(struct h2conn *c, const char *why, void *arg)
{
	(void)c;
	(void)why;
	(void)arg;
	broken = true;
}

static const struct h2conn_cbs edge_cbs = {
	.settings = on_settings,
	.closed = on_closed,
};

static void
tls_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & BEV_EVENT_CONNECTED) {
		if (h2conn_new(bev, false, &edge_cbs, NULL, &h2) != 0)
			abort();
		return;
	}
	fprintf(stderr, "fuzz_cloud: the tunnel's TLS failed (%#x)\n",
	    (unsigned)what);
	abort();
}

static void
tunnel_up(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_port = htons(40000) };
	struct bufferevent *bev;
	SSL *ssl;
	int sv[2];

	if (h2 != NULL) {
		h2conn_free(h2);
		h2 = NULL;
	}
	admitted = broken = false;
	inet_pton(AF_INET, "192.0.2.9", &sin.sin_addr);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0 || (ssl = SSL_new(edge_ctx)) == NULL)
		abort();
	SSL_set_tlsext_host_name(ssl, "cloud.example");
	bev = bufferevent_openssl_socket_new(cl.base, sv[1], ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		abort();
	bufferevent_setcb(bev, NULL, NULL, tls_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	tunnel_accept(&cl.workers[0], sv[0], (struct sockaddr *)&sin,
	    sizeof(sin));
	if (!gw_run_until(cl.base, &admitted, 20) || broken) {
		fprintf(stderr, "fuzz_cloud: the tunnel was not admitted\n");
		abort();
	}
}

static void
setup(void)
{
	char conf[4096], edge_pin[TLS_FP_LEN], cloud_pin[TLS_FP_LEN];
	char cert[600], key[600];
	struct tlsctx_opts eo = { 0 };
	struct event_base *base;
	struct err e;
	uint16_t port;

	fuzz_quiet();
	gw_pki(edge_pin, cloud_pin);
	if ((base = event_base_new()) == NULL)
		abort();
	port = gw_backend(base);
	snprintf(conf, sizeof(conf),
	    "[cloud]\nlisten = 127.0.0.1:0\ncert = ca/api.crt\n"
	    "key = ca/api.key\nca = ca/ca.crt\nworkers = 1\n"
	    "[tenant acme]\nedges = gw1\n[edge gw1]\npin = %s\n"
	    "[service acme/web]\nbackends = 127.0.0.1:%u\nmode = http\n"
	    "identity_headers = yes\nresponse_timeout = 2s\n"
	    "[service acme/raw]\nbackends = 127.0.0.1:%u\n",
	    edge_pin, port, port);
	gw_cloud(&cl, base, conf);
	snprintf(cert, sizeof(cert), "%s/ca/gw1.crt", fuzz_dir());
	snprintf(key, sizeof(key), "%s/ca/gw1.key", fuzz_dir());
	eo.cert = cert;
	eo.key = key;
	eo.ca = cl.conf->ca;
	if (tlsctx_new(&eo, &edge_ctx, &e) != 0) {
		fprintf(stderr, "fuzz_cloud: %s\n", e.msg);
		abort();
	}
	tunnel_up();
}

/* The stream's end at the edge. */
static void
on_head(struct relay *r, void *arg)
{
	(void)r;
	(void)arg;
}

static void
on_body(struct relay *r, void *arg)
{
	struct evbuffer *in = relay_body_in(r);
	size_t n = evbuffer_get_length(in);

	(void)arg;
	evbuffer_drain(in, n);
	relay_body_ack(r, n);
}

static void
on_drained(struct relay *r, void *arg)
{
	(void)r;
	(void)arg;
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	(void)r;
	(void)complete;
	(void)arg;
	cur.done = true;
}

static const struct relay_http_ops ops = {
	.head = on_head, .body = on_body, .drained = on_drained,
	.done = on_done,
};

#define NV(n, nl, v, vl) ((nghttp2_nv){ (uint8_t *)(uintptr_t)(n), \
	(uint8_t *)(uintptr_t)(v), (nl), (vl), NGHTTP2_NV_FLAG_NONE })

/* The request from the input's lines (odd first byte), or GET /fuzz. */
static size_t
request(const uint8_t *data, size_t size, bool from_input, nghttp2_nv *nv,
    size_t cap)
{
	static const char *const pseudo[] = { ":authority", ":method",
		":path" };
	size_t n = 0, off = 0;

	nv[n++] = NV(":scheme", 7, "http", 4);
	if (!from_input) {
		nv[n++] = NV(":authority", 10, "web", 3);
		nv[n++] = NV(":method", 7, "GET", 3);
		nv[n++] = NV(":path", 5, "/fuzz", 5);
		nv[n++] = NV(RELAY_DEVICE_HEADER,
		    sizeof(RELAY_DEVICE_HEADER) - 1, "192.0.2.7:1234", 14);
	}
	while (from_input && off < size && n < cap - 1) {
		const uint8_t *line = data + off;
		const uint8_t *nl = memchr(line, '\n', size - off);
		size_t len = nl != NULL ? (size_t)(nl - line) : size - off;
		const uint8_t *colon;

		off += len + (nl != NULL);
		if (n - 1 < 3) {
			nv[n] = NV(pseudo[n - 1], strlen(pseudo[n - 1]), line,
			    len);
			n++;
			if (n == 4)	/* the edge's own field, as httpdev */
				nv[n++] = NV(RELAY_DEVICE_HEADER,
				    sizeof(RELAY_DEVICE_HEADER) - 1,
				    "192.0.2.7:1234", 14);
			continue;
		}
		colon = memchr(line, ':', len);
		if (colon == NULL || colon == line)
			continue;
		nv[n++] = NV(line, (size_t)(colon - line), colon + 1 +
		    (colon + 1 < line + len && colon[1] == ' '), len -
		    (size_t)(colon - line) - 1 - (colon + 1 < line + len &&
		    colon[1] == ' '));
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nghttp2_nv nv[300];
	struct relay *r;
	bool from_input;
	size_t n;

	if (size < 1)
		return 0;
	if (cl.base == NULL)
		setup();
	if (broken || h2 == NULL)
		tunnel_up();
	from_input = data[0] & 1;
	data++;
	size--;
	memset(&cur, 0, sizeof(cur));
	if (from_input)
		gw_backend_answer(ok_answer, sizeof(ok_answer) - 1);
	else
		gw_backend_answer(data, size);
	n = request(data, size, from_input, nv, sizeof(nv) / sizeof(nv[0]));
	if (relay_http_request(h2, nv, n, false, &ops, NULL, &r) != 0) {
		/* The session took no new stream: the cloud ended it (GOAWAY
		 * after an earlier input) before we heard. A new tunnel, as
		 * the edge would make. */
		tunnel_up();
		if (relay_http_request(h2, nv, n, false, &ops, NULL, &r) != 0)
			return 0;	/* nghttp2 would not send it */
	}
	h2conn_flush(h2);
	if (!gw_run_until(cl.base, &cur.done, 5) && !broken) {
		fprintf(stderr, "fuzz_cloud: the stream did not end in 5 s\n");
		abort();
	}
	gw_backend_reset();
	return 0;
}
