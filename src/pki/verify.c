/*
 * pki verify: does this certificate chain to the CA in DIR, is it within
 * its validity, unrevoked, and meant for TLS? OpenSSL does the path
 * validation; this file picks the trust anchor and the CRLs and turns
 * OpenSSL's error into one of a few reasons an operator can act on.
 */
#include "pki/pki.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "common/cli.h"
#include "common/tls.h"

static const char usage_verify[] =
"usage: isthmus pki verify CERT --ca DIR [--usage client|server|any]\n"
"\n"
"Verifies CERT against the CA in DIR (an intermediate's chain is followed\n"
"to its root) and DIR/crl.pem when present. Prints 'ok' and exits 0, or\n"
"prints the reason and exits 1: expired, not yet valid, revoked,\n"
"untrusted issuer, wrong usage, crl expired.\n"
"  --usage U  client (edge, device), server (cloud), or any (default:\n"
"             an end-entity certificate for TLS clients or servers)\n";

/* CRLs are optional per level: an intermediate's directory has no CRL of
 * the root's, and that must not fail the whole check. OpenSSL's verify
 * callback contract: 1 accepts, 0 refuses. */
static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	int err = X509_STORE_CTX_get_error(ctx);

	if (!ok && err == X509_V_ERR_UNABLE_TO_GET_CRL)
		return 1;
	return ok;
}

static void
now_string(char *buf, size_t cap)
{
	ASN1_TIME *t = ASN1_TIME_set(NULL, time(NULL));

	tls_time_format(t, buf, cap);
	ASN1_TIME_free(t);
}

/* Prints the reason for err about cert (at chain depth depth). */
static void
report(int err, X509 *cert, int depth, const char *cadir)
{
	char when[32], now[32], *who = NULL;
	const char *whose = depth > 0 ? "the issuing CA certificate " : "";

	if (depth > 0 && cert != NULL)
		who = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
	now_string(now, sizeof(now));
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		tls_time_format(X509_get0_notAfter(cert), when, sizeof(when));
		printf("expired: %s%s%sexpired at %s (now %s)\n", whose,
		    who ? who : "", who ? " " : "", when, now);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		tls_time_format(X509_get0_notBefore(cert), when, sizeof(when));
		printf("not yet valid: %s%s%svalid from %s (now %s; check the "
		    "clock)\n", whose, who ? who : "", who ? " " : "", when, now);
		break;
	case X509_V_ERR_CERT_REVOKED:
		printf("revoked: %s%s%sis listed in the CRL of %s\n", whose,
		    who ? who : "", who ? " " : "", cadir);
		break;
	case X509_V_ERR_INVALID_PURPOSE:
		printf("wrong usage: %s%s%shas no extended key usage for this "
		    "TLS role\n", whose, who ? who : "", who ? " " : "");
		break;
	case X509_V_ERR_CRL_HAS_EXPIRED:
		printf("crl expired: the CRL of %s is past its next update; "
		    "run isthmus pki crl --ca %s\n", cadir, cadir);
		break;
	case X509_V_ERR_CRL_NOT_YET_VALID:
		printf("crl expired: the CRL of %s is not yet valid (now %s; "
		    "check the clock)\n", cadir, now);
		break;
	default:
		printf("untrusted issuer: %s (not signed by the CA in %s or "
		    "its chain)\n", X509_verify_cert_error_string(err), cadir);
	}
	OPENSSL_free(who);
}

static int
parse_usage(const char *s, int *purpose)
{
	if (strcmp(s, "client") == 0)
		*purpose = X509_PURPOSE_SSL_CLIENT;
	else if (strcmp(s, "server") == 0)
		*purpose = X509_PURPOSE_SSL_SERVER;
	else if (strcmp(s, "any") == 0)
		*purpose = 0;
	else
		return -EINVAL;
	return 0;
}

/* leaf is an end-entity certificate whose extendedKeyUsage names the TLS
 * role purpose. */
static bool
role_stated(X509 *leaf, int purpose)
{
	if (purpose == X509_PURPOSE_SSL_CLIENT)
		return tls_cert_is_client_leaf(leaf);
	return X509_check_ca(leaf) == 0 &&
	    (X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) &&
	    (X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
}

/* For --usage any: the purpose the certificate itself states (a TLS role
 * in its extendedKeyUsage, as every certificate isthmus issues has), or 0
 * when it is a CA or states neither. */
static int
infer_purpose(X509 *leaf)
{
	if (role_stated(leaf, X509_PURPOSE_SSL_CLIENT) &&
	    X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) == 1)
		return X509_PURPOSE_SSL_CLIENT;
	if (role_stated(leaf, X509_PURPOSE_SSL_SERVER) &&
	    X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) == 1)
		return X509_PURPOSE_SSL_SERVER;
	return 0;
}

