/* The table-driven INI loader: values, defaults, and every error with its
 * file:line: key prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cloud/config.h"
#include "common/config.h"

struct main_sec {
	bool flag;
	int64_t workers;
	uint64_t timeout;
	uint64_t buffer;
	struct hostport listen;
	char *cert;
	char *label;
	struct strlist names;
	int mode;
	uint8_t pin[32];
	struct strlist lines;
	char *sock, *data, *cachedir;
};

struct tenant_sec {
	char name[64];
	struct strlist edges;
	uint64_t idle;
};

struct test_ctx {
	struct main_sec main;
	struct tenant_sec *tenants[8];
	int ntenants;
};

static const char *const modes[] = { "tcp", "http", NULL };

static const struct conf_key main_keys[] = {
	{ "flag", CONF_BOOL, offsetof(struct main_sec, flag), 0, 0, NULL,
	    "no", 0 },
	{ "workers", CONF_INT, offsetof(struct main_sec, workers), 1, 64,
	    NULL, "2", 0 },
	{ "timeout", CONF_DURATION, offsetof(struct main_sec, timeout), 100,
	    60000, NULL, "5s", 0 },
	{ "buffer", CONF_SIZE, offsetof(struct main_sec, buffer), 1024,
	    16 << 20, NULL, "64k", 0 },
	{ "listen", CONF_HOSTPORT, offsetof(struct main_sec, listen), 0, 0,
	    NULL, NULL, CONF_REQUIRED | CONF_PORT0 },
	{ "cert", CONF_PATH, offsetof(struct main_sec, cert), 0, 0, NULL,
	    NULL, 0 },
	{ "label", CONF_STRING, offsetof(struct main_sec, label), 0, 0, NULL,
	    "default label", 0 },
	{ "names", CONF_LIST, offsetof(struct main_sec, names), 0, 0, NULL,
	    "x, y", 0 },
	{ "mode", CONF_ENUM, offsetof(struct main_sec, mode), 0, 0, modes,
	    "tcp", 0 },
	{ "pin", CONF_PIN, offsetof(struct main_sec, pin), 0, 0, NULL, NULL,
	    0 },
	{ "line", CONF_LINES, offsetof(struct main_sec, lines), 0, 0, NULL,
	    NULL, 0 },
	{ "sock", CONF_PATH, offsetof(struct main_sec, sock), 0, 0, NULL,
	    "t.sock", CONF_RUN_DIR },
	{ "data", CONF_PATH, offsetof(struct main_sec, data), 0, 0, NULL,
	    "state", CONF_STATE_DIR },
	{ "cachedir", CONF_PATH, offsetof(struct main_sec, cachedir), 0, 0,
	    NULL, "cache", CONF_CACHE_DIR },
};

static const struct conf_key tenant_keys[] = {
	{ "edges", CONF_LIST, offsetof(struct tenant_sec, edges), 0, 0, NULL,
	    NULL, CONF_REQUIRED },
	{ "idle", CONF_DURATION, offsetof(struct tenant_sec, idle), 0,
	    3600000, NULL, "1m", 0 },
};

static void *
open_main(void *ctx, const char *name, int line)
{
	(void)name;
	return &((struct test_ctx *)ctx)->main;
}

static void *
open_tenant(void *ctx, const char *name, int line)
{
	struct test_ctx *c = ctx;
	struct tenant_sec *t;

	if (c->ntenants == 8)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	c->tenants[c->ntenants++] = t;
	return t;
}

struct svc_sec {
	char name[130];
	int64_t weight;
};

static void *
open_svc(void *ctx, const char *name, int line)
{
	static struct svc_sec svc;

	(void)ctx;
	snprintf(svc.name, sizeof(svc.name), "%s", name);
	return &svc;
}

static const struct conf_key svc_keys[] = {
	{ "weight", CONF_INT, offsetof(struct svc_sec, weight), 1, 100, NULL,
	    "1", 0 },
};

static const struct conf_section sections[] = {
	{ .name = "main", .keys = main_keys,
	    .nkeys = sizeof(main_keys) / sizeof(main_keys[0]),
	    .open = open_main },
	{ .name = "tenant", .named = true, .keys = tenant_keys,
	    .nkeys = sizeof(tenant_keys) / sizeof(tenant_keys[0]),
	    .open = open_tenant },
	{ .name = "service", .named = true, .scoped = true, .keys = svc_keys,
	    .nkeys = 1, .open = open_svc },
};

static const struct conf_schema schema = { sections, 3 };

static struct test_ctx ctx;
static struct conf_errors errs;

static int
parse(const char *text)
{
	return conf_parse_text(&schema, &ctx, "t.conf", text, strlen(text),
	    "/etc/isthmus", &errs);
}

static int
teardown(void **state)
{
	int i;

	(void)state;
	conf_free_fields(&sections[0], &ctx.main);
	for (i = 0; i < ctx.ntenants; i++) {
		conf_free_fields(&sections[1], ctx.tenants[i]);
		free(ctx.tenants[i]);
	}
	memset(&ctx, 0, sizeof(ctx));
	return 0;
}

/* errs must contain exactly one line, equal to want. */
static void
assert_one_error(const char *want)
{
	if (errs.n != 1 || strcmp(errs.line[0], want) != 0) {
		size_t i;

		for (i = 0; i < errs.n; i++)
			print_error("got: %s\n", errs.line[i]);
		print_error("want: %s\n", want);
		fail();
	}
}

