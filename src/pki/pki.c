/*
 * "isthmus pki": the subcommand table, which drives dispatch and help. The
 * subcommands live in their own files and share opts.c's option parser.
 */
#include "pki/pki.h"

#include <string.h>

#include "common/cli.h"
#include "common/log.h"

static const struct {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
} pki_commands[] = {
	{ "init", "create a root CA", pki_cmd_init },
	{ "intermediate", "create an issuing CA signed by a root",
	    pki_cmd_intermediate },
	{ "issue", "issue an edge, cloud or device certificate",
	    pki_cmd_issue },
	{ "revoke", "revoke a certificate and re-sign the CRL",
	    pki_cmd_revoke },
	{ "crl", "re-sign the CRL with a new next update", pki_cmd_crl },
	{ "show", "print a certificate's fields, identities and pins",
	    pki_cmd_show },
	{ "verify", "check a certificate against a CA and its CRL",
	    pki_cmd_verify },
};

#define NCOMMANDS (sizeof(pki_commands) / sizeof(pki_commands[0]))

void
pki_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: isthmus pki COMMAND [ARGS]\n\n"
	    "An offline CA for isthmus: Ed25519 by default, standard X.509\n"
	    "and PEM that openssl and other tools accept.\n\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-13s %s\n", pki_commands[i].name,
		    pki_commands[i].summary);
	fprintf(f, "\nisthmus pki COMMAND --help shows each command's "
	    "options.\n");
}

int
pki_main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "isthmus pki: missing command\n");
		pki_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		pki_usage(stdout);
		return EXIT_OK;
	}
	/* The summary on stdout is the result; log events (-v) are for
	 * audit trails and scripts. */
	log_set_level(LOG_WARN);
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], pki_commands[i].name) == 0)
			return pki_commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "isthmus pki: unknown command '%s'\n", argv[1]);
	pki_usage(stderr);
	return EXIT_USAGE;
}
