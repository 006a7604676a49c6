/*
 * admit: the tunnel-admission load generator of `make bench`.
 *
 * Opens one TLS 1.3 connection per edge certificate (DIR/PREFIX1.crt/.key
 * .. PREFIXN), at most C at a time, to one gateway, and counts a
 * connection as admitted only when the first application byte arrives
 * after the handshake: in TLS 1.3 the server checks the client's
 * certificate after the client has finished, so a finished handshake alone
 * proves nothing. The isthmus cloud sends its HTTP/2 SETTINGS once it has
 * admitted an edge; behind HAProxy a greeter writes one byte.
 *
 * Certificates and keys are loaded before the clock starts. Prints one
 * JSON object: attempted, admitted, failed, seconds, rate, first_error.
 * Bounded: the run has a deadline (--timeout), and what it cuts short
 * counts as failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

struct conn {
	int fd;
	SSL *ssl;
	bool connected;		/* TCP connect finished */
	uint32_t events;	/* what epoll watches for it */
};

struct run {
	SSL_CTX *ctx;
	X509 **certs;
	EVP_PKEY **keys;
	struct conn *conns;	/* one per certificate, so all can be freed */
	int n, next, inflight, admitted, failed, concurrency;
	struct sockaddr_in to;
	const char *server_name;
	char first_error[256];
	int ep;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
note_error(struct run *r, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char *p;

	if (r->first_error[0] != '\0')
		return;
	if (e != 0)
		snprintf(r->first_error, sizeof(r->first_error), "%s: %s", what,
		    ERR_reason_error_string(e));
	else
		snprintf(r->first_error, sizeof(r->first_error), "%s: %s", what,
		    errno != 0 ? strerror(errno) : "closed");
	for (p = r->first_error; *p != '\0'; p++)	/* printed in JSON */
		if (*p == '"' || *p == '\\' || (unsigned char)*p < ' ')
			*p = '\'';
}

static void
finish(struct run *r, struct conn *c, bool ok, const char *what)
{
	if (ok)
		r->admitted++;
	else {
		r->failed++;
		note_error(r, what);
	}
	r->inflight--;
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void
start_one(struct run *r)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	struct conn *c = &r->conns[r->next];
	int i = r->next++, one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->ssl = SSL_new(r->ctx);
	if (c->fd < 0 || c->ssl == NULL ||
	    SSL_use_certificate(c->ssl, r->certs[i]) != 1 ||
	    SSL_use_PrivateKey(c->ssl, r->keys[i]) != 1 ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		r->inflight++;
		finish(r, c, false, "setup");
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	SSL_set_tlsext_host_name(c->ssl, r->server_name);
	SSL_set1_host(c->ssl, r->server_name);
	SSL_set_connect_state(c->ssl);
	r->inflight++;
	if (connect(c->fd, (struct sockaddr *)&r->to, sizeof(r->to)) != 0 &&
	    errno != EINPROGRESS) {
		finish(r, c, false, "connect");
		return;
	}
	/* Writable once the TCP connect is done. */
	c->events = ev.events;
	ev.data.ptr = c;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		finish(r, c, false, "epoll");
}

/*
 * Watches c for what OpenSSL waits for, and only that: a socket left in the
 * set for EPOLLOUT while the handshake waits for the server would wake
 * epoll_wait on every call, and the spinning load generator would take
 * CPU from the gateway it measures.
 */
static bool
wait_for(struct run *r, struct conn *c, int err)
{
	struct epoll_event ev = { .data.ptr = c };

	ev.events = err == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN;
	if (ev.events == c->events)
		return false;
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
		finish(r, c, false, "epoll");
		return true;
	}
	c->events = ev.events;
	return false;
}

/* Drives c one step; returns true when c is finished (and closed). */
static bool
step(struct run *r, struct conn *c)
{
	unsigned char byte;
	int rc, err;

	if (!c->connected) {
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0) {
			errno = err;
			finish(r, c, false, "connect");
			return true;
		}
		c->connected = true;
	}
	if (!SSL_is_init_finished(c->ssl)) {
		ERR_clear_error();
		rc = SSL_do_handshake(c->ssl);
		if (rc != 1) {
			err = SSL_get_error(c->ssl, rc);
			if (err == SSL_ERROR_WANT_READ ||
			    err == SSL_ERROR_WANT_WRITE)
				return wait_for(r, c, err);
			finish(r, c, false, "handshake");
			return true;
		}
	}
	/* Admission shows as the server's first byte (or an alert). */
	ERR_clear_error();
	errno = 0;
	rc = SSL_read(c->ssl, &byte, 1);
	if (rc > 0) {
		finish(r, c, true, NULL);
		return true;
	}
	err = SSL_get_error(c->ssl, rc);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return wait_for(r, c, err);
	finish(r, c, false, "refused");
	return true;
}

