/*
 * The readiness report (docs/readiness.md, "Reports"): the JSON document
 * the cloud answers to `readiness {...}` on its admin socket, or a copy
 * saved earlier, checked field by field before anything reads it (it
 * holds what edges measured, and edges are not trusted), then written as
 * text, JSON or one self-contained HTML file.
 */
#ifndef ISTHMUS_REPORT_H
#define ISTHMUS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/err.h"

/* Most tests a report asks for, and the default (docs/readiness.md). */
#define REPORT_LIMIT_DEFAULT 1000
#define REPORT_LIMIT_MAX 10000

struct report;

/* Which tests to keep: NULL or 0 for no bound. */
struct report_filter {
	const char *tenant, *edge;
	int64_t since;		/* seconds since the epoch */
	int64_t limit;		/* the newest N */
};

/* Takes a reference to doc. Checks it is a report (-EINVAL, e naming the
 * first wrong field: "tests[3].result.measures.rtt.median_ms: not a
 * number"), keeps only the tests flt lets through when flt is not NULL
 * (and says so in the document's filter), and indexes it by edge. */
int report_load(json_t *doc, const struct report_filter *flt,
    struct report **out, struct err *e);
void report_free(struct report *r);

/* The renderings; each writes the whole rendering to f, and returns 0 or
 * -errno with e saying why. */
int report_text(const struct report *r, FILE *f, struct err *e);
int report_json(const struct report *r, FILE *f, struct err *e);
int report_html(const struct report *r, FILE *f, struct err *e);

#endif
