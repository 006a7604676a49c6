/*
 * Parsers for the value types of isthmus config files. They do no file I/O
 * and allocate only their result, so a fuzzer can drive them directly. Each
 * returns 0 or -EINVAL (-ENOMEM for allocation) and says what is wrong in e,
 * without the file/line/key prefix (the config loader adds that).
 */
#ifndef ISTHMUS_CONFPARSE_H
#define ISTHMUS_CONFPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define HOSTPORT_HOST_MAX 254	/* 253-character DNS name + NUL */

struct hostport {
	char host[HOSTPORT_HOST_MAX];	/* no brackets for IPv6 */
	uint16_t port;
	int family;	/* AF_INET, AF_INET6, or AF_UNSPEC for a name */
};

struct strlist {
	char **v;
	size_t n;
};

/* yes/no, true/false, on/off, 1/0 (case-insensitive). */
int conf_parse_bool(const char *s, bool *out, struct err *e);
/* Decimal integer within [min, max]. */
int conf_parse_int(const char *s, int64_t min, int64_t max, int64_t *out,
    struct err *e);
/* "500ms", "5s", "2m", "1h", "1d"; a unit is required. Result in ms. */
int conf_parse_duration(const char *s, uint64_t min_ms, uint64_t max_ms,
    uint64_t *out_ms, struct err *e);
/* A time in the past, as --since takes it: a span back from now ("30m",
 * "7d", at most 10 years) or a UTC date or time ("2026-12-01",
 * "2026-12-01T08:00:00Z", the Z optional). Seconds since the epoch. */
int conf_parse_since(const char *s, int64_t now, int64_t *out, struct err *e);
/* "4096", "64k", "16M", "1G" (powers of 1024). Result in bytes. */
int conf_parse_size(const char *s, uint64_t min, uint64_t max,
    uint64_t *out, struct err *e);
/* "192.0.2.1:80", "[2001:db8::1]:443", "cloud.example:7443". Port 0 only
 * when allow_port0 (listeners that let the kernel pick). */
int conf_parse_hostport(const char *s, bool allow_port0, struct hostport *out,
    struct err *e);
/* 127.0.0.0/8, ::1 or "localhost". */
bool hostport_is_loopback(const struct hostport *hp);
/* Formats hp back as "host:port" / "[v6]:port". */
void hostport_format(const struct hostport *hp, char *buf, size_t cap);
/* A non-empty path; a relative one is taken relative to basedir (the config
 * file's directory) when basedir is non-NULL. *out is malloc'd. */
int conf_parse_path(const char *s, const char *basedir, char **out,
    struct err *e);
/* Comma-separated, whitespace-trimmed, non-empty items appended to out; a
 * trailing comma is allowed (lists continued on the next line). */
int conf_parse_list(const char *s, struct strlist *out, struct err *e);
/* Index of s in the NULL-terminated choices. */
int conf_parse_enum(const char *s, const char *const *choices, int *out,
    struct err *e);

/* An address range: "192.0.2.0/24", "2001:db8::/32", or one address
 * ("198.51.100.7", "::1": a /32 or /128). Host bits must be zero, so a
 * typo like 10.1.2.3/8 is caught rather than silently widened. */
struct cidr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network byte order; 4 bytes for AF_INET */
	unsigned bits;
};

int conf_parse_cidr(const char *s, struct cidr *out, struct err *e);
/* sa is inside c; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is taken
 * as the IPv4 address it maps. */
struct sockaddr;
bool cidr_contains(const struct cidr *c, const struct sockaddr *sa);
/* c back as text ("192.0.2.0/24"). */
void cidr_format(const struct cidr *c, char *buf, size_t cap);

/* Thresholds' units (struct conf_thresh): durations ("150ms", "1s": in
 * ms), percentages ("1%", "0.5%"), rates ("10Mbit", "500Kbit", "1Gbit":
 * in Mbit/s), plain numbers ("4.0"). */
enum conf_thresh_unit { CTU_MS, CTU_PCT, CTU_MBIT, CTU_NUM };
/* "WARN, FAIL" in unit; lower_worse: WARN must be above FAIL, else below
 * (equal is allowed: no warn band). */
int conf_parse_thresh(const char *s, enum conf_thresh_unit unit,
    bool lower_worse, double *warn, double *fail, struct err *e);
/* "NAME every DURATION" (NAME a name, DURATION within [min_ms, max_ms])
 * or "off". */
int conf_parse_every(const char *s, uint64_t min_ms, uint64_t max_ms,
    bool *off, char *name, size_t cap, uint64_t *ms, struct err *e);

void strlist_free(struct strlist *l);
int strlist_append(struct strlist *l, const char *item, size_t len);

#endif
