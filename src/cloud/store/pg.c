/*
 * The state store on PostgreSQL (store.h, store-int.h), for several cloud
 * replicas sharing one database: libpq's asynchronous API on the loop
 * store_open was given (the cloud's control loop). Nothing here blocks
 * the loop, but for store_open's first connect and migration (the cloud
 * is not serving yet) and store_close's last writes (it has stopped).
 *
 * One operation at a time is in flight: its statements go out in libpq's
 * pipeline mode and end with a sync, so they run in one implicit
 * transaction and cost one round trip; the results come back through
 * PQconsumeInput/PQgetResult when PQsocket is readable. Queued writes
 * (registry events, instructions delivered and answered) come from any
 * thread: a mutex guards the queue and an eventfd wakes the loop; they
 * go in batches of up to STORE_BATCH, one transaction each. Questions
 * (reads, adding an instruction) are asked and answered on the loop.
 *
 * When the server goes away (the connection breaks, a statement fails)
 * questions are answered -EIO at once, writes stay queued (bounded,
 * counted when dropped) and a fresh connection is tried every
 * STORE_RETRY_MS, in the background, until it works. A connection that
 * has not checked the schema yet (the server was down at start) checks
 * and migrates it first, like store_open does.
 *
 * One file past 800 lines: the connection, the queue and the operation
 * in flight are one state machine (pg-sql.c holds the statements).
 *
 * Unlike SQLite (one cloud to a file), a starting cloud does not mark
 * every edge down ("cloud_restarted"): other replicas hold tunnels of
 * the same fleet. Which replica holds which tunnel, so that a replica's
 * death marks only its own edges down, is for a later issue.
 */
#include "cloud/store/store-int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libpq-fe.h>

#define STORE_RETRY_MS 1000
#define STORE_BATCH 256
#define STORE_READS_MAX 64
#define STORE_CLOSE_MS 3000
/* A server that stops answering without closing (a network gone): a
 * connection not made, or an operation not answered, by then is given
 * up and made again. libpq's connect_timeout does not cover
 * PQconnectPoll. */
#define STORE_CONNECT_MS 10000
#define STORE_ANSWER_MS 30000
enum phase { PG_DOWN, PG_CONNECTING, PG_SCHEMA, PG_READY };
enum op_kind {
	OP_NONE, OP_SCHEMA, OP_MIGRATE, OP_PREPARE, OP_WRITES, OP_QUESTION
};

/* The operation in flight. */
struct op {
	enum op_kind kind;
	size_t nwrites;		/* OP_WRITES: the queue's first ones */
	struct job *j;		/* OP_QUESTION: the queue's head */
	int qi;			/* the statement whose results come */
	bool failed;
	char sqlstate[6];
	struct err e;
	int64_t t0;
	bool nomem;
	int version;		/* OP_SCHEMA: what the database holds */
	int nrows;		/* OP_QUESTION JOB_ADD: rows inserted */
	int nulls;		/* PQgetResult's NULLs in a row */
};

struct pg_store {
	struct store pub;
	struct event_base *base;
	char *conninfo;
	char name[256];		/* conninfo without its password */
	pthread_mutex_t mu;
	/* under mu */
	struct job *head, *tail;
	size_t nwrites, nreads, nadds;
	size_t wbytes;		/* the writes' strings */
	struct store_stats st;
	/* the loop's */
	int efd;
	struct event *wake, *retry, *answer, *rd, *wr, *deadline;
	struct job *answered, *answered_tail;
	PGconn *conn;
	int fd;
	enum phase phase;
	bool schema_ok;		/* checked on this store's life */
	bool hold;		/* an operation failed: wait for retry */
	bool newer;		/* the schema is newer than this isthmus */
	struct op op;
	struct err why;		/* why it is down */
};

static void went_down(struct pg_store *, const struct err *);
static void kick(struct pg_store *);
static void on_sock(evutil_socket_t, short, void *);

/* libpq's message (its first line), after the name. */
static void
pq_error(struct pg_store *s, struct err *e, const char *what,
    const char *msg)
{
	size_t n = strcspn(msg, "\n");	/* one line: no LINE 1: ... ^ */

	while (n > 0 && msg[n - 1] == ' ')
		n--;
	err_set(e, -EIO, "%s: %s: %.*s", s->name, what, (int)n, msg);
}

