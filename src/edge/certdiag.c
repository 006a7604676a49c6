#include "edge/certdiag.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "common/tls.h"

static void
name_line(const X509_NAME *n, char *buf, size_t cap)
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

/* The DNS names and IP addresses a certificate is for (at most a few). */
static void
names_of(X509 *cert, char *buf, size_t cap)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name,
	    NULL, NULL);
	size_t len = 0;
	int i, n = 0;

	buf[0] = '\0';
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && n < 4;
	    i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char one[64] = "";

		if (g->type == GEN_DNS)
			snprintf(one, sizeof(one), "%.*s",
			    ASN1_STRING_length(g->d.dNSName) > 60 ? 60 :
			    ASN1_STRING_length(g->d.dNSName),
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		else if (g->type == GEN_IPADD &&
		    ASN1_STRING_length(g->d.iPAddress) == 4)
			inet_ntop(AF_INET, ASN1_STRING_get0_data(g->d.iPAddress),
			    one, sizeof(one));
		else if (g->type == GEN_IPADD &&
		    ASN1_STRING_length(g->d.iPAddress) == 16)
			inet_ntop(AF_INET6,
			    ASN1_STRING_get0_data(g->d.iPAddress), one,
			    sizeof(one));
		if (one[0] == '\0')
			continue;
		len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0,
		    "%s%s", n++ > 0 ? ", " : "", one);
		if (len >= cap)
			break;
	}
	GENERAL_NAMES_free(gens);
	if (buf[0] == '\0') {
		/* no SAN: the subject is all there is */
		name_line(X509_get_subject_name(cert), buf, cap);
	}
}

static int
names_server(X509 *cert, const char *name)
{
	unsigned char ip[16];

	if (inet_pton(AF_INET, name, ip) == 1 ||
	    inet_pton(AF_INET6, name, ip) == 1)
		return X509_check_ip_asc(cert, name, 0) == 1;
	return X509_check_host(cert, name, 0, 0, NULL) == 1;
}

static void
now_line(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Whether the leaf is the certificate or key cloud_pin names. */
static bool
pinned(const struct certdiag *d)
{
	uint8_t fc[32], fs[32];

	return (tls_cert_sha256(d->leaf, fc) == 0 &&
	    CRYPTO_memcmp(fc, d->pin, 32) == 0) ||
	    (tls_spki_sha256(d->leaf, fs) == 0 &&
	    CRYPTO_memcmp(fs, d->pin, 32) == 0);
}

enum uplink_fail
certdiag_explain(const struct certdiag *d, char *buf, size_t cap)
{
	X509 *bad = d->failed != NULL ? d->failed : d->leaf;
	char subj[200], leafsubj[200], issuer[200], names[200];
	char fpc[TLS_FP_LEN];
	char fps[TLS_FP_LEN], pin[TLS_FP_LEN], when[40], now[40];
	const char *which = bad == d->leaf || d->depth == 0 ?
	    "the cloud's certificate" : "a CA certificate of the cloud's chain";

	if (d->leaf == NULL) {
		snprintf(buf, cap, "cloud certificate: %s", d->error != 0 ?
		    X509_verify_cert_error_string(d->error) :
		    "does not match cloud_pin");
		return d->error != 0 ? UF_CERTIFICATE : UF_PIN;
	}
	name_line(X509_get_subject_name(bad), subj, sizeof(subj));
	name_line(X509_get_subject_name(d->leaf), leafsubj, sizeof(leafsubj));
	name_line(X509_get_issuer_name(d->leaf), issuer, sizeof(issuer));
	names_of(d->leaf, names, sizeof(names));
	if (tls_fp_cert(d->leaf, fpc) != 0)
		snprintf(fpc, sizeof(fpc), "?");
	if (tls_fp_spki(d->leaf, fps) != 0)
		snprintf(fps, sizeof(fps), "?");
	tls_fp_format(d->pin, pin);
	now_line(now, sizeof(now));
	switch (d->error) {
	case 0:
		snprintf(buf, cap, "the cloud's certificate (%s) is from our "
		    "CA but is not the pinned one: it has key %s, cloud_pin is "
		    "%s; if the cloud's key was changed on purpose, update "
		    "cloud_pin", subj, fps, pin);
		return UF_PIN;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		tls_time_format(X509_get0_notAfter(bad), when, sizeof(when));
		snprintf(buf, cap, "%s (%s) expired at %s; the local clock "
		    "says %s", which, subj, when, now);
		return UF_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		tls_time_format(X509_get0_notBefore(bad), when, sizeof(when));
		snprintf(buf, cap, "%s (%s) is valid only from %s; the local "
		    "clock says %s: if the clock is wrong, fix it (NTP)", which,
		    subj, when, now);
		return UF_NOT_YET_VALID;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
		/* Our file, not the cloud's certificate. */
		snprintf(buf, cap, "our CRL %s cannot be used (%s): refresh it "
		    "(isthmus pki crl on the CA) and restart the edge",
		    d->crl != NULL ? d->crl : "",
		    X509_verify_cert_error_string(d->error));
		return UF_CERTIFICATE;
	case X509_V_ERR_CERT_REVOKED:
		snprintf(buf, cap, "%s (%s) is revoked by the CRL %s", which,
		    subj, d->crl != NULL ? d->crl : "");
		return UF_REVOKED;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(buf, cap, "wrong server: %s presented a certificate "
		    "from our CA for %s, not for %s: check cloud and "
		    "server_name", d->cloud, names, d->server_name);
		return UF_WRONG_SERVER;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		if (pinned(d)) {
			/* The cloud we know, but our ca lacks its issuer:
			 * a rotated CA, or a chain sent incomplete. */
			snprintf(buf, cap, "%s presented the pinned cloud "
			    "certificate (%s), but its issuer %s is not in ca "
			    "(%s): update ca with the cloud's current CA chain",
			    d->cloud, leafsubj, issuer,
			    X509_verify_cert_error_string(d->error));
			return UF_CERTIFICATE;
		}
		if (!names_server(d->leaf, d->server_name) &&
		    d->proxy != NULL) {
			snprintf(buf, cap, "TLS interception or a wrong "
			    "server: through the proxy %s, %s presented a "
			    "certificate for %s issued by %s, which is not our "
			    "CA (certificate %s). If IT inspects TLS, ask to "
			    "exempt %s: mutual TLS cannot pass through "
			    "inspection", d->proxy, d->cloud, names, issuer,
			    fpc, d->cloud);
			return UF_INTERCEPTION;
		}
		if (!names_server(d->leaf, d->server_name)) {
			snprintf(buf, cap, "wrong server: %s presented a "
			    "certificate for %s issued by %s, which is not our "
			    "CA, and not for %s: check cloud and server_name",
			    d->cloud, names, issuer, d->server_name);
			return UF_WRONG_SERVER;
		}
		snprintf(buf, cap, "TLS interception suspected: %s presented "
		    "a certificate for %s issued by %s, which is not our CA "
		    "(subject %s, certificate %s, key %s; cloud_pin %s). "
		    "Mutual TLS cannot pass through inspection: ask IT to "
		    "exempt %s from TLS inspection", d->cloud, d->server_name,
		    issuer, leafsubj, fpc, fps, pin, d->cloud);
		return UF_INTERCEPTION;
	default:
		snprintf(buf, cap, "cloud certificate (%s): %s", subj,
		    X509_verify_cert_error_string(d->error));
		return UF_CERTIFICATE;
	}
}
