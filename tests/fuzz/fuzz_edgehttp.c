/*
 * A device's HTTP/1.1 connection end to end, with the tunnel up: bodies
 * (length, chunked, over max_body), pipelined requests, keep-alive, the
 * cache's answers, and what the edge writes back to the device. All real
 * and in one process on one loop: a PKI by `isthmus pki`, a cloud worker
 * behind a TCP listener, the edge's uplink dialling it (TLS, cloud_pin,
 * admission), httpdev_start on one end of a socketpair whose other end is
 * the device, and a backend that answers each request 200, cacheable.
 *
 * The input's bytes are what the device sends (after the first byte), in
 * two writes, then end of file: the edge must then answer what it can and
 * close, within 5 s (or it is a hang). First byte bit 0: the listener with
 * the default limits, or the tight one (max_header_size 1k, max_headers
 * 8, max_body 2k); bit 1: the cached listener (cache = on); bit 2: the
 * device has a certificate MAC.
 */
#include "fuzz.h"
#include "fuzz_gw.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "cloud/worker.h"
#include "common/config.h"
#include "common/loglimit.h"
#include "common/tlsctx.h"
#include "edge/cache/cache.h"
#include "edge/daemon.h"
#include "edge/device/pending.h"

static struct cloud cl;
static struct edge e;
static struct edge_listener li[3];
static struct edge_listener *lp[3];
static SSL_CTX *tunnel_ctx;	/* the uplink's */
static bool admitted;

static const uint8_t answer[] =
	"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
	"cache-control: max-age=60\r\netag: \"v1\"\r\nvary: accept\r\n"
	"content-length: 9\r\n\r\nfirmware\n";

static void
cloud_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	(void)arg;
	workers_accept(&cl, fd, sa, salen);
}

static void
on_state(struct h2conn *h2, void *arg)
{
	(void)arg;
	admitted = h2 != NULL;
	if (h2 != NULL)
		pending_tunnel_up(&e);
}

static void
setup(void)
{
	char conf[4096], edge_pin[TLS_FP_LEN], cloud_pin[TLS_FP_LEN];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct tlsctx_opts eo = { .server = false };
	struct evconnlistener *l;
	struct conf_errors errs;
	struct err er;
	uint16_t bport;
	size_t i;

	fuzz_quiet();
	gw_pki(edge_pin, cloud_pin);
	if ((e.base = event_base_new()) == NULL)
		abort();
	bport = gw_backend(e.base);
	gw_backend_answer(answer, sizeof(answer) - 1);
	snprintf(conf, sizeof(conf),
	    "[cloud]\nlisten = 127.0.0.1:0\ncert = ca/api.crt\n"
	    "key = ca/api.key\nca = ca/ca.crt\nworkers = 1\n"
	    "[tenant acme]\nedges = gw1\n[edge gw1]\npin = %s\n"
	    "[service acme/web]\nbackends = 127.0.0.1:%u\nmode = http\n"
	    "identity_headers = yes\nresponse_timeout = 2s\n", edge_pin, bport);
	gw_cloud(&cl, e.base, conf);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	l = evconnlistener_new_bind(e.base, cloud_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL || getsockname(evconnlistener_get_fd(l),
	    (struct sockaddr *)&sin, &slen) != 0)
		abort();
	snprintf(conf, sizeof(conf),
	    "[edge]\ncloud = 127.0.0.1:%u\nserver_name = cloud.example\n"
	    "cert = ca/gw1.crt\nkey = ca/gw1.key\nca = ca/ca.crt\n"
	    "cloud_pin = %s\nproxy = none\ncache_dir = cache\n"
	    "[listener roomy]\nlisten = 127.0.0.1:0\nservice = web\n"
	    "mode = http\n"
	    "[listener tight]\nlisten = 127.0.0.1:0\nservice = web\n"
	    "mode = http\nmax_header_size = 1k\nmax_headers = 8\n"
	    "max_body = 2k\nrequest_timeout = 1s\n"
	    "[listener cached]\nlisten = 127.0.0.1:0\nservice = web\n"
	    "mode = http\ncache = on\n", ntohs(sin.sin_port), cloud_pin);
	if (edge_conf_load(fuzz_write("edge.conf", (const uint8_t *)conf,
	    strlen(conf)), &e.cf, &errs) != 0 || e.cf->nlisteners != 3) {
		conf_errors_report(&errs, "fuzz", false);
		abort();
	}
	eo.cert = e.cf->cert;
	eo.key = e.cf->key;
	eo.ca = e.cf->ca;
	if (tlsctx_new(&eo, &tunnel_ctx, &er) != 0 || cache_open(e.base,
	    e.cf->cache_dir, e.cf->cache_max_size, &e.cache, &er) != 0) {
		fprintf(stderr, "fuzz_edgehttp: %s\n", er.msg);
		abort();
	}
	if ((e.lim_device = log_limit_new(e.base, 1000000, 1000000)) == NULL ||
	    uplink_new(e.base, e.cf, tunnel_ctx, on_state, NULL, &e.up) != 0)
		abort();
	for (i = 0; i < 3; i++) {
		li[i].e = &e;
		li[i].cf = e.cf;	/* the edge's own, for the whole run */
		li[i].lc = e.cf->listeners[i];
		lp[i] = &li[i];
	}
	e.listeners = lp;
	e.nlisteners = 3;
	uplink_start(e.up);
	if (!gw_run_until(e.base, &admitted, 20)) {
		fprintf(stderr, "fuzz_edgehttp: the tunnel did not come up\n");
		abort();
	}
}

