/*
 * isthmus pki: an offline CA for edges, cloud gateways and devices, built on
 * OpenSSL's EVP/X509 APIs. A CA directory holds:
 *   ca.crt        the CA certificate (PEM)
 *   ca.key        its private key (PEM, 0600)
 *   ca-chain.crt  intermediates only: ca.crt followed by its issuers
 *   crl.pem       the CRL; also the record of every revocation
 */
#ifndef ISTHMUS_PKI_H
#define ISTHMUS_PKI_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "common/confparse.h"
#include "common/err.h"

/* Entry point for "isthmus pki ..." (argv[0] is "pki"). */
int pki_main(int argc, char **argv);
void pki_usage(FILE *f);

/* Subcommands; argv[0] is the subcommand name. */
int pki_cmd_init(int argc, char **argv);
int pki_cmd_intermediate(int argc, char **argv);
int pki_cmd_issue(int argc, char **argv);
int pki_cmd_revoke(int argc, char **argv);
int pki_cmd_crl(int argc, char **argv);
int pki_cmd_show(int argc, char **argv);
int pki_cmd_verify(int argc, char **argv);

/* Shared option parsing (opts.c): one option table for every subcommand;
 * each says which options apply to it. */
enum pki_key_type { PKI_KEY_ED25519, PKI_KEY_P256 };

enum {
	PKI_OPT_NAME = 1u << 0,
	PKI_OPT_DAYS = 1u << 1,
	PKI_OPT_KEY = 1u << 2,
	PKI_OPT_CA = 1u << 3,
	PKI_OPT_OUT = 1u << 4,
	PKI_OPT_REASON = 1u << 5,
	PKI_OPT_TENANT = 1u << 6,
	PKI_OPT_DNS = 1u << 7,
	PKI_OPT_IP = 1u << 8,
	PKI_OPT_VENDOR = 1u << 9,
	PKI_OPT_FORCE = 1u << 10,
	PKI_OPT_JSON = 1u << 11,
	PKI_OPT_USAGE = 1u << 12,
};

struct pki_opts {
	unsigned seen;		/* PKI_OPT_* given on the command line */
	const char *name, *ca, *out, *reason, *tenant, *vendor, *usage;
	int days;
	enum pki_key_type key;
	struct strlist dns, ips;
	char **pos;		/* positional arguments */
	int npos;
};

/*
 * Parses argv (argv[0] is the subcommand) into o, refusing options outside
 * allowed, values that do not parse, and a positional count outside
 * [npos_min, npos_max]; options in `required` must be present. Returns
 * CLI_GO_ON when the command should go on, else the exit code (0 after
 * --help).
 */
int pki_getopt(int argc, char **argv, const char *usage, unsigned allowed,
    unsigned required, int npos_min, int npos_max, struct pki_opts *o);
void pki_opts_free(struct pki_opts *o);
int pki_parse_key_type(const char *s, enum pki_key_type *out,
    struct err *e);
int pki_parse_days(const char *s, int *out, struct err *e);

/* A loaded CA (ca.c). */
struct pki_ca {
	char *dir;
	X509 *cert;
	EVP_PKEY *key;		/* NULL unless loaded with the key */
	STACK_OF(X509) *chain;	/* issuers above cert, root last; may be empty */
};

int pki_ca_load(const char *dir, bool with_key, struct pki_ca *ca,
    struct err *e);
void pki_ca_free(struct pki_ca *ca);
/* The self-signed root at the top of ca's chain (ca->cert for a root). */
X509 *pki_ca_root(const struct pki_ca *ca);

/* Certificate generation (certgen.c). */
enum pki_cert_kind {
	PKI_CERT_ROOT,
	PKI_CERT_INTERMEDIATE,
	PKI_CERT_EDGE,
	PKI_CERT_CLOUD,
	PKI_CERT_DEVICE,
};

struct pki_certspec {
	enum pki_cert_kind kind;
	const char *cn, *ou, *o;	/* subject; ou and o may be NULL */
	char *const *dns;
	size_t ndns;
	char *const *ips;
	size_t nips;
	const char *uri;		/* one SAN URI, or NULL */
	int days;
};

int pki_keygen(enum pki_key_type t, EVP_PKEY **out, struct err *e);
/* Makes and signs a certificate for subject_key. issuer and issuer_key are
 * NULL for a self-signed root. */
int pki_make_cert(const struct pki_certspec *spec, EVP_PKEY *subject_key,
    X509 *issuer, EVP_PKEY *issuer_key, X509 **out, struct err *e);
/* The digest to sign with for key (NULL for Ed25519, which has its own). */
const EVP_MD *pki_sign_md(EVP_PKEY *key);
/* A name in RFC 2253 form ("CN=agw,OU=isthmus edge,O=A"), non-ASCII
 * escaped; free with free(). */
char *pki_name_string(const X509_NAME *name);

/* A CRL's update period when nobody chose one (pki crl --days). */
#define PKI_CRL_DAYS_DEFAULT 30

/* CRLs (crl.c). Builds ca's CRL from the existing one (if any) plus an
 * optional new revocation, and returns it as PEM. days <= 0 keeps the
 * existing CRL's update period (30 days for a new CRL). */
int pki_crl_build(const struct pki_ca *ca, X509_CRL *old,
    const ASN1_INTEGER *revoke_serial, int reason, int days, char **pem,
    size_t *len, struct err *e);
/* Loads DIR/crl.pem and checks it is signed by ca; *out is NULL when the
 * file does not exist. */
int pki_crl_load(const struct pki_ca *ca, X509_CRL **out, struct err *e);

/* Writes cert PEM (plus the chain certs) and key PEM as one atomic pair. */
int pki_write_pair(const char *crt_path, const char *key_path, X509 *cert,
    STACK_OF(X509) *chain, EVP_PKEY *key, bool force, struct err *e);

#endif
