/*
 * TCP mode at the edge (tcpdev.c): each device connection is one CONNECT
 * stream on the tunnel, carried byte for byte (common/relay.c).
 */
#ifndef ISTHMUS_EDGE_DEVICE_TCPDEV_H
#define ISTHMUS_EDGE_DEVICE_TCPDEV_H

#include <event2/bufferevent.h>

struct edge_listener;

/* Takes bev, a device connection for service (the listener's, or its
 * original destination's; it lives as long as the configuration): its
 * stream now, or once the tunnel is up. */
void tcpdev_start(struct edge_listener *li, struct bufferevent *bev,
    const char *service, const char *device);

#endif
