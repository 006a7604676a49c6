/* Pins: fingerprints of a fixed certificate against digests computed with
 * `openssl x509 -outform der | sha256sum` and
 * `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
 * sha256sum`, and the pin parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/pem.h>

#include "common/tls.h"

static const char vector_pem[] =
"-----BEGIN CERTIFICATE-----\n"
"MIIBUzCCAQWgAwIBAgIUG1XkC5ynY0o2LBa8IRB2HzmN9C0wBQYDK2VwMB4xHDAa\n"
"BgNVBAMME2lzdGhtdXMgdGVzdCB2ZWN0b3IwIBcNMjYxMTIzMTEwNzAzWhgPMjEy\n"
"NjEwMzAxMTA3MDNaMB4xHDAaBgNVBAMME2lzdGhtdXMgdGVzdCB2ZWN0b3IwKjAF\n"
"BgMrZXADIQChef4TiQ80iFAV/pZpU+G2QVL3tnqbRca5Git9U5kuVaNTMFEwHQYD\n"
"VR0OBBYEFDgcIMOpetPQnwtUXTILNX/nSjOIMB8GA1UdIwQYMBaAFDgcIMOpetPQ\n"
"nwtUXTILNX/nSjOIMA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EAp32PB7RQE+6D\n"
"Yxh6Ltbb9rHynXX2PskUU/ZgWZdbR0yn4dIT7tbl2ugkqSrVNQcJj2rF0g1IZvG9\n"
"yin9Yu4oDA==\n"
"-----END CERTIFICATE-----\n";

#define VECTOR_CERT_SHA256 "sha256:" \
	"e7ea044c60d6d69a7bbb69b3493a49cb6e4bb3425f08d1aee509c6418eab78ac"
#define VECTOR_SPKI_SHA256 "sha256:" \
	"54d3c8dc8f29c2f5ed6b573639b8476243de4a390462a822b037c0dc4410f394"

static char vector_path[64];

static int
setup(void **state)
{
	FILE *f;
	int fd;

	(void)state;
	snprintf(vector_path, sizeof(vector_path), "/tmp/isthmus-vec-XXXXXX");
	fd = mkstemp(vector_path);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	fputs(vector_pem, f);
	fputs(vector_pem, f);	/* a two-certificate bundle */
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(vector_path);
	return 0;
}

static void
test_fingerprints(void **state)
{
	char fp[TLS_FP_LEN];
	struct err e;
	X509 *cert;

	(void)state;
	assert_int_equal(tls_load_cert(vector_path, &cert, &e), 0);
	assert_int_equal(tls_fp_cert(cert, fp), 0);
	assert_string_equal(fp, VECTOR_CERT_SHA256);
	assert_int_equal(tls_fp_spki(cert, fp), 0);
	assert_string_equal(fp, VECTOR_SPKI_SHA256);
	X509_free(cert);
}

static void
test_load_bundle(void **state)
{
	STACK_OF(X509) *sk;
	X509_STORE *store = X509_STORE_new();
	struct err e;

	(void)state;
	assert_int_equal(tls_load_certs(vector_path, &sk, &e), 0);
	assert_int_equal(sk_X509_num(sk), 2);
	sk_X509_pop_free(sk, X509_free);
	assert_int_equal(tls_load_ca_bundle(vector_path, store, &e), 0);
	X509_STORE_free(store);
}

static void
test_load_errors(void **state)
{
	STACK_OF(X509_CRL) *crls;
	EVP_PKEY *key;
	X509 *cert;
	struct err e;

	(void)state;
	assert_int_equal(tls_load_cert("/nonexistent/x.crt", &cert, &e),
	    -ENOENT);
	assert_string_equal(e.msg, "cannot read /nonexistent/x.crt: No such "
	    "file or directory");
	/* a certificate is not a key, nor a CRL */
	assert_int_equal(tls_load_key(vector_path, &key, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no usable PEM private key"));
	assert_int_equal(tls_load_crls(vector_path, &crls, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no PEM CRL found"));
	assert_int_equal(tls_load_cert("/etc/hostname", &cert, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no PEM certificate found"));
}

static void
test_pin_parse(void **state)
{
	uint8_t d[32];
	char back[TLS_FP_LEN];
	struct err e;

	(void)state;
	assert_int_equal(tls_pin_parse(VECTOR_CERT_SHA256, d, &e), 0);
	assert_int_equal(d[0], 0xe7);
	assert_int_equal(d[31], 0xac);
	tls_fp_format(d, back);
	assert_string_equal(back, VECTOR_CERT_SHA256);
	/* upper-case hex is the same pin */
	assert_int_equal(tls_pin_parse("sha256:"
	    "E7EA044C60D6D69A7BBB69B3493A49CB6E4BB3425F08D1AEE509C6418EAB78AC",
	    d, &e), 0);
	assert_int_equal(d[0], 0xe7);
	assert_int_equal(tls_pin_parse("sha1:e7ea", d, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a pin"));
	assert_int_equal(tls_pin_parse("sha256:e7ea", d, &e), -EINVAL);
	assert_int_equal(tls_pin_parse("sha256:"
	    "g7ea044c60d6d69a7bbb69b3493a49cb6e4bb3425f08d1aee509c6418eab78ac",
	    d, &e), -EINVAL);
	assert_int_equal(tls_pin_parse("sha256:"
	    "+7ea044c60d6d69a7bbb69b3493a49cb6e4bb3425f08d1aee509c6418eab78ac",
	    d, &e), -EINVAL);
	assert_int_equal(tls_pin_parse(VECTOR_CERT_SHA256 "00", d, &e),
	    -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprints),
		cmocka_unit_test(test_load_bundle),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_pin_parse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
