/*
 * The cloud's side of the management channel (docs/cloud.md, "Managing
 * edges"; the wire contract is docs/protocol.md section 5): each admitted
 * edge keeps one management stream open, the operator's instructions go
 * down it, the edge's results come back on it, and the state store
 * records every instruction before it is sent (the audit log).
 *
 * Two sides, two threads:
 *   session.c  the stream of one tunnel, in the tunnel's worker loop:
 *              reads the edge's hello and results, writes instructions;
 *   hub.c      the control loop: which edge has a session on which
 *              worker, delivery (now, or when the edge comes back),
 *              results to the operators waiting, expiry and timeouts;
 *   admin.c    `isthmus manage` and `isthmus audit` on the admin socket.
 * They meet only in the hub's mutex-guarded lists and its eventfd, and in
 * each worker's inbox (WORKER_MANAGE), so no libevent call crosses
 * threads.
 */
#ifndef ISTHMUS_CLOUD_MANAGE_H
#define ISTHMUS_CLOUD_MANAGE_H

#include <stdio.h>

#include "common/err.h"

struct admin_req;
struct cloud;
struct relay;
struct tunnel;
struct worker;

/* Once, before the workers start: the hub on cl's control loop. */
int cloud_manage_init(struct cloud *cl, struct err *e);
/* After the workers stopped (every session is gone). */
void cloud_manage_free(struct cloud *cl);
/* Readiness tests on the cloud's schedule (schedule.c): its tick on the
 * control loop, started once the hub is, stopped before it goes. */
int manage_schedule_start(struct cloud *cl, struct err *e);
void manage_schedule_stop(struct cloud *cl);

/* A tunnel's stream asked for MANAGE_PATH at DIAG_AUTHORITY (stream.c,
 * in the tunnel's worker). */
void manage_session_start(struct tunnel *t, struct relay *r);
/* The worker's inbox said WORKER_MANAGE: instructions to write on its
 * sessions (worker.c, in the worker). */
void manage_worker_inbox(struct worker *w);

/* The worker drains (SIGTERM): its management streams end, so that its
 * tunnels end with their last device stream. */
void manage_worker_shutdown(struct worker *w);

/* Admin socket requests (control loop): "manage {json}", "audit
 * {json}"; the answer is deferred until the store (and, with wait, the
 * edge) answered. */
void manage_admin(struct cloud *cl, const char *args, FILE *f,
    struct admin_req *req);
void manage_audit(struct cloud *cl, const char *args, FILE *f,
    struct admin_req *req);
/* "readiness {json}": stored readiness results, the JSON report of
 * docs/readiness.md ("Reports"). */
void manage_readiness(struct cloud *cl, const char *args, FILE *f,
    struct admin_req *req);

/* Prometheus families: instructions by kind and outcome, sessions open,
 * bad messages (metrics.c). */
void manage_metrics(struct cloud *cl, FILE *f);

#endif
