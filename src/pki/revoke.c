/*
 * isthmus pki revoke and isthmus pki crl: the commands that add a
 * revocation to a CA's CRL and re-sign it (the CRL itself: crl.c).
 */
#include "pki/pki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/cli.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/tls.h"

static const struct {
	const char *name;
	int code;
} crl_reasons[] = {
	{ "unspecified", CRL_REASON_UNSPECIFIED },
	{ "keyCompromise", CRL_REASON_KEY_COMPROMISE },
	{ "cACompromise", CRL_REASON_CA_COMPROMISE },
	{ "affiliationChanged", CRL_REASON_AFFILIATION_CHANGED },
	{ "superseded", CRL_REASON_SUPERSEDED },
	{ "cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION },
	{ "certificateHold", CRL_REASON_CERTIFICATE_HOLD },
	{ "privilegeWithdrawn", CRL_REASON_PRIVILEGE_WITHDRAWN },
	{ "aACompromise", CRL_REASON_AA_COMPROMISE },
};

#define NREASONS (sizeof(crl_reasons) / sizeof(crl_reasons[0]))

static int
reason_parse(const char *s, int *code)
{
	size_t i;

	for (i = 0; i < NREASONS; i++) {
		if (strcmp(s, crl_reasons[i].name) == 0) {
			*code = crl_reasons[i].code;
			return 0;
		}
	}
	return -EINVAL;
}

static int
crl_write(const struct pki_ca *ca, X509_CRL *old,
    const ASN1_INTEGER *serial, int reason, int days, struct err *e)
{
	char *path = fs_join(ca->dir, "crl.pem"), *pem = NULL;
	size_t len;
	int rc;

	if (path == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	rc = pki_crl_build(ca, old, serial, reason, days, &pem, &len, e);
	if (rc == 0)
		rc = fs_write_atomic(path, pem, len, 0644, true, e);
	free(pem);
	free(path);
	return rc;
}

static const char usage_revoke[] =
"usage: isthmus pki revoke CERT --ca DIR [--reason REASON]\n"
"\n"
"Revokes CERT (which DIR's CA must have issued) and re-signs DIR/crl.pem.\n"
"REASON: unspecified (default), keyCompromise, cACompromise,\n"
"affiliationChanged, superseded, cessationOfOperation, certificateHold,\n"
"privilegeWithdrawn, aACompromise.\n";

static const char usage_crl[] =
"usage: isthmus pki crl --ca DIR [--days N]\n"
"\n"
"Re-signs DIR/crl.pem with a new next update, N days from now (default\n"
"30). Run it before the CRL expires: peers refuse an expired CRL.\n";

int
pki_cmd_revoke(int argc, char **argv)
{
	struct pki_opts o = { .reason = "unspecified" };
	struct pki_ca ca = { 0 };
	X509_CRL *old = NULL;
	X509_REVOKED *found = NULL;
	X509 *cert = NULL;
	char *hex = NULL;
	struct err e;
	int rc, reason;

	rc = pki_getopt(argc, argv, usage_revoke, PKI_OPT_CA | PKI_OPT_REASON,
	    PKI_OPT_CA, 1, 1, &o);
	if (rc != CLI_GO_ON)
		return rc;
	if (reason_parse(o.reason, &reason) != 0)
		return cli_fail("pki revoke", EXIT_USAGE, "unknown reason '%s' "
		    "(see isthmus pki revoke --help)", o.reason);
	rc = tls_load_cert(o.pos[0], &cert, &e);
	if (rc == 0)
		rc = pki_ca_load(o.ca, true, &ca, &e);
	if (rc == 0 && (X509_NAME_cmp(X509_get_issuer_name(cert),
	    X509_get_subject_name(ca.cert)) != 0 ||
	    X509_verify(cert, X509_get0_pubkey(ca.cert)) != 1)) {
		ERR_clear_error();
		rc = err_set(&e, -EINVAL, "%s was not issued by the CA in %s",
		    o.pos[0], o.ca);
	}
	if (rc == 0)
		rc = pki_crl_load(&ca, &old, &e);
	if (rc == 0 && (hex = tls_serial_hex(X509_get0_serialNumber(cert))) == NULL)
		rc = err_set(&e, -ENOMEM, "out of memory");
	if (rc == 0 && old != NULL &&
	    X509_CRL_get0_by_serial(old, &found,
	    X509_get0_serialNumber(cert)) == 1)
		rc = err_set(&e, -EEXIST, "%s (serial %s) is already revoked",
		    o.pos[0], hex);
	if (rc == 0)
		rc = crl_write(&ca, old, X509_get0_serialNumber(cert), reason,
		    0, &e);
	if (rc == 0) {
		printf("revoked serial %s (%s); %s/crl.pem re-signed\n", hex,
		    o.reason, o.ca);
		log_info("pki", "revoked", "serial=%s reason=%s ca=%s", hex,
		    o.reason, o.ca);
	}
	OPENSSL_free(hex);
	X509_CRL_free(old);
	X509_free(cert);
	pki_ca_free(&ca);
	return rc == 0 ? EXIT_OK : cli_fail("pki revoke", EXIT_USAGE, "%s",
	    e.msg);
}

int
pki_cmd_crl(int argc, char **argv)
{
	struct pki_opts o = { .days = PKI_CRL_DAYS_DEFAULT };
	struct pki_ca ca = { 0 };
	X509_CRL *old = NULL;
	struct err e;
	int rc;

	rc = pki_getopt(argc, argv, usage_crl, PKI_OPT_CA | PKI_OPT_DAYS,
	    PKI_OPT_CA, 0, 0, &o);
	if (rc != CLI_GO_ON)
		return rc;
	rc = pki_ca_load(o.ca, true, &ca, &e);
	if (rc == 0)
		rc = pki_crl_load(&ca, &old, &e);
	if (rc == 0)
		rc = crl_write(&ca, old, NULL, 0, o.days, &e);
	if (rc == 0) {
		printf("%s/crl.pem re-signed; next update in %d days\n", o.ca,
		    o.days);
		log_info("pki", "crl_signed", "ca=%s days=%d", o.ca, o.days);
	}
	X509_CRL_free(old);
	pki_ca_free(&ca);
	return rc == 0 ? EXIT_OK : cli_fail("pki crl", EXIT_USAGE, "%s",
	    e.msg);
}
