/*
 * Device mTLS at an edge listener (HTTP mode). Devices present the
 * certificate their vendor installed; it must chain to one of the
 * listener's vendor CA bundles (device_ca) and carry the device's MAC
 * where mac_from says: our `pki issue device` layout (SAN URI
 * urn:dev:mac:..., RFC 9039), or the subject CN, serialNumber or OU, or a
 * SAN DNS name, as other vendors do (a prefix such as Cisco's "SEP" before
 * the 12 hex digits is allowed). With mac_allow, only those MACs get in.
 *
 * With device_trust = tofu (docs/trust.md) a certificate no vendor CA
 * issued (or any, without device_ca) is looked up in the edge's trust
 * store instead: an approved one is admitted with the MAC it carries (if
 * any), any other refused under a DT_TRUST_* reason. Its usage is not
 * checked then: a device's self-signed certificate is often a CA or has
 * no clientAuth, and the pinned certificate itself is what authenticates
 * it.
 *
 * TLS 1.2 is allowed here for old device stacks, with ECDHE and AEAD
 * suites only. A refused device gets a TLS alert, a log line and a count
 * under its reason; an admitted one goes on as an HTTP device with its
 * MAC (handshake.c, httpdev.h).
 */
#ifndef ISTHMUS_EDGE_DEVICE_DEVTLS_H
#define ISTHMUS_EDGE_DEVICE_DEVTLS_H

#include <openssl/ssl.h>

#include "common/err.h"
#include "common/mac.h"
#include "edge/config.h"

struct devtls;
struct trust;

enum devtls_refusal {
	DT_NO_CERT,		/* the device sent no certificate */
	DT_UNTRUSTED,		/* not issued by a configured vendor CA */
	DT_EXPIRED,
	DT_NOT_YET_VALID,
	DT_NO_MAC,		/* no MAC where mac_from looks */
	DT_MAC_NOT_ALLOWED,	/* not in mac_allow */
	DT_WRONG_USAGE,		/* a CA certificate, or one not for TLS
				 * clients: only end-entity client
				 * certificates are devices */
	DT_PROTOCOL,		/* TLS version or suites we do not accept */
	DT_TIMEOUT,		/* no handshake within request_timeout */
	DT_CLOSED,		/* gone mid-handshake, or a TLS error */
	/* device_trust = tofu (docs/trust.md): a certificate no vendor CA
	 * issued, by what the trust store says of it */
	DT_TRUST_PENDING,	/* new (learned now) or waiting for a person */
	DT_TRUST_MISMATCH,	/* not the approved one for that device */
	DT_TRUST_REJECTED,	/* a person rejected it (or expired, refused) */
	DT_TRUST_UNAVAILABLE,	/* the trust store is down */
	DT_TRUST_FULL,		/* no room in the trust store to learn it */
	DT_COUNT
};

const char *devtls_refusal_name(enum devtls_refusal r);

/* The listener's TLS context; errors name the file. */
int devtls_new(const struct edge_listener_conf *lc, struct devtls **out,
    struct err *e);
void devtls_free(struct devtls *t);

/* Where a device was met, as its trust store entry records it
 * (device_trust = tofu). */
struct devtls_meet {
	/* The edge's trust store, read when the certificate arrives: it
	 * is opened after the listeners' contexts are made, and a reload
	 * may open or close it. NULL or holding NULL: none. */
	struct trust *const *trust;
	const char *address;		/* the device's ip:port */
	const char *scope;		/* the listener's name */
};

/* What the checks found on one device's handshake. */
struct devtls_verdict {
	/* The listener's context when the certificate arrives: a reload
	 * may have replaced it, or turned device TLS off (NULL). */
	struct devtls *const *current;
	struct devtls_meet at;
	char mac[MAC_STR_LEN];	/* the device's, once found */
	int verify_err;		/* OpenSSL's, on the chain */
	int refusal;		/* DT_*, or -1 */
};

/* A device's TLS session on t, whose checks record in v (which must
 * outlive the handshake); NULL when out of memory. */
SSL *devtls_ssl_new(const struct devtls *t, struct devtls_verdict *v);
/* The handshake is done: v is no longer looked at. */
void devtls_ssl_admitted(SSL *ssl);
/* After a reload: whether a device admitted earlier (ssl, its session;
 * mac, the MAC it was admitted with; at, where it is) would still be
 * admitted by t, the listener's new context, and, for a certificate no
 * vendor CA issued, by the trust store as it is now. Returns -1, or the
 * refusal it would get now. */
int devtls_recheck(const struct devtls *t, SSL *ssl, const char *mac,
    const struct devtls_meet *at);

#endif
