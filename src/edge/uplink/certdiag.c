/* Checking the cloud's certificate and explaining a refusal in words the
 * site's IT can act on; see certdiag.h. */
#include "edge/uplink/certdiag.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/tls.h"
#include "common/netutil.h"
#include "common/timefmt.h"
#include "edge/uplink/cloudtrust.h"

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
		tls_name_line(X509_get_subject_name(cert), buf, cap);
	}
}

static int
names_server(X509 *cert, const char *name)
{
	if (net_is_address(name))
		return X509_check_ip_asc(cert, name, 0) == 1;
	return X509_check_host(cert, name, 0, 0, NULL) == 1;
}

static void
now_line(char *buf, size_t cap)
{
	time_format(time(NULL), TIME_ISO, buf, cap);
}

/* Whether the leaf is the certificate or key cloud_pin names. */
static bool
pinned(const struct certdiag *d)
{
	return cloud_trust_pinned(d->leaf, d->pin);
}

/* The facts every message about a refused certificate carries, the same
 * in each so that IT and the cloud's operator compare like with like:
 * who it is for and from, both fingerprints (an inspection box may keep
 * its key across certificates) and what we pinned. */
static void
facts(const struct certdiag *d, char *buf, size_t cap)
{
	char subj[200], issuer[200], fpc[TLS_FP_LEN], fps[TLS_FP_LEN];
	char pin[TLS_FP_LEN];

	tls_name_line(X509_get_subject_name(d->leaf), subj, sizeof(subj));
	tls_name_line(X509_get_issuer_name(d->leaf), issuer, sizeof(issuer));
	if (tls_fp_cert(d->leaf, fpc) != 0)
		snprintf(fpc, sizeof(fpc), "?");
	if (tls_fp_spki(d->leaf, fps) != 0)
		snprintf(fps, sizeof(fps), "?");
	tls_fp_format(d->pin, pin);
	snprintf(buf, cap, "subject %s, issuer %s, certificate %s, key %s; "
	    "cloud_pin %s", subj, issuer, fpc, fps, pin);
}

/* A certificate from a CA in ca, for the right name, with another key:
 * the cloud's key changed, or IT trusted an inspection box's root. Only
 * the cloud's operator can tell the first, so the pin is not the first
 * thing to change. */
static enum uplink_fail
explain_pin(const struct certdiag *d, const char *all, char *buf, size_t cap)
{
	char issuer[200];

	tls_name_line(X509_get_issuer_name(d->leaf), issuer, sizeof(issuer));
	snprintf(buf, cap, "%s presented a certificate issued by %s, a CA in "
	    "ca, but it is not the pinned one (%s). If a TLS-inspecting proxy "
	    "is on the path (IT may have added its CA to ca), ask IT to exempt "
	    "%s from TLS inspection: mutual TLS cannot pass through it; change "
	    "cloud_pin only if the cloud's operator says its key changed",
	    d->cloud, issuer, all, d->cloud);
	return UF_PIN;
}

/* A certificate whose issuer is not in ca. */
static enum uplink_fail
explain_untrusted(const struct certdiag *d, const char *all, char *buf,
    size_t cap)
{
	char leafsubj[200], issuer[200], names[200];

	tls_name_line(X509_get_subject_name(d->leaf), leafsubj,
	    sizeof(leafsubj));
	tls_name_line(X509_get_issuer_name(d->leaf), issuer, sizeof(issuer));
	names_of(d->leaf, names, sizeof(names));
	if (pinned(d)) {
		/* The cloud we know, but our ca lacks its issuer: a rotated
		 * CA, or a chain sent incomplete. */
		snprintf(buf, cap, "%s presented the pinned cloud certificate "
		    "(%s), but its issuer %s is not in ca (%s): update ca with "
		    "the cloud's current CA chain", d->cloud, leafsubj, issuer,
		    X509_verify_cert_error_string(d->error));
		return UF_CERTIFICATE;
	}
	if (!names_server(d->leaf, d->server_name) && d->proxy != NULL) {
		snprintf(buf, cap, "TLS interception or a wrong server: "
		    "through the proxy %s, %s presented a certificate for %s "
		    "issued by %s, which is not our CA (%s). If IT inspects "
		    "TLS, ask to exempt %s: mutual TLS cannot pass through "
		    "inspection", d->proxy, d->cloud, names, issuer, all,
		    d->cloud);
		return UF_INTERCEPTION;
	}
	if (!names_server(d->leaf, d->server_name)) {
		snprintf(buf, cap, "wrong server: %s presented a certificate "
		    "for %s issued by %s, which is not our CA, and not for %s "
		    "(%s): check cloud and server_name", d->cloud, names,
		    issuer, d->server_name, all);
		return UF_WRONG_SERVER;
	}
	snprintf(buf, cap, "TLS interception suspected: %s presented a "
	    "certificate for %s issued by %s, which is not our CA (%s). Mutual "
	    "TLS cannot pass through inspection: ask IT to exempt %s from TLS "
	    "inspection", d->cloud, d->server_name, issuer, all, d->cloud);
	return UF_INTERCEPTION;
}

