/*
 * What the management files share (private to src/cloud/manage/): the
 * hub, the messages between workers and the control loop, and the
 * message codec. session.c runs in workers, hub.c and admin.c in the
 * control loop; msg.c is pure.
 */
#ifndef ISTHMUS_CLOUD_MANAGE_INT_H
#define ISTHMUS_CLOUD_MANAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <event2/event.h>
#include <jansson.h>

#include "cloud/store/store.h"
#include "common/managewords.h"
#include "common/names.h"
#include "common/proto.h"

struct admin_req;
struct cloud;
struct msession;
struct ready_spec;

/* Instructions one session has delivered and waits to hear of, at most;
 * past it, the rest wait in the store until one is answered. */
#define MANAGE_INFLIGHT_MAX 64
/* What a result may still take to travel after its deadline. */
#define MANAGE_GRACE_S 5

/* Why a message from an edge was refused. */
enum mbad { MBAD_OVERSIZED, MBAD_MALFORMED, MBAD_COUNT };

/* --- msg.c: the edge's messages, checked ----------------------------- */

struct mmsg {
	bool hello;			/* else a result, or: */
	bool kept;			/* a kept readiness result */
	char version[32];		/* hello */
	char accepts[160];		/* hello: "status,doctor,..." */
	char id[MANAGE_ID_MAX + 1];	/* result */
	enum manage_outcome outcome;
	char *result;			/* JSON text, or NULL; malloc'd */
	char error[MANAGE_ERROR_MAX + 1];
};

/* Parses one line (without its '\n'); -EBADMSG with why filled (a short
 * phrase for the log) when it breaks docs/protocol.md section 5. */
int mmsg_parse(const char *line, size_t len, struct mmsg *m, char *why,
    size_t cap);
void mmsg_clear(struct mmsg *m);
/* The instruction's line, '\n' included, with params (taken; NULL: none)
 * when its encoding is at most MANAGE_PARAMS_MAX; NULL when out of memory
 * or params are over it. */
char *mmsg_instruction(const struct store_instruction *in,
    int64_t deadline, json_t *params, size_t *len);

/* --- hub.c: the control loop's side ---------------------------------- */

/* An instruction on its way to a worker's session. */
struct mdelivery {
	struct mdelivery *next;
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	uint64_t gen;			/* the session it is for */
	char id[MANAGE_ID_MAX + 1];
	enum manage_kind kind;
	int64_t answer_by;
	char *line;
	size_t len;
	struct ready_spec *ready;	/* readiness: the test, registered
					 * when the line is written (its key
					 * is in line too) */
};

/* Frees d, wiping what holds a readiness key. */
void mdelivery_free(struct mdelivery *d);

/* The gauges' figures: seconds, seconds, a ratio, bits a second. */
enum rfigure { RF_RTT, RF_JITTER, RF_LOSS, RF_DOWN, RF_UP, RF_COUNT };

/* Verdicts, for isthmus_readiness_tests_total. */
enum rverdict { RV_PASS, RV_WARN, RV_FAIL, RV_COUNT };

/* What the gauges take of one readiness result (results.c), read once
 * where the result arrives. */
struct rfigures {
	bool ok;			/* a result document */
	enum rverdict verdict;
	double at;			/* the test's start */
	double v[RF_COUNT];
	bool has[RF_COUNT];
};

/* Each edge's latest readiness figures, for the gauges (results.c;
 * control loop only). */
struct rlatest {
	struct rlatest *next;
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	struct rfigures f;
};

/* What a session tells the control loop. */
struct mnote {
	struct mnote *next;
	enum { MN_OPENED, MN_READY, MN_SENT, MN_DONE, MN_HELLO,
	    MN_KEPT } what;
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	uint64_t gen;
	char id[MANAGE_ID_MAX + 1];
	enum manage_kind kind;
	enum manage_outcome outcome;
	char *result;			/* MN_DONE: JSON text or NULL */
	struct rfigures fig;		/* MN_DONE, MN_KEPT: a readiness
					 * result's */
	bool readiness;			/* MN_HELLO: the edge accepts it */
	char error[MANAGE_ERROR_MAX + 1];
};

/* An edge's live session, as the hub knows it (under mu). An edge may
 * have two for a while (a second process with its certificate, a
 * re-dial before the old tunnel is found dead): the newest, first on
 * the list, takes what is sent to the edge; the others are shadowed,
 * and the next newest takes over when it ends. */
struct mreg {
	struct mreg *next;
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	unsigned widx;
	uint64_t gen;
	bool shadowed;			/* a newer session of the edge is up */
	/* Its readiness schedule (schedule.c; control loop only). */
	bool hello;			/* said: accepts known */
	bool accepts_readiness;
	bool told;			/* the schedule message went down */
	char profile[NAME_MAX_LEN + 1];	/* as told; "" none */
	uint64_t every_ms;
	int64_t next_test;		/* Unix s; 0: none */
	char busy[MANAGE_ID_MAX + 1];	/* a scheduled test not answered */
};

