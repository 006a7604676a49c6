/*
 * The running queue's internals (queue.h), shared by its files:
 * queue.c (the loop's side: submit, commands, what the thread hands
 * back), worker.c (the thread that alone holds the file), lanes.c (the
 * index of waiting requests per lane), replay.c (sending them again,
 * expiry) and learn.c (what services said). The loop and the thread
 * meet only under mu: the thread takes jobs and hands back answered
 * ones, the file's state and a fresh index after each open, then wakes
 * the loop through efd.
 */
#ifndef ISTHMUS_EDGE_QUEUE_QUEUE_INT_H
#define ISTHMUS_EDGE_QUEUE_QUEUE_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "common/threadwake.h"
#include "common/timeval.h"
#include "edge/queue/qstore.h"
#include "edge/queue/queue.h"

#define SFQ_RETRY_MS 10000		/* a file that failed, tried again */
#define SFQ_LATER_MS 1000		/* changes that found the disk full */
/* Free bytes the queue leaves on its file system (worker.c, admit):
 * room to delete what it delivered, up to a checkpoint of the log. */
#define SFQ_HEADROOM (2u << 20)
#define SFQ_EXPIRE_MS 60000		/* queue_max_age looked at */
/* Replay's back-off (docs/queue.md): 1 s doubling to 60 s, or the
 * answer's Retry-After up to 300 s. */
#define SFQ_BACKOFF_MIN_MS 1000
#define SFQ_BACKOFF_MAX_MS 60000
/* A replay's wait for its answer: response_timeout, doubled after each
 * one its lane waited for in vain, up to this. */
#define SFQ_REPLAY_WAIT_MAX_MS 300000
#define SFQ_RETRY_AFTER_MAX_S 300
/* A direct attempt's bound when no listener sets response_timeout. */
#define SFQ_RESPONSE_TIMEOUT_MS 10000
#define SFQ_ARGS_MAX 3
#define SFQ_BY_MAX 96			/* "local:USER", "cloud:ISSUER" */

enum qjob_kind { QJ_INSERT, QJ_DELETE, QJ_ATTEMPTED, QJ_KILL, QJ_LEARN,
	QJ_FETCH, QJ_EXEC };

struct qreplay;

struct qjob {
	enum qjob_kind kind;
	struct qjob *next;
	int64_t id;			/* delete, attempted, kill, fetch */
	/* insert: the record (its id set once stored); fetch: as read */
	struct qrecord *rec;
	struct sfq_ticket *ticket;	/* insert: the loop's */
	/* attempted, kill: the answer's status, its first bytes, why */
	int status, reason;
	char answer[QSTORE_ANSWER_MAX];
	size_t alen;
	char why[128];
	int64_t when_ms;
	struct qservice svc;		/* learn */
	uint64_t seq;			/* fetch: its replay's */
	/* exec */
	char *args[SFQ_ARGS_MAX];
	size_t nargs;
	char who[SFQ_BY_MAX];
	sfq_exec_fn done;		/* NULL once cancelled */
	void *arg;
	json_t *result;
	struct qjob *xnext;		/* the loop's list of commands */
	/* the answer */
	int rc;
	char error[512];
};

/* What the thread read after opening the file. */
struct qload {
	struct qindex *v, *bad;		/* bad: found corrupt now */
	size_t n, nbad;
	struct qservice *svcs;
	size_t nsvcs;
	uint64_t torn;			/* queue_torn_tail */
};

struct sfq_ticket {
	sfq_done_fn done;		/* NULL once forgotten */
	void *arg;
	uint64_t bytes;			/* counted in pending_bytes */
	char listener[64], service[128], device[64];
};

/* A request in the index (lanes.c). */
struct qent {
	int64_t id, accepted_ms;
	int64_t seen_ms;		/* monotonic: when this run met it */
	uint64_t bytes;
	int state;			/* enum qstate */
	char *service;
	char *dev;			/* the device's MAC, else its address */
	struct qlane *lane;		/* waiting: its lane */
	struct qent *prev, *next;	/* in the lane, by id */
	struct qent *hnext;		/* the id table's chain */
	/* Being sent: its replay's pointer to it, cleared when it leaves
	 * the index first (the replay's end then touches nothing). */
	struct qent **replay;
};

/* The requests that go one at a time, in id order: a service's, or a
 * service's device's (replay_order). Kept while it holds one. */
struct qlane {
	char *name;
	struct qent *head, *tail;
	unsigned busy;			/* replays of it under way */
	int64_t not_before;		/* monotonic ms: its back-off */
	uint64_t backoff_ms;
	/* Replays of it in a row that got no answer in time: each waits
	 * twice as long as the one before (replay.c, replay_wait). */
	unsigned slow;
	struct qlane *hnext;
	struct qlane *prev, *next;	/* every lane, for turns */
};

