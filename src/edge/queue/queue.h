/*
 * The edge's store-and-forward queue (docs/queue.md): POST and PUT
 * requests a device handed over that could not reach the cloud (or all of
 * them, store_forward = always) are written to STATE_DIR/queue.db and
 * answered "accepted" only once on disk, then replayed on the tunnel in
 * the order accepted, each with its Idempotency-Key and the time it was
 * accepted, until the backend takes it (2xx, 3xx) or refuses it (4xx: a
 * dead letter). Expired requests become dead letters too; nothing
 * accepted is ever dropped to make room.
 *
 * One thread of its own holds the SQLite connection (WAL, synchronous =
 * FULL): many devices' requests share one commit (group commit), and
 * the loop never waits on the file. The loop keeps what it needs to
 * replay and to bound the queue (each waiting request's id, lane, size
 * and time) in memory; bodies stay on disk until sent.
 *
 * Every function here runs on the loop; every callback runs from the
 * loop, never from inside a caller.
 */
#ifndef ISTHMUS_EDGE_QUEUE_QUEUE_H
#define ISTHMUS_EDGE_QUEUE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/err.h"
#include "common/hdrs.h"
#include "edge/config.h"

struct sfq;
struct sfq_ticket;
struct h2conn;

/* What the queue needs of the daemon: the tunnel when it is up (NULL
 * while down). */
struct sfq_env {
	struct event_base *base;
	struct h2conn *(*h2)(void *arg);
	void *arg;
};

/* Opens the queue of cf (edge_queue_path): its thread starts, and opens
 * the file if it exists or a listener has store_forward = on|always
 * (else the first time a service is learned to be store and forward).
 * A file that cannot be used (not a queue, another edge holds
 * STATE_DIR/queue.lock, the directory cannot be written) is logged
 * (queue_unavailable) and tried again every 10 s; meanwhile nothing is
 * accepted. Fails only when out of memory or without a thread; er says
 * why. */
int sfq_open(const struct sfq_env *env, const struct edge_conf *cf,
    struct sfq **out, struct err *er);
/* Ends the thread once the writes it has are on disk; callbacks still
 * due are dropped. NULL: nothing. */
void sfq_close(struct sfq *q);
/* A reload: the bounds, replay_streams and replay_order of cf (a new
 * state_dir waits for a restart). */
void sfq_reconfigure(struct sfq *q, const struct edge_conf *cf);
/* The tunnel came up: replays go on now (their back-off does not wait
 * for a tunnel that was down). */
void sfq_kick(struct sfq *q);

/* A request to queue, as it would go on the tunnel. */
struct sfq_req {
	const char *listener;
	const char *service;		/* the authority */
	const char *device;		/* "ip:port" */
	const char *mac;		/* the device's certificate's, or "" */
	const char *method;		/* POST or PUT */
	const char *target;		/* the path */
	/* The fields as forward.c sends them, without pseudo-fields:
	 * isthmus-device, isthmus-host, isthmus-device-mac, the device's
	 * end-to-end fields and HTTP_IDEMPOTENCY_KEY. */
	const struct hdrs *fields;
	const char *key;		/* HTTP_IDEMPOTENCY_KEY's value */
	struct evbuffer *body;		/* whole; copied, left as it is */
};

/* Why a request is not queued. */
enum sfq_refusal {
	SFQ_REFUSED_FULL = 1,		/* queue_max_size reached */
	SFQ_REFUSED_DISK,		/* the file system is full */
	SFQ_REFUSED_UNAVAILABLE,	/* the file cannot be written */
	SFQ_REFUSED_MEMORY,		/* queue_max_memory reached */
	SFQ_REFUSED_COUNT
};
const char *sfq_refusal_name(int refusal);	/* full, disk, ... */

/* done's rc: 0 once the request is on disk (fsynced); else the refusal,
 * nothing kept. */
typedef void (*sfq_done_fn)(void *arg, int rc);

/* Queues r: 0 and done later, with *t to forget it by; or a refusal now
 * (queue_max_size, a file that is down), done never called. */
int sfq_submit(struct sfq *q, const struct sfq_req *r, sfq_done_fn done,
    void *arg, struct sfq_ticket **t);
/* The device is gone: done is not called (the request is still written
 * and replayed: it was whole). */
void sfq_forget(struct sfq_ticket *t);
/* The edge ends now: nothing more is taken (sfq_submit refuses), so
 * no request is written whose device can no longer hear its answer. */
void sfq_seal(struct sfq *q);
/* Whether requests handed over are still being written (a device
 * waits for its answer): a draining edge ends after them. */
bool sfq_writing(const struct sfq *q);
/* Bodies of store-and-forward requests are held in memory while they
 * are read, sent and written: n more bytes held for the request r (its
 * names for the log; its body not needed), 0, or SFQ_REFUSED_MEMORY
 * (counted, logged) when that would go past queue_max_memory, all
 * devices together; sfq_release gives back what was held. */
int sfq_hold(struct sfq *q, const struct sfq_req *r, uint64_t n);
void sfq_release(struct sfq *q, uint64_t n);
/* Seconds a device refused is told to wait (Retry-After). */
unsigned sfq_retry_after(const struct sfq *q, int refusal);

