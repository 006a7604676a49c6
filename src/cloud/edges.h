/*
 * What `isthmus edges` shows, read from the state store without making
 * the control loop wait, as text or JSON:
 *   "edges [json] [TENANT]"                 every edge of the registry,
 *                                           down ones included;
 *   "edges history [json] EDGE [TENANT]"    one edge's connects and
 *                                           disconnects, newest first
 *                                           (its tenant from the config
 *                                           when not named).
 */
#ifndef ISTHMUS_CLOUD_EDGES_H
#define ISTHMUS_CLOUD_EDGES_H

#include <stdio.h>

#include "common/admin.h"

struct store;
struct cloud_conf;

/* Answers the request whose words after "edges" are args: later,
 * through req, when the store answers; at once on f for a bad request or
 * a cloud without a store. */
void cloud_edges(struct store *s, const struct cloud_conf *cf,
    const char *args, FILE *f, struct admin_req *req);

#endif
