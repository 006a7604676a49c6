/*
 * The one place isthmus turns a time into text. Every time it prints is
 * UTC; the style says for whom: machines (logs, JSON, status), people
 * (doctor's report) or HTTP (Date, Last-Modified).
 */
#ifndef ISTHMUS_TIMEFMT_H
#define ISTHMUS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum time_style {
	TIME_ISO,	/* 2026-12-02T10:35:56Z (RFC 3339) */
	TIME_TEXT,	/* 2026-12-02 10:35:56 UTC */
	TIME_HTTP,	/* Wed, 02 Dec 2026 10:35:56 GMT (RFC 9110 5.6.7) */
};

/* The longest text any style writes, with its NUL. */
#define TIME_TEXT_MAX 40

/* Writes t, seconds since the epoch, in style s into buf; "-" when t is
 * outside what the C library can break down. */
void time_format(int64_t t, enum time_style s, char *buf, size_t cap);
/* The same for a broken-down UTC time (e.g. from ASN1_TIME_to_tm). */
void time_format_tm(const struct tm *tm, enum time_style s, char *buf,
    size_t cap);
/* TIME_ISO with milliseconds, 2026-12-02T10:35:56.123Z: the log stamp. */
void time_format_ms(const struct timespec *ts, char *buf, size_t cap);

#endif
