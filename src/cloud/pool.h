/*
 * Choosing a backend of a service: round-robin, least-connections, or a
 * hash of the device address (sticky), skipping unhealthy backends and the
 * ones this stream already tried.
 */
#ifndef ISTHMUS_CLOUD_POOL_H
#define ISTHMUS_CLOUD_POOL_H

#include <stdint.h>

#include "cloud/config.h"

#define POOL_MAX_TRIES 64

/* Returns the index of the backend to try next, or -1 when every healthy
 * backend was tried (tried: bit i set for backend i). */
int pool_pick(struct cloud_service *s, const char *device, uint64_t tried);

#endif
