/*
 * What the store's files share (private to src/cloud/store/): the
 * schema's migrations, the work a backend is handed (a job: a queued
 * write, or a question with its answer), and the small table of
 * operations each backend fills in. store.c turns the public calls of
 * store.h into jobs and hands them to the backend store_open chose:
 * sqlite.c (with sqlite-sql.c, its statements) or pg.c.
 */
#ifndef ISTHMUS_CLOUD_STORE_INT_H
#define ISTHMUS_CLOUD_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/store/store.h"

struct store_migration {
	int version;
	const char *sql;	/* statements separated by ';' (none inside
				 * a string), valid on SQLite and PostgreSQL */
};

/* The migrations, version 1 first; the last one's version is the
 * schema this isthmus writes. */
extern const struct store_migration store_migrations[];
extern const size_t store_nmigrations;

enum job_kind {
	/* queued writes: kept while the store is down, bounded, counted */
	JOB_EVENT, JOB_SENT, JOB_DONE, JOB_READINESS,
	/* questions: answered on the loop, -EIO at once while down */
	JOB_EDGES, JOB_HISTORY, JOB_ADD, JOB_WAITING, JOB_SWEEP, JOB_AUDIT,
	JOB_READINESS_LIST,
};

struct job {
	enum job_kind kind;
	struct job *next;
	/* bytes of the strings after it (a write's count against
	 * STORE_QUEUE_BYTES_MAX) */
	size_t size;
	/* JOB_EVENT: the event, its strings in one allocation after the
	 * job (as for every string below) */
	struct store_edge_event ev;
	/* JOB_SENT, JOB_DONE (id), JOB_ADD (the row; in.args and
	 * in.result point after the job) */
	struct store_instruction in;
	int64_t at;
	/* JOB_READINESS: the result (rd.result after the job) */
	struct store_readiness rd;
	/* reads: what is asked */
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	bool all;			/* JOB_EDGES: every tenant */
	int64_t now;			/* JOB_WAITING, JOB_SWEEP */
	struct store_audit_filter f;	/* JOB_AUDIT */
	struct store_readiness_filter rf;	/* JOB_READINESS_LIST */
	int64_t waiting;		/* JOB_SWEEP: still waiting after */
	/* the answer */
	int rc;
	struct err e;
	void *rows;			/* store_edge, store_history,
					 * store_instruction or
					 * store_readiness */
	size_t nrows;
	store_edges_fn edges_done;
	store_history_fn history_done;
	store_done_fn add_done;
	store_instructions_fn instr_done;
	store_readiness_fn readiness_done;
	void *arg;
};

/* job.c: making, answering and freeing jobs. */
static inline bool
job_is_write(const struct job *j)
{
	return j->kind <= JOB_READINESS;
}
struct job *job_event(const struct store_edge_event *ev);
struct job *job_sent(const char *id, int64_t at, int64_t answer_by);
struct job *job_done(const char *id, const char *state, const char *result,
    const char *error, int64_t at);
struct job *job_add(const struct store_instruction *in);
struct job *job_readiness(const struct store_readiness *r);
/* Room for one more row of size in j->rows: 0 or -ENOMEM. */
int job_grow(struct job *j, size_t *cap, size_t size);
/* Calls the job's callback with its answer. */
void job_answer(struct job *j);
/* The answer is rc (an error), for why: rows read so far go. */
void job_fail(struct job *j, int rc, const struct err *why);
/* Frees j and its rows (an instruction row's args and result, a
 * readiness row's result, too). */
void job_free(struct job *j);
/* Instruction rows in the store's order (seq). */
void job_sort_by_seq(struct job *j);
/* A µs clock for the round trips of store_stats. */
int64_t job_now_us(void);

/* sqlite-sql.c, for sqlite.c's thread: opens path (created 0600) and
 * migrates it (-EPROTO: newer than this isthmus, untouched); marks every
 * edge down; writes jobs (JOB_EVENT ... JOB_READINESS) in one
 * transaction; answers question j (j->rc, also returned: -EIO means the
 * store failed, e.g. the connection should go). */
struct sqlite3;
int sqlite_db_open(const char *path, struct sqlite3 **out, struct err *e);
int sqlite_mark_all_down(struct sqlite3 *db, struct err *e);
int sqlite_write(struct sqlite3 *db, struct job *const *v, size_t n,
    struct err *e);
int sqlite_answer(struct sqlite3 *db, struct job *j);

/* pg-sql.c, for pg.c: the statements of an operation, sent on c in
 * pipeline mode (0, or -EIO: the connection failed), and the rows of its
 * statement qi taken into question j (0 or -ENOMEM). */
struct pg_conn;
struct pg_result;
int pgsql_send_schema(struct pg_conn *c);
int pgsql_send_migrate(struct pg_conn *c, int version);
int pgsql_send_prepare(struct pg_conn *c);
int pgsql_send_write(struct pg_conn *c, const struct job *j);
int pgsql_send_question(struct pg_conn *c, const struct job *j);
int pgsql_take(struct job *j, int qi, const struct pg_result *r);

/* What a backend does; its struct starts with a struct store. */
struct store_ops {
	/* Queues a write (any thread): 0, or -ENOBUFS when STORE_QUEUE_MAX
	 * wait, -ENOMEM for j NULL (both counted as dropped, j freed). */
	int (*write)(struct store *s, struct job *j);
	/* Asks a question (the loop): 0 and the job is answered on the
	 * loop later, or -errno (j freed, no answer). */
	int (*ask)(struct store *s, struct job *j);
	void (*stats)(struct store *s, struct store_stats *st);
	void (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

int store_sqlite_open(struct event_base *base, const char *path,
    struct store **out, struct err *e);
int store_pg_open(struct event_base *base, const char *conninfo,
    struct store **out, struct err *e);

#endif
