/*
 * Building and signing X.509 certificates. Extensions follow RFC 5280 and
 * the CA/Browser baseline where it applies to private PKIs: critical
 * basicConstraints and keyUsage, an extendedKeyUsage per role, SKI/AKI, and
 * random 128-bit serials (unpredictable serials defeat chosen-prefix
 * attacks and never collide in practice).
 */
#include "pki/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/tls.h"

/* Certificates start a little in the past so that a peer whose clock lags
 * by a few minutes still accepts a certificate issued just now. */
#define PKI_BACKDATE_SECS (5 * 60)

int
pki_keygen(enum pki_key_type t, EVP_PKEY **out, struct err *e)
{
	EVP_PKEY *k;

	if (t == PKI_KEY_ED25519)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (k == NULL)
		return err_ssl(e, -EINVAL, "key generation failed");
	*out = k;
	return 0;
}

const EVP_MD *
pki_sign_md(EVP_PKEY *key)
{
	int id = EVP_PKEY_get_id(key);

	return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ?
	    NULL : EVP_sha256();
}

static int
set_random_serial(X509 *cert)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	do {
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			return -EIO;
		BN_free(bn);
		bn = BN_bin2bn(raw, sizeof(raw), NULL);
	} while (bn != NULL && BN_is_zero(bn));
	if (bn != NULL)
		ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

static int
set_subject(X509_NAME *name, const struct pki_certspec *spec)
{
	/* Most significant first, so it prints as CN=…,OU=…,O=… in RFC 2253 */
	if (spec->o != NULL && X509_NAME_add_entry_by_txt(name, "O",
	    MBSTRING_UTF8, (const unsigned char *)spec->o, -1, -1, 0) != 1)
		return -EINVAL;
	if (spec->ou != NULL && X509_NAME_add_entry_by_txt(name, "OU",
	    MBSTRING_UTF8, (const unsigned char *)spec->ou, -1, -1, 0) != 1)
		return -EINVAL;
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)spec->cn, -1, -1, 0) != 1)
		return -EINVAL;
	return 0;
}

/* Validity: now - backdate .. now + days, but never past the issuer's own
 * notAfter (a certificate cannot outlive its CA's signature being valid). */
static int
set_validity(X509 *cert, X509 *issuer, int days)
{
	time_t now = time(NULL);
	int pday, psec;

	if (X509_time_adj_ex(X509_getm_notBefore(cert), 0,
	    -PKI_BACKDATE_SECS, &now) == NULL)
		return -EINVAL;
	if (X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, &now) == NULL)
		return -EINVAL;
	if (issuer != NULL && ASN1_TIME_diff(&pday, &psec,
	    X509_get0_notAfter(issuer), X509_get0_notAfter(cert)) == 1 &&
	    (pday > 0 || psec > 0)) {
		char when[32];

		/* A clamp of less than a day is the default lifetimes
		 * meeting (a 10-year device under a 10-year CA): not news. */
		tls_time_format(X509_get0_notAfter(issuer), when, sizeof(when));
		if (pday > 0)
			log_warn("pki", "validity_clamped", "reason=%s "
			    "not_after=%s", "the CA expires first", when);
		if (X509_set1_notAfter(cert, X509_get0_notAfter(issuer)) != 1)
			return -EINVAL;
	}
	return 0;
}

static int
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return -EINVAL;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -EINVAL;
}

static int
push_name(GENERAL_NAMES *gens, int type, const char *value)
{
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *s;

	if (type == GEN_IPADD) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(value);

		if (ip == NULL)
			return -EINVAL;
		gn = GENERAL_NAME_new();
		if (gn == NULL) {
			ASN1_OCTET_STRING_free(ip);
			return -ENOMEM;
		}
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
	} else {
		s = ASN1_IA5STRING_new();
		if (s == NULL || ASN1_STRING_set(s, value, -1) != 1 ||
		    (gn = GENERAL_NAME_new()) == NULL) {
			ASN1_IA5STRING_free(s);
			return -ENOMEM;
		}
		GENERAL_NAME_set0_value(gn, type, s);
	}
	if (sk_GENERAL_NAME_push(gens, gn) == 0) {
		GENERAL_NAME_free(gn);
		return -ENOMEM;
	}
	return 0;
}

