/*
 * An edge listener's references (listener.c); struct edge_listener is in
 * edge/daemon.h.
 */
#ifndef ISTHMUS_EDGE_DEVICE_LISTENER_H
#define ISTHMUS_EDGE_DEVICE_LISTENER_H

#include "edge/daemon.h"

/* Device connections (pending, handshakes, HTTP devices, TCP streams)
 * hold their listener, so that one a reload removed lives until its
 * last device is done. */
void edge_listener_hold(struct edge_listener *li);
void edge_listener_release(struct edge_listener *li);
/* Its socket, device TLS context and configuration reference. */
void edge_listener_free(struct edge_listener *li);

#endif