/* Rows of statement op.qi, for whoever asked. */
static void
take(struct pg_store *s, const PGresult *r)
{
	struct op *op = &s->op;

	if (op->kind == OP_SCHEMA) {
		if (op->qi == 2 && PQntuples(r) == 1)
			op->version = atoi(PQgetvalue(r, 0, 0));
		return;
	}
	if (op->kind != OP_QUESTION)
		return;
	if (op->j->kind == JOB_ADD) {
		if (op->qi == 1)
			op->nrows = PQntuples(r);
		return;
	}
	if (pgsql_take(op->j, op->qi, r) != 0 && !op->failed) {
		op->failed = op->nomem = true;
		err_set(&op->e, -ENOMEM, "out of memory");
	}
}

/* --- The queue ---------------------------------------------------- */

static void
on_answer(evutil_socket_t fd, short what, void *arg)
{
	struct pg_store *s = arg;
	struct job *list = s->answered, *j;

	(void)fd;
	(void)what;
	s->answered = s->answered_tail = NULL;
	while ((j = list) != NULL) {
		list = j->next;
		job_answer(j);
		job_free(j);
	}
}

/* j (off the queue) is answered on the loop's next turn. */
static void
answer_later(struct pg_store *s, struct job *j)
{
	pthread_mutex_lock(&s->mu);
	if (j->kind == JOB_ADD)
		s->nadds--;
	else
		s->nreads--;
	pthread_mutex_unlock(&s->mu);
	j->next = NULL;
	if (s->answered_tail != NULL)
		s->answered_tail->next = j;
	else
		s->answered = j;
	s->answered_tail = j;
	event_active(s->answer, 0, 0);
}

/* Questions in the queue are answered rc/why at once; writes stay, in
 * order. */
static void
fail_questions(struct pg_store *s, int rc, const struct err *why)
{
	struct job *keep = NULL, *keep_tail = NULL, *fail = NULL, **fail_end;
	struct job *j, *next;

	fail_end = &fail;
	pthread_mutex_lock(&s->mu);
	for (j = s->head; j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		if (job_is_write(j)) {
			if (keep_tail != NULL)
				keep_tail->next = j;
			else
				keep = j;
			keep_tail = j;
		} else {
			*fail_end = j;
			fail_end = &j->next;
		}
	}
	s->head = keep;
	s->tail = keep_tail;
	pthread_mutex_unlock(&s->mu);
	for (j = fail; j != NULL; j = next) {
		next = j->next;
		job_fail(j, rc, why);
		answer_later(s, j);
	}
}

/* The head, off the queue. */
static struct job *
pop_head(struct pg_store *s)
{
	struct job *j;

	pthread_mutex_lock(&s->mu);
	j = s->head;
	s->head = j->next;
	if (s->head == NULL)
		s->tail = NULL;
	if (job_is_write(j)) {
		s->nwrites--;
		s->wbytes -= j->size;
	}
	pthread_mutex_unlock(&s->mu);
	return j;
}

/* j, at the queue's tail. mu held. */
static void
append(struct pg_store *s, struct job *j)
{
	if (s->tail != NULL)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
}

static void
set_available(struct pg_store *s, bool up, bool error)
{
	pthread_mutex_lock(&s->mu);
	s->st.available = up;
	if (error)
		s->st.errors++;
	pthread_mutex_unlock(&s->mu);
}

/* --- The connection ----------------------------------------------- */

static void
watch(struct pg_store *s, short what)
{
	if (s->rd == NULL || s->fd != PQsocket(s->conn)) {
		if (s->rd != NULL)
			event_free(s->rd);
		if (s->wr != NULL)
			event_free(s->wr);
		s->rd = s->wr = NULL;
		s->fd = PQsocket(s->conn);
		if (s->fd < 0)
			return;
		s->rd = event_new(s->base, s->fd, EV_READ | EV_PERSIST,
		    on_sock, s);
		s->wr = event_new(s->base, s->fd, EV_WRITE | EV_PERSIST,
		    on_sock, s);
		if (s->rd == NULL || s->wr == NULL)
			return;
	}
	if (what & EV_READ)
		event_add(s->rd, NULL);
	else
		event_del(s->rd);
	if (what & EV_WRITE)
		event_add(s->wr, NULL);
	else
		event_del(s->wr);
}

