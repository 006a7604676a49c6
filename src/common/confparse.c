/* Parsers for the value types of config files (confparse.h). */
#include "common/confparse.h"
#include "common/names.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

/* Reads an unsigned decimal number at *s, advancing *s. Leading '+' or '-'
 * and empty digit runs are rejected; overflow is reported. */
static int
take_u64(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*s = p;
	*out = v;
	return 0;
}

int
conf_parse_bool(const char *s, bool *out, struct err *e)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return err_set(e, -EINVAL, "'%s' is not a boolean (use yes or no)", s);
}

int
conf_parse_int(const char *s, int64_t min, int64_t max, int64_t *out,
    struct err *e)
{
	const char *p = s;
	bool neg = false;
	uint64_t mag;
	int64_t v;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (take_u64(&p, &mag) != 0 || *p != '\0')
		goto range;
	if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
		goto range;
	v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
range:
	return err_set(e, -EINVAL, "'%s' is not an integer between %lld and %lld",
	    s, (long long)min, (long long)max);
}

/* Parses "<number><unit>" where units[i] multiplies by mult[i]. */
static int
parse_scaled(const char *s, const char *const *units, const uint64_t *mult,
    bool unit_required, uint64_t *out)
{
	const char *p = s;
	uint64_t v;
	size_t i;

	if (take_u64(&p, &v) != 0)
		return -EINVAL;
	if (*p == '\0') {
		if (unit_required)
			return -EINVAL;
		*out = v;
		return 0;
	}
	for (i = 0; units[i] != NULL; i++) {
		if (strcmp(p, units[i]) == 0) {
			if (v != 0 && mult[i] > UINT64_MAX / v)
				return -ERANGE;
			*out = v * mult[i];
			return 0;
		}
	}
	return -EINVAL;
}

int
conf_parse_duration(const char *s, uint64_t min_ms, uint64_t max_ms,
    uint64_t *out_ms, struct err *e)
{
	static const char *const units[] = { "ms", "s", "m", "h", "d", NULL };
	static const uint64_t mult[] = { 1, 1000, 60000, 3600000, 86400000 };
	uint64_t v;
	int rc;

	rc = parse_scaled(s, units, mult, true, &v);
	if (rc == -EINVAL)
		return err_set(e, -EINVAL, "'%s' is not a duration "
		    "(a number and a unit: 500ms, 5s, 2m, 1h, 1d)", s);
	if (rc != 0 || v < min_ms || v > max_ms)
		return err_set(e, -EINVAL, "'%s' is out of range "
		    "(%llums to %llums)", s, (unsigned long long)min_ms,
		    (unsigned long long)max_ms);
	*out_ms = v;
	return 0;
}

/* A UTC date or time, exactly: strptime alone takes 2026-02-31 (and
 * timegm makes it March 3rd), so the result must break down to the same
 * fields. */
static int
parse_utc(const char *s, int64_t *out)
{
	static const char *const forms[] = {
		"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ",
		"%Y-%m-%dT%H:%M", "%Y-%m-%d",
	};
	struct tm tm, back;
	const char *end;
	time_t t;
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, forms[i], &tm);
		if (end == NULL || *end != '\0')
			continue;
		back = tm;
		t = timegm(&back);	/* normalises its argument */
		if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
		    back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon ||
		    back.tm_hour != tm.tm_hour || back.tm_min != tm.tm_min)
			return -EINVAL;
		*out = (int64_t)t;
		return 0;
	}
	return -EINVAL;
}

int
conf_parse_since(const char *s, int64_t now, int64_t *out, struct err *e)
{
	struct err ignored;
	uint64_t ms;

	if (conf_parse_duration(s, 1000, 3650ull * 86400000, &ms,
	    &ignored) == 0) {
		*out = now - (int64_t)(ms / 1000);
		return 0;
	}
	if (parse_utc(s, out) == 0)
		return 0;
	return err_set(e, -EINVAL, "'%s' is not a span back from now (30m, "
	    "12h, 7d) or a UTC date or time (2026-12-01, "
	    "2026-12-01T08:00:00Z)", s);
}

