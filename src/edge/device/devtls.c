/*
 * Device mTLS at an edge listener: its TLS context, and the checks a
 * device's certificate must pass (devtls.h says which); the handshake
 * that runs them is handshake.c's.
 */
#include "edge/device/devtls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/identity.h"
#include "common/mac.h"
#include "common/tls.h"
#include "common/tlsctx.h"
#include "edge/trust/trust.h"

/* TLS 1.2: forward secrecy and AEAD only. TLS 1.3's suites all are. */
#define DEVICE_TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct devtls {
	SSL_CTX *ctx;
	bool tofu;		/* device_trust = tofu */
	int mac_from;
	uint8_t (*allow)[6];
	size_t nallow;
};

/* The SSL's devtls_verdict, for verify_cb. */
static int verdict_idx = -1;

static const char *const devtls_refusal_names[DT_COUNT] = {
	[DT_NO_CERT] = "no_cert",
	[DT_UNTRUSTED] = "untrusted",
	[DT_EXPIRED] = "expired",
	[DT_NOT_YET_VALID] = "not_yet_valid",
	[DT_NO_MAC] = "no_mac",
	[DT_MAC_NOT_ALLOWED] = "mac_not_allowed",
	[DT_WRONG_USAGE] = "wrong_usage",
	[DT_PROTOCOL] = "protocol",
	[DT_TIMEOUT] = "timeout",
	[DT_CLOSED] = "closed",
	[DT_TRUST_PENDING] = "trust_pending",
	[DT_TRUST_MISMATCH] = "trust_mismatch",
	[DT_TRUST_REJECTED] = "trust_rejected",
	[DT_TRUST_UNAVAILABLE] = "trust_unavailable",
	[DT_TRUST_FULL] = "trust_full",
};

const char *
devtls_refusal_name(enum devtls_refusal r)
{
	return (unsigned)r < DT_COUNT ? devtls_refusal_names[r] : "?";
}

/* A MAC in free text: the whole of it, or its last 17 or 12 characters
 * (vendors prefix it: "SEP001122334455"). */
static bool
mac_in_text(const char *s, size_t len, uint8_t mac[6])
{
	static const size_t tails[] = { 17, 12 };
	char buf[64];
	struct err e;
	size_t i;

	if (len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return false;	/* "aabbccddeeff\0junk" names no device */
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (mac_parse(buf, mac, &e) == 0)
		return true;
	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++)
		if (len > tails[i] && mac_parse(buf + len - tails[i], mac,
		    &e) == 0)
			return true;
	return false;
}

static bool
mac_in_subject(X509 *cert, int nid, uint8_t mac[6])
{
	X509_NAME *name = X509_get_subject_name(cert);
	int i = -1;

	while ((i = X509_NAME_get_index_by_NID(name, nid, i)) >= 0) {
		ASN1_STRING *v = X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(name, i));

		if (mac_in_text((const char *)ASN1_STRING_get0_data(v),
		    (size_t)ASN1_STRING_length(v), mac))
			return true;
	}
	return false;
}

static bool
mac_in_san_dns(X509 *cert, uint8_t mac[6])
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name,
	    NULL, NULL);
	bool found = false;
	int i;

	for (i = 0; !found && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS)
			found = mac_in_text((const char *)ASN1_STRING_get0_data(
			    g->d.dNSName), (size_t)ASN1_STRING_length(
			    g->d.dNSName), mac);
	}
	GENERAL_NAMES_free(gens);
	return found;
}

static bool
cert_mac(const struct devtls *t, X509 *cert, uint8_t mac[6])
{
	struct cert_identity id;

	switch (t->mac_from) {
	case MAC_FROM_CN:
		return mac_in_subject(cert, NID_commonName, mac);
	case MAC_FROM_SERIAL:
		return mac_in_subject(cert, NID_serialNumber, mac);
	case MAC_FROM_OU:
		return mac_in_subject(cert, NID_organizationalUnitName, mac);
	case MAC_FROM_SAN_DNS:
		return mac_in_san_dns(cert, mac);
	default:
		identity_from_cert(cert, &id);
		if (id.has_mac)
			memcpy(mac, id.mac, 6);
		return id.has_mac;
	}
}

/* Only an end-entity certificate for TLS clients is a device, the rule
 * the cloud applies to edges and `isthmus pki verify` calls "wrong
 * usage": a CA certificate (OpenSSL would take one as a leaf), one whose
 * key usage excludes TLS clients, and one without an extendedKeyUsage
 * naming clientAuth are refused. RFC 5280 lets a certificate without EKU
 * serve any purpose; a vendor CA that issues those for devices must add
 * clientAuth (docs/edge.md). */
static bool
leaf_usage_ok(X509 *cert)
{
	return tls_cert_is_client_leaf(cert) &&
	    X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) == 1;
}

