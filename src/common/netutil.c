/* Socket address helpers shared by the daemons (netutil.h). */
#include "common/netutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>,
 * whose includes clash with glibc's <netinet/in.h>. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

int
net_resolve(const struct hostport *hp, struct sockaddr_storage *ss,
    socklen_t *len, struct err *e)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE,
	}, *ai = NULL;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", hp->port);
	rc = getaddrinfo(hp->host, port, &hints, &ai);
	if (rc != 0)
		return err_set(e, -EINVAL, "cannot resolve '%s': %s", hp->host,
		    gai_strerror(rc));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

void
net_format(const struct sockaddr *sa, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, cap, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, cap, "?");
	}
}

void
net_local_name(int fd, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		snprintf(buf, cap, "?");
	else
		net_format((struct sockaddr *)&ss, buf, cap);
}

void
net_nodelay(int fd)
{
	int on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

void
net_user_timeout(int fd, uint64_t ms)
{
	unsigned int v = ms > 0xffffffffu ? 0xffffffffu : (unsigned int)ms;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
}

bool
net_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr,
		    sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

void
net_unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in in;

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return;
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = in6->sin6_port;
	memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &in, sizeof(in));
}

int
net_original_dst(int fd, struct sockaddr_storage *dst, bool *redirected)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	int rc;

	*redirected = false;
	if (getsockname(fd, (struct sockaddr *)&local, &len) != 0)
		return -errno;
	net_unmap(&local);
	memset(dst, 0, sizeof(*dst));
	len = sizeof(*dst);
	/* An IPv4 connection, also on a dual-stack IPv6 socket: conntrack
	 * answers at the IPv4 level. */
	if (local.ss_family == AF_INET)
		rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, dst, &len);
	else
		rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, dst, &len);
	/* ENOPROTOOPT: conntrack is not even loaded. */
	if (rc != 0 && errno != ENOENT && errno != ENOPROTOOPT)
		return -errno;
	net_unmap(dst);
	/* No conntrack entry, or one without NAT: it came straight here. */
	if (rc != 0 || net_same_addr(dst, &local)) {
		memcpy(dst, &local, sizeof(local));
		return 0;
	}
	*redirected = true;
	return 0;
}

bool
net_is_address(const char *s)
{
	unsigned char ip[16];

	return inet_pton(AF_INET, s, ip) == 1 ||
	    inet_pton(AF_INET6, s, ip) == 1;
}
