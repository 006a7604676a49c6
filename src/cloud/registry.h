/*
 * What the fleet registry (cloud/store/) hears of each tunnel: its edge
 * came up, with the certificate it showed and where it came from, or went
 * down, and why. Called from the tunnel's worker; the store queues and
 * never makes it wait. Nothing happens without a store (`state`).
 */
#ifndef ISTHMUS_CLOUD_REGISTRY_H
#define ISTHMUS_CLOUD_REGISTRY_H

#include <openssl/ssl.h>

struct tunnel;

/* t was admitted; ssl is its session. */
void registry_tunnel_up(const struct tunnel *t, SSL *ssl);
/* t's edge said its version in its management stream's hello. */
void registry_edge_hello(const struct tunnel *t, const char *version);
/* t, admitted before, ends (t->end_reason says why). */
void registry_tunnel_down(const struct tunnel *t);

#endif
