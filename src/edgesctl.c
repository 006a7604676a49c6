/*
 * isthmus edges: the cloud's fleet registry, every edge it ever admitted,
 * up or down, through its admin socket (the cloud reads its state store;
 * this only asks).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/names.h"
#include "status.h"

static const char usage_edges[] =
"usage: isthmus edges (-c CONF | --socket PATH) [--tenant T] [--json]\n"
"\n"
"Every edge the cloud has admitted, up or down: its tenant, since when it\n"
"is up, when it was last seen and from where, its certificate's serial\n"
"and end, and why it last went down. Needs `state` in cloud.conf.\n"
"  -c, --config CONF  the cloud.conf: the socket is read from it\n"
"  --socket PATH      the admin socket itself\n"
"  --tenant T         that tenant's edges only\n"
"  --json             as JSON\n";

void
edges_usage(FILE *f)
{
	fputs(usage_edges, f);
}

int
edges_main(int argc, char **argv)
{
	const char *tenant = NULL;
	char *sock, cmd[NAME_MAX_LEN + 16];
	bool json;
	int rc;

	rc = status_client_args_tenant("edges", usage_edges, argc, argv, &json,
	    &sock, &tenant);
	if (rc != CLI_GO_ON)
		return rc;
	if (optind != argc || (tenant != NULL && !name_valid(tenant))) {
		free(sock);
		return cli_usage_error("edges", usage_edges, optind != argc ?
		    "unexpected argument '%s'" : "'%s' is not a tenant name",
		    optind != argc ? argv[optind] : tenant);
	}
	snprintf(cmd, sizeof(cmd), "edges%s%s%s", json ? " json" : "",
	    tenant != NULL ? " " : "", tenant != NULL ? tenant : "");
	rc = status_ask("edges", sock, cmd);
	free(sock);
	return rc;
}
