/*
 * isthmus trust: a person's look at the edge's trust store and decisions
 * on it (docs/trust.md, "Deciding"). It opens the store's file itself,
 * whether the edge runs or not (a running edge notices within a second),
 * and never creates it: only the edge learns.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/admin.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "edge/config.h"
#include "edge/trust/tstore.h"
#include "status.h"
#include "trusttext.h"

static const char usage_trust[] =
"usage: isthmus trust -c FILE list [--pending] [--json]\n"
"       isthmus trust -c FILE show ID [--json]\n"
"       isthmus trust -c FILE approve ID --fingerprint sha256:HEX\n"
"       isthmus trust -c FILE approve --from LIST\n"
"       isthmus trust -c FILE reject ID\n"
"       isthmus trust -c FILE forget ID\n"
"\n"
"The edge's trust store (STATE_DIR/trust.db): the certificates of devices\n"
"without a CA, learned on first contact, that wait for a person. Run it as\n"
"the edge's user; a running edge sees a decision within a second.\n"
"  list       every entry, one line each (--pending: pending and changed)\n"
"  show       one entry in full, with its certificate in PEM\n"
"  approve    trust that certificate from now on; --fingerprint must be\n"
"             the entry's (as show prints it), so you approve what you saw\n"
"             --from LIST: each line of LIST that starts with an id and\n"
"             names a sha256: fingerprint (list --pending's lines, kept\n"
"             for the devices you checked; - reads stdin)\n"
"  reject     refuse that certificate from now on (an approved one too)\n"
"  forget     delete the entry: the next contact learns the device again\n"
"  -c, --config FILE  the edge.conf: its state_dir holds the store\n"
"  --json             the answer as JSON (docs/trust.md, \"JSON\")\n"
"Exit status: 0 done, 1 refused or failed, 2 usage. See docs/trust.md.\n";

void
trust_usage(FILE *f)
{
	fputs(usage_trust, f);
}

struct trust_args {
	const char *conf, *fingerprint, *from;
	bool pending, json;
	const char *argv[3];
	size_t argc;
};

static int
parse(int argc, char **argv, struct trust_args *a)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pending", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'F' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *verb;
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:", longs,
	    NULL)) != -1) {
		if (c == 'h') {
			trust_usage(stdout);
			return EXIT_OK;
		} else if (c == 'c') {
			a->conf = optarg;
		} else if (c == 'p') {
			a->pending = true;
		} else if (c == 'j') {
			a->json = true;
		} else if (c == 'f') {
			a->fingerprint = optarg;
		} else if (c == 'F') {
			a->from = optarg;
		} else if (!cli_common_option(c)) {
			return cli_bad_option("trust", usage_trust, argv, c);
		}
	}
	if (a->conf == NULL)
		return cli_usage_error("trust", usage_trust, "-c FILE is "
		    "needed (the edge.conf)");
	if (optind >= argc)
		return cli_usage_error("trust", usage_trust, "say list, show, "
		    "approve, reject or forget");
	verb = argv[optind++];
	a->argv[a->argc++] = verb;
	if (strcmp(verb, "list") == 0) {
		if (a->pending)
			a->argv[a->argc++] = "pending";
	} else if (strcmp(verb, "approve") == 0 && a->from != NULL) {
		if (a->json || a->pending)
			return cli_usage_error("trust", usage_trust, "--json "
			    "and --pending do not go with approve");
		if (a->fingerprint != NULL || optind != argc)
			return cli_usage_error("trust", usage_trust, "approve "
			    "--from LIST takes the ids and fingerprints from "
			    "LIST alone");
		return CLI_GO_ON;
	} else if (strcmp(verb, "show") == 0 || strcmp(verb, "approve") == 0 ||
	    strcmp(verb, "reject") == 0 || strcmp(verb, "forget") == 0) {
		if (optind >= argc)
			return cli_usage_error("trust", usage_trust, "%s needs "
			    "an entry id (isthmus trust list shows them)", verb);
		a->argv[a->argc++] = argv[optind++];
	} else {
		return cli_usage_error("trust", usage_trust, "'%s' is not a "
		    "trust command", verb);
	}
	if (optind != argc)
		return cli_usage_error("trust", usage_trust, "unexpected "
		    "argument '%s'", argv[optind]);
	if ((a->fingerprint != NULL) != (strcmp(verb, "approve") == 0))
		return cli_usage_error("trust", usage_trust, "approve, and "
		    "only approve, needs --fingerprint sha256:HEX");
	if (a->fingerprint != NULL)
		a->argv[a->argc++] = a->fingerprint;
	if (a->from != NULL)
		return cli_usage_error("trust", usage_trust, "--from goes "
		    "with approve");
	if (a->pending && strcmp(verb, "list") != 0)
		return cli_usage_error("trust", usage_trust, "--pending goes "
		    "with list");
	if (a->json && strcmp(verb, "list") != 0 && strcmp(verb, "show") != 0)
		return cli_usage_error("trust", usage_trust, "--json goes "
		    "with list or show");
	return CLI_GO_ON;
}

/* The store's path, from the configuration's state_dir. */
static int
store_path(const char *conf, char **path)
{
	struct conf_errors errs;
	struct edge_conf *cf;

	if (edge_conf_load(conf, &cf, &errs) != 0) {
		conf_errors_report(&errs, "trust", false);
		return EXIT_USAGE;
	}
	*path = edge_trust_path(cf);
	edge_conf_free(cf);
	if (*path == NULL)
		return cli_fail("trust", EXIT_FAIL, "out of memory");
	return CLI_GO_ON;
}