static void
test_all_types(void **state)
{
	(void)state;
	assert_int_equal(parse(
	    "# comment\n"
	    "[main]\n"
	    "flag = yes\n"
	    "workers = 4\n"
	    "timeout = 500ms\n"
	    "buffer = 1M\n"
	    "listen = [::1]:0\n"
	    "cert = pki/edge.crt ; inline comment\n"
	    "label = hello world\n"
	    "names = a, b,\n"
	    "  c\n"
	    "mode = http\n"
	    "pin = sha256:00112233445566778899aabbccddeeff"
	    "00112233445566778899AABBCCDDEEFF\n"
	    "\n"
	    "[tenant A]\n"
	    "edges = agw\n"
	    "[tenant B]\n"
	    "edges = bgw1, bgw2\n"
	    "idle = 2m\n"), 0);
	assert_int_equal(errs.n, 0);
	assert_true(ctx.main.flag);
	assert_int_equal(ctx.main.workers, 4);
	assert_int_equal(ctx.main.timeout, 500);
	assert_int_equal(ctx.main.buffer, 1 << 20);
	assert_string_equal(ctx.main.listen.host, "::1");
	assert_int_equal(ctx.main.listen.port, 0);
	assert_string_equal(ctx.main.cert, "/etc/isthmus/pki/edge.crt");
	assert_string_equal(ctx.main.label, "hello world");
	assert_int_equal(ctx.main.names.n, 3);
	assert_string_equal(ctx.main.names.v[2], "c");
	assert_int_equal(ctx.main.mode, 1);
	assert_int_equal(ctx.main.pin[0], 0x00);
	assert_int_equal(ctx.main.pin[15], 0xff);
	assert_int_equal(ctx.main.pin[31], 0xff);
	assert_int_equal(ctx.ntenants, 2);
	assert_string_equal(ctx.tenants[0]->name, "A");
	assert_int_equal(ctx.tenants[0]->edges.n, 1);
	assert_int_equal(ctx.tenants[0]->idle, 60000);	/* default */
	assert_string_equal(ctx.tenants[1]->edges.v[1], "bgw2");
	assert_int_equal(ctx.tenants[1]->idle, 120000);
}

/* Lines keep their commas; each indented line is one more item; the
 * key set twice is a duplicate like any other. */
static void
test_lines(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:80\n"
	    "line = Accept: text/plain, application/json  \n"
	    "  X-Site: north, west\n"), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(ctx.main.lines.n, 2);
	assert_string_equal(ctx.main.lines.v[0],
	    "Accept: text/plain, application/json");
	assert_string_equal(ctx.main.lines.v[1], "X-Site: north, west");
	conf_free_fields(&sections[0], &ctx.main);
	memset(&ctx, 0, sizeof(ctx));
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:80\n"
	    "line = a: 1\nline = b: 2\n"), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.line[0], "duplicate key"));
}