int
conf_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    struct err *e)
{
	static const char *const units[] = {
		"k", "K", "m", "M", "g", "G", NULL
	};
	static const uint64_t mult[] = {
		1ULL << 10, 1ULL << 10, 1ULL << 20, 1ULL << 20,
		1ULL << 30, 1ULL << 30,
	};
	uint64_t v;
	int rc;

	rc = parse_scaled(s, units, mult, false, &v);
	if (rc == -EINVAL)
		return err_set(e, -EINVAL, "'%s' is not a size "
		    "(bytes, or a number with k, M or G: 64k, 16M)", s);
	if (rc != 0 || v < min || v > max)
		return err_set(e, -EINVAL, "'%s' is out of range "
		    "(%llu to %llu bytes)", s, (unsigned long long)min,
		    (unsigned long long)max);
	*out = v;
	return 0;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and hyphens,
 * no label empty, longer than 63, or starting or ending with a hyphen. */
static bool
valid_hostname(const char *h, size_t len)
{
	size_t label = 0, i;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && h[len - 1] != '-';
}

int
conf_parse_hostport(const char *s, bool allow_port0, struct hostport *out,
    struct err *e)
{
	const char *colon, *host = s, *port;
	size_t hlen;
	int64_t pv;
	unsigned char buf[16];
	char tmp[HOSTPORT_HOST_MAX];
	struct hostport hp = { .family = AF_UNSPEC };

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return err_set(e, -EINVAL, "'%s' is not an address "
			    "(expected [IPv6]:port)", s);
		host = s + 1;
		hlen = (size_t)(close - host);
		port = close + 2;
		hp.family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return err_set(e, -EINVAL, "'%s' has no port "
			    "(expected host:port)", s);
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return err_set(e, -EINVAL, "'%s': an IPv6 address "
			    "needs brackets, as in [::1]:443", s);
		hlen = (size_t)(colon - s);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(tmp))
		return err_set(e, -EINVAL, "'%s' has no valid host", s);
	memcpy(tmp, host, hlen);
	tmp[hlen] = '\0';
	if (hp.family == AF_INET6) {
		if (inet_pton(AF_INET6, tmp, buf) != 1)
			return err_set(e, -EINVAL, "'%s' is not a valid IPv6 "
			    "address", tmp);
	} else if (inet_pton(AF_INET, tmp, buf) == 1) {
		hp.family = AF_INET;
	} else if (!valid_hostname(tmp, hlen)) {
		return err_set(e, -EINVAL, "'%s' is not a valid IPv4 address "
		    "or host name", tmp);
	}
	if (conf_parse_int(port, allow_port0 ? 0 : 1, 65535, &pv, NULL) != 0)
		return err_set(e, -EINVAL, "'%s' is not a valid port "
		    "(%d to 65535)", port, allow_port0 ? 0 : 1);
	memcpy(hp.host, tmp, hlen + 1);
	hp.port = (uint16_t)pv;
	*out = hp;
	return 0;
}

bool
hostport_is_loopback(const struct hostport *hp)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (hp->family == AF_INET6)
		return inet_pton(AF_INET6, hp->host, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	if (hp->family == AF_INET)
		return inet_pton(AF_INET, hp->host, &a4) == 1 &&
		    (ntohl(a4.s_addr) >> 24) == 127;
	return strcasecmp(hp->host, "localhost") == 0;
}

void
hostport_format(const struct hostport *hp, char *buf, size_t cap)
{
	if (hp->family == AF_INET6)
		snprintf(buf, cap, "[%s]:%u", hp->host, hp->port);
	else
		snprintf(buf, cap, "%s:%u", hp->host, hp->port);
}

int
conf_parse_path(const char *s, const char *basedir, char **out,
    struct err *e)
{
	char *p;

