/* Socket address helpers shared by the daemons. */
#ifndef ISTHMUS_NETUTIL_H
#define ISTHMUS_NETUTIL_H

#include <stdbool.h>
#include <sys/socket.h>

#include "common/confparse.h"
#include "common/err.h"

/* Resolves a configured host:port (blocking; used at startup and reload). */
int net_resolve(const struct hostport *hp, struct sockaddr_storage *ss,
    socklen_t *len, struct err *e);
/* "ip:port" / "[ip6]:port" of an address. */
void net_format(const struct sockaddr *sa, char *buf, size_t cap);
/* The local address a socket is bound to, formatted. */
void net_local_name(int fd, char *buf, size_t cap);
/* A relay forwards what it has at once: Nagle's algorithm would hold a
 * small write back until the peer's delayed ACK (40 ms). Best effort. */
void net_nodelay(int fd);
/* TCP_USER_TIMEOUT: the kernel gives the connection up when data it sent
 * stays unacknowledged for ms, instead of retransmitting for ~15 min. */
void net_user_timeout(int fd, uint64_t ms);
/* Whether s is an IPv4 or IPv6 address literal, not a name (a
 * predicate). */
bool net_is_address(const char *s);
/* Same family, address and port. */
bool net_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b);

/* Where a connection the host firewall redirected to us (nftables
 * redirect, iptables REDIRECT) was going, from conntrack: SO_ORIGINAL_DST
 * for IPv4, IP6T_SO_ORIGINAL_DST for IPv6. An IPv4-mapped IPv6 address
 * (a dual-stack listener) comes back as AF_INET. *redirected is false
 * when the connection came to us directly (then dst is our own address).
 * 0 or -errno. */
int net_original_dst(int fd, struct sockaddr_storage *dst, bool *redirected);
/* An IPv4-mapped IPv6 address, in place, as AF_INET. */
void net_unmap(struct sockaddr_storage *ss);

#endif