static void
test_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:80\n"), 0);
	assert_false(ctx.main.flag);
	assert_int_equal(ctx.main.workers, 2);
	assert_int_equal(ctx.main.timeout, 5000);
	assert_int_equal(ctx.main.buffer, 65536);
	assert_null(ctx.main.cert);
	assert_string_equal(ctx.main.label, "default label");
	assert_int_equal(ctx.main.names.n, 2);	/* from the default */
	assert_int_equal(ctx.main.mode, 0);
}

/* Unset paths: beside the file in a build run from its tree; in the
 * installed layout, one name per config file in its directories. What
 * the file says is always beside it. */
static void
test_layout_defaults(void **state)
{
	static const struct conf_layout fhs = { "/run/isthmus",
		"/var/lib/isthmus", "/var/cache/isthmus" };
	static const struct conf_layout local;
	const struct conf_layout saved = *conf_get_layout();
	const char *text = "[main]\nlisten = 127.0.0.1:80\n";

	(void)state;
	conf_set_layout(&local);
	assert_int_equal(parse(text), 0);
	assert_string_equal(ctx.main.sock, "/etc/isthmus/t.sock");
	assert_string_equal(ctx.main.data, "/etc/isthmus/state");
	assert_string_equal(ctx.main.cachedir, "/etc/isthmus/cache");
	teardown(NULL);

	conf_set_layout(&fhs);
	assert_int_equal(conf_parse_text(&schema, &ctx,
	    "/etc/isthmus/edge-agw.conf", text, strlen(text), "/etc/isthmus",
	    &errs), 0);
	assert_string_equal(ctx.main.sock, "/run/isthmus/edge-agw.sock");
	assert_string_equal(ctx.main.data, "/var/lib/isthmus/edge-agw");
	assert_string_equal(ctx.main.cachedir, "/var/cache/isthmus/edge-agw");
	teardown(NULL);
	/* a name without .conf is kept whole; what the file says wins */
	text = "[main]\nlisten = 127.0.0.1:80\nsock = run/x.sock\n";
	assert_int_equal(conf_parse_text(&schema, &ctx, "site.ini", text,
	    strlen(text), "/srv/gw", &errs), 0);
	assert_string_equal(ctx.main.sock, "/srv/gw/run/x.sock");
	assert_string_equal(ctx.main.data, "/var/lib/isthmus/site.ini");
	conf_set_layout(&saved);
}

static void
test_crlf(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\r\nlisten = 127.0.0.1:80\r\n"
	    "workers = 3\r\n"), 0);
	assert_int_equal(ctx.main.workers, 3);
}

static void
test_unknown_key(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\nbogus = 1\n"),
	    -EINVAL);
	assert_one_error("t.conf:3: bogus: unknown key in [main]");
}

static void
test_unknown_section(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\n\n[nope]\n"
	    "x = 1\n"), -EINVAL);
	assert_one_error("t.conf:4: [nope]: unknown section");
}

static void
test_duplicate_key(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\nworkers = 2\n"
	    "workers = 3\n"), -EINVAL);
	assert_one_error("t.conf:4: workers: duplicate key (first set on "
	    "line 3)");
}

static void
test_duplicate_list_key(void **state)
{
	(void)state;
	/* a list is not extended by repeating its key: that is a typo */
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\nnames = a\n"
	    "names = b\n"), -EINVAL);
	assert_one_error("t.conf:4: names: duplicate key (first set on "
	    "line 3)");
}

static void
test_duplicate_sections(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\n"
	    "[tenant A]\nedges = a\n[tenant A]\nedges = b\n[main]\n"),
	    -EINVAL);
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.line[0], "t.conf:5: [tenant A]: duplicate "
	    "section (first on line 3)");
	assert_string_equal(errs.line[1], "t.conf:7: [main]: duplicate "
	    "section (first on line 1)");
}