static void
drop_conn(struct pg_store *s)
{
	if (s->rd != NULL)
		event_free(s->rd);
	if (s->wr != NULL)
		event_free(s->wr);
	s->rd = s->wr = NULL;
	s->fd = -1;
	if (s->conn != NULL)
		PQfinish(s->conn);
	s->conn = NULL;
}

static void
arm(struct event *ev, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_add(ev, &tv);
}

static void
arm_retry(struct pg_store *s)
{
	arm(s->retry, STORE_RETRY_MS);
}

/* The operation in flight ended: its latency counted, the op cleared. */
static void
op_end(struct pg_store *s)
{
	uint64_t us = (uint64_t)(job_now_us() - s->op.t0);

	pthread_mutex_lock(&s->mu);
	s->st.ops++;
	s->st.op_us_sum += us;
	if (us > s->st.op_us_max)
		s->st.op_us_max = us;
	pthread_mutex_unlock(&s->mu);
	s->op.kind = OP_NONE;
	event_del(s->deadline);
}

/* The connection is gone or unusable: questions are told why, writes
 * stay, a fresh connection in STORE_RETRY_MS. */
static void
went_down(struct pg_store *s, const struct err *why)
{
	struct job *j;

	s->why = *why;
	if (s->op.kind == OP_QUESTION) {
		j = pop_head(s);
		job_fail(j, -EIO, why);
		answer_later(s, j);
	}
	if (s->op.kind != OP_NONE)
		op_end(s);
	drop_conn(s);
	event_del(s->deadline);
	s->phase = PG_DOWN;
	s->hold = false;
	set_available(s, false, true);
	fail_questions(s, -EIO, why);
	arm_retry(s);
}

static void
conn_lost(struct pg_store *s, const char *what)
{
	struct err e;

	pq_error(s, &e, what, s->conn != NULL ? PQerrorMessage(s->conn) :
	    "out of memory");
	went_down(s, &e);
}

static void
flush(struct pg_store *s)
{
	int rc = PQflush(s->conn);

	if (rc < 0)
		conn_lost(s, "sending");
	else
		watch(s, EV_READ | (rc > 0 ? EV_WRITE : 0));
}

/* The operation's statements were sent (rc): then its sync. */
static void
op_start(struct pg_store *s, int rc)
{
	if (rc == 0 && !PQpipelineSync(s->conn))
		rc = -EIO;
	if (rc != 0) {
		conn_lost(s, "sending");
		return;
	}
	flush(s);
}

static void
op_begin(struct pg_store *s, enum op_kind kind)
{
	memset(&s->op, 0, sizeof(s->op));
	s->op.kind = kind;
	s->op.t0 = job_now_us();
	arm(s->deadline, STORE_ANSWER_MS);
}

static void
start_schema(struct pg_store *s)
{
	op_begin(s, OP_SCHEMA);
	op_start(s, pgsql_send_schema(s->conn));
}

/* The schema is right: the statements, prepared on this connection. */
static void
start_prepare(struct pg_store *s)
{
	op_begin(s, OP_PREPARE);
	op_start(s, pgsql_send_prepare(s->conn));
}

/* The next operation, if the connection is free and the queue is not
 * empty; while down (or a write batch failed and waits for its retry),
 * questions are answered at once. */
static void
kick(struct pg_store *s)
{
	struct job *batch[STORE_BATCH], *j;
	size_t k = 0, i;
	int rc = 0;

	if (s->phase != PG_READY || s->hold) {
		fail_questions(s, -EIO, &s->why);
		return;
	}
	if (s->op.kind != OP_NONE)
		return;
	pthread_mutex_lock(&s->mu);
	for (j = s->head; j != NULL && job_is_write(j) && k < STORE_BATCH;
	    j = j->next)
		batch[k++] = j;
	j = s->head;
	pthread_mutex_unlock(&s->mu);
	if (j == NULL)
		return;
	if (k > 0) {
		op_begin(s, OP_WRITES);
		s->op.nwrites = k;
		for (i = 0; rc == 0 && i < k; i++)
			rc = pgsql_send_write(s->conn, batch[i]);
		op_start(s, rc);
		return;
	}
	op_begin(s, OP_QUESTION);
	s->op.j = j;
	op_start(s, pgsql_send_question(s->conn, j));
}

