/*
 * One edge's tunnel at the cloud: the TLS handshake (with admission by
 * policy.c inside certificate verification, so a refused edge gets an
 * alert), then the HTTP/2 session whose CONNECT streams are relayed to the
 * tenant's backends.
 */
#ifndef ISTHMUS_CLOUD_TUNNEL_H
#define ISTHMUS_CLOUD_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cloud/config.h"

struct tunnel;

/* What the tunnels share: the loop, the current config and TLS context,
 * counters, and the list of tunnels. */
struct cloud {
	struct event_base *base;
	struct cloud_conf *conf;
	SSL_CTX *ssl_ctx;
	struct tunnel *tunnels;
	bool draining;
	void (*on_empty)(struct cloud *cl);	/* last tunnel gone */
	struct {
		uint64_t handshakes_ok;
		uint64_t handshakes_failed;
		uint64_t streams_opened;
		uint64_t streams_refused;
		uint64_t bytes_in, bytes_out;
	} stats;
};

/* Takes fd (an accepted TCP connection) and starts the handshake. */
void tunnel_accept(struct cloud *cl, evutil_socket_t fd,
    const struct sockaddr *sa, int salen);
/* Graceful: GOAWAY, finish open streams. */
void tunnel_shutdown(struct tunnel *t);
void tunnel_free(struct tunnel *t);
/* After a reload: re-check admission under cl->conf; a tunnel whose edge
 * was removed or re-pinned is closed. */
void tunnel_recheck(struct tunnel *t);
struct tunnel *tunnel_next(struct tunnel *t);

struct tunnel_info {
	bool up;			/* false: still in its handshake */
	const char *edge, *tenant, *peer;
	long uptime_s;
	unsigned streams_open;
	uint64_t streams_opened, bytes_in, bytes_out;
};

void tunnel_info(const struct tunnel *t, struct tunnel_info *ti);

#endif
