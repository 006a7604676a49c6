/*
 * Device TLS handshakes at an edge listener (handshake.c): each accepted
 * socket of a device-TLS listener, until the device is admitted (then an
 * HTTP device, httpdev.h) or refused.
 */
#ifndef ISTHMUS_EDGE_DEVICE_HANDSHAKE_H
#define ISTHMUS_EDGE_DEVICE_HANDSHAKE_H

#include <event2/util.h>

struct edge;
struct edge_listener;

/* Starts the handshake of an accepted device socket, whose requests go
 * to service (httpdev_start). */
void handshake_accept(struct edge_listener *li, evutil_socket_t fd,
    const char *service, const char *device);
/* Closes the devices still in their handshake (shutdown, drain), or only
 * those of li (a listener a reload removed) when li is not NULL. */
void handshake_drop(struct edge *e, struct edge_listener *li);

#endif