/* The SAN is built from typed values, never from a config string, so no
 * name can smuggle in another entry. */
static int
add_san(X509 *cert, const struct pki_certspec *spec)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	size_t i;
	int rc = 0;

	if (gens == NULL)
		return -ENOMEM;
	for (i = 0; rc == 0 && i < spec->ndns; i++)
		rc = push_name(gens, GEN_DNS, spec->dns[i]);
	for (i = 0; rc == 0 && i < spec->nips; i++)
		rc = push_name(gens, GEN_IPADD, spec->ips[i]);
	if (rc == 0 && spec->uri != NULL)
		rc = push_name(gens, GEN_URI, spec->uri);
	if (rc == 0 && sk_GENERAL_NAME_num(gens) > 0 &&
	    X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) != 1)
		rc = -EINVAL;
	GENERAL_NAMES_free(gens);
	return rc;
}

static int
add_extensions(X509 *cert, X509 *issuer, const struct pki_certspec *spec)
{
	X509V3_CTX ctx;
	bool ca = spec->kind == PKI_CERT_ROOT ||
	    spec->kind == PKI_CERT_INTERMEDIATE;
	const char *bc = spec->kind == PKI_CERT_ROOT ? "critical,CA:TRUE" :
	    spec->kind == PKI_CERT_INTERMEDIATE ?
	    "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE";
	const char *eku = spec->kind == PKI_CERT_CLOUD ? "serverAuth" :
	    "clientAuth";
	int rc;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL,
	    NULL, 0);
	rc = add_ext(cert, &ctx, NID_basic_constraints, bc);
	if (rc == 0)
		rc = add_ext(cert, &ctx, NID_key_usage, ca ?
		    "critical,keyCertSign,cRLSign" :
		    "critical,digitalSignature");
	if (rc == 0 && !ca)
		rc = add_ext(cert, &ctx, NID_ext_key_usage, eku);
	if (rc == 0)
		rc = add_ext(cert, &ctx, NID_subject_key_identifier, "hash");
	if (rc == 0 && spec->kind != PKI_CERT_ROOT)
		rc = add_ext(cert, &ctx, NID_authority_key_identifier,
		    "keyid:always");
	if (rc == 0)
		rc = add_san(cert, spec);
	return rc;
}

int
pki_make_cert(const struct pki_certspec *spec, EVP_PKEY *subject_key,
    X509 *issuer, EVP_PKEY *issuer_key, X509 **out, struct err *e)
{
	X509 *cert = X509_new();
	EVP_PKEY *signer = issuer_key != NULL ? issuer_key : subject_key;
	int rc = -ENOMEM;

	if (cert == NULL)
		return err_set(e, rc, "out of memory");
	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    set_random_serial(cert) != 0 ||
	    set_subject(X509_get_subject_name(cert), spec) != 0 ||
	    X509_set_issuer_name(cert, issuer != NULL ?
	    X509_get_subject_name(issuer) : X509_get_subject_name(cert)) != 1 ||
	    X509_set_pubkey(cert, subject_key) != 1) {
		rc = err_ssl(e, -EINVAL, "cannot build certificate");
		goto fail;
	}
	if (set_validity(cert, issuer, spec->days) != 0) {
		rc = err_ssl(e, -EINVAL, "cannot set validity");
		goto fail;
	}
	if (add_extensions(cert, issuer, spec) != 0) {
		rc = err_ssl(e, -EINVAL, "cannot add extensions");
		goto fail;
	}
	if (X509_sign(cert, signer, pki_sign_md(signer)) <= 0) {
		rc = err_ssl(e, -EINVAL, "cannot sign certificate");
		goto fail;
	}
	*out = cert;
	return 0;
fail:
	X509_free(cert);
	return rc;
}

char *
pki_name_string(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (bio == NULL)
		return NULL;
	/* RFC 2253 with non-ASCII escaped, so the output stays printable. */
	/* The BIO's data has no NUL: copied by length (strndup may look
	 * for one past the end). */
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(bio, &data)) >= 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	return out;
}
