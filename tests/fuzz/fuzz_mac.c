/*
 * The MAC parser (common/mac.c: mac_allow, certificates) and the pin
 * parser (common/tls.c: cloud_pin, an edge's pin). What either prints must
 * parse back to the same bytes.
 */
#include "fuzz.h"

#include "common/mac.h"
#include "common/tls.h"

static void
check_mac(const char *s)
{
	uint8_t mac[6], back[6];
	char str[MAC_STR_LEN], hex[MAC_HEX_LEN];
	struct err e;

	if (mac_parse(s, mac, &e) != 0)
		return;
	mac_format(mac, str);
	mac_format_hex(mac, hex);
	if (mac_parse(str, back, &e) != 0 || memcmp(mac, back, 6) != 0 ||
	    mac_parse(hex, back, &e) != 0 || memcmp(mac, back, 6) != 0) {
		fprintf(stderr, "MAC '%s' printed as %s/%s does not parse "
		    "back\n", s, str, hex);
		abort();
	}
}

static void
check_pin(const char *s)
{
	uint8_t pin[32], back[32];
	char str[TLS_FP_LEN];
	struct err e;

	if (tls_pin_parse(s, pin, &e) != 0)
		return;
	tls_fp_format(pin, str);
	if (tls_pin_parse(str, back, &e) != 0 || memcmp(pin, back, 32) != 0) {
		fprintf(stderr, "pin '%s' printed as %s does not parse back\n",
		    s, str);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	fuzz_quiet();
	s = fuzz_str(data + 1, size - 1);
	if (data[0] & 1)
		check_pin(s);
	else
		check_mac(s);
	free(s);
	return 0;
}