/* A decision's log line, on stderr (the edge's thread logs its own). */
static void
log_decision(json_t *res, const char *who)
{
	json_t *ent = json_object_get(res, "entry");

	log_info("trust", "trust_decision", "id=%lld action=%s peer=%s "
	    "fingerprint=%s by=%s",
	    (long long)json_integer_value(json_object_get(ent, "id")),
	    trust_text_field(res, "action"), trust_text_field(ent, "peer"),
	    trust_text_field(ent, "cert_sha256"), who);
}

static int
answer(const struct trust_args *a, json_t *res, const char *who)
{
	if (a->json) {
		if (json_dumpf(res, stdout, JSON_INDENT(2)) != 0)
			return cli_fail("trust", EXIT_FAIL, "cannot write");
		putchar('\n');
	} else {
		if (strcmp(a->argv[0], "list") != 0 &&
		    strcmp(a->argv[0], "show") != 0)
			log_decision(res, who);
		trust_result_text(res, stdout);
	}
	return EXIT_OK;
}

/* No store yet: nothing was learned, so nothing to decide. */
static int
no_store(const struct trust_args *a, const char *path)
{
	if (strcmp(a->argv[0], "list") != 0)
		return cli_fail("trust", EXIT_FAIL, "no trust store yet at "
		    "%s: nothing learned, nothing to decide", path);
	if (a->json)
		printf("{\"entries\": [], \"counts\": {\"pending\": 0, "
		    "\"approved\": 0, \"rejected\": 0, \"changed\": 0}}\n");
	else
		printf("no trust store yet at %s: nothing learned\n", path);
	return EXIT_OK;
}

/* One line of an approval list: its id (the first word, digits) and the
 * first word that starts with sha256:. 1: that; 0: a line to pass over
 * (a blank, a # comment, list's counts "4 pending, 0 approved, ...");
 * -1: an entry's line (its second word a state, as list prints it)
 * without a fingerprint; -2: anything else (a line mangled while the
 * list was edited: said, not passed over in silence). */
