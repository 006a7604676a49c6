/*
 * isthmus cache: lists or purges a running edge's HTTP cache through its
 * admin socket (the edge does the work; this only asks).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/admin.h"
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

int
cache_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *conf = NULL, *verb, *url = NULL;
	char *conf_sock = NULL, *answer = NULL, cmd[1100];
	size_t len = 0;
	bool json = false;
	struct err e;
	FILE *f;
	int c, rc;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:s:", opts,
	    NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		switch (c) {
		case 'h':
			fputs(usage_cache, stdout);
			return EXIT_OK;
		case 's': sock = optarg; break;
		case 'c': conf = optarg; break;
		case 'j': json = true; break;
		default:
			return cli_bad_option("cache", usage_cache, argv, c);
		}
	}
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
	if ((sock == NULL) == (conf == NULL))
		return cli_usage_error("cache", usage_cache,
		    "give either --socket PATH or -c CONF");
	if (conf != NULL) {
		if (status_socket_from_conf(conf, &conf_sock) != 0)
			return EXIT_USAGE;
		sock = conf_sock;
	}
	snprintf(cmd, sizeof(cmd), "cache %s%s%s", verb,
	    json ? " json" : url != NULL ? " " : "", json ? "" : url != NULL ?
	    url : "");
	f = open_memstream(&answer, &len);
	rc = f != NULL ? admin_query(sock, cmd, f, &e) : -1;
	if (f != NULL)
		fclose(f);
	free(conf_sock);
	if (rc != 0) {
		free(answer);
		return cli_fail("cache", EXIT_FAIL, "%s", f != NULL ? e.msg :
		    "out of memory");
	}
	if (strncmp(answer, "error: ", 7) == 0) {
		fprintf(stderr, "isthmus cache: %s", answer + 7);
		free(answer);
		return EXIT_FAIL;
	}
	fputs(answer, stdout);
	free(answer);
	return EXIT_OK;
}
