/*
 * Why the cloud's certificate was not accepted, in words the site's IT
 * can act on: TLS interception (a certificate for our cloud's name from an
 * issuer we do not trust), a wrong server (another name), expired or not
 * yet valid (with the dates and the local clock), revoked, or verified but
 * not the pinned key. Used by the uplink for its log line, status and
 * metric label, and by isthmus doctor.
 *
 * certcheck is the check itself: a TLS session towards the cloud whose
 * verify callback lets OpenSSL judge chain and name, then compares the
 * pin, and keeps what failed for the explanation. A failure stops the
 * handshake there: the peer never gets our certificate's signature.
 */
#ifndef ISTHMUS_EDGE_CERTDIAG_H
#define ISTHMUS_EDGE_CERTDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "edge/config.h"
#include "edge/uplink/uplink.h"

struct certdiag {
	X509 *leaf;		/* what the server presented (a reference) */
	X509 *failed;		/* the certificate the error is about */
	int error;		/* X509_V_ERR_*, 0 for a pin mismatch */
	int depth;
	const char *server_name;	/* what we expect it to be */
	const char *cloud;		/* host:port we dialled */
	const uint8_t *pin;		/* cloud_pin */
	const char *crl;		/* our CRL file, or NULL */
	const char *proxy;		/* through this proxy, or NULL */
};

/* The class (UF_INTERCEPTION, UF_WRONG_SERVER, UF_EXPIRED,
 * UF_NOT_YET_VALID, UF_REVOKED, UF_PIN or UF_CERTIFICATE) and its
 * explanation in buf. */
enum uplink_fail certdiag_explain(const struct certdiag *d, char *buf,
    size_t cap);

/* One handshake's check of the cloud's certificate. */
struct certcheck {
	const struct edge_conf *cf;
	int error, depth;	/* OpenSSL's verdict, X509_V_OK if none */
	X509 *leaf, *failed;	/* references, kept for the diagnosis */
	bool pin_mismatch;
	bool presented;		/* the server showed a certificate */
};

/* A TLS session for the cloud (SNI, name or IP checked, pin compared)
 * that records into ck; ck must outlive it. ck is reset first. */
SSL *certcheck_ssl(SSL_CTX *ctx, const struct edge_conf *cf,
    struct certcheck *ck);
/* Whether the check recorded a failure (a predicate: bool). */
bool certcheck_failed(const struct certcheck *ck);
/* The verdict on a failed check, for the cloud host:port dialled. */
enum uplink_fail certcheck_explain(const struct certcheck *ck,
    const char *cloud, char *buf, size_t cap);
/* Whether the TLS error err (an OpenSSL error code) is the server
 * refusing our ClientHello before showing any certificate, as some
 * inspecting proxies do (they cannot do X25519, or TLS 1.3). An isthmus
 * cloud never does: it offers what the edge offers. If so, the
 * explanation for the cloud host:port dialled is in buf. */
bool certcheck_hello_refused(const struct certcheck *ck, unsigned long err,
    const char *cloud, char *buf, size_t cap);
/* Drops the kept certificates. */
void certcheck_clear(struct certcheck *ck);
/* What the cloud's alert after this edge's certificate means, as the
 * isthmus cloud chooses them (docs/cloud.md, "Admission"): the advice
 * for the site's IT and the cloud's operator. err: OpenSSL's error for
 * the alert received (0: the cloud closed without one). */
const char *certdiag_cloud_refusal(unsigned long err);

#endif
