/*
 * CRLs: DIR/crl.pem is both the published CRL and the record of every
 * revocation. Re-signing reads the current CRL (after checking that the CA
 * signed it), carries its entries over, adds the new one, bumps the CRL
 * number and signs again. The commands that do it are in revoke.c.
 */
#include "pki/pki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/fsutil.h"
#include "common/tls.h"

int
pki_crl_load(const struct pki_ca *ca, X509_CRL **out, struct err *e)
{
	STACK_OF(X509_CRL) *sk;
	char *path = fs_join(ca->dir, "crl.pem");
	X509_CRL *crl;
	int rc;

	*out = NULL;
	if (path == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	if (!fs_exists(path)) {
		free(path);
		return 0;
	}
	rc = tls_load_crls(path, &sk, e);
	if (rc != 0) {
		free(path);
		return rc;
	}
	crl = sk_X509_CRL_shift(sk);
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(ca->cert)) != 0 ||
	    X509_CRL_verify(crl, X509_get0_pubkey(ca->cert)) != 1) {
		ERR_clear_error();
		X509_CRL_free(crl);
		rc = err_set(e, -EINVAL, "%s is not signed by this CA", path);
	} else {
		*out = crl;
	}
	free(path);
	return rc;
}

/* Next CRL number: one more than the old CRL's, 1 for a first CRL. */
static ASN1_INTEGER *
next_crl_number(const X509_CRL *old)
{
	ASN1_INTEGER *num = NULL, *prev = NULL;
	BIGNUM *bn = NULL;

	if (old != NULL)
		prev = X509_CRL_get_ext_d2i(old, NID_crl_number, NULL, NULL);
	bn = prev != NULL ? ASN1_INTEGER_to_BN(prev, NULL) : BN_new();
	if (bn != NULL && BN_add_word(bn, 1) == 1)
		num = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	ASN1_INTEGER_free(prev);
	return num;
}

/* The old CRL's update period in days, so that a revocation keeps the
 * period an operator chose with "pki crl --days". */
static int
old_period_days(const X509_CRL *old)
{
	int days, secs;

	if (old == NULL || X509_CRL_get0_nextUpdate(old) == NULL ||
	    ASN1_TIME_diff(&days, &secs, X509_CRL_get0_lastUpdate(old),
	    X509_CRL_get0_nextUpdate(old)) != 1 || days < 1)
		return PKI_CRL_DAYS_DEFAULT;
	return days + (secs > 43200);
}

static int
add_revoked(X509_CRL *crl, const ASN1_INTEGER *serial, int reason,
    time_t now)
{
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_TIME *when = ASN1_TIME_set(NULL, now);
	ASN1_ENUMERATED *code = NULL;
	ASN1_INTEGER *sn = ASN1_INTEGER_dup(serial);
	int ok;

	ok = r != NULL && when != NULL && sn != NULL &&
	    X509_REVOKED_set_serialNumber(r, sn) == 1 &&
	    X509_REVOKED_set_revocationDate(r, when) == 1;
	/* RFC 5280 5.3.1: omit the reason code rather than say unspecified */
	if (ok && reason != CRL_REASON_UNSPECIFIED) {
		code = ASN1_ENUMERATED_new();
		ok = code != NULL && ASN1_ENUMERATED_set(code, reason) == 1 &&
		    X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, code, 0, 0) == 1;
	}
	if (ok)
		ok = X509_CRL_add0_revoked(crl, r) == 1;
	ASN1_ENUMERATED_free(code);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(when);
	if (!ok)
		X509_REVOKED_free(r);
	return ok ? 0 : -ENOMEM;
}

int
pki_crl_build(const struct pki_ca *ca, X509_CRL *old,
    const ASN1_INTEGER *revoke_serial, int reason, int days, char **pem,
    size_t *len, struct err *e)
{
	X509_CRL *crl = X509_CRL_new();
	STACK_OF(X509_REVOKED) *prev;
	ASN1_INTEGER *num = next_crl_number(old);
	ASN1_TIME *t = NULL;
	time_t now = time(NULL);
	X509V3_CTX ctx;
	X509_EXTENSION *aki = NULL;
	BIO *bio = NULL;
	char *data;
	long n;
	int i, ok;

	if (days <= 0)
		days = old_period_days(old);
	ok = crl != NULL && num != NULL &&
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) == 1 &&
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) == 1 &&
	    (t = ASN1_TIME_set(NULL, now)) != NULL &&
	    X509_CRL_set1_lastUpdate(crl, t) == 1 &&
	    X509_time_adj_ex(t, days, 0, &now) != NULL &&
	    X509_CRL_set1_nextUpdate(crl, t) == 1;
	prev = old != NULL ? X509_CRL_get_REVOKED(old) : NULL;
	for (i = 0; ok && prev != NULL && i < sk_X509_REVOKED_num(prev); i++) {
		X509_REVOKED *r = X509_REVOKED_dup(sk_X509_REVOKED_value(prev, i));

		ok = r != NULL && X509_CRL_add0_revoked(crl, r) == 1;
		if (!ok)
			X509_REVOKED_free(r);
	}
	if (ok && revoke_serial != NULL)
		ok = add_revoked(crl, revoke_serial, reason, now) == 0;
	if (ok) {
		X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
		aki = X509V3_EXT_conf_nid(NULL, &ctx,
		    NID_authority_key_identifier, "keyid:always");
		ok = aki != NULL && X509_CRL_add_ext(crl, aki, -1) == 1 &&
		    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1 &&
		    X509_CRL_sort(crl) == 1 &&
		    X509_CRL_sign(crl, ca->key, pki_sign_md(ca->key)) > 0;
	}
	if (ok) {
		bio = BIO_new(BIO_s_mem());
		ok = bio != NULL && PEM_write_bio_X509_CRL(bio, crl) == 1 &&
		    (n = BIO_get_mem_data(bio, &data)) > 0 &&
		    (*pem = malloc((size_t)n)) != NULL;
		if (ok) {
			memcpy(*pem, data, (size_t)n);
			*len = (size_t)n;
		}
	}
	BIO_free(bio);
	X509_EXTENSION_free(aki);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	return ok ? 0 : err_ssl(e, -EINVAL, "cannot build CRL");
}