	if (s[0] == '\0')
		return err_set(e, -EINVAL, "empty path");
	if (s[0] == '/' || basedir == NULL || basedir[0] == '\0') {
		p = strdup(s);
	} else {
		size_t n = strlen(basedir) + strlen(s) + 2;

		p = malloc(n);
		if (p != NULL)
			snprintf(p, n, "%s/%s", basedir, s);
	}
	if (p == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	*out = p;
	return 0;
}

int
strlist_append(struct strlist *l, const char *item, size_t len)
{
	char **nv, *copy;

	copy = strndup(item, len);
	if (copy == NULL)
		return -ENOMEM;
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(copy);
		return -ENOMEM;
	}
	nv[l->n++] = copy;
	l->v = nv;
	return 0;
}

void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
conf_parse_list(const char *s, struct strlist *out, struct err *e)
{
	const char *p = s;
	size_t items = 0;

	for (;;) {
		const char *end = strchr(p, ',');
		const char *stop = end != NULL ? end : p + strlen(p);

		while (p < stop && isspace((unsigned char)*p))
			p++;
		while (stop > p && isspace((unsigned char)stop[-1]))
			stop--;
		if (stop == p && end == NULL && items > 0)
			return 0;	/* "a, b," : a trailing comma is fine */
		if (stop == p)
			return err_set(e, -EINVAL, "empty item in list '%s'", s);
		if (strlist_append(out, p, (size_t)(stop - p)) != 0)
			return err_set(e, -ENOMEM, "out of memory");
		items++;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

int
conf_parse_enum(const char *s, const char *const *choices, int *out,
    struct err *e)
{
	char alts[256] = "";
	size_t len = 0;
	int i;

	for (i = 0; choices[i] != NULL; i++) {
		if (strcmp(s, choices[i]) == 0) {
			*out = i;
			return 0;
		}
		len += (size_t)snprintf(alts + len, len < sizeof(alts) ?
		    sizeof(alts) - len : 0, "%s%s", i ? ", " : "", choices[i]);
		if (len >= sizeof(alts))
			len = sizeof(alts) - 1;
	}
	return err_set(e, -EINVAL, "'%s' is not one of: %s", s, alts);
}

int
conf_parse_cidr(const char *s, struct cidr *out, struct err *e)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned maxbits, i;
	int64_t bits;
	struct err ie;

	memset(out, 0, sizeof(*out));
	if (hlen == 0 || hlen >= sizeof(host))
		return err_set(e, -EINVAL, "'%s' is not an address or an "
		    "address/prefix", s);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		return err_set(e, -EINVAL, "'%s' is not an IPv4 or IPv6 "
		    "address (names are not allowed here)", host);
	maxbits = out->family == AF_INET ? 32 : 128;
	out->bits = maxbits;
	if (slash != NULL) {
		if (conf_parse_int(slash + 1, 0, maxbits, &bits, &ie) != 0)
			return err_set(e, -EINVAL, "'%s': the prefix length "
			    "must be 0 to %u", s, maxbits);
		out->bits = (unsigned)bits;
	}
	for (i = out->bits; i < maxbits; i++)
		if (out->addr[i / 8] & (0x80u >> (i % 8)))
			return err_set(e, -EINVAL, "'%s' has bits set past "
			    "the /%u prefix (did you mean a network address?)",
			    s, out->bits);
	return 0;
}

bool
cidr_contains(const struct cidr *c, const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	const uint8_t *a;
	int family = sa->sa_family;
	unsigned i;

	if (family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr.s6_addr;
		/* A mapped peer is its IPv4 address for an IPv4 range, and
		 * itself for an IPv6 one (::ffff:0:0/96 names them all). */
		if (c->family == AF_INET &&
		    memcmp(a, mapped, sizeof(mapped)) == 0) {
			a += 12;
			family = AF_INET;
		}
	} else
		return false;
	if (family != c->family)
		return false;
	for (i = 0; i < c->bits / 8; i++)
		if (a[i] != c->addr[i])
			return false;
	if (c->bits % 8 != 0) {
		uint8_t m = (uint8_t)(0xffu << (8 - c->bits % 8));

		if ((a[i] & m) != (c->addr[i] & m))
			return false;
	}
	return true;
}

void
cidr_format(const struct cidr *c, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, host, sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "?");
	snprintf(buf, cap, "%s/%u", host, c->bits);
}

