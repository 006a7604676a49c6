/*
 * isthmus queue: a person's look at the edge's store-and-forward queue
 * and decisions on it (docs/queue.md, "Operating it"). It asks the
 * running edge through its admin socket, whose queue thread does the
 * work; when no edge answers there, it opens the queue file itself, as
 * the edge would, holding STATE_DIR/queue.lock (refused while an edge
 * holds it). Either way the answer is the queue's JSON, printed as it
 * is (--json) or as text (queuetext.c).
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
#include "common/queuewords.h"
#include "edge/config.h"
#include "edge/queue/queue.h"
#include "queuetext.h"
#include "status.h"

static const char usage_queue[] =
"usage: isthmus queue -c FILE list [--dead] [--json]\n"
"       isthmus queue -c FILE show ID [--json]\n"
"       isthmus queue -c FILE retry ID | retry --dead\n"
"       isthmus queue -c FILE drop ID | drop --dead\n"
"\n"
"The edge's store-and-forward queue (STATE_DIR/queue.db): the requests\n"
"devices handed over that wait to be delivered, and the dead letters (the\n"
"backend refused them with a 4xx, they expired, or they were found\n"
"corrupt). It asks the running edge through its admin socket; when no\n"
"edge runs, it opens the queue file itself. Run it as the edge's user.\n"
"  list       the waiting requests, oldest first (--dead: the dead letters)\n"
"  show       one request: its fields (credentials hidden) and its body\n"
"             when it is text\n"
"  retry      a dead letter waits again, the next of its order to be sent\n"
"             (--dead: every dead letter)\n"
"  drop       deletes a request, waiting or dead, for good (--dead: every\n"
"             dead letter); the edge logs it with who did it\n"
"  -c, --config FILE  the edge.conf: its admin_socket and state_dir\n"
"  --dead             the dead letters\n"
"  --json             the answer as JSON (docs/queue.md)\n"
"Exit status: 0 done, 1 refused or failed (no such request, the queue\n"
"file held by a running edge, ...), 2 usage. See docs/queue.md.\n";

void
queue_usage(FILE *f)
{
	fputs(usage_queue, f);
}

struct queue_args {
	const char *conf;
	bool dead, json;
	const char *argv[QUEUE_WORDS_MAX + 1];
	size_t argc;
};

/* The command's words: the verb, an id, "dead" for --dead. */
static int
words(int argc, char **argv, struct queue_args *a)
{
	struct err e;

	if (optind >= argc)
		return cli_usage_error("queue", usage_queue, "say list, show, "
		    "retry or drop");
	a->argv[a->argc++] = argv[optind++];
	if (optind < argc) {
		/* only an id here: "dead" is said --dead, so a word in the
		 * wrong place never drops every dead letter */
		if (!queue_words_id(argv[optind]))
			return cli_usage_error("queue", usage_queue, "'%s' is "
			    "not a request id (a number from 1, as queue list "
			    "shows them)", argv[optind]);
		a->argv[a->argc++] = argv[optind++];
	}
	if (optind < argc)
		return cli_usage_error("queue", usage_queue, "unexpected "
		    "argument '%s'", argv[optind]);
	if (a->dead)
		a->argv[a->argc++] = QUEUE_WORD_DEAD;
	if (queue_words_check(a->argv, a->argc, &e) != 0)
		return cli_usage_error("queue", usage_queue, "%s", e.msg);
	return CLI_GO_ON;
}

static int
parse(int argc, char **argv, struct queue_args *a)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dead", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:", longs,
	    NULL)) != -1) {
		if (c == 'h') {
			queue_usage(stdout);
			return EXIT_OK;
		} else if (c == 'c') {
			a->conf = optarg;
		} else if (c == 'd') {
			a->dead = true;
		} else if (c == 'j') {
			a->json = true;
		} else if (!cli_common_option(c)) {
			return cli_bad_option("queue", usage_queue, argv, c);
		}
	}
	if (a->conf == NULL)
		return cli_usage_error("queue", usage_queue, "-c FILE is "
		    "needed (the edge.conf)");
	return words(argc, argv, a);
}