/* The operation's sync came back: its outcome. */
static void
op_done(struct pg_store *s)
{
	struct op *op = &s->op;
	enum op_kind kind;
	struct job *j;
	int latest = store_migrations[store_nmigrations - 1].version;
	size_t i;

	switch (op->kind) {
	case OP_SCHEMA:
	case OP_MIGRATE:
		kind = op->kind;
		op_end(s);
		if (op->failed) {
			went_down(s, &op->e);
			return;
		}
		if (kind == OP_SCHEMA && op->version > latest) {
			err_set(&op->e, -EPROTO, "%s holds schema version %d, "
			    "newer than this isthmus knows (%d): refusing to "
			    "use or change it; run the isthmus that wrote it, "
			    "or give another state", s->name, op->version,
			    latest);
			s->newer = true;
			went_down(s, &op->e);
			return;
		}
		if (kind == OP_SCHEMA && op->version < latest) {
			int v = op->version;

			op_begin(s, OP_MIGRATE);
			op_start(s, pgsql_send_migrate(s->conn, v));
			return;
		}
		s->schema_ok = true;
		start_prepare(s);
		return;
	case OP_PREPARE:
		op_end(s);
		if (op->failed) {
			went_down(s, &op->e);
			return;
		}
		s->phase = PG_READY;
		set_available(s, true, false);
		break;
	case OP_WRITES:
		op_end(s);
		if (op->failed) {
			s->why = op->e;
			s->hold = true;
			set_available(s, false, true);
			fail_questions(s, -EIO, &op->e);
			arm_retry(s);
			return;
		}
		for (i = 0; i < op->nwrites; i++)
			job_free(pop_head(s));
		pthread_mutex_lock(&s->mu);
		s->st.written += op->nwrites;
		s->st.available = true;
		pthread_mutex_unlock(&s->mu);
		break;
	case OP_QUESTION:
		op_end(s);
		j = pop_head(s);
		if (op->failed && j->kind == JOB_ADD &&
		    strcmp(op->sqlstate, "23505") == 0) {
			err_set(&op->e, -EEXIST, "instruction %s is already "
			    "recorded", j->in.id);
			job_fail(j, -EEXIST, &op->e);
		} else if (op->failed) {
			job_fail(j, op->nomem ? -ENOMEM : -EIO, &op->e);
			set_available(s, false, true);
		} else if (j->kind == JOB_ADD && op->nrows == 0) {
			err_set(&op->e, -ENOSPC, "edge %s of tenant %s already "
			    "has %d instructions waiting", j->in.edge,
			    j->in.tenant, STORE_WAITING_MAX);
			job_fail(j, -ENOSPC, &op->e);
		} else {
			if (j->kind == JOB_SWEEP) {
				job_sort_by_seq(j);
				s->st.waiting = (uint64_t)j->waiting;
			}
			set_available(s, true, false);
		}
		answer_later(s, j);
		break;
	default:
		break;
	}
	kick(s);
}

/* A statement failed: the first failure is the operation's. */
static void
op_failed(struct pg_store *s, const PGresult *r)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	if (s->op.failed)
		return;
	s->op.failed = true;
	snprintf(s->op.sqlstate, sizeof(s->op.sqlstate), "%s", st != NULL ?
	    st : "");
	pq_error(s, &s->op.e, "the store", m != NULL ? m :
	    PQresultErrorMessage(r));
}

/* Results as far as they have come. */
static void
drain(struct pg_store *s)
{
	PGresult *r;

	while (s->conn != NULL && s->op.kind != OP_NONE &&
	    !PQisBusy(s->conn)) {
		r = PQgetResult(s->conn);
		if (r == NULL) {
			/* the next statement's results; two in a row:
			 * nothing more has come */
			if (s->op.nulls++ > 0)
				break;
			s->op.qi++;
			continue;
		}
		s->op.nulls = 0;
		switch (PQresultStatus(r)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(r);
			op_done(s);
			continue;
		case PGRES_TUPLES_OK:
			take(s, r);
			break;
		case PGRES_FATAL_ERROR:
			op_failed(s, r);
			break;
		default:
			break;
		}
		PQclear(r);
	}
}

