/* A readiness instruction's params (params.h). */
#include "edge/readiness/params.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/hex.h"

int
rtest_test_id(const char *id, uint8_t out[16])
{
	char full[33];
	size_t n = strlen(id);

	if (n == 0 || n > 32)
		return -EINVAL;
	memset(full, '0', 32 - n);
	memcpy(full + 32 - n, id, n + 1);
	return hex_decode(full, 32, out, 16);
}

/* The "udp" object: port and key, and a host when the cloud names one. */
static int
parse_udp(json_t *u, struct rtest_params *out, struct err *e)
{
	json_t *host = json_object_get(u, "host");
	json_t *port = json_object_get(u, "port");
	json_t *key = json_object_get(u, "key");

	if (!json_is_object(u))
		return err_set(e, -EINVAL, "udp: not an object");
	if (!json_is_integer(port) || json_integer_value(port) < 1 ||
	    json_integer_value(port) > 65535)
		return err_set(e, -EINVAL, "udp: \"port\" is not a port "
		    "number");
	if (!json_is_string(key) || hex_decode(json_string_value(key),
	    json_string_length(key), out->udp_key, READY_UDP_KEY_LEN) != 0)
		return err_set(e, -EINVAL, "udp: \"key\" is not %d lowercase "
		    "hex digits", 2 * READY_UDP_KEY_LEN);
	if (host != NULL && (!json_is_string(host) ||
	    json_string_length(host) == 0 ||
	    json_string_length(host) > RTEST_HOST_MAX ||
	    strlen(json_string_value(host)) != json_string_length(host)))
		return err_set(e, -EINVAL, "udp: \"host\" is not a host name "
		    "or address");
	if (host != NULL)
		snprintf(out->udp_host, sizeof(out->udp_host), "%s",
		    json_string_value(host));
	out->udp_port = (uint16_t)json_integer_value(port);
	out->udp = true;
	return 0;
}

int
rtest_params_parse(json_t *params, struct rtest_params *out, struct err *e)
{
	json_t *u;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(params))
		return err_set(e, -EINVAL, "no params: a readiness test needs "
		    "its profile from the cloud");
	if ((rc = readiness_profile_from_json(json_object_get(params,
	    "profile"), &out->p, e)) != 0)
		return rc;
	u = json_object_get(params, "udp");
	if (out->p.udp && u != NULL && (rc = parse_udp(u, out, e)) != 0) {
		rtest_params_clear(out);
		return rc;
	}
	return 0;
}

void
rtest_params_clear(struct rtest_params *p)
{
	OPENSSL_cleanse(p->udp_key, sizeof(p->udp_key));
	p->udp = false;
}
