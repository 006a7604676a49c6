/*
 * pki issue: edge, cloud and device certificates. See docs/pki.md for where
 * each identity lives in the certificate.
 */
#include "pki/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
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

struct issue_opts {
	enum pki_cert_kind kind;
	const char *name;
	const char *tenant, *vendor, *ca, *out;
	struct strlist dns, ips;
	int days;
	bool key_set, force;
	enum pki_key_type key;
};

static int
issue_fail(const struct err *e)
{
	return cli_fail("pki issue", EXIT_USAGE, "%s", e->msg);
}

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

static int
issue_parse(int argc, char **argv, struct issue_opts *o)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "dns", required_argument, NULL, 'D' },
		{ "ip", required_argument, NULL, 'I' },
		{ "vendor", required_argument, NULL, 'V' },
		{ "ca", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "days", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	struct err e;
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		switch (c) {
		case 'h':
			fputs(usage_issue, stdout);
			return EXIT_OK;
		case 't': o->tenant = optarg; break;
		case 'V': o->vendor = optarg; break;
		case 'c': o->ca = optarg; break;
		case 'o': o->out = optarg; break;
		case 'f': o->force = true; break;
		case 'D':
		case 'I':
			if (conf_parse_list(optarg, c == 'D' ? &o->dns : &o->ips,
			    &e) != 0)
				return issue_fail(&e);
			break;
		case 'd':
			if (pki_parse_days(optarg, &o->days, &e) != 0)
				return issue_fail(&e);
			break;
		case 'k':
			if (pki_parse_key_type(optarg, &o->key, &e) != 0)
				return issue_fail(&e);
			o->key_set = true;
			break;
		default:
			return cli_bad_option("pki issue", usage_issue, argv, c);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("pki issue", usage_issue,
		    "expected a kind (edge, cloud, device) and a name");
	if (parse_kind(argv[optind], &o->kind) != 0)
		return cli_usage_error("pki issue", usage_issue,
		    "unknown certificate kind '%s'", argv[optind]);
	o->name = argv[optind + 1];
	if (o->ca == NULL)
		return cli_usage_error("pki issue", usage_issue,
		    "--ca DIR is required");
	return -1;
}

/* Checks that each option belongs to the kind being issued, so that a
 * misplaced --tenant on a cloud certificate is not silently dropped. */
static int
issue_check(struct issue_opts *o, struct err *e)
{
	size_t i;

	if (o->kind != PKI_CERT_EDGE && o->tenant != NULL)
		return err_set(e, -EINVAL, "--tenant applies to edge "
		    "certificates only");
	if (o->kind != PKI_CERT_CLOUD && (o->dns.n > 0 || o->ips.n > 0))
		return err_set(e, -EINVAL, "--dns and --ip apply to cloud "
		    "certificates only");
	if (o->kind != PKI_CERT_DEVICE && o->vendor != NULL)
		return err_set(e, -EINVAL, "--vendor applies to device "
		    "certificates only");
	if (o->kind == PKI_CERT_EDGE && o->tenant == NULL)
		return err_set(e, -EINVAL, "an edge certificate needs "
		    "--tenant T");
	if (o->tenant != NULL && !name_valid(o->tenant))
		return err_set(e, -EINVAL, "invalid tenant '%s' (letters, "
		    "digits, '.', '_', '-'; at most 63)", o->tenant);
	if (o->kind != PKI_CERT_DEVICE && !name_valid(o->name))
		return err_set(e, -EINVAL, "invalid name '%s' (letters, "
		    "digits, '.', '_', '-'; at most 63)", o->name);
	if (o->kind == PKI_CERT_CLOUD && o->dns.n == 0 && o->ips.n == 0)
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
output_paths(const struct issue_opts *o, const char *base, char **crt,
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
	if (o->force)
		return 0;
	if (fs_exists(*crt) || fs_exists(*key))
		return err_set(e, -EEXIST, "%s already exists (use --force "
		    "to replace it)", fs_exists(*crt) ? *crt : *key);
	return 0;
}

static void
print_issued(const struct issue_opts *o, const char *name, X509 *cert,
    const char *crt, const char *key)
{
	char fc[TLS_FP_LEN], fs[TLS_FP_LEN], until[32];
	char *serial = pki_serial_hex(X509_get0_serialNumber(cert));
	static const char *const kinds[] = {
		[PKI_CERT_EDGE] = "edge", [PKI_CERT_CLOUD] = "cloud",
		[PKI_CERT_DEVICE] = "device",
	};

	tls_fp_cert(cert, fc);
	tls_fp_spki(cert, fs);
	pki_time_format(X509_get0_notAfter(cert), until, sizeof(until));
	printf("issued %s certificate %s\n", kinds[o->kind], name);
	printf("  certificate  %s (valid until %s)\n", crt, until);
	printf("  private key  %s (mode 0600)\n", key);
	printf("  serial       %s\n", serial ? serial : "?");
	printf("  cert_sha256  %s\n  spki_sha256  %s\n", fc, fs);
	log_info("pki", "issued", "kind=%s name=%s serial=%s cert_sha256=%s "
	    "path=%s", kinds[o->kind], name, serial ? serial : "?", fc, crt);
	OPENSSL_free(serial);
}

/* Fills the subject and SAN for the kind; base gets the default file
 * name. Strings point into o, uri, mac_str. */
static int
issue_spec(struct issue_opts *o, struct pki_certspec *spec, char *uri,
    size_t urilen, char *mac_str, char *base, size_t baselen,
    struct err *e)
{
	uint8_t mac[6];
	int rc;

	spec->kind = o->kind;
	spec->days = o->days;
	spec->cn = o->name;
	snprintf(base, baselen, "%s", o->name);
	switch (o->kind) {
	case PKI_CERT_EDGE:
		spec->ou = "isthmus edge";
		spec->o = o->tenant;
		identity_edge_uri(o->tenant, o->name, uri, urilen);
		spec->uri = uri;
		break;
	case PKI_CERT_CLOUD:
		spec->dns = o->dns.v;
		spec->ndns = o->dns.n;
		spec->ips = o->ips.v;
		spec->nips = o->ips.n;
		break;
	case PKI_CERT_DEVICE:
		rc = mac_parse(o->name, mac, e);
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
	struct issue_opts o = { .days = 0 };
	struct pki_certspec spec = { 0 };
	struct pki_ca ca = { 0 };
	char uri[256], mac_str[MAC_STR_LEN], base[NAME_MAX_LEN + 1];
	char *crt = NULL, *keypath = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	struct err e;
	int rc, i;

	rc = issue_parse(argc, argv, &o);
	if (rc >= 0)
		goto done;
	if (!o.key_set)
		o.key = o.kind == PKI_CERT_DEVICE ? PKI_KEY_P256 :
		    PKI_KEY_ED25519;
	if (o.days == 0)
		o.days = o.kind == PKI_CERT_DEVICE ? DAYS_DEVICE : DAYS_GATEWAY;
	rc = issue_check(&o, &e);
	if (rc == 0)
		rc = issue_spec(&o, &spec, uri, sizeof(uri), mac_str, base,
		    sizeof(base), &e);
	if (rc == 0)
		rc = pki_ca_load(o.ca, true, &ca, &e);
	if (rc == 0)
		rc = output_paths(&o, base, &crt, &keypath, &e);
	if (rc == 0)
		rc = pki_keygen(o.key, &key, &e);
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
		rc = pki_write_pair(crt, keypath, cert, chain, key, o.force, &e);
	if (rc == -EEXIST)
		err_wrap(&e, rc, "refused (use --force to replace)");
	if (rc == 0)
		print_issued(&o, spec.cn, cert, crt, keypath);
	rc = rc == 0 ? EXIT_OK : issue_fail(&e);
done:
	sk_X509_free(chain);
	X509_free(cert);
	EVP_PKEY_free(key);
	pki_ca_free(&ca);
	free(crt);
	free(keypath);
	strlist_free(&o.dns);
	strlist_free(&o.ips);
	return rc;
}
