/*
 * The running trust's internals (trust.h), shared by trust.c (the loop's
 * side: the table, trust_check, the answers) and worker.c (the store's
 * thread). They meet only under mu: the thread takes jobs from the
 * queue and hands back a reloaded table, answered jobs and the store's
 * state, then wakes the loop through its threadwake.
 */
#ifndef ISTHMUS_EDGE_TRUST_TRUST_INT_H
#define ISTHMUS_EDGE_TRUST_TRUST_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "edge/trust/table.h"
#include "edge/trust/trust.h"
#include "common/threadwake.h"

/* Jobs queued at once, at most: past that a new certificate is not
 * recorded (and refused), a command not queued. */
#define TRUST_QUEUE_MAX 4096
#define TRUST_ARGS_MAX 4
/* A remote list carries at most this many entries (docs/trust.md): an
 * entry with the longest subject, issuer and peer is about 1.4 KB, and
 * the result must stay within MANAGE_RESULT_MAX (192 KiB). */
#define TRUST_LIST_REMOTE 100
#define TRUST_RETRY_MS 10000	/* a store that failed, tried again */
#define TRUST_POLL_MS 1000	/* another process's change, looked for */

enum tjob_kind { TJ_RECORD, TJ_TOUCH, TJ_EXEC };

struct tjob {
	enum tjob_kind kind;
	struct tjob *next;
	/* record: the entry and its certificate; touch: id, address and
	 * last_seen */
	struct trust_entry ent;
	uint8_t *der;
	size_t derlen;
	/* exec */
	char *args[TRUST_ARGS_MAX];
	size_t nargs;
	char who[TRUST_BY_MAX];
	trust_done_fn done;		/* the loop's: NULL once cancelled */
	void *arg;
	/* the answer */
	int rc;
	json_t *result;
	char error[512];
};

struct trust_watcher {
	trust_changed_fn fn;
	void *arg;
	struct trust_watcher *next;
};

/* A certificate queued to be recorded, as the loop sees it until the
 * table holds it. */
struct trust_place {
	struct trust_entry ent;		/* id 0 */
	const struct tjob *job;		/* compared, never followed */
	struct trust_place *next;
};

struct trust {
	struct event_base *base;
	char *path;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct tjob *head, *tail, *cur;	/* to do; being done */
	size_t queued;
	struct tjob *done, *done_tail;	/* answered, for the loop */
	struct ttable *fresh;		/* reloaded, for the loop */
	bool sh_up;
	char sh_error[256];
	bool stop;
	/* the thread's */
	struct tstore *db;
	struct tjob *held, *held_tail;	/* answered once the table shows it */
	/* the loop's */
	struct threadwake wake;		/* the thread's signal */
	struct ttable *table;
	struct trust_place *places;
	size_t nplaces;
	struct trust_watcher *watchers;
	struct log_limit *lim;
	bool expired_ok;
	bool up;
	char error[256];
	struct trust_stats st;
};

/* worker.c: the thread, started once t's fields are set; stopped and
 * joined (what is still queued stays on t's lists). */
int trust_worker_start(struct trust *t);
void trust_worker_stop(struct trust *t);
/* Queues j (mu taken here); -ENOSPC past TRUST_QUEUE_MAX (j not
 * taken). */
int trust_worker_push(struct trust *t, struct tjob *j);
void trust_job_free(struct tjob *j);

#endif
