/* Loading certificates, keys, CAs and CRLs, and the pin format (tls.h). */
#include "common/tls.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "common/fsutil.h"
#include "common/hex.h"
#include "common/timefmt.h"

/* Reads a PEM file into a memory BIO so that a missing file gets the same
 * "cannot read PATH: reason" message everywhere; a secret one (a private
 * key) only if no one else may read it. */
static int
pem_bio(const char *path, bool secret, BIO **out, char **buf, size_t *len,
    struct err *e)
{
	int rc;

	rc = secret ? fs_read_secret(path, TLS_PEM_MAX, buf, len, e) :
	    fs_read_file(path, TLS_PEM_MAX, buf, len, e);
	if (rc != 0)
		return rc;
	*out = BIO_new_mem_buf(*buf, (int)*len);
	if (*out == NULL) {
		free(*buf);
		return err_set(e, -ENOMEM, "out of memory");
	}
	return 0;
}

int
tls_load_certs(const char *path, STACK_OF(X509) **out, struct err *e)
{
	STACK_OF(X509) *sk;
	X509 *c;
	BIO *bio;
	char *buf;
	size_t len;
	int rc;

	rc = pem_bio(path, false, &bio, &buf, &len, e);
	if (rc != 0)
		return rc;
	sk = sk_X509_new_null();
	while (sk != NULL && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (sk_X509_push(sk, c) == 0) {
			X509_free(c);
			break;
		}
	}
	ERR_clear_error();	/* the loop ends on "no start line" */
	BIO_free(bio);
	free(buf);
	if (sk == NULL || sk_X509_num(sk) == 0) {
		sk_X509_pop_free(sk, X509_free);
		return err_set(e, -EINVAL, "%s: no PEM certificate found",
		    path);
	}
	*out = sk;
	return 0;
}

int
tls_load_cert(const char *path, X509 **out, struct err *e)
{
	STACK_OF(X509) *sk;
	int rc;

	rc = tls_load_certs(path, &sk, e);
	if (rc != 0)
		return rc;
	*out = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	return 0;
}

/* OpenSSL's pem_password_cb: -1 says there is no passphrase to give, so
 * an encrypted key fails to load instead of prompting. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int
tls_load_key(const char *path, EVP_PKEY **out, struct err *e)
{
	EVP_PKEY *key;
	BIO *bio;
	char *buf;
	size_t len;
	int rc;

	rc = pem_bio(path, true, &bio, &buf, &len, e);
	if (rc != 0)
		return rc;
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	tls_free_secret(buf, len);
	if (key == NULL) {
		ERR_clear_error();
		return err_set(e, -EINVAL, "%s: no usable PEM private key "
		    "(encrypted keys are not supported)", path);
	}
	*out = key;
	return 0;
}

int
tls_load_ca_bundle(const char *path, X509_STORE *store, struct err *e)
{
	STACK_OF(X509) *sk;
	int i, rc;

	rc = tls_load_certs(path, &sk, e);
	if (rc != 0)
		return rc;
	for (i = 0; rc == 0 && i < sk_X509_num(sk); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(sk, i)) != 1)
			rc = err_ssl(e, -EINVAL, "%s: cannot add CA", path);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

int
tls_load_crls(const char *path, STACK_OF(X509_CRL) **out, struct err *e)
{
	STACK_OF(X509_CRL) *sk;
	X509_CRL *c;
	BIO *bio;
	char *buf;
	size_t len;
	int rc;

	rc = pem_bio(path, false, &bio, &buf, &len, e);
	if (rc != 0)
		return rc;
	sk = sk_X509_CRL_new_null();
	while (sk != NULL &&
	    (c = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_CRL_push(sk, c) == 0) {
			X509_CRL_free(c);
			break;
		}
	}
	ERR_clear_error();
	BIO_free(bio);
	free(buf);
	if (sk == NULL || sk_X509_CRL_num(sk) == 0) {
		sk_X509_CRL_pop_free(sk, X509_CRL_free);
		return err_set(e, -EINVAL, "%s: no PEM CRL found", path);
	}
	*out = sk;
	return 0;
}

int
tls_cert_sha256(X509 *cert, uint8_t out[32])
{
	unsigned int n = 32;

	return X509_digest(cert, EVP_sha256(), out, &n) == 1 ? 0 : -EINVAL;
}

int
tls_spki_sha256(X509 *cert, uint8_t out[32])
{
	unsigned char *der = NULL;
	int len;

	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (len <= 0)
		return -EINVAL;
	SHA256(der, (size_t)len, out);
	OPENSSL_free(der);
	return 0;
}

void
tls_fp_format(const uint8_t digest[32], char out[TLS_FP_LEN])
{
	memcpy(out, "sha256:", 7);
	hex_encode(digest, 32, out + 7);
}

int
tls_fp_cert(X509 *cert, char out[TLS_FP_LEN])
{
	uint8_t d[32];

	if (tls_cert_sha256(cert, d) != 0)
		return -EINVAL;
	tls_fp_format(d, out);
	return 0;
}

int
tls_fp_spki(X509 *cert, char out[TLS_FP_LEN])
{
	uint8_t d[32];

	if (tls_spki_sha256(cert, d) != 0)
		return -EINVAL;
	tls_fp_format(d, out);
	return 0;
}

/* "sha256:AGW_SPKI_PIN": what examples/ write where a pin goes. */
static bool
placeholder(const char *s)
{
	size_t i, n = 0;

	if (strncmp(s, "sha256:", 7) != 0)
		return false;
	for (i = 7; s[i] != '\0'; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z')
			n++;
		else if (s[i] != '_')
			return false;
	}
	return n > 0;
}

