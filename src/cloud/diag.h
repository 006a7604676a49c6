/*
 * The cloud's answers to an edge's diagnostic requests (isthmus doctor).
 * They travel on the edge's own tunnel as HTTP/2 GETs whose authority is
 * DIAG_AUTHORITY, a name no service can have, and the cloud answers them
 * itself; results are response fields, so the edge needs no parser:
 *
 *   /whoami           who the cloud admitted: isthmus-edge, isthmus-tenant,
 *                     isthmus-seen-from (the address the tunnel came from)
 *   /service/NAME?mode=tcp|http
 *                     whether NAME is a service of that tenant, in that
 *                     mode, and one of its backends accepts a connection
 *                     now: isthmus-backend, isthmus-healthy ("2/3")
 *
 * The body is one sentence that says what was found. Answers never reach
 * outside the tenant: a service of another tenant is "unknown", exactly as
 * for a stream.
 */
#ifndef ISTHMUS_CLOUD_DIAG_H
#define ISTHMUS_CLOUD_DIAG_H

#include "common/proto.h"

struct tunnel;
struct relay;

/* DIAG_AUTHORITY, its paths and fields: common/proto.h. */

/* Takes request stream r of tunnel t and answers it. */
void diag_start(struct tunnel *t, struct relay *r);

#endif
