/* Connecting to host:port by name: resolve, then walk the addresses until
 * one accepts; see dialer.h. */
#include "edge/uplink/dialer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/netutil.h"
#include "common/timeval.h"

struct dialer {
	struct event_base *base;
	uint64_t timeout_ms;
	dial_done_fn done;
	void *arg;
	/* resolving */
	struct evdns_getaddrinfo_request *req;
	bool resolving;		/* until the resolver's callback ran */
	bool dns_timed_out;	/* we cancelled it: the limit passed */
	bool orphan;		/* cancelled by the owner: free on the answer */
	struct evutil_addrinfo *owned;	/* the resolver's answer */
	/* connecting */
	const struct evutil_addrinfo *next;
	char cur[64];		/* the address being tried */
	int fd;
	unsigned timeouts;
	unsigned omitted;	/* failures r.errors had no room for */
	struct event *conn_ev;	/* the connect in flight, with its limit */
	struct event *timer;	/* the resolver's limit */
	struct event *report_ev;	/* done runs from here */
	struct dial_result r;
};

static void
dialer_free(struct dialer *d)
{
	if (d->conn_ev != NULL)
		event_free(d->conn_ev);
	if (d->fd >= 0)
		close(d->fd);
	if (d->r.fd >= 0)	/* connected, but abandoned before done ran */
		close(d->r.fd);
	if (d->owned != NULL)
		evutil_freeaddrinfo(d->owned);
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->report_ev != NULL)
		event_free(d->report_ev);
	free(d);
}

static void
on_report(evutil_socket_t fd, short what, void *arg)
{
	struct dialer *d = arg;
	struct dial_result r = d->r;
	dial_done_fn done = d->done;
	void *darg = d->arg;

	(void)fd;
	(void)what;
	d->r.fd = -1;		/* done's now */
	dialer_free(d);
	done(&r, darg);
}

/* The outcome is in d->r: the owner hears of it from the loop. */
static void
report(struct dialer *d, enum dial_fail fail)
{
	size_t len = strlen(d->r.errors);

	if (d->omitted > 0)
		snprintf(d->r.errors + len, sizeof(d->r.errors) - len,
		    "; and %u more", d->omitted);
	d->r.fail = fail;
	event_active(d->report_ev, EV_TIMEOUT, 1);
}

/* Room kept at the end of r.errors for "; and N more". */
#define MORE_ROOM 24

const char *
dial_dns_error(int err)
{
	if (err == EVUTIL_EAI_FAIL)
		return "non-recoverable failure in name resolution (the name "
		    "servers in /etc/resolv.conf did not answer, or answered "
		    "with a failure)";
	return evutil_gai_strerror(err);
}

static void
address_failed(struct dialer *d, int err, bool timed_out)
{
	size_t len = strlen(d->r.errors);

	d->r.failed++;
	if (timed_out)
		d->timeouts++;
	snprintf(d->r.error, sizeof(d->r.error), "%s", timed_out ?
	    "no answer within handshake_timeout" : strerror(err));
	if (d->omitted == 0 && len + strlen(d->cur) + strlen(d->r.error) + 4 +
	    MORE_ROOM < sizeof(d->r.errors))
		snprintf(d->r.errors + len, sizeof(d->r.errors) - len,
		    "%s%s: %s", len > 0 ? "; " : "", d->cur, d->r.error);
	else
		d->omitted++;
}

static void
connected(struct dialer *d, int fd)
{
	d->r.fd = fd;
	snprintf(d->r.addr, sizeof(d->r.addr), "%s", d->cur);
	report(d, DIAL_OK);
}

static void try_next(struct dialer *d);

