/*
 * A readiness instruction's params as the edge reads them (params.c;
 * docs/protocol.md, section 6): the profile, with the bounds and checks
 * of the cloud's config, and where the UDP train goes with its key.
 */
#ifndef ISTHMUS_EDGE_READINESS_PARAMS_H
#define ISTHMUS_EDGE_READINESS_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "common/proto.h"
#include "common/readiness.h"

/* A host name or address, at most (RFC 1035). */
#define RTEST_HOST_MAX 253

struct rtest_params {
	struct readiness_profile p;
	bool udp;			/* "udp" given: the cloud echoes */
	char udp_host[RTEST_HOST_MAX + 1];	/* "": the cloud's host */
	uint16_t udp_port;
	uint8_t udp_key[READY_UDP_KEY_LEN];
};

/* params into out: 0, or -EINVAL with e saying which field is wrong.
 * "udp" is read only when the profile has udp. */
int rtest_params_parse(json_t *params, struct rtest_params *out,
    struct err *e);
/* Wipes the key. */
void rtest_params_clear(struct rtest_params *p);

/* The 16 bytes of a probe's test field from the instruction id (lowercase
 * hex, at most 32 digits; a shorter one is read as a number, zeros in
 * front): 0, or -EINVAL. */
int rtest_test_id(const char *id, uint8_t out[16]);

#endif