static void
test_bad_values(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\n"
	    "listen = 127.0.0.1\n"
	    "workers = 65\n"
	    "timeout = 5\n"
	    "buffer = 512\n"
	    "flag = maybe\n"
	    "mode = udp\n"
	    "pin = sha1:abcd\n"), -EINVAL);
	assert_int_equal(errs.n, 7);
	assert_string_equal(errs.line[0], "t.conf:2: listen: '127.0.0.1' has "
	    "no port (expected host:port)");
	assert_string_equal(errs.line[1], "t.conf:3: workers: '65' is not an "
	    "integer between 1 and 64");
	assert_non_null(strstr(errs.line[2], "t.conf:4: timeout: '5' is not "
	    "a duration"));
	assert_non_null(strstr(errs.line[3], "t.conf:5: buffer: '512' is out "
	    "of range"));
	assert_non_null(strstr(errs.line[4], "t.conf:6: flag: 'maybe' is not "
	    "a boolean"));
	assert_string_equal(errs.line[5], "t.conf:7: mode: 'udp' is not one "
	    "of: tcp, http");
	assert_non_null(strstr(errs.line[6], "t.conf:8: pin: 'sha1:abcd' is "
	    "not a pin"));
}

static void
test_required(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nworkers = 2\n[tenant A]\nidle = 1s\n"),
	    -EINVAL);
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.line[0], "t.conf:1: listen: required in "
	    "[main]");
	assert_string_equal(errs.line[1], "t.conf:3: edges: required in "
	    "[tenant A]");
}

static void
test_missing_section(void **state)
{
	(void)state;
	assert_int_equal(parse("[tenant A]\nedges = a\n"), -EINVAL);
	assert_one_error("t.conf: [main]: missing section (it must set "
	    "'listen')");
}

static void
test_key_outside_section(void **state)
{
	(void)state;
	assert_int_equal(parse("workers = 2\n[main]\nlisten = 127.0.0.1:1\n"),
	    -EINVAL);
	assert_one_error("t.conf:1: workers: key outside of any section");
}

static void
test_section_names(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\n[tenant]\n"
	    "edges = a\n[main x]\n[tenant a/b]\n[tenant a b c]\n"), -EINVAL);
	assert_int_equal(errs.n, 4);
	assert_string_equal(errs.line[0], "t.conf:3: [tenant]: section needs "
	    "a name, as in [tenant NAME]");
	assert_string_equal(errs.line[1], "t.conf:5: [main x]: [main] takes "
	    "no name");
	assert_non_null(strstr(errs.line[2], "t.conf:6: [tenant a/b]: invalid "
	    "name 'a/b'"));
	assert_non_null(strstr(errs.line[3], "t.conf:7: [tenant a b c]: "
	    "malformed section header"));
}

static void
test_scoped_names(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\n"
	    "[service A/telemetry]\nweight = 3\n"), 0);
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\n"
	    "[service telemetry]\n[service A/b/c]\n[service /x]\n"), -EINVAL);
	assert_int_equal(errs.n, 3);
	assert_non_null(strstr(errs.line[0], "t.conf:3: [service telemetry]: "
	    "invalid name 'telemetry' (TENANT/NAME, each letters"));
	assert_non_null(strstr(errs.line[1], "t.conf:4: [service A/b/c]"));
	assert_non_null(strstr(errs.line[2], "t.conf:5: [service /x]"));
}

static void
test_indented_key(void **state)
{
	(void)state;
	/* libinih reads an indented line as the previous value continuing;
	 * only lists may do that, anything else is refused with a hint. */
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\n"
	    "  workers = 3\n"), -EINVAL);
	assert_one_error("t.conf:3: listen: indented line continues the "
	    "value; only lists may span lines (do not indent keys)");
}

static void
test_continued_list_with_brackets(void **state)
{
	(void)state;
	/* A continued list item may start with '[' (an IPv6 address): it is
	 * a value, not a section header; unindented, it is a header. */
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\n"
	    "names = a,\n  [2001:db8::1]:80 b,\n\t[::1]:1 c\n"), 0);
	assert_int_equal(ctx.main.names.n, 3);
	assert_string_equal(ctx.main.names.v[1], "[2001:db8::1]:80 b");
	assert_string_equal(ctx.main.names.v[2], "[::1]:1 c");
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\nnames = a,\n"
	    "[2001:db8::1]:80 b\n"), -EINVAL);
	assert_one_error("t.conf:4: [2001:db8::1]: unknown section");
}

static void
test_syntax_error(void **state)
{
	(void)state;
	assert_int_equal(parse("[main]\nlisten = 127.0.0.1:1\njunk line\n"),
	    -EINVAL);
	assert_one_error("t.conf:3: syntax: expected 'key = value' or "
	    "'[section]'");
}

