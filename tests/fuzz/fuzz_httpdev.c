/*
 * The device side of an HTTP listener (edge/device/httpdev.c with the
 * request's rules in devreq.c, the wait in pending.c, common/hdrs.c and
 * common/http1.c): the real httpdev_start on one end of a socketpair, the
 * input's bytes written by the other end as the device, in two writes,
 * then (first byte bit 1) end of file. The tunnel is down, as an edge
 * that has not reached the cloud yet: a request that passes every check
 * waits for it; one that breaks a rule or a limit gets the edge's own
 * answer (400, 413, 431, 501, 505), which the harness reads back and
 * checks is one HTTP/1.1 status line.
 *
 * First byte bit 0: the listener with the default limits, or the tight
 * one (max_header_size 1k, max_headers 8, max_body 2k); bit 2: the device
 * has a certificate MAC.
 */
#include "fuzz.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/config.h"
#include "common/loglimit.h"
#include "edge/daemon.h"
#include "edge/device/httpdev.h"
#include "edge/uplink/uplink.h"

static const char edge_conf_text[] =
	"[edge]\n"
	"cloud = 127.0.0.1:7443\n"
	"cert = edge.crt\nkey = edge.key\nca = ca.crt\n"
	"cloud_pin = sha256:"
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	"proxy = none\n"
	"[listener roomy]\n"
	"listen = 127.0.0.1:0\nservice = config\nmode = http\n"
	"[listener tight]\n"
	"listen = 127.0.0.1:0\nservice = config\nmode = http\n"
	"max_header_size = 1k\nmax_headers = 8\nmax_body = 2k\n";

static struct edge e;
static struct edge_listener li[2];
static struct edge_listener *lp[2];

static void
setup(void)
{
	struct conf_errors errs;
	const char *path;
	size_t i;

	fuzz_quiet();
	signal(SIGPIPE, SIG_IGN);	/* as the daemon does */
	path = fuzz_write("edge.conf", (const uint8_t *)edge_conf_text,
	    sizeof(edge_conf_text) - 1);
	if ((e.base = event_base_new()) == NULL ||
	    edge_conf_load(path, &e.cf, &errs) != 0 || e.cf->nlisteners != 2 ||
	    uplink_new(e.base, e.cf, NULL, NULL, NULL, &e.up) != 0 ||
	    (e.lim_device = log_limit_new(e.base, 1000000, 1000000)) == NULL) {
		conf_errors_report(&errs, "fuzz", false);
		abort();
	}
	for (i = 0; i < 2; i++) {
		li[i].e = &e;
		li[i].cf = e.cf;	/* the edge's own, for the whole run */
		li[i].lc = e.cf->listeners[i];
		lp[i] = &li[i];
	}
	e.listeners = lp;
	e.nlisteners = 2;
}

/* What the edge wrote back: nothing yet (waiting for the tunnel), 100
 * Continue, or its own answer. */
static void
check_answer(int fd)
{
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	if (len > 0 && strncmp(buf, "HTTP/1.1 ", 9) != 0) {
		fprintf(stderr, "the edge answered: %.80s\n", buf);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bufferevent *bev;
	size_t half;
	int sv[2], i;

	if (size < 1)
		return 0;
	if (e.base == NULL)
		setup();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0)
		abort();
	bev = bufferevent_socket_new(e.base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL || httpdev_start(&li[data[0] & 1], bev, "config",
	    "192.0.2.7:40000", (data[0] & 4) ? "02:00:5e:10:00:01" : NULL) != 0)
		abort();
	data++;
	size--;
	half = size / 2;
	if (half > 0 && write(sv[1], data, half) != (ssize_t)half)
		abort();
	event_base_loop(e.base, EVLOOP_NONBLOCK);
	/* The edge may have closed already (an answer to the first
	 * half): the rest then goes nowhere, as for a real device. */
	if (size > half)
		(void)!write(sv[1], data + half, size - half);
	if (data[-1] & 2)
		shutdown(sv[1], SHUT_WR);
	for (i = 0; i < 8; i++)
		event_base_loop(e.base, EVLOOP_NONBLOCK);
	check_answer(sv[1]);
	httpdev_free_all(&e);
	if (e.npending != 0)
		abort();
	close(sv[1]);
	return 0;
}