/* A service as the cloud described it (learn.c). */
struct qsvc {
	char *name;
	int mode;			/* enum store_forward */
	bool confidential;
	bool known;			/* said, now or in the file */
	bool heard;			/* said during this run */
	bool refused_logged;		/* store_forward_refused */
	struct qsvc *next;
};

struct sfq {
	struct sfq_env env;
	char *path;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct qjob *head, *tail;	/* to do */
	struct qjob *done, *done_tail;	/* answered, for the loop */
	struct qload *loaded;		/* a fresh index, for the loop */
	bool sh_up;
	char sh_error[256];
	size_t sh_unsaved;		/* changes kept: the disk is full */
	bool want_open;
	bool stop;
	uint64_t commits;		/* transactions of the group commit */
	/* the thread's */
	struct qstore *db;
	struct qjob *later, *later_tail;
	int64_t later_at;
	/* the loop's */
	struct threadwake wake;		/* the thread's signal */
	struct event *pump_ev, *expire_ev;
	struct log_limit *lim;
	bool up;
	/* From the start until the thread first tried the file: requests
	 * are taken (written once it is open) and on listeners queue. */
	bool opening;
	bool sealed;			/* sfq_seal: the edge ends */
	char error[256];
	uint64_t max_size, max_age, response_timeout;
	uint64_t max_memory, held;	/* sfq_hold */
	size_t unsaved;			/* sh_unsaved, as last logged */
	unsigned streams;
	int order;			/* enum replay_order */
	/* the index */
	struct qent **ids;
	size_t nid_buckets, nents;
	struct qlane **lane_buckets;
	size_t nlane_buckets, nlanes;
	struct qlane *lanes, *turn;	/* every lane; the next to look at */
	uint64_t pending_bytes;		/* submitted, not yet answered */
	struct qreplay *replays;
	uint64_t replay_seq;
	struct qjob *execs;		/* commands not yet answered */
	struct qsvc *svcs;
	struct sfq_stats st;
};

/* worker.c: the thread, started once q's fields are set; stopped once
 * what it must write is written (the rest stays on q's lists). */
int sfq_worker_start(struct sfq *q);
void sfq_worker_stop(struct sfq *q);
/* Queues j (mu taken here); never fails. */
void sfq_worker_push(struct sfq *q, struct qjob *j);
/* The thread is to open the file (a service was learned to queue). */
void sfq_worker_want(struct sfq *q);
struct qjob *sfq_job_new(enum qjob_kind kind);
void sfq_job_free(struct qjob *j);
void sfq_load_free(struct qload *l);

/* lanes.c: the index. sfq_index_add skips an id already there (a
 * record the fresh index of a reopening holds). */
int sfq_index_add(struct sfq *q, const struct qindex *x);
struct qent *sfq_index_find(const struct sfq *q, int64_t id);
void sfq_index_remove(struct sfq *q, struct qent *e);
void sfq_index_kill(struct sfq *q, struct qent *e);
int sfq_index_revive(struct sfq *q, struct qent *e);
void sfq_index_clear(struct sfq *q);
/* replay_order changed: every waiting request in its new lane. */
int sfq_index_relane(struct sfq *q);
/* The next lane whose turn it is (idle, not in back-off), or NULL and
 * *wake: the monotonic ms the earliest back-off ends (0: none). */
struct qlane *sfq_lane_pick(struct sfq *q, int64_t now, int64_t *wake);
/* A replay of e starts (its lane waits for it), and ends. A request
 * removed or made a dead letter meanwhile lets its lane go on at once
 * (and clears *held_by, the replay's pointer to it). */
void sfq_lane_hold(struct qent *e, struct qent **held_by);
void sfq_lane_unhold(struct sfq *q, struct qent *e);

/* replay.c */
void sfq_pump(struct sfq *q);
void sfq_fetched(struct sfq *q, struct qjob *j);
/* Every replay ends now, unanswered (the file went down, or close):
 * before the index is cleared. */
void sfq_replays_abort(struct sfq *q);
void sfq_expire(struct sfq *q);
/* A change for the thread: delete, attempted, kill. */
void sfq_push_change(struct sfq *q, enum qjob_kind kind, int64_t id,
    int reason, int status, const char *answer, size_t alen,
    const char *why);

/* learn.c */
void sfq_services_take(struct sfq *q, struct qservice *v, size_t n);
void sfq_services_free(struct sfq *q);

#endif
