/*
 * What the files of edge/collect/ share (private to the folder). A run
 * is one poll of one collector: poll.c talks to the device (connect,
 * TLS with the collector's trust, the request, the answer), deliver.c
 * sends the answer through the tunnel, collect.c schedules runs and
 * owns their lifetime, stats.c reports on them. poll.c and deliver.c
 * answer through callbacks, so that no two files call each other.
 */
#ifndef ISTHMUS_EDGE_COLLECT_INT_H
#define ISTHMUS_EDGE_COLLECT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/tls.h"
#include "edge/collect/collect.h"

/* A delivery the cloud does not answer within this is undelivered (the
 * device's part has its own bound, the collector's timeout). */
#define COLLECT_DELIVER_TIMEOUT_MS 30000
/* collect log lines: 20 at once, then 10 a second. */
#define COLLECT_LOG_BURST 20
#define COLLECT_LOG_PER_SEC 10

struct trust;
struct log_limit;

/* --- poll.c: one poll of a device ------------------------------------ */

struct poll_result {
	enum collect_outcome outcome;	/* CO_OK: an answer to deliver */
	bool reached;			/* the handshake was done */
	bool wait;			/* the device waits for a person */
	uint64_t wait_digest;		/* trust_peer_digest then */
	int status;			/* the device's HTTP status, or 0 */
	char device[64];		/* ip:port connected to, or "" */
	char fp[TLS_FP_LEN];		/* its certificate, or "" */
	char time[40];			/* when the answer was complete */
	char *content_type;		/* malloc'd, or NULL */
	struct evbuffer *body;		/* the answer's body (the receiver's) */
	char error[300];		/* why not ok; never a credential */
};

/* r is the callback's to keep only in what it takes (body, content_type:
 * set them to NULL); the rest is freed after it returns. */
typedef void (*poll_done_fn)(struct poll_result *r, void *arg);

struct poll_env {
	struct event_base *base;
	struct evdns_base *dns;
	struct trust *trust;		/* NULL: tofu refuses (unavailable) */
};

struct collect_poll;

/* A context for c's polls: its TLS versions and certificate check. */
int poll_ctx_new(const struct edge_collector_conf *c, SSL_CTX **out,
    struct err *e);
/* Polls c with ctx; done runs once, from the loop, never from inside
 * this call. c and ctx must live until done or poll_cancel. */
int poll_start(const struct poll_env *env,
    const struct edge_collector_conf *c, SSL_CTX *ctx, poll_done_fn done,
    void *arg, struct collect_poll **out);
/* Abandons it (NULL: nothing); done does not run. */
void poll_cancel(struct collect_poll *p);
/* Whether p is resolving a name (see dialer_cancel: the loop must turn
 * once before the evdns base is freed). */
bool poll_resolving(const struct collect_poll *p);

/* --- deliver.c: the answer through the tunnel ------------------------ */

struct h2conn;
struct delivery;

struct deliver_req {
	const struct edge_collector_conf *c;
	const struct poll_result *r;	/* ok: the answer */
};

/* ok: the cloud answered 2xx and took the whole body; status: its
 * status or 0; why: the failure in words. From the loop. */
typedef void (*deliver_done_fn)(bool ok, int status, const char *why,
    void *arg);

/* Sends q on h2 (NULL: no tunnel, done runs from the loop with why).
 * q's strings are copied; the body is taken from q->r->body (drained). */
int deliver_start(struct event_base *base, struct h2conn *h2,
    const struct deliver_req *q, deliver_done_fn done, void *arg,
    struct delivery **out);
/* Abandons it (NULL: nothing): the stream is reset, done does not run. */
void deliver_cancel(struct delivery *d);

/* --- stats.c: the figures -------------------------------------------- */

struct collect_figures {
	uint64_t outcomes[CO_COUNT];
	enum collect_outcome last;	/* valid when polls > 0 */
	uint64_t polls;
	int64_t last_at;		/* Unix seconds */
	int last_status;		/* the device's */
	char last_fp[TLS_FP_LEN];
	char last_error[300];
};

/* One run's end into f and the edge's totals. */
struct collect_totals {
	uint64_t outcomes[CO_COUNT];
	uint64_t seconds_us, seconds_count;	/* runs that reached one */
	uint64_t bytes;				/* body bytes delivered */
};

/* --- collect.c: the collectors ---------------------------------------- */

struct collector {
	struct collectors *cs;
	char name[NAME_MAX_LEN + 1];
	struct edge_conf *cf;		/* a reference: c lives in it */
	const struct edge_collector_conf *c;
	SSL_CTX *ctx;
	uint64_t offset_ms;		/* hash(name) % interval */
	int64_t next_us;		/* monotonic: the next poll */
	struct event *timer;
	bool wait;			/* waits for a person (tofu) */
	uint64_t poll_us;		/* the run's poll, once it ended */
	uint64_t wait_digest;		/* what the store said of it then */
	bool queued;			/* waits for a free slot */
	struct collector *next_queued;
	/* the run: a poll, then its delivery */
	bool running;
	struct edge_conf *run_cf;	/* a reference for run_c */
	const struct edge_collector_conf *run_c;
	struct collect_poll *poll;
	struct delivery *dlv;
	struct poll_result res;		/* while delivering */
	uint64_t res_bytes;		/* its body's length */
	int64_t run_started_us, reached_us;
	struct collect_figures fig;
};

struct collectors {
	struct edge *e;
	struct poll_env env;
	struct log_limit *lim;
	struct collector **v;
	size_t n;
	unsigned inflight;
	struct collector *queue, *queue_tail;
	bool watching;			/* trust_watch registered */
	/* One client context for every tofu or pin collector of a TLS
	 * floor (1.2, 1.3): they differ only in what the verify callback
	 * reads from the connection. A ca collector has its own (its CA
	 * file). Each collector holds a reference. */
	SSL_CTX *shared_ctx[2];
	struct collect_totals tot;
};

/* Where the collector's run ended: its figures and the totals. */
void stats_note(struct collect_figures *f, struct collect_totals *t,
    enum collect_outcome o, const struct poll_result *r, uint64_t run_us,
    uint64_t bytes);

/* The offset of a collector's polls within its interval (a hash of its
 * name), so that many collectors do not fire at once. */
uint64_t collect_offset(const char *name, uint64_t interval_ms);
/* The slot after the one whose timer fired now (monotonic us): a step
 * on, even when the loop's coarse clock fired it a few ms early (it is
 * still that slot, not a reason to poll again), and past now when ticks
 * were missed. */
int64_t collect_next_slot(int64_t slot_us, int64_t now_us, int64_t step_us);

#endif
