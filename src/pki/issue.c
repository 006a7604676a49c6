/*
 * pki issue: edge, cloud and device certificates. See docs/pki.md for where
 * each identity lives in the certificate.
 */
#include "pki/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "common/cli.h"
#include "common/confparse.h"
#include "common/fsutil.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/mac.h"
#include "common/names.h"
#include "common/tls.h"

#define DAYS_GATEWAY 365
#define DAYS_DEVICE 3650

static const char usage_issue[] =
"usage: isthmus pki issue edge NAME --tenant T --ca DIR [options]\n"
"       isthmus pki issue cloud NAME --dns NAME[,NAME...] [--ip ADDR[,...]]\n"
"                               --ca DIR [options]\n"
"       isthmus pki issue device MAC --ca DIR [--vendor V] [options]\n"
"\n"
"Issues a certificate and key signed by the CA in DIR and writes\n"
"PREFIX.crt and PREFIX.key (0600). edge and device certificates are for\n"
"TLS clients, cloud certificates for TLS servers.\n"
"  --out PREFIX  output prefix (default DIR/NAME; devices DIR/<mac hex>)\n"
"  --days N      validity in days (default 365; devices 3650)\n"
"  --key TYPE    ed25519 or p256 (default ed25519; devices p256, since\n"
"                many device TLS stacks lack Ed25519)\n"
"  --force       replace existing output files\n"
"MAC: aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabbccddeeff.\n"
"NAME, T: letters, digits, '.', '_', '-' (at most 63).\n";

struct issue {
	struct pki_opts o;
	enum pki_cert_kind kind;
	const char *name;
};

static int
parse_kind(const char *s, enum pki_cert_kind *kind)
{
	if (strcmp(s, "edge") == 0)
		*kind = PKI_CERT_EDGE;
	else if (strcmp(s, "cloud") == 0)
		*kind = PKI_CERT_CLOUD;
	else if (strcmp(s, "device") == 0)
		*kind = PKI_CERT_DEVICE;
	else
		return -EINVAL;
	return 0;
}

/* Checks that each option belongs to the kind being issued, so that a
 * misplaced --tenant on a cloud certificate is not silently dropped. */
static int
issue_check(const struct issue *is, struct err *e)
{
	const struct pki_opts *o = &is->o;
	size_t i;

	if (is->kind != PKI_CERT_EDGE && o->tenant != NULL)
		return err_set(e, -EINVAL, "--tenant applies to edge "
		    "certificates only");
	if (is->kind != PKI_CERT_CLOUD && (o->dns.n > 0 || o->ips.n > 0))
		return err_set(e, -EINVAL, "--dns and --ip apply to cloud "
		    "certificates only");
	if (is->kind != PKI_CERT_DEVICE && o->vendor != NULL)
		return err_set(e, -EINVAL, "--vendor applies to device "
		    "certificates only");
	if (is->kind == PKI_CERT_EDGE && o->tenant == NULL)
		return err_set(e, -EINVAL, "an edge certificate needs "
		    "--tenant T");
	if (o->tenant != NULL && !name_valid(o->tenant))
		return err_set(e, -EINVAL, "invalid tenant '%s' (letters, "
		    "digits, '.', '_', '-'; at most 63)", o->tenant);
	if (is->kind != PKI_CERT_DEVICE && !name_valid(is->name))
		return err_set(e, -EINVAL, "invalid name '%s' (letters, "
		    "digits, '.', '_', '-'; at most 63)", is->name);
	if (is->kind == PKI_CERT_CLOUD && o->dns.n == 0 && o->ips.n == 0)
		return err_set(e, -EINVAL, "a cloud certificate needs --dns "
		    "and/or --ip (the names edges dial)");
	for (i = 0; i < o->dns.n; i++) {
		struct hostport hp;
		char tmp[300];

		snprintf(tmp, sizeof(tmp), "%s:1", o->dns.v[i]);
		if (conf_parse_hostport(tmp, false, &hp, NULL) != 0 ||
		    hp.family != AF_UNSPEC)
			return err_set(e, -EINVAL, "invalid --dns name '%s'",
			    o->dns.v[i]);
	}
	for (i = 0; i < o->ips.n; i++) {
		unsigned char buf[16];

		if (inet_pton(AF_INET, o->ips.v[i], buf) != 1 &&
		    inet_pton(AF_INET6, o->ips.v[i], buf) != 1)
			return err_set(e, -EINVAL, "invalid --ip address '%s'",
			    o->ips.v[i]);
	}
	if (o->vendor != NULL && !label_valid(o->vendor))
		return err_set(e, -EINVAL, "invalid --vendor '%s': 1 to 64 "
		    "printable characters", o->vendor);
	return 0;
}

