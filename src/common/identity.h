/*
 * Where identities live in isthmus certificates (docs/pki.md; stable):
 *   edge:   SAN URI "isthmus://<tenant>/edge/<name>"
 *           (also subject CN=<name>, OU=isthmus edge, O=<tenant>)
 *   device: SAN URI "urn:dev:mac:<12 lowercase hex>" (RFC 9039)
 *           (also subject CN=<aa:bb:cc:dd:ee:ff>)
 * The SAN URI is authoritative; the subject is for humans and for tools that
 * only show subjects.
 */
#ifndef ISTHMUS_IDENTITY_H
#define ISTHMUS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/names.h"
#include "common/proto.h"

/* IDENTITY_EDGE_PREFIX, IDENTITY_EDGE_PATH and IDENTITY_MAC_PREFIX are
 * part of the wire contract. */

struct cert_identity {
	bool has_edge;
	char edge[NAME_MAX_LEN + 1];
	char tenant[NAME_MAX_LEN + 1];
	bool has_mac;
	uint8_t mac[6];
};

/* Reads the edge and MAC identities from cert's SAN URIs. A malformed
 * isthmus URI is ignored (the certificate then carries no identity). */
void identity_from_cert(X509 *cert, struct cert_identity *id);
int identity_edge_uri(const char *tenant, const char *edge, char *buf,
    size_t cap);
void identity_mac_uri(const uint8_t mac[6], char *buf, size_t cap);

#endif