/* mac_allow: -1 (none set, or mac in it) or DT_MAC_NOT_ALLOWED; mac
 * NULL: the certificate carries none. */
static int
allow_refusal(const struct devtls *t, const uint8_t *mac)
{
	size_t i;

	if (t->nallow == 0)
		return -1;
	for (i = 0; mac != NULL && i < t->nallow; i++)
		if (memcmp(t->allow[i], mac, 6) == 0)
			return -1;
	return DT_MAC_NOT_ALLOWED;
}

/* The checks of a device's own certificate, after its chain verified:
 * usage, the MAC where mac_from says, the allowlist. Returns -1 (admit)
 * or the refusal; mac is set when the certificate carries one. */
static int
leaf_refusal(const struct devtls *t, X509 *cert, uint8_t mac[6],
    bool *has_mac)
{
	*has_mac = false;
	if (!leaf_usage_ok(cert))
		return DT_WRONG_USAGE;
	if (!cert_mac(t, cert, mac))
		return DT_NO_MAC;
	*has_mac = true;
	return allow_refusal(t, mac);
}

/* The refusal a trust store verdict stands for (-1: trusted). */
static int
trust_refusal(enum trust_verdict tv)
{
	switch (tv) {
	case TV_TRUSTED: return -1;
	case TV_LEARNED:
	case TV_WAITING: return DT_TRUST_PENDING;
	case TV_MISMATCH: return DT_TRUST_MISMATCH;
	case TV_REJECTED:
	case TV_EXPIRED: return DT_TRUST_REJECTED;
	case TV_FULL: return DT_TRUST_FULL;
	default: return DT_TRUST_UNAVAILABLE;
	}
}

/* device_trust = tofu, a certificate no vendor CA vouches for: the trust
 * store decides, by the device's MAC where mac_from looks, else its
 * subject, else its fingerprint (docs/trust.md). Its usage is not
 * checked: the pin authenticates it. mac_allow is asked first, so a
 * device that could never get in is not learned. Returns -1 (admit) or
 * the refusal; mac is set when the certificate carries one. again: a
 * device admitted earlier, looked at after a reload: the store is asked
 * without recording, logging or counting anything (trust_peek). */
static int
tofu_refusal(const struct devtls *t, const struct devtls_meet *at,
    X509 *cert, uint8_t mac[6], bool *has_mac, bool again)
{
	struct trust *tr = at->trust != NULL ? *at->trust : NULL;
	char peer[TRUST_PEER_MAX], macs[MAC_STR_LEN] = "";
	struct trust_meet m;
	uint8_t fp[32];
	int64_t id;
	int rc;

	*has_mac = cert_mac(t, cert, mac);
	if ((rc = allow_refusal(t, *has_mac ? mac : NULL)) >= 0)
		return rc;
	if (*has_mac) {
		mac_format(mac, macs);
		snprintf(peer, sizeof(peer), "%s", macs);
	} else {
		tls_name_line(X509_get_subject_name(cert), peer, sizeof(peer));
	}
	if (peer[0] == '\0') {
		if (tls_cert_sha256(cert, fp) != 0)
			return DT_TRUST_UNAVAILABLE;
		tls_fp_format(fp, peer);
	}
	if (tr == NULL)		/* no store open (cannot happen once set) */
		return DT_TRUST_UNAVAILABLE;
	m.kind = TK_DEVICE;
	m.peer = peer;
	m.address = at->address;
	m.mac = macs;
	m.scope = at->scope;
	if (again)
		return trust_refusal(trust_peek(tr, &m, cert));
	return trust_refusal(trust_check(tr, &m, cert, &id));
}

/* The chain was checked by OpenSSL up to here; at the leaf, ours.
 * OpenSSL's verify callback: 1 goes on, 0 refuses. */
