/*
 * A stream the cloud will not carry (an unknown service, a bad request,
 * no backend, no memory): counted for the tunnel's tenant, logged within
 * the worker's limit, and answered with a status. Below stream.c,
 * httpfwd.c and diag.c, which all refuse streams.
 */
#ifndef ISTHMUS_CLOUD_REFUSE_H
#define ISTHMUS_CLOUD_REFUSE_H

#include "cloud/config.h"

struct relay;
struct tunnel;

/* The stream r of tunnel t is refused with status, counted for the
 * tenant under why; svc is the service name the stream asked for
 * (logged, never a metric label). */
void refuse_stream(struct tunnel *t, struct relay *r, const char *svc,
    enum refusal why, int status);

#endif