int
tls_pin_parse(const char *s, uint8_t out[32], struct err *e)
{
	long v;
	size_t i;

	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != TLS_FP_LEN - 1)
		goto bad;
	for (i = 0; i < 32; i++) {
		char byte[3] = { s[7 + 2 * i], s[8 + 2 * i], '\0' };
		char *end;

		if (byte[0] == '+' || byte[0] == '-' || byte[0] == ' ')
			goto bad;
		v = strtol(byte, &end, 16);
		if (*end != '\0')
			goto bad;
		out[i] = (uint8_t)v;
	}
	return 0;
bad:
	if (placeholder(s))
		return err_set(e, -EINVAL, "'%s' is a placeholder of the "
		    "example configuration: put here the spki_sha256 that "
		    "`isthmus pki show CERT` prints for the certificate to "
		    "pin", s);
	return err_set(e, -EINVAL, "'%s' is not a pin (expected sha256: "
	    "followed by 64 hex digits, as printed by isthmus pki show)", s);
}

static int
bio_take(BIO *bio, char **out, size_t *len)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *copy;

	if (n <= 0)
		return -EINVAL;
	copy = malloc((size_t)n);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, data, (size_t)n);
	*out = copy;
	*len = (size_t)n;
	return 0;
}

int
tls_cert_pem(X509 *cert, char **out, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = -ENOMEM;

	if (bio != NULL && PEM_write_bio_X509(bio, cert) == 1)
		rc = bio_take(bio, out, len);
	BIO_free(bio);
	return rc;
}

int
tls_key_pem(EVP_PKEY *key, char **out, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	int rc = -ENOMEM;

	if (bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0,
	    NULL, NULL) == 1)
		rc = bio_take(bio, out, len);
	BIO_free(bio);
	return rc;
}

void
tls_free_secret(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

void
tls_name_line(const X509_NAME *n, char *buf, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	buf[0] = '\0';
	if (b == NULL)
		return;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
	len = BIO_read(b, buf, (int)cap - 1);
	buf[len > 0 ? len : 0] = '\0';
	BIO_free(b);
}

void
tls_time_format(const ASN1_TIME *t, char *buf, size_t cap)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		snprintf(buf, cap, "invalid");
		return;
	}
	time_format_tm(&tm, TIME_ISO, buf, cap);
}

int64_t
tls_time_epoch(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

bool
tls_cert_is_client_leaf(X509 *cert)
{
	uint32_t flags = X509_get_extension_flags(cert);

	return X509_check_ca(cert) == 0 && (flags & EXFLAG_XKUSAGE) &&
	    (X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
}

char *
tls_serial_hex(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL, *p;

	BN_free(bn);
	for (p = hex; p != NULL && *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	return hex;
}
