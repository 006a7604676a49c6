/*
 * pki show: what a certificate says, including the isthmus identities and
 * both pins, as text or JSON (--json). Works on any X.509 certificate, not
 * only ours.
 */
#include "pki/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include "common/cli.h"
#include "common/confparse.h"
#include "common/identity.h"
#include "common/jsonw.h"
#include "common/mac.h"
#include "common/tls.h"

static const char usage_show[] =
"usage: isthmus pki show CERT [--json]\n"
"\n"
"Prints subject, issuer, serial, validity, key type, SANs, the edge,\n"
"tenant and MAC it carries, and its pins: cert_sha256 (SHA-256 of the\n"
"certificate) and spki_sha256 (SHA-256 of its public key, which survives\n"
"renewal with the same key). Both use the pin format sha256:<hex>.\n";

struct cert_info {
	char *subject, *issuer, *serial;
	char not_before[32], not_after[32];
	char key_type[48];
	struct strlist san;
	struct cert_identity id;
	char mac[MAC_STR_LEN];
	char cert_fp[TLS_FP_LEN], spki_fp[TLS_FP_LEN];
};

static void
key_type(X509 *cert, char *buf, size_t cap)
{
	EVP_PKEY *k = X509_get0_pubkey(cert);
	char group[64] = "";

	if (k == NULL) {
		snprintf(buf, cap, "unknown");
		return;
	}
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_ED25519: snprintf(buf, cap, "ed25519"); break;
	case EVP_PKEY_ED448: snprintf(buf, cap, "ed448"); break;
	case EVP_PKEY_RSA:
		snprintf(buf, cap, "rsa%d", EVP_PKEY_get_bits(k));
		break;
	case EVP_PKEY_EC:
		EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
		    group, sizeof(group), NULL);
		if (strcmp(group, "prime256v1") == 0)
			snprintf(buf, cap, "p256");
		else if (strcmp(group, "secp384r1") == 0)
			snprintf(buf, cap, "p384");
		else if (strcmp(group, "secp521r1") == 0)
			snprintf(buf, cap, "p521");
		else
			snprintf(buf, cap, "ec-%s", group[0] ? group : "?");
		break;
	default:
		snprintf(buf, cap, "%s", OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
	}
}

static int
san_add(struct strlist *l, const char *prefix, const unsigned char *data,
    int len)
{
	char buf[512];
	int i, n;

	n = snprintf(buf, sizeof(buf), "%s", prefix);
	for (i = 0; i < len && n < (int)sizeof(buf) - 1; i++)
		buf[n++] = data[i] >= 0x20 && data[i] < 0x7f ?
		    (char)data[i] : '?';
	buf[n] = '\0';
	return strlist_append(l, buf, (size_t)n);
}

static int
san_list(X509 *cert, struct strlist *l)
{
	GENERAL_NAMES *gens;
	int i, rc = 0;

	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; rc == 0 && gens != NULL &&
	    i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s = NULL;
		char ip[INET6_ADDRSTRLEN];

		switch (gn->type) {
		case GEN_DNS: s = gn->d.dNSName; break;
		case GEN_URI: s = gn->d.uniformResourceIdentifier; break;
		case GEN_EMAIL: s = gn->d.rfc822Name; break;
		case GEN_IPADD:
			s = gn->d.iPAddress;
			if (ASN1_STRING_length(s) == 4 || ASN1_STRING_length(s) == 16) {
				inet_ntop(ASN1_STRING_length(s) == 4 ? AF_INET :
				    AF_INET6, ASN1_STRING_get0_data(s), ip,
				    sizeof(ip));
				rc = san_add(l, "IP:", (const unsigned char *)ip,
				    (int)strlen(ip));
			}
			continue;
		default:
			rc = san_add(l, "other", (const unsigned char *)"", 0);
			continue;
		}
		rc = san_add(l, gn->type == GEN_DNS ? "DNS:" :
		    gn->type == GEN_URI ? "URI:" : "email:",
		    ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
	}
	GENERAL_NAMES_free(gens);
	return rc;
}

