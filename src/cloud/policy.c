/* Admission and tenancy, enforced here and nowhere else (policy.h). */
#include "cloud/policy.h"

#include <stdio.h>
#include <sys/socket.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/identity.h"
#include "common/tls.h"

const char *
policy_admit_reason(enum admit a)
{
	switch (a) {
	case ADMIT_OK: return "ok";
	case ADMIT_NO_IDENTITY: return "no_identity";
	case ADMIT_UNKNOWN_EDGE: return "unknown_edge";
	case ADMIT_TENANT_MISMATCH: return "tenant_mismatch";
	case ADMIT_PIN_MISMATCH: return "pin_mismatch";
	case ADMIT_WRONG_USAGE: return "wrong_usage";
	case ADMIT_SOURCE_ADDRESS: return "source_address";
	}
	return "unknown";
}

/* The edge name: our SAN URI when present; else, for certificates from
 * another CA, the subject CN if it is a valid name. */
static bool
cert_edge_name(X509 *cert, struct cert_identity *id, char *name,
    size_t namelen)
{
	identity_from_cert(cert, id);
	if (id->has_edge) {
		snprintf(name, namelen, "%s", id->edge);
		return true;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, name, (int)namelen) <= 0)
		return false;
	return name_valid(name);
}

/* One of the edge's pins, in either form (certificate or key). */
static bool
pinned(const struct cloud_edge *ed, X509 *cert)
{
	uint8_t fp_cert[32], fp_spki[32];
	size_t i;

	if (tls_cert_sha256(cert, fp_cert) != 0 ||
	    tls_spki_sha256(cert, fp_spki) != 0)
		return false;
	for (i = 0; i < ed->pins.n; i++)
		if (CRYPTO_memcmp(fp_cert, ed->pins.v[i], 32) == 0 ||
		    CRYPTO_memcmp(fp_spki, ed->pins.v[i], 32) == 0)
			return true;
	return false;
}

static bool
source_allowed(const struct cloud_edge *ed, const struct sockaddr *peer)
{
	size_t i;

	if (ed->from.n == 0)
		return true;
	for (i = 0; peer != NULL && i < ed->from.n; i++)
		if (cidr_contains(&ed->from.v[i], peer))
			return true;
	return false;
}

enum admit
policy_admit(const struct cloud_conf *cf, X509 *cert,
    const struct sockaddr *peer, const struct cloud_edge **edge, char *name,
    size_t namelen)
{
	struct cert_identity id;
	const struct cloud_edge *ed = NULL;
	size_t i;

	name[0] = '\0';
	if (!cert_edge_name(cert, &id, name, namelen))
		return ADMIT_NO_IDENTITY;
	for (i = 0; i < cf->nedges && ed == NULL; i++)
		if (strcmp(cf->edges[i]->name, name) == 0)
			ed = cf->edges[i];
	if (ed == NULL || ed->tenant == NULL)
		return ADMIT_UNKNOWN_EDGE;
	if (id.has_edge && strcmp(id.tenant, ed->tenant->name) != 0)
		return ADMIT_TENANT_MISMATCH;
	/* An edge is a client, never a CA: a CA certificate (or a server's)
	 * whose key someone pinned by mistake must not open a tunnel, as
	 * `isthmus pki verify --usage client` calls it "wrong usage". */
	if (!tls_cert_is_client_leaf(cert))
		return ADMIT_WRONG_USAGE;
	/* Name and certificate (seed 003): a CA compromise alone does not
	 * let anyone in as this edge. Either pin form is accepted, and any
	 * of the pins listed, so a new certificate can be pinned before the
	 * old one is retired. */
	if (!pinned(ed, cert))
		return ADMIT_PIN_MISMATCH;
	/* Seed 003's extra safety: this tunnel only comes up from where the
	 * site is. Checked last, so a refusal here means the edge is who it
	 * says it is, from the wrong place. */
	if (!source_allowed(ed, peer))
		return ADMIT_SOURCE_ADDRESS;
	*edge = ed;
	return ADMIT_OK;
}

struct cloud_service *
policy_service(const struct cloud_conf *cf, const struct cloud_tenant *t,
    const char *service)
{
	size_t i;

	for (i = 0; i < cf->nservices; i++)
		if (cf->services[i]->tenant == t &&
		    strcmp(cf->services[i]->name, service) == 0)
			return cf->services[i];
	return NULL;
}
