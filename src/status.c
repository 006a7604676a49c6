/*
 * isthmus status: asks a running daemon over its admin socket what it is
 * doing (tunnels, streams, bytes, backends), as text or JSON.
 */
#include "status.h"

#include <getopt.h>
#include <stdbool.h>
#include <string.h>

#include "cloud/config.h"
#include "common/admin.h"
#include "common/cli.h"

static const char usage_status[] =
"usage: isthmus status (--socket PATH | -c CLOUD.CONF) [--json]\n"
"\n"
"Shows a running cloud gateway's tunnels (edge, tenant, peer, uptime,\n"
"open streams, bytes each way) and its services' backends (health,\n"
"active connections), read from its admin socket (admin_socket in the\n"
"config; owner-only, so run it as the daemon's user).\n";

void
status_usage(FILE *f)
{
	fputs(usage_status, f);
}

int
status_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *conf = NULL;
	struct cloud_conf *cf = NULL;
	struct conf_errors errs;
	bool json = false;
	struct err e;
	int c, rc;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:s:", opts,
	    NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		switch (c) {
		case 'h':
			fputs(usage_status, stdout);
			return EXIT_OK;
		case 's': sock = optarg; break;
		case 'c': conf = optarg; break;
		case 'j': json = true; break;
		default:
			return cli_bad_option("status", usage_status, argv, c);
		}
	}
	if (optind != argc || (sock == NULL) == (conf == NULL))
		return cli_usage_error("status", usage_status,
		    "give either --socket PATH or -c CLOUD.CONF");
	if (conf != NULL) {
		if (cloud_conf_load(conf, &cf, &errs) != 0) {
			conf_errors_print(&errs, stderr);
			return EXIT_USAGE;
		}
		sock = cf->admin_socket;
	}
	rc = admin_query(sock, json ? "status json" : "status", stdout, &e);
	if (rc != 0)
		cli_fail("status", EXIT_FAIL, "%s", e.msg);
	cloud_conf_unref(cf);
	return rc == 0 ? EXIT_OK : EXIT_FAIL;
}
