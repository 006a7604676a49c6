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
/* How a device-TLS listener trusts a device's certificate (docs/trust.md):
 * its vendor CAs only, or also a self-signed one a person approved. */
enum device_trust { DEVICE_TRUST_CA, DEVICE_TRUST_TOFU };
/* How a collector trusts the device it polls (docs/trust.md). */
enum collector_trust { CT_TOFU, CT_PIN, CT_CA };
enum collector_auth { CAUTH_NONE, CAUTH_BASIC, CAUTH_BEARER };
enum collector_method { CM_GET, CM_POST, CM_PUT };
/* What an approved certificate past its notAfter (or before its
 * notBefore) means: such devices cannot renew theirs. */
enum trust_expired { TRUST_EXPIRED_ACCEPT, TRUST_EXPIRED_REFUSE };
/* Store and forward (docs/queue.md): as the cloud's service says
 * (learned from its answers), never, when the path fails, or always. */
enum store_forward { SF_SERVICE, SF_OFF, SF_ON, SF_ALWAYS };
/* The order a queue replays in: each service's requests in the order
 * accepted, or each device's of each service (devices side by side). */
enum replay_order { REPLAY_BY_SERVICE, REPLAY_BY_DEVICE };
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
	int device_trust;		/* enum device_trust */
	/* HTTP mode, POST and PUT (docs/queue.md) */
	int store_forward;		/* enum store_forward */
	uint64_t response_timeout;	/* ms; a direct attempt's answer */
	int64_t store_forward_status;	/* the answer once queued: 2xx */
};

/* [collector NAME]: a device HTTPS API the edge polls, each answer sent
 * to a service of the edge's tenant (docs/trust.md, "Collectors"). */
struct edge_collector_conf {
	char name[NAME_MAX_LEN + 1];
	int line;
	char *url;			/* as configured */
	/* from url: https://HOST[:PORT]/PATH[?QUERY] */
	struct hostport at;		/* port 443 unless given */
	char *path;			/* path and query, "/" at least */
	/* The device's name in the trust store: "HOST:PORT" as
	 * configured ("[v6]:port" for IPv6). */
	char peer[HOSTPORT_HOST_MAX + 8];
	char *service;
	uint64_t interval, timeout;	/* ms; timeout bounds a whole poll */
	int method;			/* enum collector_method */
	struct strlist header;		/* "Name: value", one per line */
	char *body;			/* sent with POST and PUT */
	char *body_type;		/* its content-type */
	uint64_t max_response;		/* the device's head and body, bytes */
	char *target;			/* the delivery's path; NULL: path */
	int tls_min;			/* 0: TLS 1.2, 1: TLS 1.3 */
	/* auth = basic FILE | bearer FILE: the file's first line, read at
	 * load (0600), never logged; basic's is "user:password", kept
	 * here as the field's value ("Basic base64"), bearer's as
	 * "Bearer TOKEN". NULL: none. Wiped when freed. */
	char *auth_spec;
	int auth;			/* enum collector_auth */
	char *authorization;		/* the Authorization field's value */
	/* trust = tofu | pin sha256:HEX | ca FILE */
	char *trust_spec;
	int trust;			/* enum collector_trust */
	uint8_t pin[32];		/* CT_PIN: certificate or key */
	char *ca_file;			/* CT_CA: resolved path */
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
	char *user;		/* whom a daemon started as root becomes */
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
	/* Where the edge keeps what it learns (docs/trust.md): the trust
	 * store is STATE_DIR/trust.db, made 0700/0600 when first needed. */
	char *state_dir;
	int trust_expired;		/* enum trust_expired */
	/* The store-and-forward queue, STATE_DIR/queue.db (docs/queue.md):
	 * the bytes it may hold (waiting and dead letters), how long a
	 * request may wait, the largest body it takes, the bodies held in
	 * memory, the replays on the
	 * tunnel at once, and their order. */
	uint64_t queue_max_size;
	uint64_t queue_max_age;		/* ms */
	uint64_t queue_max_body;
	/* store-and-forward bodies in memory at once (read, sent, being
	 * written), all devices together */
	uint64_t queue_max_memory;
	int64_t replay_streams;
	int replay_order;		/* enum replay_order */
	struct edge_listener_conf **listeners;
	size_t nlisteners;
	struct edge_collector_conf **collectors;
	size_t ncollectors;
};

/* A collector's cross-checks after parsing (config_collector.c): its
 * URL, trust, credentials (read now) and header lines. */
int edge_collector_check(const struct edge_conf *cf,
    struct edge_collector_conf *c, struct conf_errors *errs);
void edge_collector_conf_clear(struct edge_collector_conf *c);

/* The trust store's file: STATE_DIR/trust.db (malloc'd; NULL when out
 * of memory). */
char *edge_trust_path(const struct edge_conf *cf);
/* The store-and-forward queue's file: STATE_DIR/queue.db (malloc'd;
 * NULL when out of memory). */
char *edge_queue_path(const struct edge_conf *cf);
/* Whether a listener of cf may queue: an HTTP listener whose
 * store_forward is not off (service: the cloud may say on). */
bool edge_conf_may_queue(const struct edge_conf *cf);
/* Whether anything in cf learns certificates (a collector with
 * trust = tofu, a listener with device_trust = tofu): only then is the
 * trust store opened. */
bool edge_conf_uses_trust(const struct edge_conf *cf);
/* Same name and same values in every key of the collector (and the
 * same credentials). */
bool edge_collector_conf_equal(const struct edge_collector_conf *a,
    const struct edge_collector_conf *b);

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
