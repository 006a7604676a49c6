/*
 * CA directories: loading a CA, creating a root (pki init) or an
 * intermediate (pki intermediate), and writing certificate/key pairs.
 */
#include "pki/pki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/cli.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/names.h"
#include "common/tls.h"

#define CA_DAYS_ROOT 3650
#define CA_DAYS_INTERMEDIATE 1825

void
pki_ca_free(struct pki_ca *ca)
{
	free(ca->dir);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	sk_X509_pop_free(ca->chain, X509_free);
	memset(ca, 0, sizeof(*ca));
}

X509 *
pki_ca_root(const struct pki_ca *ca)
{
	int n = ca->chain != NULL ? sk_X509_num(ca->chain) : 0;

	return n > 0 ? sk_X509_value(ca->chain, n - 1) : ca->cert;
}

static int
load_chain(struct pki_ca *ca, struct err *e)
{
	char *path = fs_join(ca->dir, "ca-chain.crt");
	STACK_OF(X509) *sk = NULL;
	X509 *first;
	int rc = 0;

	if (path == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	if (fs_exists(path)) {
		rc = tls_load_certs(path, &sk, e);
		if (rc == 0) {
			/* The file starts with ca.crt itself. */
			first = sk_X509_shift(sk);
			if (X509_cmp(first, ca->cert) != 0)
				rc = err_set(e, -EINVAL, "%s does not start "
				    "with ca.crt", path);
			X509_free(first);
		}
	} else if (X509_check_issued(ca->cert, ca->cert) != X509_V_OK) {
		rc = err_set(e, -EINVAL, "%s/ca.crt is not self-signed and %s "
		    "is missing", ca->dir, path);
	}
	if (rc == 0 && sk == NULL && (sk = sk_X509_new_null()) == NULL)
		rc = err_set(e, -ENOMEM, "out of memory");
	if (rc == 0)
		ca->chain = sk;
	else
		sk_X509_pop_free(sk, X509_free);
	free(path);
	return rc;
}

int
pki_ca_load(const char *dir, bool with_key, struct pki_ca *ca, struct err *e)
{
	char *crt = NULL, *key = NULL;
	int rc;

	memset(ca, 0, sizeof(*ca));
	ca->dir = strdup(dir);
	crt = fs_join(dir, "ca.crt");
	key = fs_join(dir, "ca.key");
	if (ca->dir == NULL || crt == NULL || key == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	rc = tls_load_cert(crt, &ca->cert, e);
	if (rc != 0)
		goto out;
	if (X509_check_ca(ca->cert) < 1) {
		rc = err_set(e, -EINVAL, "%s is not a CA certificate", crt);
		goto out;
	}
	if (with_key) {
		rc = tls_load_key(key, &ca->key, e);
		if (rc != 0)
			goto out;
		if (X509_check_private_key(ca->cert, ca->key) != 1) {
			rc = err_ssl(e, -EINVAL, "%s does not belong to %s",
			    key, crt);
			goto out;
		}
	}
	rc = load_chain(ca, e);
out:
	free(crt);
	free(key);
	if (rc != 0)
		pki_ca_free(ca);
	return rc;
}

/* Appends the PEM of each cert to a growing buffer. */
static int
pem_concat(X509 *const *certs, size_t n, STACK_OF(X509) *more, char **out,
    size_t *outlen)
{
	size_t total = 0, i, m = more != NULL ? (size_t)sk_X509_num(more) : 0;
	char *buf = NULL;

	for (i = 0; i < n + m; i++) {
		X509 *c = i < n ? certs[i] : sk_X509_value(more, (int)(i - n));
		char *pem, *nb;
		size_t len;

		if (tls_cert_pem(c, &pem, &len) != 0) {
			free(buf);
			return -ENOMEM;
		}
		nb = realloc(buf, total + len);
		if (nb == NULL) {
			free(pem);
			free(buf);
			return -ENOMEM;
		}
		memcpy(nb + total, pem, len);
		total += len;
		buf = nb;
		free(pem);
	}
	*out = buf;
	*outlen = total;
	return 0;
}

int
pki_write_pair(const char *crt_path, const char *key_path, X509 *cert,
    STACK_OF(X509) *chain, EVP_PKEY *key, bool force, struct err *e)
{
	struct fs_pending p[2] = { { 0 }, { 0 } };
	char *crt = NULL, *kpem = NULL;
	size_t clen, klen = 0;
	int rc;

	if (pem_concat(&cert, 1, chain, &crt, &clen) != 0 ||
	    tls_key_pem(key, &kpem, &klen) != 0) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	/* Key first: a certificate without its key is useless, but the
	 * reverse pair is what a crash between the two renames leaves. */
	rc = fs_stage(&p[0], key_path, kpem, klen, 0600, e);
	if (rc == 0) {
		rc = fs_stage(&p[1], crt_path, crt, clen, 0644, e);
		if (rc != 0)
			fs_abort(p, 1);
	}
	if (rc == 0)
		rc = fs_commit(p, 2, force, e);
out:
	free(crt);
	tls_free_secret(kpem, klen);
	return rc;
}

/* Writes a new CA directory: key, certificate, chain (intermediates) and an
 * empty CRL, all or nothing. */
static int
ca_write_dir(const char *dir, X509 *cert, EVP_PKEY *key,
    const struct pki_ca *issuer, struct err *e)
{
	struct pki_ca self = { .cert = cert, .key = key };
	struct fs_pending p[4];
	char *path[4] = { NULL };
	char *data[4] = { NULL };
	size_t len[4] = { 0 };
	size_t n = 0, i;
	int rc = 0;

	memset(p, 0, sizeof(p));
	path[0] = fs_join(dir, "ca.key");
	path[1] = fs_join(dir, "ca.crt");
	path[2] = fs_join(dir, "crl.pem");
	path[3] = fs_join(dir, "ca-chain.crt");
	if (!path[0] || !path[1] || !path[2] || !path[3] ||
	    tls_key_pem(key, &data[0], &len[0]) != 0 ||
	    tls_cert_pem(cert, &data[1], &len[1]) != 0) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	rc = pki_crl_build(&self, NULL, NULL, 0, 0, &data[2], &len[2], e);
	if (rc == 0 && issuer != NULL) {
		X509 *two[2] = { cert, issuer->cert };

		if (pem_concat(two, 2, issuer->chain, &data[3], &len[3]) != 0)
			rc = err_set(e, -ENOMEM, "out of memory");
	}
	for (n = 0; rc == 0 && n < (issuer != NULL ? 4u : 3u); n++) {
		rc = fs_stage(&p[n], path[n], data[n], len[n],
		    n == 0 ? 0600 : 0644, e);
		if (rc != 0)
			break;
	}
	if (rc == 0)
		rc = fs_commit(p, n, false, e);
	else
		fs_abort(p, n);
out:
	tls_free_secret(data[0], len[0]);
	for (i = 0; i < 4; i++) {
		if (i > 0)
			free(data[i]);
		free(path[i]);
	}
	return rc;
}

/* A CA directory must not already hold a CA: refuse before generating. */
static int
ca_dir_vacant(const char *dir, struct err *e)
{
	static const char *const files[] = { "ca.crt", "ca.key" };
	size_t i;
	int rc = fs_mkdir_p(dir, 0700, e);

	for (i = 0; rc == 0 && i < 2; i++) {
		char *p = fs_join(dir, files[i]);

		if (p == NULL)
			return err_set(e, -ENOMEM, "out of memory");
		if (fs_exists(p))
			rc = err_set(e, -EEXIST, "%s already holds a CA (%s); "
			    "refusing to overwrite it", dir, p);
		free(p);
	}
	return rc;
}

static void
print_ca(const char *what, const char *dir, X509 *cert)
{
	char fc[TLS_FP_LEN], fs[TLS_FP_LEN], until[32];
	char *subject = pki_name_string(X509_get_subject_name(cert));

	tls_fp_cert(cert, fc);
	tls_fp_spki(cert, fs);
	tls_time_format(X509_get0_notAfter(cert), until, sizeof(until));
	printf("created %s %s in %s\n", what, subject ? subject : "?", dir);
	printf("  certificate  %s/ca.crt (valid until %s)\n", dir, until);
	printf("  private key  %s/ca.key (mode 0600; keep it offline)\n", dir);
	printf("  CRL          %s/crl.pem\n", dir);
	printf("  cert_sha256  %s\n  spki_sha256  %s\n", fc, fs);
	log_info("pki", "ca_created", "dir=%s subject=%s cert_sha256=%s",
	    dir, subject ? subject : "?", fc);
	free(subject);
}

static const char usage_init[] =
"usage: isthmus pki init DIR [--name CN] [--days N] [--key ed25519|p256]\n"
"\n"
"Creates a root CA in DIR: ca.crt, ca.key (0600) and an empty crl.pem.\n"
"Refuses to touch a directory that already holds a CA.\n"
"  --name CN   the CA's common name (default \"isthmus root CA\")\n"
"  --days N    validity in days (default 3650)\n"
"  --key TYPE  ed25519 (default) or p256\n";

static const char usage_intermediate[] =
"usage: isthmus pki intermediate NAME --ca DIR --out DIR2 [--days N]\n"
"                                [--key ed25519|p256]\n"
"\n"
"Creates an issuing CA named NAME in DIR2, signed by the root CA in DIR.\n"
"DIR2 is then usable as --ca for issue, revoke, crl and verify; the\n"
"certificates it issues carry the intermediate so chains verify to the\n"
"root. DIR2 holds ca.crt, ca.key (0600), ca-chain.crt and crl.pem.\n"
"  --days N    validity in days (default 1825)\n"
"  --key TYPE  ed25519 (default) or p256\n";

int
pki_cmd_init(int argc, char **argv)
{
	struct pki_opts o = {
		.name = "isthmus root CA", .days = CA_DAYS_ROOT,
		.key = PKI_KEY_ED25519,
	};
	struct pki_certspec spec = { .kind = PKI_CERT_ROOT };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct err e;
	int rc;

	rc = pki_getopt(argc, argv, usage_init, PKI_OPT_NAME | PKI_OPT_DAYS |
	    PKI_OPT_KEY, 0, 1, 1, &o);
	if (rc != CLI_GO_ON)
		return rc;
	if (!label_valid(o.name))
		return cli_fail("pki init", EXIT_USAGE, "invalid --name '%s': "
		    "1 to 64 printable characters", o.name);
	spec.cn = o.name;
	spec.days = o.days;
	rc = ca_dir_vacant(o.pos[0], &e);
	if (rc == 0)
		rc = pki_keygen(o.key, &key, &e);
	if (rc == 0)
		rc = pki_make_cert(&spec, key, NULL, NULL, &cert, &e);
	if (rc == 0)
		rc = ca_write_dir(o.pos[0], cert, key, NULL, &e);
	if (rc == 0)
		print_ca("root CA", o.pos[0], cert);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc == 0 ? EXIT_OK : cli_fail("pki init", EXIT_USAGE, "%s",
	    e.msg);
}

int
pki_cmd_intermediate(int argc, char **argv)
{
	struct pki_opts o = {
		.days = CA_DAYS_INTERMEDIATE, .key = PKI_KEY_ED25519,
	};
	struct pki_certspec spec = { .kind = PKI_CERT_INTERMEDIATE };
	struct pki_ca ca = { 0 };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct err e;
	int rc;

	rc = pki_getopt(argc, argv, usage_intermediate, PKI_OPT_CA |
	    PKI_OPT_OUT | PKI_OPT_DAYS | PKI_OPT_KEY, PKI_OPT_CA | PKI_OPT_OUT,
	    1, 1, &o);
	if (rc != CLI_GO_ON)
		return rc;
	if (!label_valid(o.pos[0]))
		return cli_fail("pki intermediate", EXIT_USAGE, "invalid NAME "
		    "'%s': 1 to 64 printable characters", o.pos[0]);
	spec.cn = o.pos[0];
	spec.days = o.days;
	rc = pki_ca_load(o.ca, true, &ca, &e);
	if (rc == 0 && X509_get_pathlen(ca.cert) == 0)
		rc = err_set(&e, -EINVAL, "%s is an intermediate CA that may "
		    "not sign other CAs; create intermediates from the root",
		    o.ca);
	if (rc == 0)
		rc = ca_dir_vacant(o.out, &e);
	if (rc == 0)
		rc = pki_keygen(o.key, &key, &e);
	if (rc == 0)
		rc = pki_make_cert(&spec, key, ca.cert, ca.key, &cert, &e);
	if (rc == 0)
		rc = ca_write_dir(o.out, cert, key, &ca, &e);
	if (rc == 0)
		print_ca("intermediate CA", o.out, cert);
	X509_free(cert);
	EVP_PKEY_free(key);
	pki_ca_free(&ca);
	return rc == 0 ? EXIT_OK : cli_fail("pki intermediate", EXIT_USAGE,
	    "%s", e.msg);
}
