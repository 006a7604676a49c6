/*
 * isthmus manage and isthmus audit: an operator's instructions to an edge,
 * and the record of every one, through the cloud's admin socket. The
 * cloud checks, records and sends; this only asks and shows its JSON
 * answer, as it is (--json) or as text.
 */
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
#include "common/names.h"
#include "common/queuewords.h"
#include "common/timefmt.h"
#include "queuetext.h"
#include "status.h"
#include "trusttext.h"

/* manage --wait ran out before the edge answered: the instruction
 * stands, its outcome is for `isthmus audit --id`. */
#define EXIT_PENDING 3
#define WAIT_DEFAULT_MS 30000

static const char usage_manage[] =
"usage: isthmus manage (-c CONF | --socket PATH) [--tenant T] EDGE KIND [ARG]\n"
"                      [--wait [TIME]] [--ttl TIME] [--json]\n"
"\n"
"Sends an instruction to an edge down its own tunnel, through the cloud.\n"
"The cloud records it (who, what, when) before sending it; an edge that is\n"
"down gets it when it connects, unless --ttl (default: the cloud's\n"
"instruction_ttl) runs out first. The edge's `manage` policy decides what\n"
"it accepts.\n"
"  KIND [ARG]         status | doctor | purge-cache [URL] | prefetch URL |\n"
"                     reload | logs [N] | readiness [PROFILE] |\n"
"                     trust list [--pending] | trust show ID |\n"
"                     trust approve ID --fingerprint sha256:HEX |\n"
"                     trust reject ID | trust forget ID |\n"
"                     queue list [--dead] | queue show ID |\n"
"                     queue retry ID|--dead | queue drop ID|--dead\n"
"  -c, --config CONF  the cloud.conf: the socket is read from it\n"
"  --socket PATH      the cloud's admin socket itself\n"
"  --tenant T         the edge's tenant (needed when two tenants have an\n"
"                     edge of that name)\n"
"  --wait [TIME]      wait for the outcome (default 30s) and show it\n"
"  --ttl TIME         how long it may wait for a down edge (5m, 2h, 1d)\n"
"  --json             the cloud's answer as JSON\n"
"Exit status: 0 recorded (without --wait) or ok; 1 error, refused,\n"
"timeout, expired, or not recorded; 2 usage; 3 no outcome within --wait.\n";

static const char usage_audit[] =
"usage: isthmus audit (-c CONF | --socket PATH) [--edge E] [--tenant T]\n"
"                     [--id ID] [--since TIME] [--limit N] [--json]\n"
"\n"
"The audit log: every instruction sent to an edge, newest first, with who\n"
"issued it, when it was delivered and its outcome.\n"
"  -c, --config CONF  the cloud.conf: the socket is read from it\n"
"  --socket PATH      the cloud's admin socket itself\n"
"  --edge E, --tenant T, --id ID   only those\n"
"  --since TIME       issued in the last TIME (30m, 2h, 7d) or since a\n"
"                     date (2026-12-01 or 2026-12-01T10:00:00Z)\n"
"  --limit N          the newest N (default 1000)\n"
"  --json             as JSON, with each result in full\n";

void
manage_usage(FILE *f)
{
	fputs(usage_manage, f);
}

void
audit_usage(FILE *f)
{
	fputs(usage_audit, f);
}

/* What both commands take: where the cloud is, and --json. */
struct client {
	const char *path, *conf;
	bool json;
};

#define CLIENT_LONG \
	{ "socket", required_argument, NULL, 's' }, \
	{ "config", required_argument, NULL, 'c' }, \
	{ "json", no_argument, NULL, 'j' }

/* One of CLIENT_LONG's options, taken; false for another. */
static bool
client_option(int c, struct client *cl)
{
	switch (c) {
	case 's': cl->path = optarg; return true;
	case 'c': cl->conf = optarg; return true;
	case 'j': cl->json = true; return true;
	default: return false;
	}
}

/* The socket from -c or --socket. */
static int
socket_of(const char *cmd, const char *usage, const struct client *cl,
    char **sock)
{
	const char *conf = cl->conf, *path = cl->path;

	if ((path == NULL) == (conf == NULL))
		return cli_usage_error(cmd, usage,
		    "give either --socket PATH or -c CONF");
	if (conf != NULL)
		return status_socket_from_conf(conf, sock) == 0 ? CLI_GO_ON :
		    EXIT_USAGE;
	*sock = strdup(path);
	return *sock != NULL ? CLI_GO_ON : EXIT_FAIL;
}

