/*
 * Active health checks of backends: every interval, a TCP connect, or an
 * HTTP GET of a path that must answer 2xx, within a timeout. A backend goes
 * down after `fall` failures in a row and up again after `rise` successes;
 * pool.c skips backends that are down. Backends start up.
 */
#ifndef ISTHMUS_CLOUD_HEALTH_H
#define ISTHMUS_CLOUD_HEALTH_H

#include <event2/event.h>

#include "cloud/config.h"

struct health;

/* Starts checking every backend of cf's services that have checks on.
 * Holds a reference to cf until health_stop. */
int health_start(struct event_base *base, struct cloud_conf *cf,
    struct health **out);
void health_stop(struct health *h);

#endif
