/*
 * Why the cloud's certificate was not accepted, in words the site's IT
 * can act on: TLS interception (a certificate for our cloud's name from an
 * issuer we do not trust), a wrong server (another name), expired or not
 * yet valid (with the dates and the local clock), revoked, or verified but
 * not the pinned key. Used by the uplink for its log line, status and
 * metric label.
 */
#ifndef ISTHMUS_EDGE_CERTDIAG_H
#define ISTHMUS_EDGE_CERTDIAG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "edge/uplink.h"

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

#endif
