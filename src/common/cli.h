/*
 * Helpers shared by the subcommands' option parsing: the exit codes, the
 * usage error, and the options every command takes (-h, -v, -q).
 */
#ifndef ISTHMUS_CLI_H
#define ISTHMUS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#define EXIT_OK		0
#define EXIT_FAIL	1	/* the operation ran and said no */
#define EXIT_USAGE	2	/* bad usage or bad input; nothing was done */
/* What an option parser returns when it has no exit status to give: the
 * arguments are good and the command goes on. Every other return is the
 * exit status (EXIT_OK after --help). */
#define CLI_GO_ON	(-1)

/* Prints "isthmus CMD: message" and the usage text to stderr; returns
 * EXIT_USAGE. Control characters in the message (which may echo user
 * input) are escaped, so the message stays one line. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints "isthmus CMD: message" to stderr; returns code. */
int cli_fail(const char *cmd, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* getopt_long option letters every command accepts; the leading ':' makes
 * getopt report a missing value as ':' rather than '?'. */
#define CLI_COMMON_SHORT ":hvq"
#define CLI_COMMON_LONG \
	{ "help", no_argument, NULL, 'h' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "quiet", no_argument, NULL, 'q' }

/* The usage error for getopt's '?' or ':' result c. */
int cli_bad_option(const char *cmd, const char *usage, char **argv, int c);
/* Parses a daemon's "-c FILE [--check]" and the common options. Returns
 * CLI_GO_ON, or the exit code (0 after --help). */
int cli_daemon_args(int argc, char **argv, const char *cmd,
    const char *usage, const char **path, bool *check);
/* The same with another flag than --check (doctor's --json). */
int cli_config_args(int argc, char **argv, const char *cmd,
    const char *usage, const char *flag, const char **path, bool *flag_set);
/* Handles -v/-q (log level); whether c was one of them. */
bool cli_common_option(int c);
/* Resets getopt for a new argument vector. */
void cli_getopt_reset(void);

#endif