static bool
chain_has(STACK_OF(X509) *chain, X509 *cert)
{
	int i;

	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++)
		if (X509_cmp(sk_X509_value(chain, i), cert) == 0)
			return true;
	return false;
}

/* Runs the path validation; returns 0 when verified, else the X509_V_ERR
 * code with *bad (a new reference) and *depth set to the certificate it
 * concerns. */
static int
run_verify(const struct pki_ca *ca, X509 *leaf, STACK_OF(X509) *extra,
    X509_CRL *crl, int purpose, X509 **bad, int *depth)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	/* Intermediates from CERT's file and from the CA directory. */
	STACK_OF(X509) *untrusted = sk_X509_dup(extra);
	int i, err = X509_V_ERR_OUT_OF_MEM;

	*bad = leaf;
	*depth = 0;
	if (store == NULL || ctx == NULL || untrusted == NULL ||
	    X509_STORE_add_cert(store, pki_ca_root(ca)) != 1)
		goto out;
	if (pki_ca_root(ca) != ca->cert)
		sk_X509_push(untrusted, ca->cert);
	for (i = 0; i + 1 < sk_X509_num(ca->chain); i++)
		sk_X509_push(untrusted, sk_X509_value(ca->chain, i));
	if (crl != NULL) {
		X509_STORE_add_crl(store, crl);
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL);
	}
	X509_STORE_set_verify_cb(store, verify_cb);
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, purpose) != 1)
		goto out;
	if (X509_verify_cert(ctx) == 1) {
		err = 0;
		/* The root also vouches for its other intermediates' leaves;
		 * "verify --ca DIR" asks whether DIR's CA issued this one. */
		if (!chain_has(X509_STORE_CTX_get0_chain(ctx), ca->cert))
			err = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
		goto out;
	}
	err = X509_STORE_CTX_get_error(ctx);
	*depth = X509_STORE_CTX_get_error_depth(ctx);
	if (X509_STORE_CTX_get_current_cert(ctx) != NULL)
		*bad = X509_STORE_CTX_get_current_cert(ctx);
out:
	X509_up_ref(*bad);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	return err;
}

int
pki_cmd_verify(int argc, char **argv)
{
	struct pki_opts o = { .usage = "any" };
	STACK_OF(X509) *certs = NULL;
	struct pki_ca ca = { 0 };
	X509_CRL *crl = NULL;
	X509 *leaf = NULL, *bad = NULL;
	int purpose, depth, err, rc;
	struct err e;

	rc = pki_getopt(argc, argv, usage_verify, PKI_OPT_CA | PKI_OPT_USAGE,
	    PKI_OPT_CA, 1, 1, &o);
	if (rc != CLI_GO_ON)
		return rc;
	if (parse_usage(o.usage, &purpose) != 0)
		return cli_fail("pki verify", EXIT_USAGE, "unknown usage '%s' "
		    "(expected client, server or any)", o.usage);
	rc = tls_load_certs(o.pos[0], &certs, &e);
	if (rc == 0)
		rc = pki_ca_load(o.ca, false, &ca, &e);
	if (rc == 0)
		rc = pki_crl_load(&ca, &crl, &e);
	if (rc != 0) {
		rc = cli_fail("pki verify", EXIT_USAGE, "%s", e.msg);
		goto out;
	}
	leaf = sk_X509_shift(certs);
	/* A stated role holds the certificate to what the daemons admit: a
	 * CA certificate, or one without that extended key usage, is not
	 * one (OpenSSL's purpose check alone lets both through). */
	if (purpose != 0 && !role_stated(leaf, purpose))
		purpose = -1;
	if (purpose == 0 && (purpose = infer_purpose(leaf)) == 0)
		purpose = -1;
	if (purpose < 0) {
		printf("wrong usage: %s\n", X509_check_ca(leaf) ?
		    "a CA certificate, not one for a TLS client or server" :
		    "no extended key usage for a TLS client or server");
		rc = EXIT_FAIL;
		goto out;
	}
	err = run_verify(&ca, leaf, certs, crl, purpose, &bad, &depth);
	if (err == 0) {
		printf("ok\n");
		rc = EXIT_OK;
	} else {
		report(err, bad, depth, o.ca);
		rc = EXIT_FAIL;
	}
out:
	X509_free(bad);
	X509_free(leaf);
	X509_CRL_free(crl);
	sk_X509_pop_free(certs, X509_free);
	pki_ca_free(&ca);
	return rc;
}
