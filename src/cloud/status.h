/* What `isthmus status` shows of a running cloud gateway: the tunnels
 * (the `ipsec statusall` of this system) and every service's backends. */
#ifndef ISTHMUS_CLOUD_STATUS_H
#define ISTHMUS_CLOUD_STATUS_H

#include <stdbool.h>
#include <stdio.h>

struct cloud;

void cloud_status(struct cloud *cl, const char *listen, bool json, FILE *f);

#endif
