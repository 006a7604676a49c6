/*
 * isthmus readiness: the network readiness tests' results as a report
 * (docs/readiness.md, "Reports"). It asks the cloud on its admin socket
 * for the stored results, or reads a report saved earlier (--input), and
 * hands the document to src/report/ to be checked and rendered. The
 * cloud filters what it stores; a saved report is filtered here.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/admin.h"
#include "common/cli.h"
#include "common/confparse.h"
#include "common/fsutil.h"
#include "common/names.h"
#include "report/report.h"
#include "status.h"

static const char usage_readiness[] =
"usage: isthmus readiness (-c CONF | --socket PATH) [EDGE] [--tenant T]\n"
"                         [--since TIME] [--limit N]\n"
"                         [--format text|json|html] [-o FILE]\n"
"       isthmus readiness --input FILE [EDGE] [--tenant T] [--since TIME]\n"
"                         [--limit N] [--format text|json|html] [-o FILE]\n"
"\n"
"The network readiness tests' results the cloud keeps: per edge its\n"
"latest test measure by measure, then every test's figures. As text, as\n"
"the cloud's JSON document, or as one HTML file with plots that opens\n"
"and prints without a network.\n"
"  EDGE               that edge only\n"
"  -c, --config CONF  the cloud.conf: its admin socket is read from it\n"
"  --socket PATH      the cloud's admin socket itself\n"
"  --tenant T         that tenant's edges only\n"
"  --since TIME       tests in the last TIME (12h, 7d) or since a UTC\n"
"                     date or time (2026-12-01, 2026-12-01T08:00:00Z)\n"
"  --limit N          the newest N tests (default 1000, at most 10000)\n"
"  --format F         text (the default), json or html\n"
"  -o, --output FILE  write to FILE (replaced whole) instead of stdout\n"
"  --input FILE       render a JSON report saved earlier (- for stdin)\n"
"                     instead of asking the cloud\n"
"Exit status: 0 ok; 1 the cloud could not be asked, or the input is not\n"
"a report; 2 usage.\n";

void
readiness_usage(FILE *f)
{
	fputs(usage_readiness, f);
}

enum format { FMT_TEXT, FMT_JSON, FMT_HTML };

struct ropts {
	const char *conf, *sock, *input, *output;
	struct report_filter flt;
	bool limit_given;	/* a saved report is cut only when asked */
	enum format format;
};

static int
parse_format(const char *s, enum format *out)
{
	static const char *const names[] = { "text", "json", "html", NULL };
	struct err e;
	int i;

	if (conf_parse_enum(s, names, &i, &e) != 0)
		return cli_usage_error("readiness", usage_readiness,
		    "--format %s: text, json or html", s);
	*out = (enum format)i;
	return CLI_GO_ON;
}

/* What the options say, checked; CLI_GO_ON or the exit status. */
static int
parse_args(int argc, char **argv, struct ropts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "tenant", required_argument, NULL, 't' },
		{ "since", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'l' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "input", required_argument, NULL, 'i' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	struct err e;
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->flt.limit = REPORT_LIMIT_DEFAULT;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:o:", opts,
	    NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		switch (c) {
		case 'h':
			fputs(usage_readiness, stdout);
			return EXIT_OK;
		case 'c': o->conf = optarg; break;
		case 's': o->sock = optarg; break;
		case 't': o->flt.tenant = optarg; break;
		case 'o': o->output = optarg; break;
		case 'i': o->input = optarg; break;
		case 'S':
			if (conf_parse_since(optarg, (int64_t)time(NULL),
			    &o->flt.since, &e) != 0)
				return cli_usage_error("readiness",
				    usage_readiness, "--since: %s", e.msg);
			break;
		case 'l':
			if (conf_parse_int(optarg, 1, REPORT_LIMIT_MAX,
			    &o->flt.limit, &e) != 0)
				return cli_usage_error("readiness",
				    usage_readiness, "--limit: %s", e.msg);
			o->limit_given = true;
			break;
		case 'f':
			rc = parse_format(optarg, &o->format);
			if (rc != CLI_GO_ON)
				return rc;
			break;
		default:
			return cli_bad_option("readiness", usage_readiness,
			    argv, c);
		}
	}
	if (optind < argc)
		o->flt.edge = argv[optind++];
	if (optind < argc)
		return cli_usage_error("readiness", usage_readiness,
		    "unexpected argument '%s'", argv[optind]);
	if (o->flt.edge != NULL && !name_valid(o->flt.edge))
		return cli_usage_error("readiness", usage_readiness,
		    "'%s' is not an edge name", o->flt.edge);
	if (o->flt.tenant != NULL && !name_valid(o->flt.tenant))
		return cli_usage_error("readiness", usage_readiness,
		    "'%s' is not a tenant name", o->flt.tenant);
	if ((o->input != NULL) + (o->conf != NULL) + (o->sock != NULL) != 1)
		return cli_usage_error("readiness", usage_readiness,
		    "give one of -c CONF, --socket PATH or --input FILE");
	if (o->input != NULL && !o->limit_given)
		o->flt.limit = 0;
	return CLI_GO_ON;
}

/* The largest saved report read: 10,000 tests with all their samples
 * are about 60 MB. */
#define INPUT_MAX (256u << 20)

/* The saved report at path ("-": stdin); exit status. Read whole first:
 * jansson parses a buffer several times faster than a FILE. */
static int
read_input(const char *path, json_t **doc)
{
	json_error_t jerr;
	char *buf = NULL;
	size_t len = 0;
	struct err e;

	if (strcmp(path, "-") == 0) {
		*doc = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
	} else {
		if (fs_read_file(path, INPUT_MAX, &buf, &len, &e) != 0)
			return cli_fail("readiness", EXIT_FAIL, "%s", e.msg);
		*doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
		free(buf);
	}
	if (*doc != NULL)
		return EXIT_OK;
	return cli_fail("readiness", EXIT_FAIL, "%s is not a readiness "
	    "report: not JSON (line %d, column %d: %s)", path, jerr.line,
	    jerr.column, jerr.text);
}

