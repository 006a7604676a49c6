/*
 * isthmus edges: the cloud's fleet registry, every edge it ever admitted,
 * up or down, through its admin socket (the cloud reads its state store;
 * this only asks).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/names.h"
#include "status.h"

static const char usage_edges[] =
"usage: isthmus edges (-c CONF | --socket PATH) [--tenant T] [--json]\n"
"       isthmus edges (-c CONF | --socket PATH) --history EDGE [--tenant T]\n"
"                     [--json]\n"
"\n"
"Every edge the cloud has admitted, up or down: its tenant, since when it\n"
"is up, when it was last seen and from where, its certificate's serial\n"
"and end, and why it last went down. Needs `state` in cloud.conf.\n"
"  -c, --config CONF  the cloud.conf: the socket is read from it\n"
"  --socket PATH      the admin socket itself\n"
"  --tenant T         that tenant's edges only\n"
"  --history EDGE     that edge's last connects and disconnects, newest\n"
"                     first (--tenant T for an edge no longer configured)\n"
"  --json             as JSON\n";

void
edges_usage(FILE *f)
{
	fputs(usage_edges, f);
}

int
edges_main(int argc, char **argv)
{
	const char *tenant = NULL, *history = NULL;
	char *sock, cmd[2 * NAME_MAX_LEN + 32];
	bool json;
	int rc;

	rc = status_client_args_fleet("edges", usage_edges, argc, argv, &json,
	    &sock, &tenant, &history);
	if (rc != CLI_GO_ON)
		return rc;
	if (optind != argc) {
		free(sock);
		return cli_usage_error("edges", usage_edges,
		    "unexpected argument '%s'", argv[optind]);
	}
	if ((tenant != NULL && !name_valid(tenant)) ||
	    (history != NULL && !name_valid(history))) {
		free(sock);
		return cli_usage_error("edges", usage_edges, "'%s' is not %s "
		    "name", tenant != NULL && !name_valid(tenant) ? tenant :
		    history, tenant != NULL && !name_valid(tenant) ?
		    "a tenant" : "an edge");
	}
	snprintf(cmd, sizeof(cmd), "edges%s%s%s%s%s", history != NULL ?
	    " history" : "", json ? " json" : "", history != NULL ? " " : "",
	    history != NULL ? history : "", tenant != NULL ? " " : "");
	if (tenant != NULL)
		strncat(cmd, tenant, sizeof(cmd) - strlen(cmd) - 1);
	rc = status_ask("edges", sock, cmd);
	free(sock);
	return rc;
}
