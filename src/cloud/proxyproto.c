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

size_t
proxyproto_v2(unsigned char *buf, const char *device,
    const struct sockaddr *dst, const char *tenant, const char *edge)
{
	struct hostport hp;
	unsigned char *p = buf + 16;
	unsigned char fam = 0x00;
	size_t len;

	memcpy(buf, pp2_sig, sizeof(pp2_sig));
	buf[12] = 0x21;		/* version 2, PROXY */
	if (conf_parse_hostport(device, true, &hp, NULL) != 0 ||
	    hp.family != dst->sa_family) {
		/* unknown or mixed families: AF_UNSPEC, no addresses */
	} else if (hp.family == AF_INET) {
		const struct sockaddr_in *d = (const void *)dst;
		uint16_t sport = htons(hp.port);

		fam = 0x11;	/* TCP over IPv4 */
		inet_pton(AF_INET, hp.host, p);
		memcpy(p + 4, &d->sin_addr, 4);
		memcpy(p + 8, &sport, 2);
		memcpy(p + 10, &d->sin_port, 2);
		p += 12;
	} else if (hp.family == AF_INET6) {
		const struct sockaddr_in6 *d = (const void *)dst;
		uint16_t sport = htons(hp.port);

		fam = 0x21;	/* TCP over IPv6 */
		inet_pton(AF_INET6, hp.host, p);
		memcpy(p + 16, &d->sin6_addr, 16);
		memcpy(p + 32, &sport, 2);
		memcpy(p + 34, &d->sin6_port, 2);
		p += 36;
	}
	buf[13] = fam;
	p += put_tlv(p, PP2_TYPE_ISTHMUS_TENANT, tenant);
	p += put_tlv(p, PP2_TYPE_ISTHMUS_EDGE, edge);
	len = (size_t)(p - buf);
	buf[14] = (unsigned char)((len - 16) >> 8);
	buf[15] = (unsigned char)(len - 16);
	return len;
}