static int
list_line(char *line, const char **id, const char **fp)
{
	static const char *const states[] = { "pending", "approved",
		"rejected", "changed", NULL };
	char *save = NULL, *w;
	bool entry = false, counts;
	size_t k, n = 0;

	*id = *fp = NULL;
	counts = strstr(line, " pending, ") != NULL;
	w = strtok_r(line, " \t\r\n", &save);
	if (w == NULL || w[0] == '#')
		return 0;
	if (strspn(w, "0123456789") != strlen(w))
		return -2;
	*id = w;
	while ((w = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		if (strncmp(w, "sha256:", 7) == 0) {
			*fp = w;
			return 1;
		}
		if (n++ == 0)	/* the second word */
			for (k = 0; states[k] != NULL; k++)
				entry |= strcmp(w, states[k]) == 0;
	}
	return entry ? -1 : counts ? 0 : -2;
}

/* approve --from LIST: each entry it names, with the fingerprint it
 * names; the others go on when one is refused. */
static int
approve_from(const struct trust_args *a, struct tstore *s, const char *who)
{
	FILE *in = strcmp(a->from, "-") == 0 ? stdin : fopen(a->from, "r");
	char *line = NULL;
	size_t cap = 0, done = 0, failed = 0, lineno = 0;
	struct err e;
	int rc;

	if (in == NULL)
		return cli_fail("trust", EXIT_FAIL, "%s: %s", a->from,
		    strerror(errno));
	while (getline(&line, &cap, in) >= 0) {
		const char *args[3] = { "approve", NULL, NULL };
		json_t *res = NULL;

		lineno++;
		rc = list_line(line, &args[1], &args[2]);
		if (rc == 0)
			continue;
		if (rc == -2) {
			fprintf(stderr, "isthmus trust: %s:%zu: not a line of "
			    "isthmus trust list (ID STATE ... sha256:...): "
			    "nothing approved for it\n", a->from, lineno);
			failed++;
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "isthmus trust: %s:%zu: entry %s names "
			    "no sha256: fingerprint: not approved\n", a->from,
			    lineno, args[1]);
			failed++;
			continue;
		}
		rc = trust_command(s, args, 3, who, SIZE_MAX, &res, &e);
		if (rc == 0) {
			log_decision(res, who);
			trust_result_text(res, stdout);
			json_decref(res);
			done++;
		} else if (rc == -EALREADY) {
			printf("%s: nothing changed\n", e.msg);
		} else {
			fprintf(stderr, "isthmus trust: %s:%zu: %s\n",
			    a->from, lineno, e.msg);
			failed++;
		}
	}
	free(line);
	if (in != stdin)
		fclose(in);
	printf("%zu approved, %zu refused\n", done, failed);
	return failed > 0 ? EXIT_FAIL : EXIT_OK;
}

static int
run(const struct trust_args *a, const char *path)
{
	struct tstore *s;
	char who[TRUST_BY_MAX];
	json_t *res = NULL;
	struct err e;
	int rc;

	rc = tstore_open(path, false, &s, &e);
	if (rc == -ENOENT)
		return no_store(a, path);
	if (rc != 0)
		return cli_fail("trust", EXIT_FAIL, "%s", e.msg);
	admin_local_who(geteuid(), who, sizeof(who));
	if (a->from != NULL) {
		rc = approve_from(a, s, who);
		tstore_close(s);
		return rc;
	}
	rc = trust_command(s, a->argv, a->argc, who, SIZE_MAX, &res, &e);
	tstore_close(s);
	if (rc == -EALREADY) {
		printf("%s: nothing changed\n", e.msg);
		return EXIT_OK;
	}
	if (rc != 0)
		return cli_fail("trust", rc == -EINVAL ? EXIT_USAGE : EXIT_FAIL,
		    "%s", e.msg);
	rc = answer(a, res, who);
	json_decref(res);
	return rc;
}

int
trust_main(int argc, char **argv)
{
	struct trust_args a;
	char *path = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = parse(argc, argv, &a)) != CLI_GO_ON)
		return rc;
	if ((rc = store_path(a.conf, &path)) != CLI_GO_ON)
		return rc;
	rc = run(&a, path);
	free(path);
	return rc;
}