/* The device's side: it reads what the edge writes as it goes (so the
 * edge's output never fills), and the poll says when the edge is done. */
static struct {
	int fd;
	char buf[1 << 16];
	size_t len;
	bool gone;
} dev;

static void
device_read(void)
{
	ssize_t n;

	while ((n = read(dev.fd, dev.buf + dev.len, sizeof(dev.buf) - 1 -
	    dev.len)) > 0) {
		dev.len += (size_t)n;
		if (dev.len == sizeof(dev.buf) - 1)
			dev.len = 16;	/* keep the first line only */
	}
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	device_read();
	dev.gone = e.httpdevs == NULL;
}

/* What the edge wrote to the device: HTTP/1.1 answers only. */
static void
check_answer(void)
{
	device_read();
	dev.buf[dev.len] = '\0';
	if (dev.len > 0 && strncmp(dev.buf, "HTTP/1.1 ", 9) != 0) {
		fprintf(stderr, "the edge answered: %.80s\n", dev.buf);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timeval tick = { 0, 1000 };
	struct bufferevent *bev;
	struct event *poll;
	size_t half;
	int sv[2], which;

	if (size < 1)
		return 0;
	if (e.base == NULL)
		setup();
	if (!admitted && !gw_run_until(e.base, &admitted, 20)) {
		fprintf(stderr, "fuzz_edgehttp: the tunnel did not come back\n");
		abort();
	}
	which = (data[0] & 2) ? 2 : (data[0] & 1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0)
		abort();
	bev = bufferevent_socket_new(e.base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL || httpdev_start(&li[which], bev, "web",
	    "192.0.2.7:40000", (data[0] & 4) ? "02:00:5e:10:00:01" : NULL) != 0)
		abort();
	dev.fd = sv[1];
	dev.len = 0;
	dev.gone = false;
	data++;
	size--;
	half = size / 2;
	if (half > 0 && write(sv[1], data, half) != (ssize_t)half)
		abort();
	event_base_loop(e.base, EVLOOP_NONBLOCK);
	if (size > half)
		(void)!write(sv[1], data + half, size - half);
	shutdown(sv[1], SHUT_WR);
	poll = event_new(e.base, -1, EV_PERSIST, on_poll, NULL);
	if (poll == NULL || event_add(poll, &tick) != 0)
		abort();
	if (!gw_run_until(e.base, &dev.gone, 5)) {
		fprintf(stderr, "fuzz_edgehttp: the device's connection did "
		    "not end in 5 s\n");
		abort();
	}
	event_free(poll);
	check_answer();
	close(sv[1]);
	gw_backend_reset();
	return 0;
}
