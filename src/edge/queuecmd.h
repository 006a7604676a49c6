/*
 * A person's commands on the running edge's store-and-forward queue
 * (docs/queue.md, "Operating it"): the admin socket's `queue ...`
 * requests, which `isthmus queue` sends (queuecmd.c). The management
 * channel's queue instruction is manage/run_queue.c; both hand the
 * command to the queue's thread (queue/queue.h, sfq_exec).
 */
#ifndef ISTHMUS_EDGE_QUEUECMD_H
#define ISTHMUS_EDGE_QUEUECMD_H

#include <stdio.h>

#include "common/admin.h"
#include "edge/queue/queue.h"

struct edge;

/* What an edge without a queue (e->queue NULL) answers either way. */
#define QUEUECMD_NONE SFQ_NONE

/* cmd is "queue" and the command's words ("queue list dead", "queue
 * drop 17"). The answer, now on f or later through req, is one JSON
 * line: the command's result (queue/queue.h), or {"error": sentence}.
 * Whoever asked is "local:USER", USER the socket's peer. */
void queuecmd_admin(struct edge *e, const char *cmd, FILE *f,
    struct admin_req *req);

#endif
