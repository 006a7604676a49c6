/*
 * What makes a server the edge's cloud: its certificate chains to the
 * edge's `ca` (and is not revoked in `crl`), names the cloud (server_name,
 * else the host of `cloud`; an IP address as an address), and is the
 * certificate or key `cloud_pin` names. One rule for the handshake
 * (certdiag.h's certcheck), for isthmus doctor, and for a reload that asks
 * whether the live tunnel's cloud is still trusted.
 */
#ifndef ISTHMUS_EDGE_UPLINK_TRUST_H
#define ISTHMUS_EDGE_UPLINK_TRUST_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "edge/config.h"

/* The name (or address) the cloud's certificate must carry. */
const char *cloud_trust_name(const struct edge_conf *cf);
/* Makes p expect name, as an address when it is one. Returns 1 or 0:
 * OpenSSL's X509_VERIFY_PARAM_set1_* contract. */
int cloud_trust_expect(X509_VERIFY_PARAM *p, const char *name);
/* Whether leaf is the certificate, or has the key, that pin names (a
 * predicate). */
bool cloud_trust_pinned(X509 *leaf, const uint8_t pin[32]);
/* Whether chain (leaf first, as the cloud presented it) passes today's
 * checks: cf's cloud_pin, then ctx's CA bundle and CRL, and cf's name (a
 * predicate: false for any failure, none of which is explained here;
 * certdiag explains them at the handshake). */
bool cloud_trust_chain(STACK_OF(X509) *chain, SSL_CTX *ctx,
    const struct edge_conf *cf);

#endif
