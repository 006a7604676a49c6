/*
 * Tenancy, enforced here and nowhere else. Edges are in customers' hands
 * and are not trusted: an edge is admitted only under the name its
 * certificate carries, only if that name is configured in exactly one
 * tenant, only if the certificate is an end-entity client certificate and
 * matches one of the pins configured for it, and only from the addresses
 * its `from` allows.
 * A stream names a service, and the name is looked up only inside the
 * tenant of the tunnel it came on: nothing an edge sends can reach another
 * tenant's services.
 */
#ifndef ISTHMUS_CLOUD_POLICY_H
#define ISTHMUS_CLOUD_POLICY_H

#include <openssl/x509.h>

#include "cloud/config.h"

enum admit {
	ADMIT_OK,
	ADMIT_NO_IDENTITY,	/* no edge name in the certificate */
	ADMIT_UNKNOWN_EDGE,	/* name not configured in any tenant */
	ADMIT_TENANT_MISMATCH,	/* certificate names another tenant */
	ADMIT_PIN_MISMATCH,	/* name known, certificate not the pinned one */
	ADMIT_WRONG_USAGE,	/* a CA certificate, or no clientAuth usage */
	ADMIT_SOURCE_ADDRESS,	/* from an address the edge's `from` lacks */
};

/* Metric/log label of a refusal ("unknown_edge", ...). */
const char *policy_admit_reason(enum admit a);

/* Decides whether the (chain-verified) certificate cert, presented from
 * peer, may open a tunnel; on ADMIT_OK *edge is its configuration. name
 * receives the edge name the certificate claims (for logs), whatever the
 * outcome. */
struct sockaddr;
enum admit policy_admit(const struct cloud_conf *cf, X509 *cert,
    const struct sockaddr *peer, const struct cloud_edge **edge, char *name,
    size_t namelen);

/* The service a stream from a tunnel of tenant t may reach, or NULL. */
struct cloud_service *policy_service(const struct cloud_conf *cf,
    const struct cloud_tenant *t, const char *service);

#endif