enum uplink_fail
certdiag_explain(const struct certdiag *d, char *buf, size_t cap)
{
	X509 *bad = d->failed != NULL ? d->failed : d->leaf;
	char subj[200], names[200], all[600], when[40], now[40];
	const char *which = bad == d->leaf || d->depth == 0 ?
	    "the cloud's certificate" : "a CA certificate of the cloud's chain";

	if (d->leaf == NULL) {
		snprintf(buf, cap, "cloud certificate: %s", d->error != 0 ?
		    X509_verify_cert_error_string(d->error) :
		    "does not match cloud_pin");
		return d->error != 0 ? UF_CERTIFICATE : UF_PIN;
	}
	tls_name_line(X509_get_subject_name(bad), subj, sizeof(subj));
	names_of(d->leaf, names, sizeof(names));
	facts(d, all, sizeof(all));
	now_line(now, sizeof(now));
	switch (d->error) {
	case 0:
		return explain_pin(d, all, buf, cap);
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
		    "(isthmus pki crl on the CA) and reload the edge (SIGHUP)",
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
		return explain_untrusted(d, all, buf, cap);
	default:
		snprintf(buf, cap, "cloud certificate (%s): %s", subj,
		    X509_verify_cert_error_string(d->error));
		return UF_CERTIFICATE;
	}
}

static int certcheck_idx = -1;

/* Holds on to a certificate for the diagnosis. */
static void
keep_cert(X509 **slot, X509 *cert)
{
	X509_free(*slot);
	*slot = NULL;
	if (cert != NULL && X509_up_ref(cert) == 1)
		*slot = cert;
}

void
certcheck_clear(struct certcheck *ck)
{
	keep_cert(&ck->leaf, NULL);
	keep_cert(&ck->failed, NULL);
	ck->error = X509_V_OK;
	ck->depth = 0;
	ck->pin_mismatch = false;
	ck->presented = false;
}

bool
certcheck_failed(const struct certcheck *ck)
{
	return ck->pin_mismatch || ck->error != X509_V_OK;
}

/* Chain and name by OpenSSL, then the pin on the leaf. Returns 1/0:
 * OpenSSL's verify-callback contract (1 go on, 0 stop the handshake). */
static int
certcheck_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct certcheck *ck = SSL_get_ex_data(ssl, certcheck_idx);
	X509 *cert;

	ck->presented = true;
	if (!ok) {
		if (ck->error == X509_V_OK) {
			ck->error = X509_STORE_CTX_get_error(x);
			ck->depth = X509_STORE_CTX_get_error_depth(x);
			keep_cert(&ck->leaf, X509_STORE_CTX_get0_cert(x));
			keep_cert(&ck->failed,
			    X509_STORE_CTX_get_current_cert(x));
		}
		return 0;
	}
	if (X509_STORE_CTX_get_error_depth(x) != 0)
		return 1;
	cert = X509_STORE_CTX_get_current_cert(x);
	if (!cloud_trust_pinned(cert, ck->cf->cloud_pin)) {
		ck->pin_mismatch = true;
		keep_cert(&ck->leaf, cert);
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

SSL *
certcheck_ssl(SSL_CTX *ctx, const struct edge_conf *cf, struct certcheck *ck)
{
	const char *name = cloud_trust_name(cf);
	SSL *ssl;

	if (certcheck_idx < 0)
		certcheck_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ck->cf = cf;
	certcheck_clear(ck);
	if (certcheck_idx < 0 || (ssl = SSL_new(ctx)) == NULL)
		return NULL;
	SSL_set_ex_data(ssl, certcheck_idx, ck);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, certcheck_cb);
	if (!net_is_address(name))
		SSL_set_tlsext_host_name(ssl, name);
	cloud_trust_expect(SSL_get0_param(ssl), name);
	return ssl;
}

