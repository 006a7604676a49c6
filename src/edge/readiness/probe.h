/*
 * The UDP train's datagrams (probe.c; docs/protocol.md, section 6): a
 * probe as the edge sends it and an echo as the edge takes it, every
 * number in network byte order and each authenticated with the test's
 * key (HMAC-SHA256 over the header, truncated).
 */
#ifndef ISTHMUS_EDGE_READINESS_PROBE_H
#define ISTHMUS_EDGE_READINESS_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

struct rprobe_echo {
	uint32_t seq;
	uint32_t count;		/* probes the cloud took, this one included */
	uint64_t sent_us;	/* the edge's clock, as the probe carried it */
	uint64_t cloud_us;	/* the cloud's clock when it took the probe */
};

/* The probe seq of len bytes (READY_UDP_MIN to READY_UDP_MAX) into buf. */
void rprobe_build(uint8_t *buf, size_t len, const uint8_t test[16],
    uint32_t seq, uint64_t sent_us, const uint8_t key[READY_UDP_KEY_LEN]);

/* Whether buf (n bytes) is an echo of this test's of want bytes with a
 * right MAC: 0 and out, or -EBADMSG. */
int rprobe_echo_parse(const uint8_t *buf, size_t n, size_t want,
    const uint8_t test[16], const uint8_t key[READY_UDP_KEY_LEN],
    struct rprobe_echo *out);

#endif