/* Asks; *out is the cloud's JSON answer, or NULL after saying why. */
static int
ask(const char *cmd, const char *sock, const char *word, json_t *req,
    json_t **out)
{
	char *body, *line, *answer;
	size_t len;
	json_error_t jerr;
	struct err e;
	int rc;

	*out = NULL;
	body = json_dumps(req, JSON_COMPACT);
	if (body == NULL || asprintf(&line, "%s %s", word, body) < 0) {
		free(body);
		return cli_fail(cmd, EXIT_FAIL, "out of memory");
	}
	free(body);
	rc = admin_query_buf(sock, line, &answer, &len, &e);
	free(line);
	if (rc != 0)
		return cli_fail(cmd, EXIT_FAIL, "%s", e.msg);
	*out = json_loadb(answer, len, 0, &jerr);
	if (*out == NULL) {
		rc = cli_fail(cmd, EXIT_FAIL, "the cloud's answer is not "
		    "JSON (%s): is it an older isthmus?", jerr.text);
		free(answer);
		return rc;
	}
	free(answer);
	/* A refusal of the request itself has no id (an instruction's
	 * record has one, and may carry the edge's error). */
	if (json_object_get(*out, "id") == NULL &&
	    json_object_get(*out, "instructions") == NULL &&
	    json_is_string(json_object_get(*out, "error"))) {
		rc = cli_fail(cmd, EXIT_FAIL, "%s", json_string_value(
		    json_object_get(*out, "error")));
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	return EXIT_OK;
}

static void
when(json_t *o, const char *key, char *buf, size_t cap)
{
	json_int_t t = json_integer_value(json_object_get(o, key));

	if (t <= 0)
		snprintf(buf, cap, "-");
	else
		time_format((int64_t)t, TIME_ISO, buf, cap);
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static int
show_instruction(json_t *o, bool waited)
{
	char issued[TIME_TEXT_MAX], done[TIME_TEXT_MAX], expires[TIME_TEXT_MAX];
	const char *state = str(o, "state");
	json_t *res = json_object_get(o, "result");
	bool finished = strcmp(state, "waiting") != 0 &&
	    strcmp(state, "sent") != 0;

	when(o, "issued", issued, sizeof(issued));
	when(o, "done", done, sizeof(done));
	when(o, "expires", expires, sizeof(expires));
	printf("instruction %s: %s %s/%s by %s at %s\n", str(o, "id"),
	    str(o, "kind"), str(o, "tenant"), str(o, "edge"),
	    str(o, "issuer"), issued);
	if (!waited && !finished) {
		if (json_is_true(json_object_get(o, "edge_connected")))
			printf("recorded and sent to the edge; its outcome: "
			    "isthmus audit --id %s\n", str(o, "id"));
		else
			printf("recorded; the edge is not connected: it gets "
			    "it when it connects, until %s\n", expires);
		return EXIT_OK;
	}
	if (!finished) {
		printf("outcome: none yet (%s); later: isthmus audit --id %s\n",
		    strcmp(state, "sent") == 0 ? "sent to the edge" :
		    "waiting for the edge to connect", str(o, "id"));
		return EXIT_PENDING;
	}
	printf("outcome: %s at %s\n", state, done);
	if (json_is_string(json_object_get(o, "error")))
		printf("error: %s\n", str(o, "error"));
	if (json_is_object(res) && strcmp(str(o, "kind"), "trust") == 0) {
		trust_result_text(res, stdout);
	} else if (json_is_object(res) && strcmp(str(o, "kind"),
	    "queue") == 0) {
		queue_result_text(res, stdout);
	} else if (res != NULL && !json_is_null(res)) {
		json_dumpf(res, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
		printf("\n");
	}
	return strcmp(state, "ok") == 0 ? EXIT_OK : EXIT_FAIL;
}

/* --dead is queue list's, retry's and drop's, in place of an id; and
 * only --dead says it, as isthmus queue takes it: a word in the wrong
 * place never retries or drops every dead letter. */
static int
queue_options(const char *kind, int nargs, char **args, bool dead)
{
	const char *cmd = nargs > 0 ? args[0] : "";
	bool queue = strcmp(kind, "queue") == 0;
	int i;

	if (dead && (!queue || nargs != 1 || strcmp(cmd, "show") == 0))
		return cli_usage_error("manage", usage_manage, "--dead goes "
		    "with queue list, queue retry or queue drop, without an "
		    "id");
	for (i = 1; queue && i < nargs; i++)
		if (strcmp(args[i], QUEUE_WORD_DEAD) == 0)
			return cli_usage_error("manage", usage_manage, "say "
			    "--dead for the dead letters");
	return CLI_GO_ON;
}

/* --pending and --fingerprint are trust list's and trust approve's (the
 * cloud checks the rest of the arguments). */
static int
trust_options(const char *kind, int nargs, char **args, bool pending,
    const char *fingerprint)
{
	const char *cmd = nargs > 0 ? args[0] : "";
	bool trust = strcmp(kind, "trust") == 0;

	if (pending && (!trust || strcmp(cmd, "list") != 0 || nargs != 1))
		return cli_usage_error("manage", usage_manage, "--pending "
		    "goes with trust list");
	if (fingerprint != NULL && (!trust || strcmp(cmd, "approve") != 0 ||
	    nargs != 2))
		return cli_usage_error("manage", usage_manage, "--fingerprint "
		    "goes with trust approve ID");
	/* The fingerprint only after --fingerprint, as isthmus trust
	 * takes it: said, so nobody approves by a word in the wrong
	 * place. */
	if (trust && strcmp(cmd, "approve") == 0 && fingerprint == NULL)
		return cli_usage_error("manage", usage_manage, "trust approve "
		    "takes ID --fingerprint sha256:HEX, the certificate's, as "
		    "trust show prints it");
	return CLI_GO_ON;
}

int
manage_main(int argc, char **argv)
{
	static const struct option opts[] = {
		CLIENT_LONG,
		{ "tenant", required_argument, NULL, 't' },
		{ "wait", optional_argument, NULL, 'w' },
		{ "ttl", required_argument, NULL, 'T' },
		{ "pending", no_argument, NULL, 'p' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "dead", no_argument, NULL, 'd' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	struct client cl = { NULL, NULL, false };
	const char *tenant = NULL, *fingerprint = NULL;
	bool pending = false, dead = false;
	uint64_t wait = 0, ttl = 0;
	json_t *req, *args, *ans;
	struct err e;
	char *sock;
	int c, rc, i;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:s:", opts,
	    NULL)) != -1) {
		if (cli_common_option(c) || client_option(c, &cl))
			continue;
		switch (c) {
		case 'h':
			fputs(usage_manage, stdout);
			return EXIT_OK;
		case 't': tenant = optarg; break;
		case 'p': pending = true; break;
		case 'd': dead = true; break;
		case 'f': fingerprint = optarg; break;
		case 'w':
			wait = WAIT_DEFAULT_MS;
			/* --wait=TIME, or --wait TIME when the next word is a
			 * time (a kind's argument never is: it needs a unit) */
			if (optarg != NULL) {
				if (conf_parse_duration(optarg, 1, 3600000,
				    &wait, &e) != 0)
					return cli_usage_error("manage",
					    usage_manage, "--wait %s: %s",
					    optarg, e.msg);
			} else if (optind < argc && conf_parse_duration(
			    argv[optind], 0, 3600000, &wait, &e) == 0) {
				optind++;
			}
			break;
		case 'T':
			if (conf_parse_duration(optarg, 1000, 2592000000,
			    &ttl, &e) != 0)
				return cli_usage_error("manage", usage_manage,
				    "--ttl %s: %s", optarg, e.msg);
			break;
		default:
			return cli_bad_option("manage", usage_manage, argv, c);
		}
	}
	if (argc - optind < 2)
		return cli_usage_error("manage", usage_manage,
		    "name an edge and a kind of instruction");
	if (!name_valid(argv[optind]) || (tenant != NULL &&
	    !name_valid(tenant)))
		return cli_usage_error("manage", usage_manage, "'%s' is not %s "
		    "name", name_valid(argv[optind]) ? tenant : argv[optind],
		    name_valid(argv[optind]) ? "a tenant" : "an edge");
	rc = trust_options(argv[optind + 1], argc - optind - 2,
	    argv + optind + 2, pending, fingerprint);
	if (rc == CLI_GO_ON)
		rc = queue_options(argv[optind + 1], argc - optind - 2,
		    argv + optind + 2, dead);
	if (rc != CLI_GO_ON)
		return rc;
	rc = socket_of("manage", usage_manage, &cl, &sock);
	if (rc != CLI_GO_ON)
		return rc;
	args = json_array();
	for (i = optind + 2; args != NULL && i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	/* trust list --pending, trust approve ID --fingerprint FP, queue
	 * list|retry|drop --dead */
	if (args != NULL && pending)
		json_array_append_new(args, json_string("pending"));
	if (args != NULL && dead)
		json_array_append_new(args, json_string(QUEUE_WORD_DEAD));
	if (args != NULL && fingerprint != NULL)
		json_array_append_new(args, json_string(fingerprint));
	req = json_pack("{s:s, s:s, s:o, s:I, s:I}", "edge", argv[optind],
	    "kind", argv[optind + 1], "args", args != NULL ? args :
	    json_array(), "wait", (json_int_t)wait, "ttl", (json_int_t)ttl);
	if (req != NULL && tenant != NULL)
		json_object_set_new(req, "tenant", json_string(tenant));
	if (req == NULL) {
		free(sock);
		return cli_fail("manage", EXIT_FAIL, "an argument is not "
		    "UTF-8, or out of memory");
	}
	rc = ask("manage", sock, "manage", req, &ans);
	json_decref(req);
	free(sock);
	if (ans == NULL)
		return rc;
	if (cl.json) {
		const char *st = str(ans, "state");

		json_dumpf(ans, stdout, JSON_INDENT(2));
		printf("\n");
		rc = strcmp(st, "ok") == 0 || (wait == 0 &&
		    (strcmp(st, "waiting") == 0 || strcmp(st, "sent") == 0)) ?
		    EXIT_OK : strcmp(st, "waiting") == 0 ||
		    strcmp(st, "sent") == 0 ? EXIT_PENDING : EXIT_FAIL;
	} else {
		rc = show_instruction(ans, wait > 0);
	}
	json_decref(ans);
	return rc;
}

static void
show_audit(json_t *list)
{
	char issued[TIME_TEXT_MAX], done[TIME_TEXT_MAX], who[2 * 64];
	json_t *o;
	size_t i;

	printf("%-20s %-32s %-24s %-12s %-12s %-8s %-20s %s\n", "ISSUED", "ID",
	    "EDGE", "KIND", "ISSUER", "OUTCOME", "DONE", "ERROR");
	json_array_foreach(list, i, o) {
		when(o, "issued", issued, sizeof(issued));
		when(o, "done", done, sizeof(done));
		snprintf(who, sizeof(who), "%s/%s", str(o, "tenant"),
		    str(o, "edge"));
		printf("%-20s %-32s %-24s %-12s %-12s %-8s %-20s %s\n", issued,
		    str(o, "id"), who, str(o, "kind"), str(o, "issuer"),
		    str(o, "state"), done, json_is_string(json_object_get(o,
		    "error")) ? str(o, "error") : "-");
	}
	if (json_array_size(list) == 0)
		printf("no instruction matches\n");
}

int
audit_main(int argc, char **argv)
{
	static const struct option opts[] = {
		CLIENT_LONG,
		{ "tenant", required_argument, NULL, 't' },
		{ "edge", required_argument, NULL, 'e' },
		{ "id", required_argument, NULL, 'i' },
		{ "since", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'l' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	struct client cl = { NULL, NULL, false };
	const char *tenant = NULL, *edge = NULL, *id = NULL;
	int64_t since = 0, limit = 0;
	json_t *req, *ans;
	struct err e;
	char *sock;
	int c, rc;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:s:", opts,
	    NULL)) != -1) {
		if (cli_common_option(c) || client_option(c, &cl))
			continue;
		switch (c) {
		case 'h':
			fputs(usage_audit, stdout);
			return EXIT_OK;
		case 't': tenant = optarg; break;
		case 'e': edge = optarg; break;
		case 'i': id = optarg; break;
		case 'S':
			if (conf_parse_since(optarg, (int64_t)time(NULL),
			    &since, &e) != 0)
				return cli_usage_error("audit", usage_audit,
				    "--since: %s", e.msg);
			break;
		case 'l':
			if (conf_parse_int(optarg, 1, 100000, &limit, &e) != 0)
				return cli_usage_error("audit", usage_audit,
				    "--limit %s: %s", optarg, e.msg);
			break;
		default:
			return cli_bad_option("audit", usage_audit, argv, c);
		}
	}
	if (optind != argc)
		return cli_usage_error("audit", usage_audit,
		    "unexpected argument '%s'", argv[optind]);
	if ((tenant != NULL && !name_valid(tenant)) ||
	    (edge != NULL && !name_valid(edge)) || (id != NULL &&
	    (strlen(id) > 32 || strspn(id, "0123456789abcdef") !=
	    strlen(id))))
		return cli_usage_error("audit", usage_audit, "a bad --tenant, "
		    "--edge or --id");
	rc = socket_of("audit", usage_audit, &cl, &sock);
	if (rc != CLI_GO_ON)
		return rc;
	req = json_pack("{s:I, s:I}", "since", (json_int_t)since, "limit",
	    (json_int_t)limit);
	if (req != NULL && tenant != NULL)
		json_object_set_new(req, "tenant", json_string(tenant));
	if (req != NULL && edge != NULL)
		json_object_set_new(req, "edge", json_string(edge));
	if (req != NULL && id != NULL)
		json_object_set_new(req, "id", json_string(id));
	if (req == NULL) {
		free(sock);
		return cli_fail("audit", EXIT_FAIL, "out of memory");
	}
	rc = ask("audit", sock, "audit", req, &ans);
	json_decref(req);
	free(sock);
	if (ans == NULL)
		return rc;
	if (cl.json) {
		json_dumpf(ans, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		show_audit(json_object_get(ans, "instructions"));
	}
	json_decref(ans);
	return EXIT_OK;
}
