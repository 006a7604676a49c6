/*
 * The edge gateway's configuration (edge.conf): how to reach and
 * recognise the cloud, and the device-side listeners, each mapped to a
 * service of this edge's tenant.
 */
#ifndef ISTHMUS_EDGE_CONFIG_H
#define ISTHMUS_EDGE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/config.h"
#include "common/names.h"
#include "edge/uplink/proxy.h"

enum listener_mode { LISTEN_TCP, LISTEN_HTTP };
/* Where a device certificate carries its MAC (devtls.h). */
enum mac_from { MAC_FROM_URI, MAC_FROM_CN, MAC_FROM_SERIAL, MAC_FROM_OU,
	MAC_FROM_SAN_DNS };

/* A transparent listener's table: where a device was going (its original
 * destination, an IP address and port) to the service that carries it. */
struct edge_route {
	struct sockaddr_storage dst;	/* AF_INET or AF_INET6 */
	char service[NAME_MAX_LEN + 1];
	char text[64];			/* as configured, for messages */
};

struct edge_listener_conf {
	char name[NAME_MAX_LEN + 1];
	int line;
	struct hostport listen;
	char *service;			/* "-" for a transparent listener */
	int mode;			/* enum listener_mode */
	/* transparent: connections redirected by the host firewall, each
	 * carried to the service its original destination maps to */
	bool transparent;
	struct strlist map;
	struct edge_route *routes;
	size_t nroutes;
	/* HTTP mode: limits on what a device sends */
	uint64_t max_header_size;	/* request line and headers, bytes */
	int64_t max_headers;		/* header fields */
	uint64_t max_body;		/* request body, bytes */
	uint64_t idle_timeout;		/* keep-alive, between requests */
	uint64_t request_timeout;	/* a whole head; a body between reads */
	/* device mTLS (HTTP mode): on when tls_cert is set */
	char *tls_cert, *tls_key;
	struct strlist device_ca;	/* vendor CA bundles, resolved paths */
	int mac_from;			/* enum mac_from */
	struct strlist mac_allow;	/* empty: any trusted device */
	int tls_min;			/* 0: TLS 1.2, 1: TLS 1.3 */
	/* HTTP mode: answer GET and HEAD from the edge's cache */
	bool cache;
};

struct edge_conf {
	unsigned refs;			/* edge_conf_ref, edge_conf_free */
	char *path;
	struct hostport cloud;
	char *server_name;
	char *cert, *key, *ca;
	char *crl;			/* optional: revoked cloud certificates */
	uint8_t cloud_pin[32];
	uint64_t keepalive, keepalive_timeout;
	uint64_t reconnect_min, reconnect_max;
	uint64_t pending_timeout, handshake_timeout, drain_timeout;
	uint64_t stream_idle_timeout;	/* TCP streams; 0: none */
	char *admin_socket;
	struct hostport metrics;	/* host "" when not served */
	/* the site's HTTP proxy towards the cloud (proxy.h): from the
	 * config's proxy, else https_proxy; "none" for a direct line */
	char *proxy_url;
	bool use_proxy;
	struct proxy_conf proxy;
	char *cache_dir;		/* listeners with cache = on share it */
	uint64_t cache_max_size;
	/* the instructions from the cloud this site accepts (manage/policy.h):
	 * kind names, or "none" alone */
	struct strlist manage;
	/* readiness tests (docs/readiness.md): the largest budget taken,
	 * and whether the UDP train may run */
	uint64_t readiness_max_bytes;
	bool readiness_udp;
	struct edge_listener_conf **listeners;
	size_t nlisteners;
};

/* The service a transparent listener carries a connection to dst to, or
 * NULL: not in its table. */
const char *edge_route_find(const struct edge_listener_conf *lc,
    const struct sockaddr_storage *dst);

int edge_conf_load(const char *path, struct edge_conf **out,
    struct conf_errors *errs);
/* A configuration outlives a reload while a listener's devices or a
 * draining tunnel still read it: each of them holds a reference, and
 * edge_conf_free drops one (the last frees it). */
struct edge_conf *edge_conf_ref(struct edge_conf *cf);
void edge_conf_free(struct edge_conf *cf);
/* Same values in every [edge] key. */
bool edge_conf_settings_equal(const struct edge_conf *a,
    const struct edge_conf *b);
/* Same name and same values in every key of the listener. */
bool edge_listener_conf_equal(const struct edge_listener_conf *a,
    const struct edge_listener_conf *b);

#endif
