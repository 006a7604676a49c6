/* TLS 1.3 contexts for the tunnel, both ends (tlsctx.h). */
#include "common/tlsctx.h"

#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/tls.h"

static const unsigned char alpn_wire[] = "\x09" TUNNEL_ALPN;

/* Server side: accept only our protocol. A client offering anything else
 * (an HTTPS probe, a misdirected browser) fails the handshake with
 * no_application_protocol. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, alpn_wire,
	    sizeof(alpn_wire) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* crl is signed by a CA of the bundle in store. */
static bool
crl_signed_by_bundle(X509_STORE *store, X509_CRL *crl)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	int i;

	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

		if (ca != NULL && X509_NAME_cmp(X509_get_subject_name(ca),
		    X509_CRL_get_issuer(crl)) == 0 &&
		    X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
			return true;
	}
	ERR_clear_error();
	return false;
}

/*
 * OpenSSL checks a CRL's signature again in every verification: for the
 * cloud one more public-key operation per edge handshake, a quarter of
 * its cost. When every CRL was found signed by the bundle at load, the
 * check at handshake time keeps only what time changes: the CRL's
 * validity period, with OpenSSL's error codes. OpenSSL's check_crl
 * contract: 1 the CRL is good, 0 not (with the error set on ctx).
 */
static int
check_crl_period(X509_STORE_CTX *ctx, X509_CRL *crl)
{
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
	time_t t, *at = NULL;
	int err = X509_V_OK, c;

	if (X509_VERIFY_PARAM_get_flags(vp) & X509_V_FLAG_USE_CHECK_TIME) {
		t = X509_VERIFY_PARAM_get_time(vp);
		at = &t;
	}
	c = X509_cmp_time(X509_CRL_get0_lastUpdate(crl), at);
	if (c == 0)
		err = X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD;
	else if (c > 0)
		err = X509_V_ERR_CRL_NOT_YET_VALID;
	else if (next != NULL && (c = X509_cmp_time(next, at)) <= 0)
		err = c == 0 ? X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD :
		    X509_V_ERR_CRL_HAS_EXPIRED;
	if (err == X509_V_OK)
		return 1;
	X509_STORE_CTX_set_error(ctx, err);
	return X509_STORE_CTX_get_verify_cb(ctx)(0, ctx);
}

static int
load_trust(SSL_CTX *ctx, const struct tlsctx_opts *o, struct err *e)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509_CRL) *crls = NULL;
	bool presigned = true;
	int i, rc;

	rc = tls_load_ca_bundle(o->ca, store, e);
	if (rc != 0 || o->crl == NULL)
		return rc;
	rc = tls_load_crls(o->crl, &crls, e);
	for (i = 0; rc == 0 && i < sk_X509_CRL_num(crls); i++) {
		if (!crl_signed_by_bundle(store, sk_X509_CRL_value(crls, i)))
			presigned = false;
		if (X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i)) != 1)
			rc = err_ssl(e, -EINVAL, "%s: cannot use CRL", o->crl);
	}
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	if (rc == 0) {
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
		/* Else (a CRL of an intermediate sent by peers, say)
		 * OpenSSL checks signatures at every handshake, as it
		 * must. */
		if (presigned)
			X509_STORE_set_check_crl(store, check_crl_period);
	}
	return rc;
}

int
tlsctx_use_identity(SSL_CTX *ctx, const char *cert, const char *keypath,
    struct err *e)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	int rc, i;

	rc = tls_load_certs(cert, &chain, e);
	if (rc == 0)
		rc = tls_load_key(keypath, &key, e);
	if (rc == 0 && X509_check_private_key(sk_X509_value(chain, 0),
	    key) != 1)
		rc = err_ssl(e, -EINVAL, "%s does not belong to %s", keypath,
		    cert);
	if (rc == 0 && SSL_CTX_use_certificate(ctx, sk_X509_value(chain, 0)) != 1)
		rc = err_ssl(e, -EINVAL, "%s: cannot use certificate", cert);
	for (i = 1; rc == 0 && i < sk_X509_num(chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i)) != 1)
			rc = err_ssl(e, -EINVAL, "%s: cannot use chain", cert);
	if (rc == 0 && SSL_CTX_use_PrivateKey(ctx, key) != 1)
		rc = err_ssl(e, -EINVAL, "%s: cannot use key", keypath);
	if (rc == 0 && SSL_CTX_check_private_key(ctx) != 1)
		rc = err_ssl(e, -EINVAL, "%s does not belong to %s", keypath,
		    cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

int
tlsctx_new(const struct tlsctx_opts *o, SSL_CTX **out, struct err *e)
{
	SSL_CTX *ctx;
	int rc = 0;

	ctx = SSL_CTX_new(o->server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL)
		return err_ssl(e, -ENOMEM, "cannot create TLS context");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		rc = err_ssl(e, -EINVAL, "cannot restrict to TLS 1.3");
	if (rc == 0 && SSL_CTX_set_ciphersuites(ctx, o->ciphersuites ?
	    o->ciphersuites : TUNNEL_CIPHERSUITES) != 1)
		rc = err_ssl(e, -EINVAL, "invalid ciphersuites '%s'",
		    o->ciphersuites);
	if (rc == 0 && SSL_CTX_set1_groups_list(ctx, o->groups ? o->groups :
	    TUNNEL_GROUPS) != 1)
		rc = err_ssl(e, -EINVAL, "invalid groups '%s'", o->groups);
	if (rc == 0)
		rc = tlsctx_use_identity(ctx, o->cert, o->key, e);
	if (rc == 0)
		rc = load_trust(ctx, o, e);
	if (rc == 0) {
		/* Both sides always authenticate. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
		SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
		if (o->server) {
			SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
			/* No session tickets: a resumed session would skip
			 * the certificate checks (CRL, pin, tenancy) that
			 * admit an edge, and each ticket costs the server
			 * crypto on every handshake. */
			SSL_CTX_set_num_tickets(ctx, 0);
			SSL_CTX_set_session_cache_mode(ctx,
			    SSL_SESS_CACHE_OFF);
		}
		else if (SSL_CTX_set_alpn_protos(ctx, alpn_wire,
		    sizeof(alpn_wire) - 1) != 0)
			rc = err_ssl(e, -EINVAL, "cannot set ALPN");
	}
	if (rc != 0) {
		SSL_CTX_free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

int
tlsctx_verify_client(SSL_CTX *ctx, SSL *ssl)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	X509_STORE_CTX *x;
	int err;

	if (leaf == NULL)
		return X509_V_ERR_UNSPECIFIED;
	x = X509_STORE_CTX_new();
	if (x == NULL)
		return X509_V_ERR_OUT_OF_MEM;
	/* On a server, the peer's chain does not hold the leaf. */
	if (X509_STORE_CTX_init(x, SSL_CTX_get_cert_store(ctx), leaf,
	    SSL_get_peer_cert_chain(ssl)) != 1 ||
	    X509_STORE_CTX_set_default(x, "ssl_client") != 1) {
		X509_STORE_CTX_free(x);
		ERR_clear_error();
		return X509_V_ERR_OUT_OF_MEM;
	}
	err = X509_verify_cert(x) == 1 ? X509_V_OK :
	    X509_STORE_CTX_get_error(x);
	if (err == X509_V_OK && X509_STORE_CTX_get_error(x) != X509_V_OK)
		err = X509_STORE_CTX_get_error(x);	/* never, but safe */
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	return err;
}
