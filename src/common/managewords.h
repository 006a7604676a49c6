/*
 * The management channel's words, the same at both ends (docs/protocol.md
 * section 5; their spellings are proto.h's MANAGE_K_* and MANAGE_O_*):
 * instruction kinds and outcomes as enums for tables and metric labels,
 * and one message as its line. The edge's side is src/edge/manage/, the
 * cloud's src/cloud/manage/.
 */
#ifndef ISTHMUS_MANAGEWORDS_H
#define ISTHMUS_MANAGEWORDS_H

#include <stddef.h>

#include <jansson.h>

enum manage_kind {
	MK_STATUS,
	MK_DOCTOR,
	MK_PURGE_CACHE,
	MK_PREFETCH,
	MK_RELOAD,
	MK_LOGS,
	MK_READINESS,
	MK_TRUST,
	MK_QUEUE,
	MK_UNKNOWN,		/* a kind this isthmus does not know */
	MK_COUNT
};

/* The edge answers the first MO_EDGE_COUNT; timeout is the cloud's. */
enum manage_outcome {
	MO_OK,
	MO_ERROR,
	MO_REFUSED,
	MO_EXPIRED,
	MO_TIMEOUT,
	MO_COUNT
};
#define MO_EDGE_COUNT MO_TIMEOUT

/* "status", ..., "unknown" (a metric label) */
const char *manage_kind_name(enum manage_kind k);
/* MK_UNKNOWN for a name that is no kind. */
enum manage_kind manage_kind_parse(const char *name);
const char *manage_outcome_name(enum manage_outcome o);
/* -1 for a name that is no outcome. */
int manage_outcome_parse(const char *name);

/* How both ends encode JSON: compact, and reals with 15 significant
 * digits (10.2, not 10.199999999999999: what a double holds of a
 * decimal). */
#define MANAGE_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* o (released) as one compact line with its '\n'; *len its length.
 * Reals carry 15 significant digits: a figure rounded to 0.001 prints
 * as such (10.2, not 10.199999999999999) and a Unix time keeps its
 * milliseconds. NULL when out of memory. */
char *manage_json_line(json_t *o, size_t *len);

#endif
