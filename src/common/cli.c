/* What the subcommands share in parsing their options (cli.h). */
#include "common/cli.h"

#include <getopt.h>
#include <stdarg.h>

#include "common/log.h"

static void
print_message(const char *cmd, const char *fmt, va_list ap)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "isthmus %s", cmd);
	log_vplain(prefix, fmt, ap);
}

int
cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_message(cmd, fmt, ap);
	va_end(ap);
	fputs(usage, stderr);
	return EXIT_USAGE;
}

int
cli_fail(const char *cmd, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_message(cmd, fmt, ap);
	va_end(ap);
	return code;
}

int
cli_bad_option(const char *cmd, const char *usage, char **argv, int c)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		return cli_usage_error(cmd, usage, "option '%s' needs a value",
		    arg);
	if (optopt != 0)
		return cli_usage_error(cmd, usage, "unknown option '-%c'",
		    optopt);
	return cli_usage_error(cmd, usage, "unknown option '%s'", arg);
}

bool
cli_common_option(int c)
{
	enum log_level l = log_get_level();

	if (c == 'v') {
		if (l < LOG_DEBUG)
			log_set_level((enum log_level)(l + 1));
		return true;
	}
	if (c == 'q') {
		if (l > LOG_ERROR)
			log_set_level((enum log_level)(l - 1));
		return true;
	}
	return false;
}

void
cli_getopt_reset(void)
{
	optind = 0;	/* glibc: full re-initialisation */
	opterr = 0;	/* we print our own messages */
}

int
cli_daemon_args(int argc, char **argv, const char *cmd, const char *usage,
    const char **path, bool *check)
{
	return cli_config_args(argc, argv, cmd, usage, "check", path, check);
}

int
cli_config_args(int argc, char **argv, const char *cmd, const char *usage,
    const char *flag, const char **path, bool *flag_set)
{
	const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ flag, no_argument, NULL, 'C' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*path = NULL;
	*flag_set = false;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:", opts,
	    NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		case 'c': *path = optarg; break;
		case 'C': *flag_set = true; break;
		default:
			return cli_bad_option(cmd, usage, argv, c);
		}
	}
	if (*path == NULL)
		return cli_usage_error(cmd, usage, "-c FILE is required");
	if (optind != argc)
		return cli_usage_error(cmd, usage, "unexpected argument '%s'",
		    argv[optind]);
	return CLI_GO_ON;
}
