/*
 * TLS helpers shared by pki, cloud and edge: loading certificates, keys, CA
 * bundles and CRLs from PEM files, and the one pin format used everywhere:
 * "sha256:<64 lowercase hex>" over the certificate's DER encoding or over its
 * SubjectPublicKeyInfo's DER encoding.
 */
#ifndef ISTHMUS_TLS_H
#define ISTHMUS_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/err.h"

#define TLS_FP_LEN (7 + 64 + 1)	/* "sha256:" + hex + NUL */
#define TLS_PEM_MAX (4u << 20)	/* largest PEM file we read */

/* The first certificate in a PEM file. */
int tls_load_cert(const char *path, X509 **out, struct err *e);
/* Every certificate in a PEM file (at least one). */
int tls_load_certs(const char *path, STACK_OF(X509) **out, struct err *e);
/* An unencrypted PEM private key (encrypted keys are refused, never
 * prompted for), from a file no one else may read (fs_read_secret). */
int tls_load_key(const char *path, EVP_PKEY **out, struct err *e);
/* Adds every certificate of a PEM bundle to store as a trust anchor. */
int tls_load_ca_bundle(const char *path, X509_STORE *store, struct err *e);
/* Every CRL in a PEM file (at least one). */
int tls_load_crls(const char *path, STACK_OF(X509_CRL) **out,
    struct err *e);

int tls_cert_sha256(X509 *cert, uint8_t out[32]);
int tls_spki_sha256(X509 *cert, uint8_t out[32]);
void tls_fp_format(const uint8_t digest[32], char out[TLS_FP_LEN]);
/* Both fingerprints of cert, formatted. Returns 0 or -EINVAL. */
int tls_fp_cert(X509 *cert, char out[TLS_FP_LEN]);
int tls_fp_spki(X509 *cert, char out[TLS_FP_LEN]);
/* Parses "sha256:<hex>" (hex in either case). */
int tls_pin_parse(const char *s, uint8_t out[32], struct err *e);

/* cert is an end-entity TLS client certificate: not a CA
 * (basicConstraints), and with an extendedKeyUsage that lists clientAuth.
 * RFC 5280 lets a certificate without EKU serve any purpose; we do not:
 * an edge or a device must have been issued as a client. */
bool tls_cert_is_client_leaf(X509 *cert);

/* A distinguished name on one line, RFC 2253 style ("CN=x,O=y"). */
void tls_name_line(const X509_NAME *n, char *buf, size_t cap);
/* t as "2026-11-23T10:00:00Z" ("invalid" if it cannot be read). */
void tls_time_format(const ASN1_TIME *t, char *buf, size_t cap);
/* t in seconds since the epoch, or 0 if it cannot be read. */
int64_t tls_time_epoch(const ASN1_TIME *t);
/* Lowercase hex of a certificate's serial number (the form pki, CRLs
 * and the cloud's registry show); free with OPENSSL_free. */
char *tls_serial_hex(const ASN1_INTEGER *serial);

/* PEM encoding of cert / key into a malloc'd buffer. The key buffer holds
 * secret material: free it with tls_free_secret. */
int tls_cert_pem(X509 *cert, char **out, size_t *len);
int tls_key_pem(EVP_PKEY *key, char **out, size_t *len);
void tls_free_secret(char *buf, size_t len);

#endif
