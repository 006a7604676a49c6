/*
 * The config value parsers (common/confparse.c), each as the config
 * reader calls it. The first byte picks the parser, the rest is the value.
 * Round trips are checked where the parser has a formatter: what it
 * prints must parse back to the same thing.
 */
#include "fuzz.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "common/confparse.h"

static const char *const choices[] = { "round-robin", "least-conn", "hash",
	NULL };

static void
check_hostport(const char *s, bool port0)
{
	struct hostport hp, back;
	struct err e;
	char buf[HOSTPORT_HOST_MAX + 16];

	if (conf_parse_hostport(s, port0, &hp, &e) != 0)
		return;
	(void)hostport_is_loopback(&hp);
	hostport_format(&hp, buf, sizeof(buf));
	if (conf_parse_hostport(buf, port0, &back, &e) != 0 ||
	    strcmp(back.host, hp.host) != 0 || back.port != hp.port ||
	    back.family != hp.family) {
		fprintf(stderr, "hostport '%s' printed as '%s' does not parse "
		    "back the same\n", s, buf);
		abort();
	}
}

static void
check_list(const char *s)
{
	struct strlist l = { 0 };
	struct err e;
	size_t i;

	if (conf_parse_list(s, &l, &e) == 0)
		for (i = 0; i < l.n; i++)
			if (l.v[i][0] == '\0' || strchr(l.v[i], ',') != NULL)
				abort();	/* items are non-empty, no comma */
	strlist_free(&l);
}

/* A CIDR that parses prints back as one that parses to the same range,
 * and contains its own network address. */
static void
check_cidr(const char *s)
{
	struct sockaddr_storage ss;
	struct cidr c, back;
	struct err e;
	char buf[64];

	if (conf_parse_cidr(s, &c, &e) != 0)
		return;
	cidr_format(&c, buf, sizeof(buf));
	if (conf_parse_cidr(buf, &back, &e) != 0 || back.family != c.family ||
	    back.bits != c.bits || memcmp(back.addr, c.addr, 16) != 0) {
		fprintf(stderr, "cidr '%s' printed as '%s' differs\n", s, buf);
		abort();
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)c.family;
	if (c.family == AF_INET)
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, c.addr, 4);
	else
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, c.addr, 16);
	if (!cidr_contains(&c, (struct sockaddr *)&ss))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e;
	char *s, *path = NULL;
	bool b;
	int64_t i;
	uint64_t u;
	int k;

	if (size < 1)
		return 0;
	fuzz_quiet();
	s = fuzz_str(data + 1, size - 1);
	switch (data[0] % 11) {
	case 0:
		(void)conf_parse_bool(s, &b, &e);
		break;
	case 1:
		if (conf_parse_int(s, INT64_MIN, INT64_MAX, &i, &e) == 0 &&
		    conf_parse_int(s, 1, 65535, &i, &e) == 0 &&
		    (i < 1 || i > 65535))
			abort();
		break;
	case 2:
		if (conf_parse_duration(s, 1, UINT64_MAX, &u, &e) == 0 &&
		    conf_parse_duration(s, 1000, 86400000, &u, &e) == 0 &&
		    (u < 1000 || u > 86400000))
			abort();
		break;
	case 3:
		if (conf_parse_size(s, 0, UINT64_MAX, &u, &e) == 0 &&
		    conf_parse_size(s, 1024, 1u << 30, &u, &e) == 0 &&
		    (u < 1024 || u > (1u << 30)))
			abort();
		break;
	case 4:
		check_hostport(s, false);
		break;
	case 5:
		check_hostport(s, true);
		break;
	case 6:
		if (conf_parse_path(s, "/etc/isthmus", &path, &e) == 0 &&
		    path[0] == '\0')
			abort();
		free(path);
		break;
	case 7:
		if (conf_parse_path(s, NULL, &path, &e) == 0 &&
		    path[0] == '\0')
			abort();
		free(path);
		break;
	case 8:
		check_list(s);
		break;
	case 9:
		check_cidr(s);
		break;
	default:
		if (conf_parse_enum(s, choices, &k, &e) == 0 &&
		    (k < 0 || k > 2))
			abort();
		break;
	}
	free(s);
	return 0;
}