static void
test_long_line(void **state)
{
	char text[1024];

	(void)state;
	snprintf(text, sizeof(text), "[main]\nlisten = 127.0.0.1:1\n"
	    "label = %0300d\n", 7);
	assert_int_equal(parse(text), -EINVAL);
	assert_one_error("t.conf:3: line: too long (at most 198 characters)");
}

static void
test_nul_byte(void **state)
{
	static const char text[] = "[main]\nlisten = 127.0.0.1:1\nla\0el = x\n";

	(void)state;
	assert_int_equal(conf_parse_text(&schema, &ctx, "t.conf", text,
	    sizeof(text) - 1, NULL, &errs), -EINVAL);
	assert_one_error("t.conf:3: line: contains a NUL byte");
}

static void
test_many_errors(void **state)
{
	char text[4096];
	size_t len = 0;
	int i;

	(void)state;
	len += (size_t)snprintf(text, sizeof(text), "[main]\n"
	    "listen = 127.0.0.1:1\n");
	for (i = 0; i < 30; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "bogus%d = 1\n", i);
	assert_int_equal(parse(text), -EINVAL);
	assert_int_equal(errs.n, CONF_MAX_ERRORS);
	assert_int_equal(errs.total, 30);
	assert_string_equal(errs.line[0], "t.conf:3: bogus0: unknown key in "
	    "[main]");
}

static void
test_load_file(void **state)
{
	char path[] = "/tmp/isthmus-conf-XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "[main]\nlisten = 127.0.0.1:9\ncert = c.pem\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(conf_load_file(&schema, &ctx, path, &errs), 0);
	assert_string_equal(ctx.main.cert, "/tmp/c.pem");
	unlink(path);
	teardown(NULL);
	assert_int_equal(conf_load_file(&schema, &ctx, path, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.line[0], "cannot read config: No such "
	    "file or directory"));
	assert_int_equal(conf_load_file(&schema, &ctx, "/tmp", &errs),
	    -EINVAL);
	assert_non_null(strstr(errs.line[0], "not a regular file"));
}

/* Which daemon a file is for, read by the loader's own reader: the first
 * header naming a kind wins, continuation lines are not headers, and a
 * file that names none says so. */
static void
test_file_kind(void **state)
{
	static const char *const kinds[] = { "cloud", "edge" };
	static const struct {
		const char *text;
		int kind;
	} cases[] = {
		{ "[cloud]\nlisten = 1.2.3.4:5\n[edge agw]\ntenant = A\n", 0 },
		{ "; a comment\n\n  [edge]\nname = agw\n", 1 },
		{ "[listener t]\nlisten = 127.0.0.1:1\n[edge]\n", 1 },
		{ "[something]\nx = 1\n", -ENOENT },
		{ "[listener t]\nallow = a\n  [cloud]\n", -ENOENT },
		{ "", -ENOENT },
	};
	char path[] = "/tmp/isthmus-kind-XXXXXX";
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = mkstemp(path);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, cases[i].text,
		    strlen(cases[i].text)), (ssize_t)strlen(cases[i].text));
		close(fd);
		assert_int_equal(conf_file_kind(path, kinds, 2, &errs),
		    cases[i].kind);
		if (cases[i].kind == -ENOENT)
			assert_non_null(strstr(errs.line[0], "none of its "
			    "section headers"));
		unlink(path);
		strcpy(path, "/tmp/isthmus-kind-XXXXXX");
	}
	assert_int_equal(conf_file_kind(path, kinds, 2, &errs), -EINVAL);
	assert_non_null(strstr(errs.line[0], "cannot read config"));
}


/* --- the cloud's readiness profiles and schedules --------------------- */

static const char cloud_head[] =
    "[cloud]\nlisten = 127.0.0.1:0\ncert = c.pem\nkey = k.pem\n"
    "ca = ca.pem\n";

/* Loads cloud_head + text as a cloud.conf; *cf set on success. */
static int
cloud_load(const char *text, struct cloud_conf **cf)
{
	char path[] = "/tmp/isthmus-cloudconf-XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, cloud_head, strlen(cloud_head)),
	    (ssize_t)strlen(cloud_head));
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	*cf = NULL;
	rc = cloud_conf_load(path, cf, &errs);
	unlink(path);
	return rc;
}