static int
verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct devtls_verdict *v = SSL_get_ex_data(ssl, verdict_idx);
	uint8_t mac[6];
	bool has_mac;

	if (!ok) {
		if (v->verify_err == 0)
			v->verify_err = X509_STORE_CTX_get_error(x);
		return 0;
	}
	if (X509_STORE_CTX_get_error_depth(x) != 0)
		return 1;
	if (*v->current == NULL) {	/* a reload turned device TLS off */
		v->refusal = DT_UNTRUSTED;
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	v->refusal = leaf_refusal(*v->current,
	    X509_STORE_CTX_get_current_cert(x), mac, &has_mac);
	if (has_mac)
		mac_format(mac, v->mac);
	if (v->refusal >= 0) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

/* OpenSSL's whole verification of a device's chain, with verify_cb on
 * its way. A certificate it refuses on its chain (not on our leaf
 * checks) goes to the trust store when the listener's context at that
 * moment says device_trust = tofu. 1 admits, 0 refuses. */
static int
verify_chain(X509_STORE_CTX *x, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct devtls_verdict *v = SSL_get_ex_data(ssl, verdict_idx);
	const struct devtls *t;
	uint8_t mac[6];
	bool has_mac;

	(void)arg;
	if (X509_verify_cert(x) == 1)
		return 1;
	t = *v->current;
	if (t == NULL || !t->tofu || v->refusal >= 0)
		return 0;
	v->refusal = tofu_refusal(t, &v->at, X509_STORE_CTX_get0_cert(x), mac,
	    &has_mac, false);
	if (has_mac)
		mac_format(mac, v->mac);
	if (v->refusal >= 0) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	v->verify_err = 0;
	X509_STORE_CTX_set_error(x, X509_V_OK);
	return 1;
}

SSL *
devtls_ssl_new(const struct devtls *t, struct devtls_verdict *v)
{
	SSL *ssl = SSL_new(t->ctx);

	if (ssl != NULL)
		SSL_set_ex_data(ssl, verdict_idx, v);
	return ssl;
}

void
devtls_ssl_admitted(SSL *ssl)
{
	SSL_set_ex_data(ssl, verdict_idx, NULL);
}

int
devtls_recheck(const struct devtls *t, SSL *ssl, const char *mac,
    const struct devtls_meet *at)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	/* On a server the peer's chain does not hold its leaf. */
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509_STORE_CTX *x = X509_STORE_CTX_new();
	char now_mac[MAC_STR_LEN];
	uint8_t m[6];
	bool has_mac;
	int rc = DT_UNTRUSTED, err;

	if (leaf == NULL || x == NULL ||
	    X509_STORE_CTX_init(x, SSL_CTX_get_cert_store(t->ctx), leaf,
	    chain) != 1 || X509_STORE_CTX_set_default(x, "ssl_client") != 1)
		goto out;
	if (X509_verify_cert(x) == 1) {
		rc = leaf_refusal(t, leaf, m, &has_mac);
	} else if (t->tofu) {
		rc = tofu_refusal(t, at, leaf, m, &has_mac, true);
	} else {
		err = X509_STORE_CTX_get_error(x);
		rc = err == X509_V_ERR_CERT_HAS_EXPIRED ? DT_EXPIRED :
		    err == X509_V_ERR_CERT_NOT_YET_VALID ? DT_NOT_YET_VALID :
		    err == X509_V_ERR_INVALID_PURPOSE ? DT_WRONG_USAGE :
		    DT_UNTRUSTED;
		goto out;
	}
	/* Its requests carried this MAC (or none): another one now
	 * (mac_from changed) is not the device that was admitted. */
	if (has_mac)
		mac_format(m, now_mac);
	else
		now_mac[0] = '\0';
	if (rc < 0 && strcmp(now_mac, mac) != 0)
		rc = DT_NO_MAC;
out:
	X509_STORE_CTX_free(x);
	return rc;
}

static int
load_cas(SSL_CTX *ctx, const struct edge_listener_conf *lc, struct err *e)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	size_t i;
	int rc;

	for (i = 0; i < lc->device_ca.n; i++)
		if ((rc = tls_load_ca_bundle(lc->device_ca.v[i], store, e)) != 0)
			return rc;
	return 0;
}

int
devtls_new(const struct edge_listener_conf *lc, struct devtls **out,
    struct err *e)
{
	struct devtls *t = calloc(1, sizeof(*t));
	size_t i;
	int rc = 0;

	if (verdict_idx < 0)
		verdict_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (t == NULL || (t->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		free(t);
		return err_set(e, -ENOMEM, "cannot create a TLS context");
	}
	t->mac_from = lc->mac_from;
	t->tofu = lc->device_trust == DEVICE_TRUST_TOFU;
	if (SSL_CTX_set_min_proto_version(t->ctx, lc->tls_min == 1 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(t->ctx, DEVICE_TLS12_CIPHERS) != 1)
		rc = err_ssl(e, -EINVAL, "cannot set the device TLS versions");
	if (rc == 0)
		rc = tlsctx_use_identity(t->ctx, lc->tls_cert, lc->tls_key, e);
	if (rc == 0)
		rc = load_cas(t->ctx, lc, e);
	if (rc == 0 && lc->mac_allow.n > 0 &&
	    (t->allow = calloc(lc->mac_allow.n, 6)) == NULL)
		rc = err_set(e, -ENOMEM, "out of memory");
	for (i = 0; rc == 0 && i < lc->mac_allow.n; i++)
		rc = mac_parse(lc->mac_allow.v[i], t->allow[t->nallow++], e);
	if (rc != 0) {
		devtls_free(t);
		return rc;
	}
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	SSL_CTX_set_cert_verify_callback(t->ctx, verify_chain, NULL);
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	/* No resumption: every connection shows its certificate. */
	SSL_CTX_set_num_tickets(t->ctx, 0);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	*out = t;
	return 0;
}

void
devtls_free(struct devtls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t->allow);
	free(t);
}