/* What the cloud says of a service on its answers (the fields
 * HTTP_STORE_FORWARD_FIELD, HTTP_CONFIDENTIAL_FIELD): kept in the file,
 * so it holds while the tunnel is down, even from the start; a change is
 * logged (store_forward_learned). */
void sfq_learn(struct sfq *q, const char *service, int mode,
    bool confidential);
/* A listener's mode for service: lc's store_forward, or what the cloud
 * said when that is service (SF_OFF when it said nothing); SF_OFF for
 * a confidential service whatever lc says (logged once:
 * store_forward_refused). */
int sfq_mode(struct sfq *q, const struct edge_listener_conf *lc,
    const char *service);

/* Whether a request of this service and device must go behind others:
 * requests of its lane (replay_order) wait in the queue, or the file is
 * still being opened at the start (what it holds is not known yet). An
 * on listener then queues it rather than send it straight through, so
 * that a device's readings reach the backend in the order it sent
 * them. */
bool sfq_waiting(const struct sfq *q, const char *service,
    const char *device, const char *mac);
/* Whether requests can be queued: the file is open, or being opened at
 * the start (they are written once it is). */
bool sfq_takes(const struct sfq *q);

/* A person's command (docs/queue.md, "Operating it"): "list" ["dead"],
 * "show" ID, "retry" ID|"dead", "drop" ID|"dead", from who ("local",
 * "cloud:ISSUER"). done gets 0 and the result, or -errno and a
 * sentence; changes are logged (queue_retry, queue_dropped). */
typedef void (*sfq_exec_fn)(int rc, json_t *result, const char *error,
    void *arg);
int sfq_exec(struct sfq *q, const char *const *args, size_t nargs,
    const char *who, sfq_exec_fn done, void *arg);
/* The caller gave up (its connection or job ended): done for arg is
 * not called. */
void sfq_exec_cancel(struct sfq *q, void *arg);
/* The same with no edge running (isthmus queue when the admin socket
 * does not answer, or the edge keeps no queue): opens cf's queue file,
 * holding STATE_DIR/queue.lock (refused while an edge holds it), runs
 * the command, closes. 0 and *result, or -errno with er saying why.
 * With no file, nothing was ever queued: a list is empty, unless cf
 * never queues (-ENOENT, SFQ_NONE). */
#define SFQ_NONE "this edge keeps no queue: none of its mode = http " \
	"listeners has store_forward on, always or service (docs/queue.md)"

int sfq_exec_offline(const struct edge_conf *cf, const char *const *args,
    size_t nargs, const char *who, json_t **result, struct err *er);

/*
 * The commands' results (JSON; src/queuetext.c prints them as text):
 *
 * list:  {"kind": "queue", "command": "list", "state": "waiting"|"dead",
 *         "total": N, "truncated": bool, "entries": [ENTRY...]}
 *        oldest first, at most SFQ_LIST_MAX entries.
 * show:  {"kind": "queue", "command": "show", "entry": ENTRY plus
 *         "key", "fields": [[name, value]...] (authorization, cookie,
 *         proxy-authorization values as "(hidden)"), "body": the body
 *         when it is UTF-8 text without NUL, else null}
 * retry, drop: {"kind": "queue", "command": "retry"|"drop",
 *         "ids": [ID...], "count": N}
 * ENTRY: {"id": N, "state": "waiting"|"dead", "listener", "service",
 *         "device", "mac": S|null, "method", "target", "bytes": N,
 *         "accepted": "2026-12-04T19:43:04.123Z", "attempts": N,
 *         "last_status": N|null, "last_error": S|null,
 *         "reason": "refused"|"expired"|"corrupt"|null (dead letters),
 *         "dead_at": TIME|null}
 */
#define SFQ_LIST_MAX 500

/* Why requests became dead letters, in sfq_stats.dead_lettered's order:
 * "refused" (a 4xx), "expired", "corrupt"; NULL past them. */
#define SFQ_DEAD_REASONS 3
const char *sfq_dead_reason_name(int k);

/* What status and /metrics show. */
struct sfq_stats {
	bool up;			/* the file is open */
	bool opening;			/* ... or being opened at the start */
	char error[256];		/* why not, when it was tried */
	uint64_t depth, bytes;		/* waiting */
	uint64_t dead, dead_bytes;	/* dead letters */
	uint64_t oldest_ms;		/* age of the oldest waiting, or 0 */
	uint64_t accepted;		/* since start */
	uint64_t replayed;		/* taken by the backend */
	uint64_t retried;		/* a replay answered 5xx or lost */
	uint64_t dead_lettered[SFQ_DEAD_REASONS];
	uint64_t refused[SFQ_REFUSED_COUNT];
	unsigned inflight;		/* replays on the tunnel now */
	uint64_t held;			/* sfq_hold's bytes now */
	/* Changes (deletions of delivered requests, dead letters) not yet
	 * on disk because it is full: retried every second; until then a
	 * restart would replay those requests again. */
	uint64_t unsaved;
};
void sfq_stats(const struct sfq *q, struct sfq_stats *out);

#endif
