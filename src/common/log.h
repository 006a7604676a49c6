/*
 * One line per event on stderr, as key=value pairs:
 *
 *   ts=2026-11-23T10:00:00.123Z level=info sub=pki event=issued serial=…
 *
 * The format argument is printf-like but every %s substitution is quoted and
 * escaped when it needs to be, so a value that came from a peer can never
 * forge a key or a second line. Only these conversions are accepted:
 * %s %d %i %u %x %ld %lu %lld %llu %zu %jd %ju %%. Never pass secrets.
 */
#ifndef ISTHMUS_LOG_H
#define ISTHMUS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Messages above level are dropped. Default LOG_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* For tests: write to f instead of stderr (NULL restores stderr). */
void log_set_stream(FILE *f);

void log_emit(enum log_level level, const char *sub, const char *event,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_vemit(enum log_level level, const char *sub, const char *event,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* A line for a person, not a program: "PREFIX: text" (text alone when
 * prefix is NULL), with control characters escaped so that nothing a file
 * name or a peer held can start a second line. The command-line tools'
 * messages (cli.h) and a daemon's errors before it runs. */
void log_vplain(const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* An error in what a daemon was given (its configuration, a key, an
 * address it cannot listen on). Before the daemon runs (running false:
 * --check, or a start that fails) it is for a person at a terminal: one
 * plain line, "FILE:LINE: text" or "isthmus edge: text", as `nginx -t`
 * prints them. Once it runs (a reload), stderr is its log and the same
 * text is the event `event=config_error error="..."` of sub. */
void log_config_error(const char *sub, bool running, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends value to buf (at *len, capacity cap) quoted the way the log line
 * would quote it; used by the formatter and by tests. */
void log_quote(char *buf, size_t cap, size_t *len, const char *value);

#define log_error(sub, ev, ...) log_emit(LOG_ERROR, sub, ev, __VA_ARGS__)
#define log_warn(sub, ev, ...)  log_emit(LOG_WARN, sub, ev, __VA_ARGS__)
#define log_info(sub, ev, ...)  log_emit(LOG_INFO, sub, ev, __VA_ARGS__)
#define log_debug(sub, ev, ...) log_emit(LOG_DEBUG, sub, ev, __VA_ARGS__)

#endif