/* The loaded file failed with one error whose text after "file:" is
 * want (the temp file's name varies). */
static void
assert_cloud_error(const char *text, const char *want)
{
	struct cloud_conf *cf;
	const char *colon;

	assert_int_equal(cloud_load(text, &cf), -EINVAL);
	assert_null(cf);
	colon = errs.n == 1 ? strchr(errs.line[0], ':') : NULL;
	if (colon == NULL || strcmp(colon + 1, want) != 0) {
		size_t i;

		for (i = 0; i < errs.n; i++)
			print_error("got: %s\n", errs.line[i]);
		print_error("want: FILE:%s\n", want);
		fail();
	}
}

static const char two_edges[] =
    "[tenant A]\nedges = agw, a2\nreadiness = voice every 6h\n"
    "[tenant B]\nedges = bgw\n"
    "[edge agw]\npin = sha256:" "0000000000000000000000000000000000000000"
    "000000000000000000000000\nreadiness = default every 1h\n"
    "[edge a2]\npin = sha256:" "0000000000000000000000000000000000000000"
    "000000000000000000000000\n"
    "[edge bgw]\npin = sha256:" "0000000000000000000000000000000000000000"
    "000000000000000000000000\nreadiness = off\n";

static void
test_cloud_readiness(void **state)
{
	const struct readiness_profile *p, *q;
	struct cloud_conf *cf;
	uint64_t every = 0;
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text), "%s[readiness voice]\npings = 50\n"
	    "ping_interval = 100ms\ndown = 2M\nup = 1M\nudp_size = 200\n"
	    "delay = 100ms, 300ms\n", two_edges);
	assert_int_equal(cloud_load(text, &cf), 0);
	p = cloud_conf_readiness(cf, "voice");
	assert_non_null(p);
	assert_string_equal(p->name, "voice");
	assert_int_equal(p->line, 19);
	assert_int_equal(p->pings, 50);
	assert_int_equal(p->ping_interval, 100);
	assert_int_equal(p->down, 2u << 20);
	assert_int_equal(p->udp_size, 200);
	assert_true(p->udp);			/* a key's default */
	assert_true(p->delay.warn == 100 && p->delay.fail == 300);
	assert_null(cloud_conf_readiness(cf, "video"));
	/* no [readiness default]: the built-in one */
	q = cloud_conf_readiness(cf, READINESS_DEFAULT);
	assert_non_null(q);
	assert_int_equal(q->line, 0);
	assert_int_equal(q->pings, 20);
	/* the edge's own line, its tenant's, and "off" */
	assert_true(cloud_conf_schedule(cf, "A", "agw", &p, &every));
	assert_ptr_equal(p, q);
	assert_int_equal(every, 3600000);
	assert_true(cloud_conf_schedule(cf, "A", "a2", &p, &every));
	assert_string_equal(p->name, "voice");
	assert_int_equal(every, 6 * 3600000);
	assert_false(cloud_conf_schedule(cf, "B", "bgw", &p, &every));
	assert_false(cloud_conf_schedule(cf, "B", "agw", &p, &every));
	assert_false(cloud_conf_schedule(cf, "A", "nope", &p, &every));
	assert_int_equal(cf->readiness_udp.host[0], '\0');
	assert_null(cf->readiness_udp_host);
	cloud_conf_unref(cf);

	/* [readiness default] overrides the built-in one */
	snprintf(text, sizeof(text), "readiness_udp = 0.0.0.0:0\n"
	    "readiness_udp_host = 203.0.113.5\n%s[readiness voice]\n"
	    "[readiness default]\npings = 7\nudp = off\n", two_edges);
	assert_int_equal(cloud_load(text, &cf), 0);
	q = cloud_conf_readiness(cf, READINESS_DEFAULT);
	assert_int_equal(q->pings, 7);
	assert_false(q->udp);
	assert_int_equal(q->line, 22);
	assert_string_equal(cf->readiness_udp.host, "0.0.0.0");
	assert_int_equal(cf->readiness_udp.port, 0);
	assert_string_equal(cf->readiness_udp_host, "203.0.113.5");
	assert_true(cloud_conf_schedule(cf, "A", "agw", &p, &every));
	assert_ptr_equal(p, q);
	cloud_conf_unref(cf);
}