/* A server's notices ("already exists, skipping") are not ours to
 * print. */
static void
no_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void
connected(struct pg_store *s)
{
	PQsetNoticeProcessor(s->conn, no_notice, NULL);
	if (PQsetnonblocking(s->conn, 1) != 0 ||
	    !PQenterPipelineMode(s->conn)) {
		conn_lost(s, "connecting");
		return;
	}
	s->phase = PG_SCHEMA;
	if (s->schema_ok)
		start_prepare(s);
	else
		start_schema(s);
}

static void
poll_connect(struct pg_store *s)
{
	if (PQsocket(s->conn) < 0) {
		conn_lost(s, "connecting");
		return;
	}
	switch (PQconnectPoll(s->conn)) {
	case PGRES_POLLING_READING:
		watch(s, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		watch(s, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		watch(s, 0);
		connected(s);
		break;
	default:
		conn_lost(s, "connecting");
		break;
	}
}

static void
on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct pg_store *s = arg;

	(void)fd;
	if (s->phase == PG_CONNECTING) {
		poll_connect(s);
		return;
	}
	if (what & EV_WRITE) {
		flush(s);
		if (s->conn == NULL)
			return;
	}
	if (what & EV_READ) {
		if (!PQconsumeInput(s->conn) ||
		    PQstatus(s->conn) == CONNECTION_BAD) {
			conn_lost(s, "the connection");
			return;
		}
		drain(s);
	}
}

/* Every STORE_RETRY_MS while down (or after a failed operation). */
static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct pg_store *s = arg;

	(void)fd;
	(void)what;
	if (s->phase == PG_READY) {
		s->hold = false;
		kick(s);
		return;
	}
	if (s->phase != PG_DOWN)
		return;
	s->conn = PQconnectStart(s->conninfo);
	if (s->conn == NULL || PQstatus(s->conn) == CONNECTION_BAD) {
		conn_lost(s, "connecting");
		return;
	}
	s->phase = PG_CONNECTING;
	arm(s->deadline, STORE_CONNECT_MS);
	poll_connect(s);
}

/* No connection, or no answer, in time. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct pg_store *s = arg;
	struct err e;

	(void)fd;
	(void)what;
	err_set(&e, -ETIMEDOUT, "%s: %s: no answer from the server in %d s",
	    s->name, s->phase == PG_CONNECTING ? "connecting" : "the store",
	    (s->phase == PG_CONNECTING ? STORE_CONNECT_MS : STORE_ANSWER_MS) /
	    1000);
	went_down(s, &e);
}

/* Another thread queued a write. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct pg_store *s = arg;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another turn took the count */
	}
	if (s->phase == PG_READY)
		kick(s);
}

/* Runs the connection without the loop, until the operation in flight
 * is done (store_open) or the queue is written (store_close), or
 * deadline (ms, monotonic). */
static void
drive(struct pg_store *s, int64_t deadline, bool until_empty)
{
	struct pollfd p;
	int64_t left;

	for (;;) {
		if (until_empty && s->phase == PG_READY &&
		    s->op.kind == OP_NONE)
			kick(s);
		if (s->conn == NULL || s->op.kind == OP_NONE)
			return;
		left = deadline - job_now_us() / 1000;
		if (left <= 0)
			return;
		p.fd = PQsocket(s->conn);
		p.events = POLLIN | (PQflush(s->conn) > 0 ? POLLOUT : 0);
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return;
		on_sock(p.fd, (p.revents & POLLOUT ? EV_WRITE : 0) |
		    (p.revents & (POLLIN | POLLHUP | POLLERR) ? EV_READ : 0),
		    s);
	}
}

/* --- The interface ------------------------------------------------ */

static int
pg_write(struct store *pub, struct job *j)
{
	struct pg_store *s = (struct pg_store *)pub;
	uint64_t one = 1;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	if (j == NULL || s->nwrites >= STORE_QUEUE_MAX ||
	    s->wbytes + j->size > STORE_QUEUE_BYTES_MAX) {
		s->st.dropped++;
		rc = j == NULL ? -ENOMEM : -ENOBUFS;
	} else {
		s->nwrites++;
		s->wbytes += j->size;
		append(s, j);
	}
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		job_free(j);
		return rc;
	}
	if (write(s->efd, &one, sizeof(one)) < 0) {
		/* the counter is far from full: nothing to do */
	}
	return 0;
}

