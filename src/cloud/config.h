/*
 * The cloud gateway's configuration (cloud.conf): the TLS listener, the
 * tenants with their edges (each pinned) and their services (each a pool
 * of backends). Loaded into a fresh struct, cross-checked as a whole, and
 * only then used, so a bad reload leaves the running one untouched.
 */
#ifndef ISTHMUS_CLOUD_CONFIG_H
#define ISTHMUS_CLOUD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/config.h"
#include "common/names.h"
#include "common/readiness.h"

enum balance { BALANCE_ROUND_ROBIN, BALANCE_LEAST_CONN, BALANCE_HASH };
enum service_mode { SERVICE_TCP, SERVICE_HTTP };
enum health_kind { HEALTH_NONE, HEALTH_TCP, HEALTH_HTTP };

/* Why a stream was refused: a metric label and a log field. */
enum refusal {
	REFUSE_UNKNOWN_SERVICE,	/* not a service of the edge's tenant: 403 */
	REFUSE_NO_BACKEND,	/* no healthy backend took it: 503 */
	REFUSE_BAD_REQUEST,	/* a request the service's mode does not
				 * take: 405; bad headers: 431 */
	REFUSE_INTERNAL,	/* out of memory: 503 */
	REFUSE_TENANT_STREAMS,	/* the tenant's max_streams are open:
				 * RST_STREAM REFUSED_STREAM */
	REFUSE_COUNT
};

const char *refusal_name(enum refusal r);

/* Counters live in the configuration objects they count, and a reload
 * carries them over (cloud_conf_carry) so they only ever grow. */
/* What a tenant has open now, across its tunnels in every worker. It
 * outlives reloads: the tenant of the next configuration takes it over
 * (cloud_conf_carry), while streams of the old one still count in it. */
struct tenant_live {
	unsigned refs;			/* configurations holding it */
	unsigned streams_open;		/* atomic */
};

struct cloud_tenant {
	char name[NAME_MAX_LEN + 1];
	int line;
	struct strlist edges;
	int64_t max_streams;		/* open at once, over all its edges */
	struct tenant_live *live;
	struct conf_every readiness;	/* its edges' readiness schedule */
	struct {
		uint64_t bytes_in, bytes_out;	/* of closed tunnels */
		uint64_t refused[REFUSE_COUNT];
		uint64_t idle_closed;	/* streams ended idle */
	} stats;
};

struct cloud_edge {
	char name[NAME_MAX_LEN + 1];
	int line;
	struct conf_pins pins;		/* any one admits (rotation) */
	struct conf_cidrs from;		/* n == 0: any source address */
	struct cloud_tenant *tenant;	/* set by validation */
	struct conf_every readiness;	/* its own; else its tenant's */
};

struct cloud_backend {
	char addr[HOSTPORT_HOST_MAX + 8];	/* as configured, for logs */
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned active;			/* streams relayed now */
	bool healthy;
	uint64_t streams;			/* relayed since start */
	uint64_t connect_failures;
	uint64_t reused;			/* HTTP: kept-alive connections */
};

/* HTTP mode: answers the cloud gave itself for a service's requests. */
enum http_fail {
	HTTPF_BAD_GATEWAY,	/* the backend broke the exchange: 502 */
	HTTPF_TIMEOUT,		/* no answer in response_timeout: 504 */
	HTTPF_COUNT
};

enum cloud_store_forward { CSF_OFF, CSF_ON, CSF_ALWAYS };