/* Each refusal names the file, the line of its section, and the key or
 * the profile. */
static void
test_cloud_readiness_bad(void **state)
{
	struct cloud_conf *cf;
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text), "%s[readiness voice]\nbudget = 1M\n"
	    "down = 1M\nup = 0\nudp = off\npings = 0\n", two_edges);
	assert_cloud_error(text, "19: [readiness voice]: the test would move "
	    "about 1132463 bytes on the wire (docs/readiness.md, \"The "
	    "budget\"), over its budget of 1048576: raise budget or lower "
	    "down, up or the UDP train");
	snprintf(text, sizeof(text), "%s[readiness voice]\n"
	    "udp_rate = 1000\nudp_duration = 120s\nbudget = 1G\n", two_edges);
	assert_cloud_error(text, "19: [readiness voice]: udp_rate x "
	    "udp_duration is 120000 packets; at most 100000");
	snprintf(text, sizeof(text), "%s[readiness voice]\n"
	    "delay = 400ms, 150ms\n", two_edges);
	assert_int_equal(cloud_load(text, &cf), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.line[0], ":20: delay: "));
	snprintf(text, sizeof(text), "%s[readiness voice]\nbogus = 1\n",
	    two_edges);
	assert_cloud_error(text, "20: bogus: unknown key in [readiness]");
	snprintf(text, sizeof(text), "%s[readiness voice]\npings = 1001\n",
	    two_edges);
	assert_int_equal(cloud_load(text, &cf), -EINVAL);
	assert_non_null(strstr(errs.line[0], ":20: pings: "));
	/* a schedule badly written, too short, or naming no profile */
	static const char *const bad_every[] = { "voice each 6h",
	    "default every 5s", "default every 8d", "default", "off now" };
	size_t i;

	for (i = 0; i < sizeof(bad_every) / sizeof(bad_every[0]); i++) {
		snprintf(text, sizeof(text), "[tenant A]\nedges = agw\n"
		    "[edge agw]\npin = sha256:%064d\nreadiness = %s\n", 0,
		    bad_every[i]);
		assert_int_equal(cloud_load(text, &cf), -EINVAL);
		assert_int_equal(errs.n, 1);
		assert_non_null(strstr(errs.line[0], ":10: readiness: "));
	}
	assert_cloud_error(two_edges, "6: readiness: no profile 'voice': add "
	    "a [readiness voice] section, or name 'default' (the built-in "
	    "one)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_all_types, teardown),
		cmocka_unit_test_teardown(test_defaults, teardown),
		cmocka_unit_test_teardown(test_lines, teardown),
		cmocka_unit_test_teardown(test_crlf, teardown),
		cmocka_unit_test_teardown(test_unknown_key, teardown),
		cmocka_unit_test_teardown(test_unknown_section, teardown),
		cmocka_unit_test_teardown(test_duplicate_key, teardown),
		cmocka_unit_test_teardown(test_duplicate_list_key, teardown),
		cmocka_unit_test_teardown(test_duplicate_sections, teardown),
		cmocka_unit_test_teardown(test_bad_values, teardown),
		cmocka_unit_test_teardown(test_required, teardown),
		cmocka_unit_test_teardown(test_missing_section, teardown),
		cmocka_unit_test_teardown(test_key_outside_section, teardown),
		cmocka_unit_test_teardown(test_section_names, teardown),
		cmocka_unit_test_teardown(test_scoped_names, teardown),
		cmocka_unit_test_teardown(test_indented_key, teardown),
		cmocka_unit_test_teardown(test_continued_list_with_brackets,
		    teardown),
		cmocka_unit_test_teardown(test_syntax_error, teardown),
		cmocka_unit_test_teardown(test_long_line, teardown),
		cmocka_unit_test_teardown(test_nul_byte, teardown),
		cmocka_unit_test_teardown(test_many_errors, teardown),
		cmocka_unit_test_teardown(test_load_file, teardown),
		cmocka_unit_test_teardown(test_file_kind, teardown),
		cmocka_unit_test(test_cloud_readiness),
		cmocka_unit_test_teardown(test_layout_defaults, teardown),
		cmocka_unit_test(test_cloud_readiness_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
