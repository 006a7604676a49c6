/*
 * A readiness instruction as it goes down (docs/protocol.md, section 6):
 * its profile resolved at send time (the one named, else the edge's
 * scheduled one, else the default), a fresh key, the test registered
 * with the data side (cloud/readiness/) and its params. Its deadline
 * leaves room for the whole test.
 */
#include "cloud/manage/manage-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cloud/cloud-int.h"
#include "cloud/config.h"
#include "cloud/readiness/readiness.h"
#include "common/hex.h"
#include "common/readiness.h"

/* The profile for in: its argument, else the edge's schedule's, else
 * the default. NULL when the argument names none (a reload removed it
 * after the instruction was issued). */
static const struct readiness_profile *
profile_of(const struct cloud_conf *cf, const struct store_instruction *in,
    char *why, size_t cap)
{
	const struct readiness_profile *p = NULL;
	json_t *args = in->args != NULL ? json_loads(in->args, 0, NULL) : NULL;
	const char *name = json_string_value(json_array_get(args, 0));
	uint64_t every;

	if (name != NULL) {
		p = cloud_conf_readiness(cf, name);
		if (p == NULL)
			snprintf(why, cap, "the cloud's configuration has no "
			    "readiness profile '%s' any more", name);
	} else if (!cloud_conf_schedule(cf, in->tenant, in->edge, &p,
	    &every)) {
		p = cloud_conf_readiness(cf, READINESS_DEFAULT);
	}
	json_decref(args);
	return p;
}

static json_t *
udp_params(const struct cloud_conf *cf, unsigned port,
    const uint8_t key[READY_UDP_KEY_LEN])
{
	char khex[2 * READY_UDP_KEY_LEN + 1];
	json_t *o;

	hex_encode(key, READY_UDP_KEY_LEN, khex);
	o = json_pack("{s:i, s:s, s:s*}", "port", (int)port, "key", khex,
	    "host", cf->readiness_udp_host);
	OPENSSL_cleanse(khex, sizeof(khex));
	return o;
}

int
mready_prepare(struct manage_hub *h, const struct store_instruction *in,
    int64_t *deadline, json_t **params, struct ready_spec **spec,
    char *why, size_t cap)
{
	const struct cloud_conf *cf = h->cl->conf;
	const struct readiness_profile *p = profile_of(cf, in, why, cap);
	unsigned port = ready_udp_port(h->cl->ready);
	struct ready_spec *s;
	bool udp;
	json_t *o;

	*params = NULL;
	*spec = NULL;
	if (p == NULL)
		return -ENOENT;
	udp = p->udp && port != 0;
	s = OPENSSL_zalloc(sizeof(*s));
	if (s == NULL || RAND_bytes(s->key, sizeof(s->key)) != 1) {
		OPENSSL_free(s);
		snprintf(why, cap, "out of memory or randomness");
		return -ENOMEM;
	}
	*deadline += (int64_t)readiness_max_seconds(p, udp);
	snprintf(s->id, sizeof(s->id), "%s", in->id);
	snprintf(s->tenant, sizeof(s->tenant), "%s", in->tenant);
	snprintf(s->edge, sizeof(s->edge), "%s", in->edge);
	s->down = p->down;
	s->up = p->up;
	s->packets = udp ? (uint32_t)readiness_udp_packets(p) : 0;
	s->deadline = *deadline;
	o = json_pack("{s:o, s:o*}", "profile", readiness_profile_json(p),
	    "udp", udp ? udp_params(cf, port, s->key) : NULL);
	if (o == NULL) {
		OPENSSL_clear_free(s, sizeof(*s));
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	*params = o;
	*spec = s;
	return 0;
}

void
mready_spec_free(struct ready_spec *s)
{
	OPENSSL_clear_free(s, sizeof(*s));
}