static int
output_paths(const struct pki_opts *o, const char *base, char **crt,
    char **key, struct err *e)
{
	char prefix[4096];
	size_t n;

	if (o->out != NULL)
		snprintf(prefix, sizeof(prefix), "%s", o->out);
	else
		snprintf(prefix, sizeof(prefix), "%s/%s", o->ca, base);
	n = strlen(prefix) + 5;
	*crt = malloc(n);
	*key = malloc(n);
	if (*crt == NULL || *key == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	snprintf(*crt, n, "%s.crt", prefix);
	snprintf(*key, n, "%s.key", prefix);
	if (o->seen & PKI_OPT_FORCE)
		return 0;
	if (fs_exists(*crt) || fs_exists(*key))
		return err_set(e, -EEXIST, "%s already exists (use --force "
		    "to replace it)", fs_exists(*crt) ? *crt : *key);
	return 0;
}

static void
print_issued(enum pki_cert_kind kind, const char *name, X509 *cert,
    const char *crt, const char *key)
{
	char fc[TLS_FP_LEN], fs[TLS_FP_LEN], until[32];
	char *serial = tls_serial_hex(X509_get0_serialNumber(cert));
	static const char *const kinds[] = {
		[PKI_CERT_EDGE] = "edge", [PKI_CERT_CLOUD] = "cloud",
		[PKI_CERT_DEVICE] = "device",
	};

	tls_fp_cert(cert, fc);
	tls_fp_spki(cert, fs);
	tls_time_format(X509_get0_notAfter(cert), until, sizeof(until));
	printf("issued %s certificate %s\n", kinds[kind], name);
	printf("  certificate  %s (valid until %s)\n", crt, until);
	printf("  private key  %s (mode 0600)\n", key);
	printf("  serial       %s\n", serial ? serial : "?");
	printf("  cert_sha256  %s\n  spki_sha256  %s\n", fc, fs);
	log_info("pki", "issued", "kind=%s name=%s serial=%s cert_sha256=%s "
	    "path=%s", kinds[kind], name, serial ? serial : "?", fc, crt);
	OPENSSL_free(serial);
}

/* Fills the subject and SAN for the kind; base gets the default file
 * name. Strings point into o, uri, mac_str. */
static int
issue_spec(const struct issue *is, struct pki_certspec *spec, char *uri,
    size_t urilen, char *mac_str, char *base, size_t baselen,
    struct err *e)
{
	const struct pki_opts *o = &is->o;
	uint8_t mac[6];
	int rc;

	spec->kind = is->kind;
	spec->days = o->days;
	spec->cn = is->name;
	snprintf(base, baselen, "%s", is->name);
	switch (is->kind) {
	case PKI_CERT_EDGE:
		spec->ou = "isthmus edge";
		spec->o = o->tenant;
		identity_edge_uri(o->tenant, is->name, uri, urilen);
		spec->uri = uri;
		break;
	case PKI_CERT_CLOUD:
		spec->dns = o->dns.v;
		spec->ndns = o->dns.n;
		spec->ips = o->ips.v;
		spec->nips = o->ips.n;
		break;
	case PKI_CERT_DEVICE:
		rc = mac_parse(is->name, mac, e);
		if (rc != 0)
			return rc;
		mac_format(mac, mac_str);
		mac_format_hex(mac, base);
		identity_mac_uri(mac, uri, urilen);
		spec->cn = mac_str;
		spec->o = o->vendor;
		spec->uri = uri;
		break;
	default:
		return err_set(e, -EINVAL, "unsupported kind");
	}
	return 0;
}

int
pki_cmd_issue(int argc, char **argv)
{
	struct issue is = { .o = { .days = 0 } };
	struct pki_opts *o = &is.o;
	struct pki_certspec spec = { 0 };
	struct pki_ca ca = { 0 };
	char uri[256], mac_str[MAC_STR_LEN], base[NAME_MAX_LEN + 1];
	char *crt = NULL, *keypath = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	struct err e;
	int rc, i;

	rc = pki_getopt(argc, argv, usage_issue, PKI_OPT_TENANT | PKI_OPT_DNS |
	    PKI_OPT_IP | PKI_OPT_VENDOR | PKI_OPT_CA | PKI_OPT_OUT |
	    PKI_OPT_DAYS | PKI_OPT_KEY | PKI_OPT_FORCE, PKI_OPT_CA, 2, 2, o);
	if (rc != CLI_GO_ON)
		goto done;
	if (parse_kind(o->pos[0], &is.kind) != 0) {
		rc = cli_usage_error("pki issue", usage_issue, "unknown "
		    "certificate kind '%s' (edge, cloud or device)", o->pos[0]);
		goto done;
	}
	is.name = o->pos[1];
	if (!(o->seen & PKI_OPT_KEY))
		o->key = is.kind == PKI_CERT_DEVICE ? PKI_KEY_P256 :
		    PKI_KEY_ED25519;
	if (o->days == 0)
		o->days = is.kind == PKI_CERT_DEVICE ? DAYS_DEVICE :
		    DAYS_GATEWAY;
	rc = issue_check(&is, &e);
	if (rc == 0)
		rc = issue_spec(&is, &spec, uri, sizeof(uri), mac_str, base,
		    sizeof(base), &e);
	if (rc == 0)
		rc = pki_ca_load(o->ca, true, &ca, &e);
	if (rc == 0)
		rc = output_paths(o, base, &crt, &keypath, &e);
	if (rc == 0)
		rc = pki_keygen(o->key, &key, &e);
	if (rc == 0)
		rc = pki_make_cert(&spec, key, ca.cert, ca.key, &cert, &e);
	/* An intermediate's leaves carry it, so peers can build the chain to
	 * the root they trust. */
	if (rc == 0 && (chain = sk_X509_new_null()) == NULL)
		rc = err_set(&e, -ENOMEM, "out of memory");
	if (rc == 0 && pki_ca_root(&ca) != ca.cert) {
		sk_X509_push(chain, ca.cert);
		for (i = 0; i + 1 < sk_X509_num(ca.chain); i++)
			sk_X509_push(chain, sk_X509_value(ca.chain, i));
	}
	if (rc == 0)
		rc = pki_write_pair(crt, keypath, cert, chain, key,
		    o->seen & PKI_OPT_FORCE, &e);
	if (rc == -EEXIST)
		err_wrap(&e, rc, "refused (use --force to replace)");
	if (rc == 0)
		print_issued(is.kind, spec.cn, cert, crt, keypath);
	rc = rc == 0 ? EXIT_OK : cli_fail("pki issue", EXIT_USAGE, "%s",
	    e.msg);
done:
	sk_X509_free(chain);
	X509_free(cert);
	EVP_PKEY_free(key);
	pki_ca_free(&ca);
	free(crt);
	free(keypath);
	pki_opts_free(o);
	return rc;
}
