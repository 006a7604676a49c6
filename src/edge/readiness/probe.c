/* The UDP train's datagrams (probe.h). */
#include "edge/readiness/probe.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* HMAC-SHA256 over the header before the MAC, its first 16 bytes. */
static int
header_mac(const uint8_t *buf, const uint8_t key[READY_UDP_KEY_LEN],
    uint8_t out[READY_UDP_MAC_LEN])
{
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (HMAC(EVP_sha256(), key, READY_UDP_KEY_LEN, buf, READY_UDP_O_MAC,
	    full, &n) == NULL || n < READY_UDP_MAC_LEN)
		return -EIO;
	memcpy(out, full, READY_UDP_MAC_LEN);
	OPENSSL_cleanse(full, sizeof(full));
	return 0;
}

void
rprobe_build(uint8_t *buf, size_t len, const uint8_t test[16],
    uint32_t seq, uint64_t sent_us, const uint8_t key[READY_UDP_KEY_LEN])
{
	memset(buf, 0, len);
	memcpy(buf + READY_UDP_O_MAGIC, READY_UDP_MAGIC, 4);
	buf[READY_UDP_O_VERSION] = READY_UDP_VERSION;
	buf[READY_UDP_O_TYPE] = READY_UDP_PROBE;
	buf[READY_UDP_O_LEN] = (uint8_t)(len >> 8);
	buf[READY_UDP_O_LEN + 1] = (uint8_t)len;
	memcpy(buf + READY_UDP_O_TEST, test, 16);
	put32(buf + READY_UDP_O_SEQ, seq);
	put64(buf + READY_UDP_O_SENT, sent_us);
	/* A MAC that cannot be made stays zeros: the cloud drops it. */
	(void)header_mac(buf, key, buf + READY_UDP_O_MAC);
}

int
rprobe_echo_parse(const uint8_t *buf, size_t n, size_t want,
    const uint8_t test[16], const uint8_t key[READY_UDP_KEY_LEN],
    struct rprobe_echo *out)
{
	uint8_t mac[READY_UDP_MAC_LEN];

	if (n != want || n < READY_UDP_MIN ||
	    memcmp(buf + READY_UDP_O_MAGIC, READY_UDP_MAGIC, 4) != 0 ||
	    buf[READY_UDP_O_VERSION] != READY_UDP_VERSION ||
	    buf[READY_UDP_O_TYPE] != READY_UDP_ECHO ||
	    ((size_t)buf[READY_UDP_O_LEN] << 8 | buf[READY_UDP_O_LEN + 1]) !=
	    n || memcmp(buf + READY_UDP_O_TEST, test, 16) != 0)
		return -EBADMSG;
	if (header_mac(buf, key, mac) != 0 ||
	    CRYPTO_memcmp(mac, buf + READY_UDP_O_MAC, sizeof(mac)) != 0)
		return -EBADMSG;
	out->seq = get32(buf + READY_UDP_O_SEQ);
	out->count = get32(buf + READY_UDP_O_COUNT);
	out->sent_us = get64(buf + READY_UDP_O_SENT);
	out->cloud_us = get64(buf + READY_UDP_O_CLOUD);
	return 0;
}
