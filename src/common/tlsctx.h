/*
 * TLS contexts for the tunnel: TLS 1.3 only, both sides present
 * certificates, ALPN names our protocol. Peer identity checks beyond the
 * chain (pins, tenancy) are the callers' business, done in their verify
 * callbacks so that a refused peer gets a TLS alert, not a silent close.
 */
#ifndef ISTHMUS_TLSCTX_H
#define ISTHMUS_TLSCTX_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "common/err.h"
#include "common/proto.h"

/* TUNNEL_ALPN, TUNNEL_CIPHERSUITES, TUNNEL_GROUPS: the wire contract. */

struct tlsctx_opts {
	bool server;
	const char *cert;	/* PEM chain: leaf first */
	const char *key;
	const char *ca;		/* bundle the peer must chain to */
	const char *crl;	/* optional */
	const char *ciphersuites;	/* NULL: defaults above */
	const char *groups;
};

int tlsctx_new(const struct tlsctx_opts *o, SSL_CTX **out, struct err *e);
/* Our certificate (PEM chain, leaf first) and its key, checked to match. */
int tlsctx_use_identity(SSL_CTX *ctx, const char *cert, const char *key,
    struct err *e);

/* Verifies again, against ctx's trust store as it is now (CA bundle,
 * CRLs, the clock), the chain a TLS client presented on ssl. Returns
 * X509_V_OK or the X509_V_ERR_* that fails it. */
int tlsctx_verify_client(SSL_CTX *ctx, SSL *ssl);

#endif