/* The request line: the filter, with tenant and edge only when given
 * (docs/readiness.md, "Reports"). */
static char *
request_line(const struct report_filter *flt)
{
	json_t *req;
	char *body, *line = NULL;

	req = json_pack("{s:I, s:I}", "since", (json_int_t)flt->since,
	    "limit", (json_int_t)flt->limit);
	if (req != NULL && flt->tenant != NULL)
		json_object_set_new(req, "tenant", json_string(flt->tenant));
	if (req != NULL && flt->edge != NULL)
		json_object_set_new(req, "edge", json_string(flt->edge));
	body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	if (body != NULL && asprintf(&line, "readiness %s", body) < 0)
		line = NULL;
	free(body);
	json_decref(req);
	return line;
}

/* What the cloud answered, as a document, or the exit status after
 * saying why not: nothing, a text error (an older cloud does not know
 * the request), or a JSON {"error": ...}. */
static int
parse_answer(const char *sock, const char *answer, size_t len,
    json_t **doc)
{
	static const char unknown[] = "error: unknown request";
	json_error_t jerr;
	json_t *why;

	if (len == 0)
		return cli_fail("readiness", EXIT_FAIL, "the cloud at %s "
		    "closed the connection without an answer", sock);
	if (strncmp(answer, unknown, sizeof(unknown) - 1) == 0)
		return cli_fail("readiness", EXIT_FAIL, "the cloud at %s does "
		    "not know the request 'readiness': it runs an older "
		    "isthmus; upgrade it", sock);
	if (strncmp(answer, "error: ", 7) == 0)
		return cli_fail("readiness", EXIT_FAIL, "the cloud says: %.*s",
		    (int)strcspn(answer + 7, "\n"), answer + 7);
	*doc = json_loadb(answer, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*doc == NULL)
		return cli_fail("readiness", EXIT_FAIL, "the cloud's answer is "
		    "not JSON (%s)", jerr.text);
	why = json_object_get(*doc, "error");
	if (json_is_string(why) && json_object_get(*doc, "tests") == NULL) {
		cli_fail("readiness", EXIT_FAIL, "the cloud says: %s",
		    json_string_value(why));
		json_decref(*doc);
		*doc = NULL;
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int
ask_cloud(const struct ropts *o, json_t **doc)
{
	char *sock = NULL, *line, *answer = NULL;
	size_t len = 0;
	struct err e;
	FILE *f;
	int rc;

	*doc = NULL;
	if (o->conf != NULL) {
		if (status_socket_from_conf(o->conf, &sock) != 0)
			return EXIT_USAGE;
	} else if ((sock = strdup(o->sock)) == NULL) {
		return cli_fail("readiness", EXIT_FAIL, "out of memory");
	}
	line = request_line(&o->flt);
	f = open_memstream(&answer, &len);
	if (line == NULL || f == NULL) {
		rc = cli_fail("readiness", EXIT_FAIL, "out of memory");
		goto out;
	}
	rc = admin_query(sock, line, f, &e);
	if (fclose(f) != 0 && rc == 0)
		rc = err_set(&e, -ENOMEM, "out of memory");
	f = NULL;
	if (rc != 0)
		rc = cli_fail("readiness", EXIT_FAIL, "cannot ask the cloud: "
		    "%s", e.msg);
	else
		rc = parse_answer(sock, answer, len, doc);
out:
	if (f != NULL)
		fclose(f);
	free(answer);
	free(line);
	free(sock);
	return rc;
}

/* The whole rendering first, then out: a failure leaves no half file. */
static int
render(const struct ropts *o, const struct report *r)
{
	char *buf = NULL;
	size_t len = 0;
	struct err e;
	FILE *f;
	int rc;

	f = open_memstream(&buf, &len);
	if (f == NULL)
		return cli_fail("readiness", EXIT_FAIL, "out of memory");
	rc = o->format == FMT_HTML ? report_html(r, f, &e) :
	    o->format == FMT_JSON ? report_json(r, f, &e) :
	    report_text(r, f, &e);
	if (fclose(f) != 0 && rc == 0)
		rc = err_set(&e, -ENOMEM, "out of memory");
	if (rc == 0 && (o->output == NULL || strcmp(o->output, "-") == 0)) {
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
			rc = err_set(&e, -EIO, "cannot write to stdout");
	} else if (rc == 0) {
		rc = fs_write_atomic(o->output, buf, len, 0644, true, &e);
	}
	free(buf);
	return rc == 0 ? EXIT_OK : cli_fail("readiness", EXIT_FAIL, "%s",
	    e.msg);
}

int
readiness_main(int argc, char **argv)
{
	struct report *r = NULL;
	struct ropts o;
	json_t *doc = NULL;
	struct err e;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc != CLI_GO_ON)
		return rc;
	rc = o.input != NULL ? read_input(o.input, &doc) : ask_cloud(&o, &doc);
	if (rc != EXIT_OK)
		return rc;
	/* the cloud applied the filter already; a saved report is
	 * filtered here */
	if (report_load(doc, o.input != NULL ? &o.flt : NULL, &r, &e) != 0) {
		rc = cli_fail("readiness", EXIT_FAIL, "%s is not a readiness "
		    "report: %s", o.input != NULL ? o.input :
		    "the cloud's answer", e.msg);
	} else {
		rc = render(&o, r);
	}
	report_free(r);
	json_decref(doc);
	return rc;
}
