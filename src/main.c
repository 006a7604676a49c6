/*
 * isthmus: one binary, one command table. The table drives dispatch and
 * "isthmus help"; each command parses its own options and answers --help.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#include "common/cli.h"
#include "common/loglimit.h"
#include "cloud/cloud.h"
#include "edge/doctor/doctor.h"
#include "edge/edge.h"
#include "pki/pki.h"
#include "status.h"

/* libevent's messages: 20 at once, then 10 a second. */
#define LIBEVENT_LOG_BURST	20
#define LIBEVENT_LOG_PER_SEC	10

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *f);
};

static const struct command commands[] = {
	{ "audit", "show the cloud's audit log of instructions to edges",
	    audit_main, audit_usage },
	{ "cache", "list or purge a running edge's HTTP cache", cache_main,
	    cache_usage },
	{ "cloud", "run the multi-tenant cloud gateway", cloud_main,
	    cloud_usage },
	{ "doctor", "check step by step that an edge reaches its cloud",
	    doctor_main, doctor_usage },
	{ "edge", "run the site gateway that carries devices to the cloud",
	    edge_main, edge_usage },
	{ "edges", "list the cloud's fleet registry: every edge, up or down",
	    edges_main, edges_usage },
	{ "manage", "send an instruction to an edge through the cloud",
	    manage_main, manage_usage },
	{ "pki", "create CAs; issue, revoke, show and verify certificates",
	    pki_main, pki_usage },
	{ "queue", "list, retry or drop the requests an edge keeps to "
	    "deliver", queue_main, queue_usage },
	{ "readiness", "report the sites' network readiness tests (text, "
	    "JSON, HTML)", readiness_main, readiness_usage },
	{ "status", "show a running gateway's tunnels, streams and backends",
	    status_main, status_usage },
	{ "trust", "list, approve or reject the devices an edge learned",
	    trust_main, trust_usage },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: isthmus COMMAND [ARGS]\n"
	    "       isthmus help [COMMAND]\n"
	    "       isthmus --version\n\n"
	    "isthmus carries IoT sites' device traffic to a multi-tenant "
	    "cloud\ngateway over one mutually authenticated TLS 1.3 tunnel.\n\n"
	    "Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(f, "\nEvery command takes --help, -v (more log) and -q (less)."
	    "\nExit status: 0 ok, 1 the operation failed, 2 bad usage or "
	    "input.\n");
}

static const struct command *
find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct command *cmd;

	/* The gateways free and reallocate buffers of tens of KB at every
	 * burst; glibc would give the top of the heap back each time and
	 * fault it in again (8% of a relay's CPU in a profile), and serve
	 * a 128 KB read buffer with mmap and munmap every time. Keep a few
	 * MB of freed heap instead. */
	mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	mallopt(M_TOP_PAD, 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	/* No library writes to the log but through it, within a limit. */
	log_limit_libevent(LIBEVENT_LOG_BURST, LIBEVENT_LOG_PER_SEC);

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("isthmus %s\n", ISTHMUS_VERSION);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc < 3) {
			usage(stdout);
			return EXIT_OK;
		}
		cmd = find(argv[2]);
		if (cmd == NULL) {
			fprintf(stderr, "isthmus: unknown command '%s'\n",
			    argv[2]);
			usage(stderr);
			return EXIT_USAGE;
		}
		cmd->usage(stdout);
		return EXIT_OK;
	}
	cmd = find(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "isthmus: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}
