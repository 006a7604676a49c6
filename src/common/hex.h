/*
 * Hex digits, the one way isthmus writes and reads them: lowercase out
 * (ids, fingerprints, cache names), and in, exactly the digits expected.
 */
#ifndef ISTHMUS_HEX_H
#define ISTHMUS_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of the hex digit c (either case), or -1. */
int hex_digit(int c);
/* The n bytes of b as 2n lowercase digits and a NUL into out. */
void hex_encode(const uint8_t *b, size_t n, char *out);
/* n bytes from s, which must be exactly 2n lowercase hex digits (slen
 * of them): 0, or -EINVAL and out untouched. */
int hex_decode(const char *s, size_t slen, uint8_t *out, size_t n);

#endif
