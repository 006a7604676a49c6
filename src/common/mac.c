/* Device MAC addresses: parsing and the one canonical form (mac.h). */
#include "common/mac.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"

int
mac_parse(const char *s, uint8_t mac[6], struct err *e)
{
	size_t len = strlen(s), i, stride;
	char sep = '\0';
	uint8_t out[6];

	if (len == 17 && (s[2] == ':' || s[2] == '-')) {
		sep = s[2];
		stride = 3;
	} else if (len == 12) {
		stride = 2;
	} else {
		goto bad;
	}
	for (i = 0; i < 6; i++) {
		const char *p = s + i * stride;
		int hi = hex_digit(p[0]), lo = hex_digit(p[1]);

		if (hi < 0 || lo < 0)
			goto bad;
		if (sep != '\0' && i < 5 && p[2] != sep)
			goto bad;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	if (memcmp(out, "\0\0\0\0\0\0", 6) == 0)
		return err_set(e, -EINVAL, "invalid MAC address '%s': the "
		    "all-zero address identifies no device", s);
	if (out[0] & 1)
		return err_set(e, -EINVAL, "invalid MAC address '%s': a group "
		    "(multicast or broadcast) address identifies no device", s);
	memcpy(mac, out, 6);
	return 0;
bad:
	return err_set(e, -EINVAL, "invalid MAC address '%s': expected "
	    "aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabbccddeeff", s);
}

void
mac_format(const uint8_t mac[6], char out[MAC_STR_LEN])
{
	snprintf(out, MAC_STR_LEN, "%02x:%02x:%02x:%02x:%02x:%02x",
	    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

void
mac_format_hex(const uint8_t mac[6], char out[MAC_HEX_LEN])
{
	snprintf(out, MAC_HEX_LEN, "%02x%02x%02x%02x%02x%02x",
	    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}