static int
info_collect(X509 *cert, struct cert_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->subject = pki_name_string(X509_get_subject_name(cert));
	ci->issuer = pki_name_string(X509_get_issuer_name(cert));
	ci->serial = tls_serial_hex(X509_get0_serialNumber(cert));
	if (ci->subject == NULL || ci->issuer == NULL || ci->serial == NULL)
		return -ENOMEM;
	tls_time_format(X509_get0_notBefore(cert), ci->not_before,
	    sizeof(ci->not_before));
	tls_time_format(X509_get0_notAfter(cert), ci->not_after,
	    sizeof(ci->not_after));
	key_type(cert, ci->key_type, sizeof(ci->key_type));
	identity_from_cert(cert, &ci->id);
	if (ci->id.has_mac)
		mac_format(ci->id.mac, ci->mac);
	if (tls_fp_cert(cert, ci->cert_fp) != 0 ||
	    tls_fp_spki(cert, ci->spki_fp) != 0)
		return -EINVAL;
	return san_list(cert, &ci->san);
}

static void
info_free(struct cert_info *ci)
{
	free(ci->subject);
	free(ci->issuer);
	OPENSSL_free(ci->serial);
	strlist_free(&ci->san);
}

static void
print_json(const struct cert_info *ci)
{
	struct jw j;
	size_t i;

	jw_init(&j, stdout);
	jw_begin_object(&j);
	jw_key(&j, "subject");
	jw_string(&j, ci->subject);
	jw_key(&j, "issuer");
	jw_string(&j, ci->issuer);
	jw_key(&j, "serial");
	jw_string(&j, ci->serial);
	jw_key(&j, "not_before");
	jw_string(&j, ci->not_before);
	jw_key(&j, "not_after");
	jw_string(&j, ci->not_after);
	jw_key(&j, "key_type");
	jw_string(&j, ci->key_type);
	jw_key(&j, "san");
	jw_begin_array(&j);
	for (i = 0; i < ci->san.n; i++)
		jw_string(&j, ci->san.v[i]);
	jw_end_array(&j);
	jw_key(&j, "edge");
	jw_string(&j, ci->id.has_edge ? ci->id.edge : NULL);
	jw_key(&j, "tenant");
	jw_string(&j, ci->id.has_edge ? ci->id.tenant : NULL);
	jw_key(&j, "mac");
	jw_string(&j, ci->id.has_mac ? ci->mac : NULL);
	jw_key(&j, "cert_sha256");
	jw_string(&j, ci->cert_fp);
	jw_key(&j, "spki_sha256");
	jw_string(&j, ci->spki_fp);
	jw_end_object(&j);
}

static void
print_text(const struct cert_info *ci)
{
	size_t i;

	printf("subject:     %s\n", ci->subject);
	printf("issuer:      %s\n", ci->issuer);
	printf("serial:      %s\n", ci->serial);
	printf("not_before:  %s\n", ci->not_before);
	printf("not_after:   %s\n", ci->not_after);
	printf("key_type:    %s\n", ci->key_type);
	for (i = 0; i < ci->san.n; i++)
		printf("san:         %s\n", ci->san.v[i]);
	if (ci->id.has_edge) {
		printf("edge:        %s\n", ci->id.edge);
		printf("tenant:      %s\n", ci->id.tenant);
	}
	if (ci->id.has_mac)
		printf("mac:         %s\n", ci->mac);
	printf("cert_sha256: %s\n", ci->cert_fp);
	printf("spki_sha256: %s\n", ci->spki_fp);
}

int
pki_cmd_show(int argc, char **argv)
{
	struct pki_opts o = { 0 };
	struct cert_info ci;
	X509 *cert = NULL;
	struct err e;
	int rc;

	rc = pki_getopt(argc, argv, usage_show, PKI_OPT_JSON, 0, 1, 1, &o);
	if (rc != CLI_GO_ON)
		return rc;
	if (tls_load_cert(o.pos[0], &cert, &e) != 0)
		return cli_fail("pki show", EXIT_USAGE, "%s", e.msg);
	rc = info_collect(cert, &ci);
	if (rc == 0 && (o.seen & PKI_OPT_JSON))
		print_json(&ci);
	else if (rc == 0)
		print_text(&ci);
	info_free(&ci);
	X509_free(cert);
	return rc == 0 ? EXIT_OK : cli_fail("pki show", EXIT_FAIL,
	    "cannot read the certificate's fields");
}
