/*
 * The site's `manage` policy: which of the instruction kinds
 * (common/managewords.h) the edge accepts from the cloud (policy.c). The edge config checks the words (edge/config.c);
 * this turns them into a set.
 */
#ifndef ISTHMUS_EDGE_MANAGE_POLICY_H
#define ISTHMUS_EDGE_MANAGE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/confparse.h"
#include "common/err.h"
#include "common/managewords.h"

/* A set of kinds: bit (1 << kind). */
typedef uint32_t manage_policy;

/* The set a `manage` list names: kind names, or "none" alone (an empty
 * list is "none" too). -EINVAL with e's sentence for another word. */
int manage_policy_parse(const struct strlist *l, manage_policy *out,
    struct err *e);
bool manage_policy_accepts(manage_policy p, enum manage_kind k);

#endif