/* The edge's answer: its result, or why not on stderr. */
static int
edge_answer(const char *answer, size_t len, json_t **res)
{
	json_error_t jerr;
	json_t *err;
	int rc;

	/* an edge that does not know the request answers as it always did */
	if (strncmp(answer, "error: ", 7) == 0)
		return cli_fail("queue", EXIT_FAIL, "the edge says: %.*s",
		    (int)strcspn(answer + 7, "\n"), answer + 7);
	*res = json_loadb(answer, len, 0, &jerr);
	if (!json_is_object(*res)) {
		json_decref(*res);
		*res = NULL;
		return cli_fail("queue", EXIT_FAIL, "the edge's answer is not "
		    "a JSON object (%s): is it an older isthmus?", jerr.text);
	}
	if (!json_is_string(err = json_object_get(*res, "error")))
		return EXIT_OK;
	/* A file from when it queued may still be there: read as when no
	 * edge runs, so both ways say the same. */
	if (strcmp(json_string_value(err), SFQ_NONE) == 0) {
		json_decref(*res);
		*res = NULL;
		return CLI_GO_ON;
	}
	rc = cli_fail("queue", EXIT_FAIL, "%s", json_string_value(err));
	json_decref(*res);
	*res = NULL;
	return rc;
}

/* The running edge's answer: EXIT_OK and *res, or the exit status after
 * saying why; CLI_GO_ON when no edge listens on the socket, or it keeps
 * no queue. */
static int
ask_edge(const struct queue_args *a, const struct edge_conf *cf,
    json_t **res)
{
	char line[64], *answer;
	size_t i, n, len;
	struct err e;
	int rc;

	n = (size_t)snprintf(line, sizeof(line), "queue");
	for (i = 0; i < a->argc; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s",
		    a->argv[i]);
	rc = admin_query_buf(cf->admin_socket, line, &answer, &len, &e);
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		return CLI_GO_ON;
	if (rc != 0)
		return cli_fail("queue", EXIT_FAIL, "%s", e.msg);
	rc = edge_answer(answer, len, res);
	free(answer);
	return rc;
}

/* No edge runs: the queue file itself, as "local:USER". With no file
 * nothing was ever queued: list is empty, an id is no such request. */
static int
offline(const struct queue_args *a, const struct edge_conf *cf,
    json_t **res)
{
	char who[80];
	struct err e;

	admin_local_who(geteuid(), who, sizeof(who));
	if (sfq_exec_offline(cf, a->argv, a->argc, who, res, &e) != 0)
		return cli_fail("queue", EXIT_FAIL, "%s", e.msg);
	return EXIT_OK;
}

static int
print(const struct queue_args *a, json_t *res)
{
	if (!a->json) {
		queue_result_text(res, stdout);
		return EXIT_OK;
	}
	if (json_dumpf(res, stdout, JSON_INDENT(2)) != 0)
		return cli_fail("queue", EXIT_FAIL, "cannot write");
	putchar('\n');
	return EXIT_OK;
}

int
queue_main(int argc, char **argv)
{
	struct queue_args a;
	struct conf_errors errs;
	struct edge_conf *cf;
	json_t *res = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = parse(argc, argv, &a)) != CLI_GO_ON)
		return rc;
	if (edge_conf_load(a.conf, &cf, &errs) != 0) {
		conf_errors_report(&errs, "queue", false);
		return EXIT_USAGE;
	}
	rc = ask_edge(&a, cf, &res);
	if (rc == CLI_GO_ON)
		rc = offline(&a, cf, &res);
	edge_conf_free(cf);
	if (rc == EXIT_OK)
		rc = print(&a, res);
	json_decref(res);
	return rc;
}
