/*
 * PROXY protocol v2 header (haproxy's proxy-protocol.txt, section 2.2), sent
 * first on a backend connection when the service has proxy_protocol = yes.
 * Source: the device's address as the edge saw it; destination: the
 * backend. Two TLVs in the application range carry who sent it:
 *   0xE0  tenant name (ASCII)
 *   0xE1  edge name (ASCII)
 */
#ifndef ISTHMUS_CLOUD_PROXYPROTO_H
#define ISTHMUS_CLOUD_PROXYPROTO_H

#include <stddef.h>
#include <sys/socket.h>

#define PP2_TYPE_ISTHMUS_TENANT 0xE0
#define PP2_TYPE_ISTHMUS_EDGE 0xE1
#define PP2_MAX 512

/* Writes the header into buf (at least PP2_MAX bytes) and returns its
 * length. When the device's family differs from the backend's, both go
 * as TCP over IPv6, the IPv4 one mapped (::ffff:a.b.c.d); a device
 * address that does not parse as ip:port is sent with the LOCAL command
 * (no addresses: the receiver keeps the connection's own; TLVs kept). */
size_t proxyproto_v2(unsigned char *buf, const char *device,
    const struct sockaddr *dst, const char *tenant, const char *edge);

#endif
