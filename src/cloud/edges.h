/*
 * What `isthmus edges` shows (the admin socket's "edges [json]
 * [TENANT]"): every edge of the fleet registry, down ones included, as
 * text or JSON, read from the state store without making the control
 * loop wait.
 */
#ifndef ISTHMUS_CLOUD_EDGES_H
#define ISTHMUS_CLOUD_EDGES_H

#include <stdio.h>

#include "common/admin.h"

struct store;

/* Answers the request whose words after "edges" are args: later,
 * through req, when the store answers; at once on f for a bad request or
 * a cloud without a store. */
void cloud_edges(struct store *s, const char *args, FILE *f,
    struct admin_req *req);

#endif
