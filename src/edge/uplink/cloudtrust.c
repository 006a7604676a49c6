/* What makes a server the edge's cloud (cloudtrust.h). */
#include "edge/uplink/cloudtrust.h"

#include <openssl/crypto.h>
#include <openssl/x509_vfy.h>

#include "common/netutil.h"
#include "common/tls.h"

const char *
cloud_trust_name(const struct edge_conf *cf)
{
	return cf->server_name != NULL ? cf->server_name : cf->cloud.host;
}

int
cloud_trust_expect(X509_VERIFY_PARAM *p, const char *name)
{
	if (net_is_address(name))
		return X509_VERIFY_PARAM_set1_ip_asc(p, name);
	return X509_VERIFY_PARAM_set1_host(p, name, 0);
}

bool
cloud_trust_pinned(X509 *leaf, const uint8_t pin[32])
{
	uint8_t fc[32], fs[32];

	return (tls_cert_sha256(leaf, fc) == 0 &&
	    CRYPTO_memcmp(fc, pin, 32) == 0) ||
	    (tls_spki_sha256(leaf, fs) == 0 &&
	    CRYPTO_memcmp(fs, pin, 32) == 0);
}

bool
cloud_trust_chain(STACK_OF(X509) *chain, SSL_CTX *ctx,
    const struct edge_conf *cf)
{
	X509_STORE_CTX *x;
	X509 *leaf;
	bool ok = false;

	if (chain == NULL || sk_X509_num(chain) == 0)
		return false;
	leaf = sk_X509_value(chain, 0);
	if (!cloud_trust_pinned(leaf, cf->cloud_pin) ||
	    (x = X509_STORE_CTX_new()) == NULL)
		return false;
	if (X509_STORE_CTX_init(x, SSL_CTX_get_cert_store(ctx), leaf,
	    chain) == 1 &&
	    X509_STORE_CTX_set_default(x, "ssl_server") == 1 &&
	    cloud_trust_expect(X509_STORE_CTX_get0_param(x),
	    cloud_trust_name(cf)) == 1)
		ok = X509_verify_cert(x) == 1;
	X509_STORE_CTX_free(x);
	return ok;
}
