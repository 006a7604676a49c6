/*
 * One edge's tunnel at the cloud: the TLS handshake (with admission by
 * policy.c inside certificate verification, so a refused edge gets an
 * alert), then the HTTP/2 session whose streams stream.c takes, and the
 * tunnel's life: its keepalive, a re-check on reload or at its
 * certificate's end, its shutdown. The workers (worker.c) drive it; the
 * stream side reads it through tunnel-int.h.
 */
#ifndef ISTHMUS_CLOUD_TUNNEL_H
#define ISTHMUS_CLOUD_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "cloud/cloud-int.h"

struct tunnel;

const char *hs_fail_name(enum hs_fail f);
/* A reason a live tunnel can be dropped for on a re-check (revoked,
 * expired, pin_mismatch...), as opposed to one only a handshake has
 * (timeout, alpn...). */
bool hs_fail_recheckable(enum hs_fail f);

/* Takes fd (an accepted TCP connection) and starts the handshake in w;
 * called in w's thread. */
void tunnel_accept(struct worker *w, evutil_socket_t fd,
    const struct sockaddr *sa, int salen);
/* Once, before the workers start. */
void tunnel_init(void);
/* Graceful: GOAWAY, finish open streams. */
void tunnel_shutdown(struct tunnel *t);
void tunnel_free(struct tunnel *t);
/* After a reload: re-check admission under cl->conf; a tunnel whose edge
 * was removed or re-pinned is closed. With cl->lock held. */
void tunnel_recheck(struct tunnel *t);
/* A newer tunnel of the same edge came up: PING this one now (in its
 * worker, after WORKER_PROBE). */
void tunnel_probe(struct tunnel *t);

struct tunnel_info {
	bool up;			/* false: still in its handshake */
	const char *edge, *tenant, *peer;
	long uptime_s;
	unsigned streams_open;
	uint64_t streams_opened, bytes_in, bytes_out;
};

void tunnel_info(const struct tunnel *t, struct tunnel_info *ti);

#endif
