/* What `isthmus status` shows of a running edge gateway: who it is, the
 * tunnel's state (or why it is down), and each listener's devices. */
#ifndef ISTHMUS_EDGE_STATUS_H
#define ISTHMUS_EDGE_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#include "edge/daemon.h"

void edge_status(struct edge *e, bool json, FILE *f);

#endif