struct mwaiter;
struct edge_ask;

struct manage_hub {
	struct cloud *cl;
	pthread_mutex_t mu;
	/* under mu */
	struct mreg *regs;
	struct mdelivery **outbox;	/* per worker, oldest first */
	struct mdelivery **outbox_tail;
	struct mnote *notes, *notes_tail;
	uint64_t next_gen;
	/* each worker's own, touched by that worker only */
	struct msession **sessions;
	unsigned nworkers;
	/* the control loop's */
	int efd;
	struct event *ev, *sweep;
	struct mwaiter *waiters;
	struct edge_ask *reread;	/* edges whose waiting could not be
					 * read: asked again each sweep */
	bool sweeping;
	/* counters (atomic) */
	uint64_t outcomes[MK_COUNT][MO_COUNT];
	uint64_t bad[MBAD_COUNT];
	uint64_t unexpected;		/* results for no instruction sent */
	uint64_t sessions_open;
	uint64_t sent;
	/* readiness (control loop) */
	struct rlatest *latest;
	struct event *schedule;		/* schedule.c's tick */
	uint64_t verdicts[RV_COUNT];
	uint64_t kept;			/* kept results received (atomic) */
	uint64_t scheduled;		/* tests the schedule issued */
};

/* From any thread. The session of (tenant, edge) opened as gen (and
 * replaces an older one: a reloading edge briefly holds two tunnels), or
 * closed (only gen's own registration goes). */
uint64_t hub_register(struct manage_hub *h, const char *tenant,
    const char *edge, unsigned widx);
void hub_unregister(struct manage_hub *h, const char *tenant,
    const char *edge, uint64_t gen);
/* Takes n (malloc'd); the control loop acts on it. */
void hub_note(struct manage_hub *h, struct mnote *n);
/* Control loop: sends in to its edge's live session, if any (else it
 * stays waiting in the store, and false). */
bool hub_deliver(struct manage_hub *h, const struct store_instruction *in);
/* Control loop: an operator waits for id's outcome for up to wait_ms. */
int hub_wait(struct manage_hub *h, const struct store_instruction *in,
    struct admin_req *req, uint64_t wait_ms);

/* --- ready.c: readiness instructions -------------------------------- */

/* For a readiness instruction in, at send time: its profile resolved,
 * *deadline pushed out by the test's longest run, its params and the
 * test to register (a fresh key). -ENOENT (the profile it names is
 * gone) or -ENOMEM, with why. */
int mready_prepare(struct manage_hub *h, const struct store_instruction *in,
    int64_t *deadline, json_t **params, struct ready_spec **spec,
    char *why, size_t cap);
void mready_spec_free(struct ready_spec *s);

/* Control loop: a line that is no instruction (the schedule message)
 * for the session gen of (tenant, edge); line taken. */
void hub_send_line(struct manage_hub *h, const char *tenant,
    const char *edge, uint64_t gen, char *line, size_t len);
/* o (released) as the admin request's one-line JSON answer; NULL (out of
 * memory) answers an error. */
void manage_answer_json(struct admin_req *req, json_t *o);
/* A fresh instruction id (MANAGE_ID_MAX lowercase hex digits). */
void manage_new_id(char *buf);

/* id had its outcome: a scheduled test it was no longer keeps its edge
 * busy (schedule.c). */
void hub_test_done(struct manage_hub *h, const char *id);

/* --- schedule.c: readiness tests on the cloud's schedule --------------- */

/* The slot: the first time after now at the edge's offset within
 * every_s (docs/readiness.md, "Schedules"). */
int64_t schedule_next(const char *tenant, const char *edge, uint64_t every_s,
    int64_t now);

/* --- results.c: readiness results kept and counted --------------------- */

/* In any thread: a readiness result (JSON text) of (tenant, edge) for
 * instruction id to the store, if st (late: sent as a kept result), and
 * its figures into fig. false when it is not a result document (not
 * stored; fig->ok false). */
bool results_store(struct store *st, const char *tenant, const char *edge,
    const char *id, const char *result, bool late, struct rfigures *fig);
/* Control loop: the gauges and counters take a result's figures. */
void results_note(struct manage_hub *h, const char *tenant,
    const char *edge, const struct rfigures *fig);
void results_free(struct manage_hub *h);
const char *results_verdict_name(enum rverdict v);

/* --- session.c: a worker's sessions ---------------------------------- */

/* In worker widx: d to the session it names, if that still lives. */
void session_deliver(struct manage_hub *h, unsigned widx,
    struct mdelivery *d);

/* One instruction (an audit row) as the JSON the CLI reads; NULL when
 * out of memory. */
json_t *mmsg_record(const struct store_instruction *in);

#endif
