/* Where edge, tenant and MAC identities live in certificates (identity.h). */
#include "common/identity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "common/mac.h"

int
identity_edge_uri(const char *tenant, const char *edge, char *buf, size_t cap)
{
	if (!name_valid(tenant) || !name_valid(edge))
		return -EINVAL;
	snprintf(buf, cap, IDENTITY_EDGE_PREFIX "%s" IDENTITY_EDGE_PATH "%s",
	    tenant, edge);
	return 0;
}

void
identity_mac_uri(const uint8_t mac[6], char *buf, size_t cap)
{
	char hex[MAC_HEX_LEN];

	mac_format_hex(mac, hex);
	snprintf(buf, cap, IDENTITY_MAC_PREFIX "%s", hex);
}

static bool
parse_edge_uri(const char *uri, struct cert_identity *id)
{
	char tenant[NAME_MAX_LEN + 2], edge[NAME_MAX_LEN + 2];
	const char *p = uri + strlen(IDENTITY_EDGE_PREFIX);
	const char *slash = strchr(p, '/');
	size_t tlen;

	if (slash == NULL || strncmp(slash, IDENTITY_EDGE_PATH,
	    strlen(IDENTITY_EDGE_PATH)) != 0)
		return false;
	tlen = (size_t)(slash - p);
	if (tlen >= sizeof(tenant) || strlen(slash + strlen(IDENTITY_EDGE_PATH)) >=
	    sizeof(edge))
		return false;
	memcpy(tenant, p, tlen);
	tenant[tlen] = '\0';
	snprintf(edge, sizeof(edge), "%s", slash + strlen(IDENTITY_EDGE_PATH));
	if (!name_valid(tenant) || !name_valid(edge))
		return false;
	memcpy(id->tenant, tenant, tlen + 1);
	memcpy(id->edge, edge, strlen(edge) + 1);
	id->has_edge = true;
	return true;
}

static bool
parse_mac_uri(const char *uri, struct cert_identity *id)
{
	const char *hex = uri + strlen(IDENTITY_MAC_PREFIX);

	if (strlen(hex) != 12)
		return false;
	if (mac_parse(hex, id->mac, NULL) != 0)
		return false;
	id->has_mac = true;
	return true;
}

void
identity_from_cert(X509 *cert, struct cert_identity *id)
{
	GENERAL_NAMES *san;
	int i;

	memset(id, 0, sizeof(*id));
	san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; san != NULL && i < sk_GENERAL_NAME_num(san); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
		const unsigned char *data;
		char uri[256];
		int len;

		if (gn->type != GEN_URI)
			continue;
		data = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		if (len <= 0 || (size_t)len >= sizeof(uri) ||
		    memchr(data, '\0', (size_t)len) != NULL)
			continue;
		memcpy(uri, data, (size_t)len);
		uri[len] = '\0';
		if (!id->has_edge && strncmp(uri, IDENTITY_EDGE_PREFIX,
		    strlen(IDENTITY_EDGE_PREFIX)) == 0)
			parse_edge_uri(uri, id);
		else if (!id->has_mac && strncasecmp(uri, IDENTITY_MAC_PREFIX,
		    strlen(IDENTITY_MAC_PREFIX)) == 0)
			parse_mac_uri(uri, id);
	}
	GENERAL_NAMES_free(san);
}
