/* Building a PROXY protocol v2 header (proxyproto.h). */
#include "cloud/proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/confparse.h"

static const unsigned char pp2_sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

static size_t
put_tlv(unsigned char *p, unsigned char type, const char *value)
{
	size_t n = strlen(value);

	if (n > 255)
		n = 255;
	p[0] = type;
	p[1] = (unsigned char)(n >> 8);
	p[2] = (unsigned char)n;
	memcpy(p + 3, value, n);
	return 3 + n;
}

/* addr as the 16 bytes of an IPv6 address: an IPv4 one mapped
 * (::ffff:a.b.c.d, RFC 4291 2.5.5.2), as HAProxy's own sender does. */
static void
put_v6(unsigned char *p, int family, const void *addr)
{
	if (family == AF_INET6) {
		memcpy(p, addr, 16);
		return;
	}
	memset(p, 0, 10);
	p[10] = p[11] = 0xff;
	memcpy(p + 12, addr, 4);
}

/* The address block for src and dst: TCP over IPv4 when both are IPv4,
 * else TCP over IPv6. A PROXY header with AF_UNSPEC is no answer: HAProxy
 * refuses it and nginx loses the device's address. */
static size_t
put_addrs(unsigned char *buf, int sfam, const void *saddr, uint16_t sport,
    const struct sockaddr *dst)
{
	const struct sockaddr_in *d4 = (const void *)dst;
	const struct sockaddr_in6 *d6 = (const void *)dst;
	const void *daddr = dst->sa_family == AF_INET ?
	    (const void *)&d4->sin_addr : (const void *)&d6->sin6_addr;
	const in_port_t *dport = dst->sa_family == AF_INET ? &d4->sin_port :
	    &d6->sin6_port;
	unsigned char *p = buf + 16;

	sport = htons(sport);
	if (sfam == AF_INET && dst->sa_family == AF_INET) {
		buf[13] = 0x11;		/* TCP over IPv4 */
		memcpy(p, saddr, 4);
		memcpy(p + 4, daddr, 4);
		memcpy(p + 8, &sport, 2);
		memcpy(p + 10, dport, 2);
		return 12;
	}
	buf[13] = 0x21;			/* TCP over IPv6 */
	put_v6(p, sfam, saddr);
	put_v6(p + 16, dst->sa_family, daddr);
	memcpy(p + 32, &sport, 2);
	memcpy(p + 34, dport, 2);
	return 36;
}

size_t
proxyproto_v2(unsigned char *buf, const char *device,
    const struct sockaddr *dst, const char *tenant, const char *edge)
{
	struct hostport hp;
	unsigned char saddr[16];
	unsigned char *p = buf + 16;
	size_t len;

	memcpy(buf, pp2_sig, sizeof(pp2_sig));
	buf[12] = 0x21;		/* version 2, PROXY */
	buf[13] = 0x00;
	if (conf_parse_hostport(device, true, &hp, NULL) == 0 &&
	    (hp.family == AF_INET || hp.family == AF_INET6) &&
	    inet_pton(hp.family, hp.host, saddr) == 1 &&
	    (dst->sa_family == AF_INET || dst->sa_family == AF_INET6))
		p += put_addrs(buf, hp.family, saddr, hp.port, dst);
	else
		buf[12] = 0x20;	/* version 2, LOCAL: no device address */
	p += put_tlv(p, PP2_TYPE_ISTHMUS_TENANT, tenant);
	p += put_tlv(p, PP2_TYPE_ISTHMUS_EDGE, edge);
	len = (size_t)(p - buf);
	buf[14] = (unsigned char)((len - 16) >> 8);
	buf[15] = (unsigned char)(len - 16);
	return len;
}
