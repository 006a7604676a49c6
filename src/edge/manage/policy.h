/*
 * The management channel's instruction kinds (docs/protocol.md, 5.2) and
 * the site's `manage` policy: which of them the edge accepts from the
 * cloud (policy.c). The edge config checks the words (edge/config.c);
 * this turns them into a set.
 */
#ifndef ISTHMUS_EDGE_MANAGE_POLICY_H
#define ISTHMUS_EDGE_MANAGE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/confparse.h"
#include "common/err.h"

enum manage_kind {
	MK_STATUS,
	MK_DOCTOR,
	MK_PURGE_CACHE,
	MK_PREFETCH,
	MK_RELOAD,
	MK_LOGS,
	MK_UNKNOWN,		/* a kind this edge does not know */
	MK_COUNT
};

/* Outcomes the edge answers. */
enum manage_outcome {
	MO_OK,
	MO_ERROR,
	MO_REFUSED,
	MO_EXPIRED,
	MO_COUNT
};

/* "status", ..., "unknown" (a metric label) */
const char *manage_kind_name(enum manage_kind k);
/* MK_UNKNOWN for a name that is no kind. */
enum manage_kind manage_kind_parse(const char *name);
const char *manage_outcome_name(enum manage_outcome o);

/* A set of kinds: bit (1 << kind). */
typedef uint32_t manage_policy;

/* The set a `manage` list names: kind names, or "none" alone (an empty
 * list is "none" too). -EINVAL with e's sentence for another word. */
int manage_policy_parse(const struct strlist *l, manage_policy *out,
    struct err *e);
bool manage_policy_accepts(manage_policy p, enum manage_kind k);

#endif