static int
pg_ask(struct store *pub, struct job *j)
{
	struct pg_store *s = (struct pg_store *)pub;

	pthread_mutex_lock(&s->mu);
	if (j->kind == JOB_ADD ? s->nadds >= STORE_QUEUE_MAX :
	    s->nreads >= STORE_READS_MAX) {
		pthread_mutex_unlock(&s->mu);
		job_free(j);
		return -EBUSY;
	}
	if (j->kind == JOB_ADD)
		s->nadds++;
	else
		s->nreads++;
	append(s, j);
	pthread_mutex_unlock(&s->mu);
	kick(s);
	return 0;
}

static void
pg_stats(struct store *pub, struct store_stats *st)
{
	struct pg_store *s = (struct pg_store *)pub;

	pthread_mutex_lock(&s->mu);
	*st = s->st;
	st->queued = s->nwrites;
	pthread_mutex_unlock(&s->mu);
}

static void
pg_close(struct store *pub)
{
	struct pg_store *s = (struct pg_store *)pub;
	struct err e;
	struct job *j;

	/* the loop has stopped: the last writes without it */
	if (s->phase == PG_READY || s->op.kind != OP_NONE)
		drive(s, job_now_us() / 1000 + STORE_CLOSE_MS, true);
	err_set(&e, -EIO, "the store is closing");
	if (s->op.kind == OP_QUESTION) {
		j = pop_head(s);
		job_fail(j, -EIO, &e);
		answer_later(s, j);
	}
	s->op.kind = OP_NONE;
	s->phase = PG_DOWN;
	fail_questions(s, -EIO, &e);
	while (s->head != NULL) {
		s->st.dropped++;	/* not written by the deadline */
		job_free(pop_head(s));
	}
	if (s->answer != NULL)
		on_answer(-1, 0, s);
	drop_conn(s);
	if (s->wake != NULL)
		event_free(s->wake);
	if (s->retry != NULL)
		event_free(s->retry);
	if (s->answer != NULL)
		event_free(s->answer);
	if (s->deadline != NULL)
		event_free(s->deadline);
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->mu);
	free(s->conninfo);
	free(s);
}

static const struct store_ops pg_ops = {
	.write = pg_write,
	.ask = pg_ask,
	.stats = pg_stats,
	.close = pg_close,
};

int
store_pg_open(struct event_base *base, const char *conninfo,
    struct store **out, struct err *e)
{
	struct pg_store *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->conninfo = strdup(conninfo)) == NULL) {
		free(s);
		return err_set(e, -ENOMEM, "out of memory");
	}
	s->pub.ops = &pg_ops;
	s->base = base;
	s->fd = -1;
	store_safe_name(conninfo, s->name, sizeof(s->name));
	pthread_mutex_init(&s->mu, NULL);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0 || (s->wake = event_new(base, s->efd,
	    EV_READ | EV_PERSIST, on_wake, s)) == NULL ||
	    event_add(s->wake, NULL) != 0 ||
	    (s->retry = evtimer_new(base, on_retry, s)) == NULL ||
	    (s->answer = event_new(base, -1, 0, on_answer, s)) == NULL ||
	    (s->deadline = evtimer_new(base, on_deadline, s)) == NULL) {
		pg_close(&s->pub);
		return err_set(e, -ENOMEM, "out of memory");
	}
	/* The cloud is not serving yet: the first connection and the
	 * schema are made here, blocking (bounded by connect_timeout in
	 * the URI, if any). */
	s->conn = PQconnectdb(conninfo);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		conn_lost(s, "connecting");
	} else {
		connected(s);
		drive(s, job_now_us() / 1000 + 30000, false);
		if (s->phase != PG_READY && s->conn != NULL)
			conn_lost(s, "the schema took too long");
	}
	if (s->phase != PG_READY) {
		*e = s->why;
		if (s->newer) {
			pg_close(&s->pub);
			return -EPROTO;
		}
	}
	*out = &s->pub;
	return 0;
}
