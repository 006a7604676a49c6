/*
 * What the doctor's files share (private to src/edge/doctor/): the run's
 * state, one step's record, and the step machinery (step.c) the checks
 * use to open and close their step and to wait for the loop. The runner
 * (doctor.c) calls the checks from a table; the checks never call it.
 */
#ifndef ISTHMUS_EDGE_DOCTOR_INT_H
#define ISTHMUS_EDGE_DOCTOR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "common/identity.h"
#include "common/tls.h"
#include "edge/config.h"
#include "edge/uplink/certdiag.h"
#include "edge/uplink/dialer.h"
#include "edge/uplink/proxy.h"

struct h2conn;
struct relay;

#define DETAIL_MAX 2048

enum verdict { V_PASS, V_WARN, V_FAIL, V_NA, V_SKIPPED };

struct step {
	char name[80];
	enum verdict v;
	long us;			/* -1: not timed */
	char detail[DETAIL_MAX];
};

/* An answer to a diagnostic request (cloud/diag.h): its sentence says
 * what the cloud found; the fields are for the checks. */
struct answer {
	bool done;
	int status;
	char refused[40];		/* the cloud did not take it */
	int64_t cloud_time;
	char text[600];
	size_t tlen;
};

struct doctor {
	const char *path;
	bool path_only;			/* --path: config to alpn */
	struct event_base *base;
	struct evdns_base *dns;
	struct edge_conf *cf;
	SSL_CTX *ctx;
	char cloud[300];		/* host:port, for messages */
	struct cert_identity me;
	char my_pin[TLS_FP_LEN];
	struct step *steps;		/* grows: one per service too */
	size_t n, cap;
	const char *failed;		/* the first failed step */
	const char *blocked;		/* ... that the later ones need */
	bool independent;		/* a failure here blocks nothing */
	int64_t t0;			/* the current step's start */
	/* waiting for the loop */
	struct event *timer;
	bool done, timed_out;
	/* what the steps pass on */
	struct evutil_addrinfo *ai;
	int fd;
	struct proxy_dial *pd;
	char proxy_why[400];
	int proxy_status;
	struct bufferevent *tls;
	bool tls_up;
	char tls_why[1400];
	bool hello_refused;		/* ... before any certificate */
	unsigned long probe_err;
	struct certcheck ck;
	struct h2conn *h2;
	bool admitted;
	char closed_why[200];
	unsigned long closed_tls;
	bool ponged;
	int dns_err;
	struct dialer *tcp;
	struct dial_result conn;
	struct evdns_getaddrinfo_request *dns_req;
	struct relay *req;		/* the diagnostic request in flight */
	struct answer ans;
};


/* ---- step.c: the step machinery ---------------------------------------- */

/* Starts a step: false (and the step is marked skipped) after a failure.
 * bool: whether the step may run, not an error. */
bool step_begin(struct doctor *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Closes the current step with its verdict and detail. */
void step_end(struct doctor *d, enum verdict v, bool timed,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The run's timer callback (d->timer): the awaited thing took too long. */
void doctor_on_timer(evutil_socket_t fd, short what, void *arg);
/* Runs the loop until a callback says done, or for timeout_ms. */
void doctor_await(struct doctor *d, uint64_t timeout_ms);

/* ---- path.c: config to ALPN, in this order ----------------------------- */

void step_config(struct doctor *d);
void step_clock(struct doctor *d);
void step_dns(struct doctor *d);
void step_tcp(struct doctor *d);
void step_proxy(struct doctor *d);
void step_tls(struct doctor *d);
void step_certificate(struct doctor *d);
void step_alpn(struct doctor *d);

/* ---- tunnel.c: admission, round trip, services ------------------------- */

void step_admission(struct doctor *d);
void step_round_trip(struct doctor *d);
void step_services(struct doctor *d);

#endif