static void
on_connect(evutil_socket_t fd, short what, void *arg)
{
	struct dialer *d = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	event_free(d->conn_ev);
	d->conn_ev = NULL;
	d->fd = -1;
	if (!(what & EV_TIMEOUT) &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (!(what & EV_TIMEOUT) && err == 0) {
		connected(d, fd);
		return;
	}
	close(fd);
	address_failed(d, err, what & EV_TIMEOUT);
	try_next(d);
}

static void
try_next(struct dialer *d)
{
	struct timeval tv;

	while (d->next != NULL) {
		const struct evutil_addrinfo *a = d->next;
		int fd;

		d->next = a->ai_next;
		net_format(a->ai_addr, d->cur, sizeof(d->cur));
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0) {
			address_failed(d, errno, false);
			continue;
		}
		if (connect(fd, a->ai_addr, (socklen_t)a->ai_addrlen) == 0) {
			connected(d, fd);
			return;
		}
		if (errno != EINPROGRESS) {
			address_failed(d, errno, false);
			close(fd);
			continue;
		}
		d->conn_ev = event_new(d->base, fd, EV_WRITE, on_connect, d);
		if (d->conn_ev == NULL) {
			close(fd);
			report(d, DIAL_INTERNAL);
			return;
		}
		d->fd = fd;
		tv_ms(&tv, d->timeout_ms);
		event_add(d->conn_ev, &tv);
		return;
	}
	d->r.all_timed_out = d->r.failed > 0 && d->timeouts == d->r.failed;
	report(d, d->r.failed > 0 ? DIAL_CONNECT : DIAL_INTERNAL);
}

/* The name servers did not answer within the limit. The resolver answers
 * the cancellation from the loop (on_resolved), and is reported then. */
static void
on_dns_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dialer *d = arg;

	(void)fd;
	(void)what;
	d->dns_timed_out = true;
	evdns_getaddrinfo_cancel(d->req);
}

static struct dialer *
dialer_new(struct event_base *base, uint64_t timeout_ms, dial_done_fn done,
    void *arg)
{
	struct dialer *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->base = base;
	d->timeout_ms = timeout_ms;
	d->done = done;
	d->arg = arg;
	d->fd = -1;
	d->r.fd = -1;
	d->timer = evtimer_new(base, on_dns_timeout, d);
	d->report_ev = event_new(base, -1, 0, on_report, d);
	if (d->timer == NULL || d->report_ev == NULL) {
		dialer_free(d);
		return NULL;
	}
	return d;
}

static void
on_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct dialer *d = arg;

	d->req = NULL;
	d->resolving = false;
	if (d->orphan) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		dialer_free(d);
		return;
	}
	evtimer_del(d->timer);
	if (d->dns_timed_out) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		report(d, DIAL_DNS_TIMEOUT);
		return;
	}
	if (result != 0 || ai == NULL) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		d->r.dns_err = result != 0 ? result : EVUTIL_EAI_NONAME;
		report(d, DIAL_DNS);
		return;
	}
	d->owned = ai;
	d->next = ai;
	try_next(d);
}

int
dialer_start(struct event_base *base, struct evdns_base *dns,
    const char *host, uint16_t port, uint64_t timeout_ms, dial_done_fn done,
    void *arg, struct dialer **out)
{
	struct dialer *d = dialer_new(base, timeout_ms, done, arg);
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo hints;
	struct timeval tv;
	char service[8];

	if (d == NULL)
		return -ENOMEM;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/* No EVUTIL_AI_ADDRCONFIG: libevent applies it before it sees that
	 * the host is a literal address, and counts ULA and link-local IPv6
	 * as none, so "::1" or a site's fd00:: proxy would go to DNS. An
	 * address this host cannot reach fails at once and is passed. */
	snprintf(service, sizeof(service), "%u", port);
	d->resolving = true;
	/* A literal address, or an immediate failure, is answered from
	 * inside this call. */
	req = evdns_getaddrinfo(dns, host, service, &hints, on_resolved, d);
	if (d->resolving) {
		if (req == NULL) {
			d->resolving = false;
			report(d, DIAL_INTERNAL);
		} else {
			d->req = req;
			tv_ms(&tv, timeout_ms);
			evtimer_add(d->timer, &tv);
		}
	}
	*out = d;
	return 0;
}

int
dialer_addrs(struct event_base *base, const struct evutil_addrinfo *ai,
    uint64_t timeout_ms, dial_done_fn done, void *arg, struct dialer **out)
{
	struct dialer *d = dialer_new(base, timeout_ms, done, arg);

	if (d == NULL)
		return -ENOMEM;
	d->next = ai;
	try_next(d);
	*out = d;
	return 0;
}

void
dialer_cancel(struct dialer *d)
{
	if (d == NULL)
		return;
	if (!d->resolving) {
		dialer_free(d);
		return;
	}
	d->orphan = true;
	evtimer_del(d->timer);
	if (!d->dns_timed_out)
		evdns_getaddrinfo_cancel(d->req);
}
