/*
 * isthmus status: asks a running daemon over its admin socket what it is
 * doing (tunnels, streams, bytes, backends), as text or JSON.
 */
#include "status.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/config.h"
#include "common/admin.h"
#include "common/cli.h"
#include "edge/config.h"

static const char usage_status[] =
"usage: isthmus status (--socket PATH | -c CONF) [--json]\n"
"\n"
"Asks a running daemon through its admin socket (admin_socket in its\n"
"config; owner-only, so run it as the daemon's user).\n"
"A cloud gateway shows its tunnels (edge, tenant, peer, uptime, open\n"
"streams, bytes each way) and its services' backends (health, active\n"
"connections). An edge shows who it is, its tunnel (up, or why not and\n"
"when it tries again) and its listeners' devices.\n"
"  -c, --config CONF  a cloud.conf or edge.conf: the socket is read from it\n"
"  --socket PATH      the admin socket itself\n"
"  --json             machine-readable output\n";

int
status_socket_from_conf(const char *path, char **out)
{
	static const char *const kinds[] = { "cloud", "edge" };
	struct conf_errors errs;
	struct cloud_conf *cc = NULL;
	struct edge_conf *ec = NULL;
	int kind;

	kind = conf_file_kind(path, kinds, 2, &errs);
	if (kind == -ENOENT) {
		cli_fail("status", EXIT_USAGE, "%s has neither a [cloud] nor an "
		    "[edge] section", path);
		return kind;
	}
	if (kind < 0 || (kind == 0 ? cloud_conf_load(path, &cc, &errs) :
	    edge_conf_load(path, &ec, &errs)) != 0) {
		conf_errors_report(&errs, "status", false);
		return kind < 0 ? kind : -EINVAL;
	}
	*out = strdup(kind == 0 ? cc->admin_socket : ec->admin_socket);
	cloud_conf_unref(cc);
	edge_conf_free(ec);
	return *out != NULL ? 0 : -ENOMEM;
}

void
status_usage(FILE *f)
{
	fputs(usage_status, f);
}

int
status_client_args(const char *cmd, const char *usage, int argc,
    char **argv, bool *json, char **sock)
{
	return status_client_args_fleet(cmd, usage, argc, argv, json, sock,
	    NULL, NULL);
}

int
status_client_args_fleet(const char *cmd, const char *usage, int argc,
    char **argv, bool *json, char **sock, const char **tenant,
    const char **history)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "tenant", required_argument, NULL, 't' },
		{ "history", required_argument, NULL, 'H' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *conf = NULL;
	int c;

	*json = false;
	*sock = NULL;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:s:", opts,
	    NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		case 's': path = optarg; break;
		case 'c': conf = optarg; break;
		case 'j': *json = true; break;
		case 't':
		case 'H':
			if ((c == 't' ? tenant : history) == NULL)
				return cli_usage_error(cmd, usage,
				    "unknown option '--%s'", c == 't' ?
				    "tenant" : "history");
			*(c == 't' ? tenant : history) = optarg;
			break;
		default:
			return cli_bad_option(cmd, usage, argv, c);
		}
	}
	if ((path == NULL) == (conf == NULL))
		return cli_usage_error(cmd, usage,
		    "give either --socket PATH or -c CONF");
	if (conf != NULL)
		return status_socket_from_conf(conf, sock) == 0 ? CLI_GO_ON :
		    EXIT_USAGE;
	*sock = strdup(path);
	return *sock != NULL ? CLI_GO_ON : EXIT_FAIL;
}

int
status_main(int argc, char **argv)
{
	char *sock;
	bool json;
	struct err e;
	int rc;

	rc = status_client_args("status", usage_status, argc, argv, &json,
	    &sock);
	if (rc != CLI_GO_ON)
		return rc;
	if (optind != argc) {
		free(sock);
		return cli_usage_error("status", usage_status,
		    "status takes no arguments besides its options");
	}
	rc = admin_query(sock, json ? "status json" : "status", stdout, &e);
	if (rc != 0)
		cli_fail("status", EXIT_FAIL, "%s", e.msg);
	free(sock);
	return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

int
status_ask(const char *cmd, const char *sock, const char *request)
{
	char *answer;
	size_t len;
	struct err e;

	if (admin_query_buf(sock, request, &answer, &len, &e) != 0)
		return cli_fail(cmd, EXIT_FAIL, "%s", e.msg);
	if (strncmp(answer, "error: ", 7) == 0) {
		fprintf(stderr, "isthmus %s: %s", cmd, answer + 7);
		free(answer);
		return EXIT_FAIL;
	}
	fputs(answer, stdout);
	free(answer);
	return EXIT_OK;
}
