/*
 * Reaching host:port by name: resolve it (libevent's resolver, as
 * /etc/resolv.conf says) and connect to each of its addresses in turn
 * until one accepts. libevent's bufferevent_socket_connect_hostname tries
 * only the first address; a cloud or proxy name with several addresses
 * (load balancers, an IPv6 address at an IPv4-only site) would then keep
 * the tunnel down for as long as that one address fails.
 *
 * Each address gets timeout_ms to accept the connection; the resolver gets
 * timeout_ms too. The result says which address answered and why each
 * earlier one did not, so the log and status can tell IT.
 */
#ifndef ISTHMUS_EDGE_DIALER_H
#define ISTHMUS_EDGE_DIALER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

enum dial_fail {
	DIAL_OK,
	DIAL_DNS,		/* the name did not resolve (dns_err) */
	DIAL_DNS_TIMEOUT,	/* no answer from the name servers */
	DIAL_CONNECT,		/* every address refused, failed or timed out */
	DIAL_INTERNAL,		/* out of memory or sockets */
};

struct dial_result {
	int fd;			/* connected and nonblocking (the callback's
				 * to keep or close), or -1 */
	enum dial_fail fail;
	int dns_err;		/* DIAL_DNS: an EVUTIL_EAI_* code */
	unsigned failed;	/* addresses that did not accept */
	bool all_timed_out;	/* DIAL_CONNECT: none answered at all */
	char addr[64];		/* the address connected to */
	char error[120];	/* why the last address failed */
	char errors[600];	/* "ADDR: why; ADDR: why", each failed one
				 * ("; and N more" if they do not fit) */
};

struct dialer;

/* A resolver error for a person: EVUTIL_EAI_FAIL ("non-recoverable
 * failure") is also what libevent reports when the name servers never
 * answered, after the retries resolv.conf allows; the text says so. */
const char *dial_dns_error(int err);

/* r lives until the callback returns; the dialer is gone by then. */
typedef void (*dial_done_fn)(const struct dial_result *r, void *arg);

/* Resolves host and connects to port on each address. done runs once,
 * from the loop, never from inside this call. */
int dialer_start(struct event_base *base, struct evdns_base *dns,
    const char *host, uint16_t port, uint64_t timeout_ms, dial_done_fn done,
    void *arg, struct dialer **out);
/* The same for addresses already resolved; ai must live until done. */
int dialer_addrs(struct event_base *base, const struct evutil_addrinfo *ai,
    uint64_t timeout_ms, dial_done_fn done, void *arg, struct dialer **out);
/* Abandons it (NULL: nothing): done does not run. A lookup in flight is
 * cancelled, and libevent answers the cancellation from the loop: the
 * dialer is freed then, so run the loop once more (EVLOOP_NONBLOCK) before
 * freeing the evdns base or the event base, or both leak. */
void dialer_cancel(struct dialer *d);

#endif
