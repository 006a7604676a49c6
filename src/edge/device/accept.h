/*
 * An edge listener's socket (accept.c): bound at the start and by a
 * reload, each device it accepts handed to its mode.
 */
#ifndef ISTHMUS_EDGE_DEVICE_ACCEPT_H
#define ISTHMUS_EDGE_DEVICE_ACCEPT_H

#include <stdbool.h>

#include "common/err.h"
#include "edge/daemon.h"

struct devtls;

/* A listener bound to lc's address, taking the device TLS context in
 * *dt; er names the listener and why it cannot listen. */
int edge_listener_open(struct edge *e, struct edge_conf *cf,
    const struct edge_listener_conf *lc, struct devtls **dt,
    struct edge_listener **out, struct err *er);
/* Its "listening" log line. */
void edge_listener_listening(const struct edge_listener *li);

#endif