enum uplink_fail
certcheck_explain(const struct certcheck *ck, const char *cloud, char *buf,
    size_t cap)
{
	const struct edge_conf *cf = ck->cf;
	struct certdiag d = {
		.leaf = ck->leaf,
		.failed = ck->failed,
		.error = ck->pin_mismatch ? 0 : ck->error,
		.depth = ck->depth,
		.server_name = cloud_trust_name(cf),
		.cloud = cloud,
		.pin = cf->cloud_pin,
		.crl = cf->crl,
		.proxy = cf->use_proxy ? cf->proxy.shown : NULL,
	};

	return certdiag_explain(&d, buf, cap);
}

/* Whether err is one of the alerts a TLS server sends when it cannot take
 * a ClientHello: no common group or cipher, no common version (a
 * predicate: bool). */
static bool
hello_alert(unsigned long err)
{
	if (ERR_GET_LIB(err) != ERR_LIB_SSL)
		return false;
	switch (ERR_GET_REASON(err)) {
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY:
	case SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER:
		return true;
	default:
		return false;
	}
}

bool
certcheck_hello_refused(const struct certcheck *ck, unsigned long err,
    const char *cloud, char *buf, size_t cap)
{
	const struct edge_conf *cf = ck->cf;

	if (ck->presented || !hello_alert(err))
		return false;
	snprintf(buf, cap, "%s%s%s%s refused this edge's TLS offer before "
	    "showing any certificate (%s): an isthmus cloud never does this, "
	    "so something on the path answered instead of the cloud, such as "
	    "a TLS-inspecting proxy that cannot do TLS 1.3 with X25519, the "
	    "only key exchange the edge offers. Ask IT to exempt %s from TLS "
	    "inspection: mutual TLS cannot pass through it",
	    cf->use_proxy ? "through the proxy " : "",
	    cf->use_proxy ? cf->proxy.shown : "", cf->use_proxy ? ", " : "",
	    cloud, ERR_reason_error_string(err), cloud);
	return true;
}

const char *
certdiag_cloud_refusal(unsigned long err)
{
	int alert = ERR_GET_LIB(err) == ERR_LIB_SSL ?
	    ERR_GET_REASON(err) - SSL_AD_REASON_OFFSET : -1;

	switch (alert) {
	case SSL_AD_BAD_CERTIFICATE:
		return "the cloud knows this edge and its certificate but not "
		    "the address it came from: its operator must add this "
		    "site's public address to the edge's `from` (or, if this "
		    "edge's certificate is not valid yet, fix its clock)";
	case SSL_AD_CERTIFICATE_REVOKED:
		return "the cloud's CRL revokes this edge's certificate: a new "
		    "one must be issued and pinned at the cloud";
	case SSL_AD_CERTIFICATE_EXPIRED:
		return "this edge's certificate, a CA above it, or the cloud's "
		    "CRL has expired (or a clock is wrong): renew it";
	case SSL_AD_UNKNOWN_CA:
		return "the cloud does not trust the CA that issued this "
		    "edge's certificate: its operator must add that CA to its "
		    "ca, or the edge needs a certificate from the cloud's CA";
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
		return "this edge's certificate is not a TLS client "
		    "certificate (extended key usage): issue one with "
		    "isthmus pki issue edge";
	default:
		return "its operator must list this edge, pinned, in a tenant, "
		    "with a client (not a CA) certificate";
	}
}
