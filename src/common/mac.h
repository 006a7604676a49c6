/*
 * Device MAC addresses (EUI-48). Accepted spellings: aa:bb:cc:dd:ee:ff,
 * AA-BB-CC-DD-EE-FF, aabbccddeeff (any case, one separator style). One
 * canonical form is stored and shown: lowercase with colons.
 */
#ifndef ISTHMUS_MAC_H
#define ISTHMUS_MAC_H

#include <stdint.h>

#include "common/err.h"

#define MAC_STR_LEN 18	/* "aa:bb:cc:dd:ee:ff" + NUL */
#define MAC_HEX_LEN 13	/* "aabbccddeeff" + NUL */

/* Parses s into 6 bytes. Refuses the all-zero address and group (multicast,
 * broadcast) addresses, which never identify one device. */
int mac_parse(const char *s, uint8_t mac[6], struct err *e);
void mac_format(const uint8_t mac[6], char out[MAC_STR_LEN]);
void mac_format_hex(const uint8_t mac[6], char out[MAC_HEX_LEN]);

#endif
