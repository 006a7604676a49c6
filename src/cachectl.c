/*
 * isthmus cache: lists or purges a running edge's HTTP cache through its
 * admin socket (the edge does the work; this only asks).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "status.h"

static const char usage_cache[] =
"usage: isthmus cache list (-c CONF | --socket PATH) [--json]\n"
"       isthmus cache purge [URL] (-c CONF | --socket PATH)\n"
"\n"
"Asks a running edge through its admin socket (admin_socket in edge.conf;\n"
"owner-only, so run it as the edge's user).\n"
"  list    every entry: fresh, stale or being fetched, status, bytes, age,\n"
"          how long it stays fresh, hits, URL and service\n"
"  purge   drops entries from memory and disk: the URL as list shows it\n"
"          (http://host/path), a path (/fw/phone.bin: any host), or all\n"
"          entries without URL. Devices reading one finish their copy.\n"
"  -c, --config CONF  the edge.conf: the socket is read from it\n"
"  --socket PATH      the admin socket itself\n"
"  --json             list as JSON\n";

void
cache_usage(FILE *f)
{
	fputs(usage_cache, f);
}

/* The request line for the edge (CLI_GO_ON), or the exit status of a
 * usage error. */
static int
cache_request(int argc, char **argv, bool json, char *cmd, size_t cap)
{
	const char *verb, *url = NULL;

	if (optind >= argc)
		return cli_usage_error("cache", usage_cache,
		    "say list or purge");
	verb = argv[optind++];
	if (strcmp(verb, "purge") == 0 && optind < argc)
		url = argv[optind++];
	if ((strcmp(verb, "list") != 0 && strcmp(verb, "purge") != 0) ||
	    optind != argc)
		return cli_usage_error("cache", usage_cache,
		    "say list, or purge with at most one URL");
	if (json && strcmp(verb, "list") != 0)
		return cli_usage_error("cache", usage_cache,
		    "--json goes with list");
	if (url != NULL && (strlen(url) > 1024 || strpbrk(url, " \t\r\n") !=
	    NULL || url[0] == '\0'))
		return cli_usage_error("cache", usage_cache,
		    "a URL has no spaces and at most 1024 bytes");
	snprintf(cmd, cap, "cache %s%s%s", verb, json ? " json" : url != NULL ?
	    " " : "", json ? "" : url != NULL ? url : "");
	return CLI_GO_ON;
}

int
cache_main(int argc, char **argv)
{
	char *sock, cmd[1100];
	bool json;
	int rc;

	rc = status_client_args("cache", usage_cache, argc, argv, &json,
	    &sock);
	if (rc != CLI_GO_ON)
		return rc;
	rc = cache_request(argc, argv, json, cmd, sizeof(cmd));
	if (rc != CLI_GO_ON) {
		free(sock);
		return rc;
	}
	rc = status_ask("cache", sock, cmd);
	free(sock);
	return rc;
}
