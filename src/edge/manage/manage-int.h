/*
 * What the files of edge/manage/ share (private to the folder): an
 * instruction being carried out (a job), where it runs, and the one
 * entry of each kind's executor (run_*.c). job.c answers a job: the
 * result line, the log line, the counters, then the channel's callback.
 */
#ifndef ISTHMUS_EDGE_MANAGE_INT_H
#define ISTHMUS_EDGE_MANAGE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "edge/manage/manage.h"
#include "edge/manage/msg.h"
#include "edge/manage/policy.h"

/* Instructions carried out at once at most; the channel reads no more
 * from the cloud until one ends. */
#define MANAGE_JOBS_MAX 16
/* A doctor that takes longer is stopped and answered error. */
#define MANAGE_DOCTOR_TIMEOUT_S 60
/* A prefetch that takes longer is abandoned and answered error. */
#define MANAGE_PREFETCH_TIMEOUT_S 600

struct manage_job;

/* Where jobs run: the daemon, its hooks, the jobs running, counters. */
struct manage_env {
	struct edge *e;
	const struct manage_ops *ops;
	struct manage_job *jobs;	/* running */
	unsigned njobs;
	struct manage_job *doctor;	/* the one doctor running, or NULL */
	struct manage_job *readiness;	/* the one test running, or NULL */
	uint64_t done;
	uint64_t counts[MK_COUNT][MO_EDGE_COUNT];
	/* The channel takes each answer (a line with its '\n', malloc'ed:
	 * the callee owns it) for the stream of generation gen. */
	void (*answer)(void *arg, unsigned gen, char *line, size_t len);
	/* Whether the stream of generation gen is still open. */
	bool (*live)(void *arg, unsigned gen);
	/* A readiness result for id whose stream ended: the channel sends
	 * it as "kept" on a later stream (docs/protocol.md, 6); result is
	 * taken. */
	void (*keep)(void *arg, const char *id, json_t *result);
	void *answer_arg;
};

struct manage_job {
	struct manage_env *env;
	struct manage_instr in;
	enum manage_kind kind;
	unsigned gen;			/* the stream it came on */
	/* The executor's: its state and how to stop it unanswered. */
	void *state;
	void (*cancel)(struct manage_job *j);
	struct manage_job *next, **pprev;
};

/* A job for in (taken), on the running list. */
struct manage_job *mjob_new(struct manage_env *env, struct manage_instr *in,
    unsigned gen);
/* Answers j and frees it: outcome, result (taken) or error (a
 * sentence). */
void mjob_answer(struct manage_job *j, enum manage_outcome o, json_t *result,
    const char *error);
/* A readiness result whose stream ended: logged, counted ok, handed to
 * env->keep (result taken), and j freed. */
void mjob_keep(struct manage_job *j, json_t *result);
/* mjob_answer with outcome error and a printf-like sentence. */
void mjob_fail(struct manage_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The answer of an executor that ran on another thread (a store's):
 * result (taken) when rc is 0, else error, or fallback when it says
 * nothing. j's state and cancel are over. */
void mjob_done(struct manage_job *j, int rc, json_t *result,
    const char *error, const char *fallback);
/* Every running job stops unanswered (the edge ends). */
void mjob_cancel_all(struct manage_env *env);

/* dispatch.c: a received instruction, logged, checked (kind, the site's
 * policy, its deadline) and run or answered. */
void manage_dispatch(struct manage_env *env, struct manage_instr *in,
    unsigned gen);

/* One executor per kind; each answers its job (now or later). */
void run_status(struct manage_job *j);
void run_doctor(struct manage_job *j);
void run_purge(struct manage_job *j);
void run_prefetch(struct manage_job *j);
void run_reload(struct manage_job *j);
void run_logs(struct manage_job *j);
void run_readiness(struct manage_job *j);
void run_trust(struct manage_job *j);
void run_queue(struct manage_job *j);

#endif
