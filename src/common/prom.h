/*
 * A writer for the Prometheus text exposition format (version 0.0.4), as
 * served on /metrics: one HELP and TYPE line per family, then its samples.
 * Label values are escaped (backslash, double quote, newline), so a name
 * that came from a config or a peer cannot break the format.
 */
#ifndef ISTHMUS_PROM_H
#define ISTHMUS_PROM_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* type: "counter" or "gauge". */
void prom_family(FILE *f, const char *name, const char *type,
    const char *help);
/* labels: NULL, or a NULL-terminated array of name, value pairs, e.g.
 * (const char *[]){ "tenant", "A", NULL }. */
void prom_sample(FILE *f, const char *name, const char *const *labels,
    uint64_t value);
/* isthmus_build_info{role,version} and isthmus_start_time_seconds, which
 * every daemon's exposition starts with. */
void prom_identity(FILE *f, const char *role, time_t started);
/* A duration given in microseconds, written in seconds (the base unit). */
void prom_sample_us(FILE *f, const char *name, const char *const *labels,
    uint64_t us);

/* A measured figure (a gauge in its base unit: seconds, bits, ratio). */
void prom_sample_f(FILE *f, const char *name, const char *const *labels,
    double value);

#endif