static int
load(struct run *r, const char *dir, const char *prefix)
{
	char path[4096];
	FILE *f;
	int i;

	r->certs = calloc((size_t)r->n, sizeof(*r->certs));
	r->keys = calloc((size_t)r->n, sizeof(*r->keys));
	r->conns = calloc((size_t)r->n, sizeof(*r->conns));
	if (r->certs == NULL || r->keys == NULL || r->conns == NULL)
		return -1;
	for (i = 0; i < r->n; i++) {
		r->conns[i].fd = -1;
		snprintf(path, sizeof(path), "%s/%s%d.crt", dir, prefix, i + 1);
		if ((f = fopen(path, "r")) == NULL)
			goto fail;
		r->certs[i] = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
		if (r->certs[i] == NULL)
			goto fail;
		snprintf(path, sizeof(path), "%s/%s%d.key", dir, prefix, i + 1);
		if ((f = fopen(path, "r")) == NULL)
			goto fail;
		r->keys[i] = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (r->keys[i] == NULL)
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "admit: cannot read %s\n", path);
	return -1;
}

/*
 * Frees what the run holds, connections the deadline cut short included,
 * so that the sanitizer build exits without leak reports.
 */
static void
run_free(struct run *r)
{
	int i;

	for (i = 0; r->conns != NULL && i < r->n; i++) {
		SSL_free(r->conns[i].ssl);
		if (r->conns[i].fd >= 0)
			close(r->conns[i].fd);
	}
	for (i = 0; i < r->n; i++) {
		if (r->certs != NULL)
			X509_free(r->certs[i]);
		if (r->keys != NULL)
			EVP_PKEY_free(r->keys[i]);
	}
	free(r->conns);
	free(r->certs);
	free(r->keys);
	SSL_CTX_free(r->ctx);
	if (r->ep >= 0)
		close(r->ep);
}

static int
make_ctx(struct run *r, const char *ca, const char *alpn)
{
	unsigned char wire[256];
	size_t len = strlen(alpn);

	r->ctx = SSL_CTX_new(TLS_client_method());
	if (r->ctx == NULL || len == 0 || len >= sizeof(wire) ||
	    SSL_CTX_set_min_proto_version(r->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(r->ctx, ca, NULL) != 1)
		return -1;
	SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
	/* Every handshake full: no session is resumed. */
	SSL_CTX_set_session_cache_mode(r->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(r->ctx, SSL_OP_NO_TICKET);
	wire[0] = (unsigned char)len;
	memcpy(wire + 1, alpn, len);
	return SSL_CTX_set_alpn_protos(r->ctx, wire, (unsigned)len + 1) == 0 ?
	    0 : -1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: admit --connect IP:PORT --ca CA --dir DIR "
	    "--prefix P --count N [--concurrency C] [--alpn PROTO] "
	    "[--server-name NAME] [--timeout SECONDS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct run r = { .concurrency = 32, .server_name = "localhost",
	    .ep = -1 };
	const char *connect_to = NULL, *ca = NULL, *dir = NULL, *prefix = NULL;
	const char *alpn = "isthmus/1";
	struct epoll_event evs[64];
	double t0, t1, deadline, timeout = 60;
	char host[64];
	int i, port, rc;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (strcmp(k, "--connect") == 0) connect_to = v;
		else if (strcmp(k, "--ca") == 0) ca = v;
		else if (strcmp(k, "--dir") == 0) dir = v;
		else if (strcmp(k, "--prefix") == 0) prefix = v;
		else if (strcmp(k, "--count") == 0) r.n = atoi(v);
		else if (strcmp(k, "--concurrency") == 0)
			r.concurrency = atoi(v);
		else if (strcmp(k, "--alpn") == 0) alpn = v;
		else if (strcmp(k, "--server-name") == 0) r.server_name = v;
		else if (strcmp(k, "--timeout") == 0) timeout = atof(v);
		else usage();
	}
	if (i != argc || connect_to == NULL || ca == NULL || dir == NULL ||
	    prefix == NULL || r.n <= 0 || r.concurrency <= 0 ||
	    sscanf(connect_to, "%63[^:]:%d", host, &port) != 2)
		usage();
	r.to.sin_family = AF_INET;
	r.to.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &r.to.sin_addr) != 1)
		usage();
	if (make_ctx(&r, ca, alpn) != 0 || load(&r, dir, prefix) != 0 ||
	    (r.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		ERR_print_errors_fp(stderr);
		run_free(&r);
		return 1;
	}
	t0 = now();
	deadline = t0 + timeout;
	while ((r.next < r.n || r.inflight > 0) && now() < deadline) {
		int n;

		while (r.next < r.n && r.inflight < r.concurrency)
			start_one(&r);
		n = epoll_wait(r.ep, evs, 64, 100);
		for (i = 0; i < n; i++)
			step(&r, evs[i].data.ptr);
	}
	t1 = now();
	/* What the deadline cut short counts as failed. */
	if (r.inflight > 0 && r.first_error[0] == '\0')
		snprintf(r.first_error, sizeof(r.first_error), "timeout");
	printf("{\"attempted\": %d, \"admitted\": %d, \"failed\": %d, "
	    "\"seconds\": %.4f, \"rate\": %.1f, \"first_error\": \"%s\"}\n",
	    r.next, r.admitted, r.next - r.admitted, t1 - t0,
	    (double)r.admitted / (t1 - t0), r.first_error);
	/* Out before a sanitizer's exit-time report could lose it. */
	fflush(stdout);
	rc = r.admitted == r.n ? 0 : 1;
	run_free(&r);
	return rc;
}
