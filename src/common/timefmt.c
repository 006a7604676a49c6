/*
 * Times as text (timefmt.h).
 */
#include "common/timefmt.h"

#include <stdio.h>

/* Each style's strftime format, written out at its call so the compiler
 * checks it (-Wformat=2 refuses a format chosen at run time). */
void
time_format_tm(const struct tm *tm, enum time_style s, char *buf, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return;
	switch (s) {
	case TIME_ISO:
		n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", tm);
		break;
	case TIME_TEXT:
		n = strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", tm);
		break;
	case TIME_HTTP:
		n = strftime(buf, cap, "%a, %d %b %Y %H:%M:%S GMT", tm);
		break;
	}
	if (n == 0)
		snprintf(buf, cap, "-");
}

void
time_format(int64_t t, enum time_style s, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL) {
		if (cap > 0)
			snprintf(buf, cap, "-");
		return;
	}
	time_format_tm(&tm, s, buf, cap);
}

void
time_format_ms(const struct timespec *ts, char *buf, size_t cap)
{
	char day[TIME_TEXT_MAX];
	struct tm tm;

	if (gmtime_r(&ts->tv_sec, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		if (cap > 0)
			snprintf(buf, cap, "-");
		return;
	}
	snprintf(buf, cap, "%s.%03ldZ", day, ts->tv_nsec / 1000000);
}
