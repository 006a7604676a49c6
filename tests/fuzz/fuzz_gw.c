#include "fuzz_gw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cloud/config.h"
#include "cloud/tunnel.h"
#include "cloud/worker.h"
#include "common/config.h"
#include "common/tlsctx.h"
#include "fuzz.h"
#include "pki/pki.h"

#define MAX_BACKS 16

struct back {
	int fd;
	struct event *ev;
	bool answered;
};

static struct {
	struct event_base *base;
	struct event *accept_ev;
	const uint8_t *answer;
	size_t alen;
	struct back b[MAX_BACKS];
	size_t nb;
} bk;

static void
pki(char **argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	if (pki_main(argc, argv) != 0) {
		fprintf(stderr, "fuzz: isthmus pki %s failed\n", argv[1]);
		abort();
	}
}

static void
pin_of(const char *name, char pin[TLS_FP_LEN])
{
	char path[600];
	struct err e;
	X509 *x;

	snprintf(path, sizeof(path), "%s/ca/%s.crt", fuzz_dir(), name);
	if (tls_load_cert(path, &x, &e) != 0 || tls_fp_spki(x, pin) != 0)
		abort();
	X509_free(x);
}

void
gw_pki(char edge_pin[TLS_FP_LEN], char cloud_pin[TLS_FP_LEN])
{
	char ca[512];
	char *init[] = { "pki", "init", ca, NULL };
	char *cloud[] = { "pki", "issue", "cloud", "api", "--ca", ca, "--dns",
		"cloud.example", NULL };
	char *edge[] = { "pki", "issue", "edge", "gw1", "--ca", ca,
		"--tenant", "acme", NULL };

	snprintf(ca, sizeof(ca), "%s/ca", fuzz_dir());
	pki(init);
	pki(cloud);
	pki(edge);
	log_set_level(LOG_DEBUG);	/* pki set its own */
	pin_of("gw1", edge_pin);
	pin_of("api", cloud_pin);
}

static void
back_read(evutil_socket_t fd, short what, void *arg)
{
	struct back *b = arg;
	char buf[16384];
	ssize_t n;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n > 0 && !b->answered) {
		b->answered = true;
		if (write(fd, bk.answer, bk.alen) < 0 && errno != EPIPE &&
		    errno != ECONNRESET)
			abort();
		shutdown(fd, SHUT_WR);
	}
	if (n == 0 || (n < 0 && errno != EAGAIN))
		event_del(b->ev);
}

static void
back_accept(evutil_socket_t fd, short what, void *arg)
{
	struct back *b;
	int c;

	(void)what;
	(void)arg;
	while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
	    0) {
		if (bk.nb == MAX_BACKS) {
			close(c);
			continue;
		}
		b = &bk.b[bk.nb++];
		b->fd = c;
		b->answered = false;
		b->ev = event_new(bk.base, c, EV_READ | EV_PERSIST, back_read, b);
		if (b->ev == NULL || event_add(b->ev, NULL) != 0)
			abort();
	}
}

uint16_t
gw_backend(struct event_base *base)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	int fd;

	signal(SIGPIPE, SIG_IGN);	/* as the daemons do */
	bk.base = base;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) != 0)
		abort();
	bk.accept_ev = event_new(base, fd, EV_READ | EV_PERSIST, back_accept,
	    NULL);
	if (bk.accept_ev == NULL || event_add(bk.accept_ev, NULL) != 0)
		abort();
	return ntohs(sin.sin_port);
}

void
gw_backend_answer(const uint8_t *answer, size_t len)
{
	bk.answer = answer;
	bk.alen = len;
}

void
gw_backend_reset(void)
{
	size_t i;

	for (i = 0; i < bk.nb; i++) {
		event_free(bk.b[i].ev);
		close(bk.b[i].fd);
	}
	bk.nb = 0;
}

void
gw_cloud(struct cloud *cl, struct event_base *base, const char *conf)
{
	struct tlsctx_opts co = { .server = true };
	struct conf_errors errs;
	struct err e;

	if (cloud_conf_load(fuzz_write("cloud.conf", (const uint8_t *)conf,
	    strlen(conf)), &cl->conf, &errs) != 0) {
		conf_errors_report(&errs, "fuzz", false);
		abort();
	}
	co.cert = cl->conf->cert;
	co.key = cl->conf->key;
	co.ca = cl->conf->ca;
	if (tlsctx_new(&co, &cl->ssl_ctx, &e) != 0) {
		fprintf(stderr, "fuzz: %s\n", e.msg);
		abort();
	}
	cl->base = base;
	cl->started = time(NULL);
	tunnel_init();
	if (workers_init(cl, 1, 1000000, 1000000) != 0)
		abort();
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

bool
gw_run_until(struct event_base *base, const bool *flag, int secs)
{
	struct timeval tv = { secs, 0 };
	bool late = false;
	struct event *t = evtimer_new(base, on_deadline, &late);

	if (t == NULL || evtimer_add(t, &tv) != 0)
		abort();
	while (!*flag && !late)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *flag;
}
