/*
 * The site's HTTP proxy between the edge and the cloud: `proxy =
 * http://[user:pass@]host:port` in edge.conf, else the https_proxy
 * environment variable (unless no_proxy names the cloud). The edge asks
 * the proxy for a tunnel (HTTP CONNECT to the cloud's host and port, Basic
 * authentication when credentials are given) and then runs its TLS session
 * to the cloud inside it, end to end: the proxy sees only ciphertext.
 *
 * A refusal is explained with the proxy's own status line and what to do
 * about it; the credentials never appear in a log line or in status.
 */
#ifndef ISTHMUS_EDGE_PROXY_H
#define ISTHMUS_EDGE_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/err.h"

#define PROXY_HOST_MAX 256
/* After the proxy refused our credentials, the next attempt waits this
 * long at least: retrying a wrong password every few seconds locks the
 * account at many sites. */
#define PROXY_AUTH_RETRY_MS (5 * 60 * 1000)

struct proxy_conf {
	char host[PROXY_HOST_MAX];
	uint16_t port;
	char *auth;		/* base64 of user:password, or NULL */
	char user[128];		/* for messages; the password is never kept
				 * apart from auth */
	char shown[PROXY_HOST_MAX + 160];	/* http://user:***@host:port */
	char source[32];	/* "proxy" (the config) or the variable */
};

/* Parses a proxy URL (http only; user and password percent-decoded). */
int proxy_parse(const char *url, struct proxy_conf *out, struct err *e);
void proxy_conf_clear(struct proxy_conf *p);
/* Whether a no_proxy list ("a.example, .b.example, 10.0.0.1, *") covers
 * host. */
bool proxy_bypassed(const char *no_proxy, const char *host);

/* One CONNECT in progress. */
struct proxy_dial;

/* fd: the tunnel to the cloud, connected (the caller owns it), or -1 with
 * why (a sentence for the log and status); status: the proxy's answer
 * (0 when it gave none); creds_refused: it refused our credentials. */
typedef void (*proxy_done_fn)(int fd, int status, bool creds_refused,
    const char *why, void *arg);

/* Asks the proxy, on fd (connected to it: edge/uplink/dialer.h), for a
 * tunnel to host:port within timeout_ms. d owns fd from here, until
 * done gives it back; done runs once, from the loop. On -ENOMEM fd is
 * still the caller's. */
int proxy_dial_fd(struct event_base *base, int fd, const struct proxy_conf *p,
    const char *host, uint16_t port, uint64_t timeout_ms, proxy_done_fn done,
    void *arg, struct proxy_dial **out);
/* Abandons it: done does not run. */
void proxy_dial_cancel(struct proxy_dial *d);

#endif
