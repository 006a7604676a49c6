#include "common/cli.h"

#include <getopt.h>
#include <stdarg.h>

#include "common/log.h"

int
cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "isthmus %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	return EXIT_USAGE;
}

int
cli_fail(const char *cmd, int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "isthmus %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
cli_common_option(int c)
{
	enum log_level l = log_get_level();

	if (c == 'v') {
		if (l < LOG_DEBUG)
			log_set_level((enum log_level)(l + 1));
		return 1;
	}
	if (c == 'q') {
		if (l > LOG_ERROR)
			log_set_level((enum log_level)(l - 1));
		return 1;
	}
	return 0;
}

void
cli_getopt_reset(void)
{
	optind = 0;	/* glibc: full re-initialisation */
	opterr = 0;	/* we print our own messages */
}