struct unit_mult {
	const char *suffix;
	double mult;
};

/* One figure of a threshold, in unit; -EINVAL when it is not one. */
static int
thresh_figure(const char *s, size_t len, enum conf_thresh_unit unit,
    double *out)
{
	static const struct unit_mult ms[] = {
		{ "ms", 1 }, { "s", 1000 }, { NULL, 0 },
	}, pct[] = {
		{ "%", 1 }, { NULL, 0 },
	}, mbit[] = {
		{ "Kbit", 0.001 }, { "Mbit", 1 }, { "Gbit", 1000 },
		{ NULL, 0 },
	}, num[] = {
		{ "", 1 }, { NULL, 0 },
	};
	const struct unit_mult *u;
	char buf[64], *end;
	double v;
	size_t i, sl;

	u = unit == CTU_MS ? ms : unit == CTU_PCT ? pct :
	    unit == CTU_MBIT ? mbit : num;
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!isdigit((unsigned char)buf[0]))
		return -EINVAL;
	errno = 0;
	v = strtod(buf, &end);
	if (errno != 0 || end == buf || v != v || v > 1e12)
		return -EINVAL;
	for (i = 0; u[i].suffix != NULL; i++) {
		sl = strlen(u[i].suffix);
		if (strcmp(end, u[i].suffix) == 0 && (sl > 0 || *end == '\0')) {
			*out = v * u[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

int
conf_parse_thresh(const char *s, enum conf_thresh_unit unit,
    bool lower_worse, double *warn, double *fail, struct err *e)
{
	static const char *const examples[] = {
		[CTU_MS] = "150ms, 400ms", [CTU_PCT] = "1%, 3%",
		[CTU_MBIT] = "10Mbit, 2Mbit", [CTU_NUM] = "4.0, 3.6",
	};
	const char *comma = strchr(s, ','), *b, *ae, *be;
	double w, f;

	if (comma == NULL)
		goto bad;
	ae = comma;
	while (ae > s && isspace((unsigned char)ae[-1]))
		ae--;
	b = comma + 1;
	while (isspace((unsigned char)*b))
		b++;
	be = b + strlen(b);
	while (be > b && isspace((unsigned char)be[-1]))
		be--;
	if (thresh_figure(s, (size_t)(ae - s), unit, &w) != 0 ||
	    thresh_figure(b, (size_t)(be - b), unit, &f) != 0)
		goto bad;
	if (unit == CTU_PCT && (w > 100 || f > 100))
		return err_set(e, -EINVAL, "'%s': a percentage is at most "
		    "100%%", s);
	if (lower_worse ? w < f : w > f)
		return err_set(e, -EINVAL, "'%s': the warn figure (first) must "
		    "be %s the fail figure", s, lower_worse ? "at or above" :
		    "at or below");
	*warn = w;
	*fail = f;
	return 0;
bad:
	return err_set(e, -EINVAL, "'%s' is not two thresholds, warn then "
	    "fail (%s)", s, examples[unit]);
}

int
conf_parse_every(const char *s, uint64_t min_ms, uint64_t max_ms,
    bool *off, char *name, size_t cap, uint64_t *ms, struct err *e)
{
	char nbuf[128], word[16], dur[32];
	int n = 0;

	if (strcasecmp(s, "off") == 0) {
		*off = true;
		name[0] = '\0';
		*ms = 0;
		return 0;
	}
	if (sscanf(s, "%127s %15s %31s %n", nbuf, word, dur, &n) != 3 ||
	    s[n] != '\0' || strcmp(word, "every") != 0)
		return err_set(e, -EINVAL, "'%s' is not 'PROFILE every "
		    "DURATION' (voice every 6h) or 'off'", s);
	if (strlen(nbuf) >= cap || !name_valid(nbuf))
		return err_set(e, -EINVAL, "'%s' is not a profile name", nbuf);
	if (conf_parse_duration(dur, min_ms, max_ms, ms, e) != 0)
		return -EINVAL;
	*off = false;
	snprintf(name, cap, "%s", nbuf);
	return 0;
}