struct cloud_service {
	char tenant_name[NAME_MAX_LEN + 1];
	char name[NAME_MAX_LEN + 1];
	int line;
	struct cloud_tenant *tenant;	/* set by validation */
	struct strlist backends;
	int balance;
	uint64_t connect_timeout;
	bool proxy_protocol;		/* PROXY v2 header to backends */
	int mode;			/* enum service_mode */
	/* HTTP mode */
	bool identity_headers;		/* Forwarded, X-Isthmus-* to backends */
	bool confidential;		/* edges must never store answers */
	/* Whether edges queue its POST and PUT when the path fails
	 * (docs/queue.md); told to them on every answer. */
	int store_forward;		/* enum cloud_store_forward */
	uint64_t response_timeout;
	uint64_t pool_idle_timeout;
	int64_t pool_max_idle;		/* per backend and worker */
	uint64_t http_requests;
	uint64_t http_failed[HTTPF_COUNT];
	int health;			/* enum health_kind */
	char *health_path;
	uint64_t health_interval, health_timeout;
	int64_t health_rise, health_fall;
	struct cloud_backend *be;	/* resolved backends */
	size_t nbe;
	size_t rr_next;			/* round-robin position */
	uint64_t streams_opened;
};

struct cloud_conf {
	unsigned refs;		/* the daemon, tunnels and streams using it */
	char *path;
	struct hostport listen;
	char *cert, *key, *ca, *crl;
	char *admin_socket;
	char *user;		/* whom a daemon started as root becomes */
	char *state;		/* the state store's file, or NULL */
	struct hostport metrics;	/* host "" when not served */
	uint64_t handshake_timeout;
	uint64_t drain_timeout;
	uint64_t keepalive;		/* PING a tunnel quiet this long */
	uint64_t keepalive_timeout;	/* and drop it without an answer */
	uint64_t crl_check_interval;	/* 0: only SIGHUP re-reads the CRL */
	int64_t tunnel_max_streams;	/* SETTINGS_MAX_CONCURRENT_STREAMS */
	int64_t tunnel_max_dials;	/* backend connects in flight */
	uint64_t stream_idle_timeout;	/* CONNECT streams; 0: none */
	/* Management (manage/): how long an instruction waits for a
	 * down edge, and how long a delivered one has to be answered. */
	uint64_t instruction_ttl;
	uint64_t instruction_timeout;
	int64_t workers;	/* event loops; 0: one per CPU ("auto") */
	/* Readiness tests (docs/readiness.md): the UDP reflector's address
	 * (host "" when there is none), the name edges are told to send
	 * to (NULL: their `cloud =` name), the profiles. */
	struct hostport readiness_udp;
	char *readiness_udp_host;
	struct readiness_profile **profiles;
	size_t nprofiles;
	struct readiness_profile builtin;	/* "default" without a
						 * [readiness default] */
	struct cloud_tenant **tenants;
	size_t ntenants;
	struct cloud_edge **edges;
	size_t nedges;
	struct cloud_service **services;
	size_t nservices;
};

/* Loads and validates path. Returns 0 or -EINVAL with errs filled. */
int cloud_conf_load(const char *path, struct cloud_conf **out,
    struct conf_errors *errs);
void cloud_conf_free(struct cloud_conf *cf);
/* The tenant called name, or NULL. */
struct cloud_tenant *cloud_conf_tenant(const struct cloud_conf *cf,
    const char *name);
/* The readiness profile called name, or NULL; READINESS_DEFAULT always
 * has one (its section's, else the built-in one). */
const struct readiness_profile *cloud_conf_readiness(
    const struct cloud_conf *cf, const char *name);
/* The readiness schedule of edge (of tenant): its own `readiness` line,
 * else its tenant's. false when it has none (or "off"); else *p is the
 * profile and *every_ms the interval. */
bool cloud_conf_schedule(const struct cloud_conf *cf, const char *tenant,
    const char *edge, const struct readiness_profile **p,
    uint64_t *every_ms);
/* After a reload: counters and backend health move from old to the
 * matching tenants, services and backends of nw. */
void cloud_conf_carry(struct cloud_conf *nw, const struct cloud_conf *old);
/* A reload swaps configurations while streams still use the old one. */
struct cloud_conf *cloud_conf_ref(struct cloud_conf *cf);
void cloud_conf_unref(struct cloud_conf *cf);

#endif
