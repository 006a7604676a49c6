/*
 * The state store on SQLite (store.h): one thread owns the connection and
 * works a queue; the loop only queues and, for reads, gets the answer
 * back through an eventfd. Registry events are written in batches, one
 * transaction each. A batch that fails (the file unwritable, the disk
 * full) stays queued and is tried again every STORE_RETRY_MS with a fresh
 * connection, so the store comes back by itself; reads asked meanwhile
 * are answered "unavailable" at once.
 */
#include "cloud/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cloud/store/store-int.h"

#define STORE_RETRY_MS 1000
#define STORE_BATCH 256
/* Reads waiting at once (admin requests), at most. */
#define STORE_READS_MAX 64
/* What close waits for the queue to be written when the store is down. */
#define STORE_CLOSE_MS 3000

enum job_kind { JOB_EVENT, JOB_EDGES, JOB_HISTORY };

struct job {
	enum job_kind kind;
	struct job *next;
	/* JOB_EVENT: the event, its strings in one allocation after it */
	struct store_edge_event ev;
	/* reads: what is asked, and the answer */
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	bool all;
	int rc;
	struct err e;
	void *rows;
	size_t nrows;
	store_edges_fn edges_done;
	store_history_fn history_done;
	void *arg;
};

struct store {
	char *path;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct job *head, *tail;	/* to do, in order */
	struct job *done, *done_tail;	/* answered reads, for the loop */
	size_t nevents, nreads;
	bool stop;
	struct store_stats st;
	/* the thread's */
	sqlite3 *db;
	/* the loop's */
	int efd;
	struct event *ev;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
db_error(sqlite3 *db, struct err *e, const char *what)
{
	return err_set(e, -EIO, "%s: %s", what, db != NULL ?
	    sqlite3_errmsg(db) : "out of memory");
}

static int
exec_sql(sqlite3 *db, const char *sql, struct err *e)
{
	char *msg = NULL;
	int rc;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	rc = err_set(e, -EIO, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return rc;
}

/* The version the file holds (0: new), or -errno; -EPROTO for one newer
 * than the last migration. It only reads: a newer file is never
 * touched, not even its header. */
static int
schema_version(sqlite3 *db, const char *path, struct err *e)
{
	int latest = store_migrations[store_nmigrations - 1].version;
	sqlite3_stmt *q;
	int v = 0, rc;

	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE "
	    "type = 'table' AND name = 'isthmus_schema'", -1, &q, NULL) !=
	    SQLITE_OK)
		return db_error(db, e, path);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW || sqlite3_prepare_v2(db, "SELECT MAX(version) "
	    "FROM isthmus_schema", -1, &q, NULL) != SQLITE_OK)
		return db_error(db, e, path);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (v > latest)
		return err_set(e, -EPROTO, "%s holds schema version %d, newer "
		    "than this isthmus knows (%d): refusing to use or change "
		    "it; run the isthmus that wrote it, or give another "
		    "state file", path, v, latest);
	return v;
}

/* Brings the file to the last migration's version, in one transaction;
 * -EPROTO for a file newer than that. */
static int
migrate(sqlite3 *db, const char *path, struct err *e)
{
	char sql[96];
	int v, rc = 0;
	size_t i;

	if (exec_sql(db, "BEGIN IMMEDIATE", e) != 0)
		return err_wrap(e, -EIO, "%s", path);
	v = schema_version(db, path, e);
	if (v < 0)
		rc = v;
	else if (exec_sql(db, "CREATE TABLE IF NOT EXISTS isthmus_schema "
	    "(version INTEGER NOT NULL)", e) != 0)
		rc = err_wrap(e, -EIO, "%s", path);
	for (i = 0; rc == 0 && i < store_nmigrations; i++) {
		if (store_migrations[i].version <= v)
			continue;
		snprintf(sql, sizeof(sql), "DELETE FROM isthmus_schema; "
		    "INSERT INTO isthmus_schema VALUES (%d)",
		    store_migrations[i].version);
		if (exec_sql(db, store_migrations[i].sql, e) != 0 ||
		    exec_sql(db, sql, e) != 0)
			rc = err_wrap(e, -EIO, "%s: migration to version %d",
			    path, store_migrations[i].version);
	}
	if (rc == 0 && exec_sql(db, "COMMIT", e) != 0)
		rc = -EIO;
	if (rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Opens and migrates the file (created 0600: the fleet is the operator's
 * business). */
static int
db_open(const char *path, sqlite3 **out, struct err *e)
{
	sqlite3 *db = NULL;
	int fd, rc;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = db_error(db, e, path);
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 2000);
	/* A file from a newer isthmus is refused before anything, WAL's
	 * header bytes included, is written to it. */
	rc = schema_version(db, path, e);
	if (rc >= 0) {
		rc = exec_sql(db, "PRAGMA journal_mode=WAL; "
		    "PRAGMA synchronous=NORMAL", e);
		if (rc != 0)
			err_wrap(e, rc, "%s", path);
	}
	if (rc == 0)
		rc = migrate(db, path, e);
	if (rc != 0) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

static int
bind_text(sqlite3_stmt *q, int i, const char *s)
{
	return sqlite3_bind_text(q, i, s != NULL ? s : "", -1,
	    SQLITE_TRANSIENT);
}

static int
step_done(sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);

	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **q)
{
	return sqlite3_prepare_v2(db, sql, -1, q, NULL) == SQLITE_OK ? 0 :
	    -EIO;
}

static int
write_edge(sqlite3 *db, const struct store_edge_event *ev)
{
	sqlite3_stmt *q;

	if (prepare(db, ev->up ?
	    "INSERT INTO edges (tenant, edge, first_seen, last_seen, peer, "
	    "serial, not_after, version, tunnels, up_since) VALUES "
	    "(?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, 1, ?3) "
	    "ON CONFLICT (tenant, edge) DO UPDATE SET "
	    "last_seen = ?3, peer = ?4, serial = ?5, not_after = ?6, "
	    "version = ?7, up_since = CASE WHEN tunnels = 0 THEN ?3 "
	    "ELSE up_since END, tunnels = tunnels + 1" :
	    "INSERT INTO edges (tenant, edge, first_seen, last_seen, peer, "
	    "last_reason) VALUES (?1, ?2, ?3, ?3, ?4, ?8) "
	    "ON CONFLICT (tenant, edge) DO UPDATE SET "
	    "last_seen = ?3, last_reason = ?8, "
	    "tunnels = MAX(tunnels - 1, 0), "
	    "up_since = CASE WHEN tunnels <= 1 THEN 0 ELSE up_since END",
	    &q) != 0)
		return -EIO;
	bind_text(q, 1, ev->tenant);
	bind_text(q, 2, ev->edge);
	sqlite3_bind_int64(q, 3, ev->at);
	bind_text(q, 4, ev->peer);
	bind_text(q, 5, ev->serial);
	sqlite3_bind_int64(q, 6, ev->not_after);
	bind_text(q, 7, ev->version);
	bind_text(q, 8, ev->reason);
	return step_done(q);
}

/* The event as the edge's newest history line; the oldest beyond
 * STORE_HISTORY_MAX go. */
static int
write_history(sqlite3 *db, const struct store_edge_event *ev)
{
	sqlite3_stmt *q;

	if (prepare(db, "INSERT INTO edge_history (tenant, edge, seq, at, up, "
	    "peer, reason) SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, "
	    "?5, ?6 FROM edge_history WHERE tenant = ?1 AND edge = ?2",
	    &q) != 0)
		return -EIO;
	bind_text(q, 1, ev->tenant);
	bind_text(q, 2, ev->edge);
	sqlite3_bind_int64(q, 3, ev->at);
	sqlite3_bind_int(q, 4, ev->up);
	bind_text(q, 5, ev->peer);
	bind_text(q, 6, ev->reason);
	if (step_done(q) != 0)
		return -EIO;
	if (prepare(db, "DELETE FROM edge_history WHERE tenant = ?1 AND "
	    "edge = ?2 AND seq <= (SELECT MAX(seq) FROM edge_history WHERE "
	    "tenant = ?1 AND edge = ?2) - ?3", &q) != 0)
		return -EIO;
	bind_text(q, 1, ev->tenant);
	bind_text(q, 2, ev->edge);
	sqlite3_bind_int(q, 3, STORE_HISTORY_MAX);
	return step_done(q);
}

/* The first batch of events (up to STORE_BATCH), in one transaction; n
 * is how many it took. Called with mu held; the writes run without it.
 * Only this thread takes jobs off the queue, so the batch stays at its
 * head meanwhile. */
static int
write_batch(struct store *s, size_t *n, struct err *e)
{
	struct job *batch[STORE_BATCH], *j;
	size_t k = 0, i;
	int rc = 0;

	for (j = s->head; j != NULL && j->kind == JOB_EVENT &&
	    k < STORE_BATCH; j = j->next)
		batch[k++] = j;
	*n = 0;
	pthread_mutex_unlock(&s->mu);
	if (exec_sql(s->db, "BEGIN", e) != 0)
		rc = -EIO;
	for (i = 0; rc == 0 && i < k; i++)
		if (write_edge(s->db, &batch[i]->ev) != 0 ||
		    write_history(s->db, &batch[i]->ev) != 0)
			rc = db_error(s->db, e, "writing the registry");
	if (rc == 0 && exec_sql(s->db, "COMMIT", e) != 0)
		rc = -EIO;
	if (rc != 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	else
		*n = k;
	pthread_mutex_lock(&s->mu);
	return rc;
}

static void
copy_col(sqlite3_stmt *q, int i, char *buf, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(q, i);

	snprintf(buf, cap, "%s", t != NULL ? (const char *)t : "");
}

static int
grow(void **rows, size_t n, size_t *cap, size_t size)
{
	void *p;

	if (n < *cap)
		return 0;
	*cap = *cap != 0 ? *cap * 2 : 16;
	p = realloc(*rows, *cap * size);
	if (p == NULL)
		return -ENOMEM;
	*rows = p;
	return 0;
}

static int
read_edges(struct store *s, struct job *j)
{
	struct store_edge *v;
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc;

	if (prepare(s->db, "SELECT tenant, edge, first_seen, last_seen, peer, "
	    "serial, not_after, version, tunnels, up_since, last_reason "
	    "FROM edges WHERE ?1 OR tenant = ?2 ORDER BY tenant, edge",
	    &q) != 0)
		return db_error(s->db, &j->e, "reading the registry");
	sqlite3_bind_int(q, 1, j->all);
	bind_text(q, 2, j->tenant);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (grow(&j->rows, j->nrows, &cap, sizeof(*v)) != 0) {
			sqlite3_finalize(q);
			return err_set(&j->e, -ENOMEM, "out of memory");
		}
		v = (struct store_edge *)j->rows + j->nrows++;
		memset(v, 0, sizeof(*v));
		copy_col(q, 0, v->tenant, sizeof(v->tenant));
		copy_col(q, 1, v->edge, sizeof(v->edge));
		v->first_seen = sqlite3_column_int64(q, 2);
		v->last_seen = sqlite3_column_int64(q, 3);
		copy_col(q, 4, v->peer, sizeof(v->peer));
		copy_col(q, 5, v->serial, sizeof(v->serial));
		v->not_after = sqlite3_column_int64(q, 6);
		copy_col(q, 7, v->version, sizeof(v->version));
		v->up = sqlite3_column_int(q, 8) > 0;
		v->up_since = sqlite3_column_int64(q, 9);
		copy_col(q, 10, v->last_reason, sizeof(v->last_reason));
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(s->db, &j->e,
	    "reading the registry");
}

static int
read_history(struct store *s, struct job *j)
{
	struct store_history *v;
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc;

	if (prepare(s->db, "SELECT at, up, peer, reason FROM edge_history "
	    "WHERE tenant = ?1 AND edge = ?2 ORDER BY seq DESC", &q) != 0)
		return db_error(s->db, &j->e, "reading the history");
	bind_text(q, 1, j->tenant);
	bind_text(q, 2, j->edge);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (grow(&j->rows, j->nrows, &cap, sizeof(*v)) != 0) {
			sqlite3_finalize(q);
			return err_set(&j->e, -ENOMEM, "out of memory");
		}
		v = (struct store_history *)j->rows + j->nrows++;
		memset(v, 0, sizeof(*v));
		v->at = sqlite3_column_int64(q, 0);
		v->up = sqlite3_column_int(q, 1) != 0;
		copy_col(q, 2, v->peer, sizeof(v->peer));
		copy_col(q, 3, v->reason, sizeof(v->reason));
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(s->db, &j->e,
	    "reading the history");
}

static void
job_free(struct job *j)
{
	free(j->rows);
	free(j);
}

/* An answered read, to the loop. mu held. */
static void
push_done(struct store *s, struct job *j)
{
	uint64_t one = 1;

	s->nreads--;
	j->next = NULL;
	if (s->done_tail != NULL)
		s->done_tail->next = j;
	else
		s->done = j;
	s->done_tail = j;
	if (write(s->efd, &one, sizeof(one)) < 0) {
		/* the counter is far from full: nothing to do */
	}
}

/* The queue's head is done: off the queue, and a read to the loop. mu
 * held. */
static void
finish_head(struct store *s)
{
	struct job *j = s->head;

	s->head = j->next;
	if (s->head == NULL)
		s->tail = NULL;
	if (j->kind != JOB_EVENT) {
		push_done(s, j);
		return;
	}
	s->nevents--;
	job_free(j);
}

/* The store is down: every read waiting is answered so, at once; the
 * events stay, in order. mu held. */
static void
fail_reads(struct store *s, const struct err *why)
{
	struct job *keep = NULL, *keep_tail = NULL, *j, *next;

	for (j = s->head; j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		if (j->kind == JOB_EVENT) {
			if (keep_tail != NULL)
				keep_tail->next = j;
			else
				keep = j;
			keep_tail = j;
			continue;
		}
		j->rc = -EIO;
		j->e = *why;
		j->nrows = 0;
		push_done(s, j);
	}
	s->head = keep;
	s->tail = keep_tail;
}

static void
wait_ms(struct store *s, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* A failure: the connection goes (a fresh one next time), reads waiting
 * are told, and the queue waits STORE_RETRY_MS. mu held. */
static void
went_down(struct store *s, const struct err *why)
{
	if (s->db != NULL) {
		pthread_mutex_unlock(&s->mu);
		sqlite3_close(s->db);
		pthread_mutex_lock(&s->mu);
		s->db = NULL;
	}
	s->st.available = false;
	s->st.errors++;
	fail_reads(s, why);
	wait_ms(s, STORE_RETRY_MS);
}

/* A fresh connection, made without mu. */
static int
reopen(struct store *s, struct err *e)
{
	sqlite3 *db = NULL;
	int rc;

	pthread_mutex_unlock(&s->mu);
	rc = db_open(s->path, &db, e);
	pthread_mutex_lock(&s->mu);
	s->db = db;
	return rc;
}

static void *
run(void *arg)
{
	struct store *s = arg;
	int64_t give_up = 0;
	struct err e;
	size_t n;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->head == NULL) {
			if (s->stop)
				break;
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		if (s->stop && give_up == 0)
			give_up = now_ms() + STORE_CLOSE_MS;
		if (give_up != 0 && now_ms() > give_up && !s->st.available)
			break;
		if (s->db == NULL && reopen(s, &e) != 0) {
			went_down(s, &e);
			continue;
		}
		if (s->head->kind == JOB_EVENT) {
			if (write_batch(s, &n, &e) != 0) {
				went_down(s, &e);
				continue;
			}
			s->st.written += n;
			while (n-- > 0)
				finish_head(s);
		} else {
			struct job *j = s->head;

			pthread_mutex_unlock(&s->mu);
			j->rc = j->kind == JOB_EDGES ? read_edges(s, j) :
			    read_history(s, j);
			pthread_mutex_lock(&s->mu);
			if (j->rc != 0 && j->rc != -ENOMEM) {
				struct err why = j->e;	/* j is answered too */

				went_down(s, &why);
				continue;
			}
			finish_head(s);
		}
		s->st.available = true;
	}
	/* What could not be written by the deadline is lost: counted. */
	while (s->head != NULL) {
		if (s->head->kind == JOB_EVENT)
			s->st.dropped++;
		s->head->rc = -EIO;
		err_set(&s->head->e, -EIO, "the store is closing");
		finish_head(s);
	}
	pthread_mutex_unlock(&s->mu);
	if (s->db != NULL)
		sqlite3_close(s->db);
	s->db = NULL;
	return NULL;
}

/* The loop's side: answered reads get their callbacks. */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;
	struct job *list, *j;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another turn took the count; the list decides */
	}
	pthread_mutex_lock(&s->mu);
	list = s->done;
	s->done = s->done_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while ((j = list) != NULL) {
		list = j->next;
		if (j->kind == JOB_EDGES)
			j->edges_done(j->rc, j->rows, j->nrows, &j->e, j->arg);
		else
			j->history_done(j->rc, j->rows, j->nrows, &j->e,
			    j->arg);
		job_free(j);
	}
}

static void
enqueue(struct store *s, struct job *j)
{
	if (s->tail != NULL)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->cv);
}

/* s copied to *p (moved past it), or NULL for NULL. */
static const char *
copy_str(char **p, const char *s)
{
	size_t n;
	char *d = *p;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(d, s, n);
	*p += n;
	return d;
}

static size_t
str_size(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

int
store_edge_event(struct store *s, const struct store_edge_event *ev)
{
	size_t total = str_size(ev->tenant) + str_size(ev->edge) +
	    str_size(ev->peer) + str_size(ev->serial) +
	    str_size(ev->version) + str_size(ev->reason);
	struct job *j;
	char *p;

	/* A place in the queue first, so that it never holds more. */
	pthread_mutex_lock(&s->mu);
	if (s->nevents >= STORE_QUEUE_MAX) {
		s->st.dropped++;
		pthread_mutex_unlock(&s->mu);
		return -ENOBUFS;
	}
	s->nevents++;
	pthread_mutex_unlock(&s->mu);
	j = calloc(1, sizeof(*j) + total);
	if (j == NULL) {
		pthread_mutex_lock(&s->mu);
		s->nevents--;
		s->st.dropped++;
		pthread_mutex_unlock(&s->mu);
		return -ENOMEM;
	}
	j->kind = JOB_EVENT;
	j->ev = *ev;
	p = (char *)(j + 1);
	j->ev.tenant = copy_str(&p, ev->tenant);
	j->ev.edge = copy_str(&p, ev->edge);
	j->ev.peer = copy_str(&p, ev->peer);
	j->ev.serial = copy_str(&p, ev->serial);
	j->ev.version = copy_str(&p, ev->version);
	j->ev.reason = copy_str(&p, ev->reason);
	pthread_mutex_lock(&s->mu);
	enqueue(s, j);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int
enqueue_read(struct store *s, struct job *j)
{
	pthread_mutex_lock(&s->mu);
	if (s->nreads >= STORE_READS_MAX) {
		pthread_mutex_unlock(&s->mu);
		free(j);
		return -EBUSY;
	}
	s->nreads++;
	enqueue(s, j);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int
store_list_edges(struct store *s, const char *tenant, store_edges_fn done,
    void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -ENOMEM;
	j->kind = JOB_EDGES;
	j->all = tenant == NULL;
	snprintf(j->tenant, sizeof(j->tenant), "%s", tenant != NULL ?
	    tenant : "");
	j->edges_done = done;
	j->arg = arg;
	return enqueue_read(s, j);
}

int
store_edge_history(struct store *s, const char *tenant, const char *edge,
    store_history_fn done, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -ENOMEM;
	j->kind = JOB_HISTORY;
	snprintf(j->tenant, sizeof(j->tenant), "%s", tenant);
	snprintf(j->edge, sizeof(j->edge), "%s", edge);
	j->history_done = done;
	j->arg = arg;
	return enqueue_read(s, j);
}

void
store_get_stats(struct store *s, struct store_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	st->queued = s->nevents;
	pthread_mutex_unlock(&s->mu);
}

/* A starting cloud holds no tunnel: whatever the file says was up went
 * down with the cloud that stopped. */
static int
mark_all_down(sqlite3 *db, struct err *e)
{
	return exec_sql(db, "UPDATE edges SET tunnels = 0, up_since = 0, "
	    "last_reason = 'cloud_restarted' WHERE tunnels > 0", e);
}

int
store_open(struct event_base *base, const char *path, struct store **out,
    struct err *e)
{
	struct store *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return err_set(e, -ENOMEM, "out of memory");
	}
	s->efd = -1;
	rc = db_open(path, &s->db, e);
	if (rc == -EPROTO) {
		free(s->path);
		free(s);
		return rc;
	}
	if (rc == 0 && mark_all_down(s->db, e) != 0) {
		err_wrap(e, -EIO, "%s", path);
		sqlite3_close(s->db);
		s->db = NULL;
	}
	s->st.available = s->db != NULL;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0 || (s->ev = event_new(base, s->efd,
	    EV_READ | EV_PERSIST, on_done, s)) == NULL ||
	    event_add(s->ev, NULL) != 0 ||
	    pthread_create(&s->thread, NULL, run, s) != 0) {
		store_close(s);
		return err_set(e, -ENOMEM, "cannot start the store's thread");
	}
	s->started = true;
	*out = s;
	return 0;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		on_done(s->efd, EV_READ, s);	/* reads answered "closing" */
	} else if (s->db != NULL) {
		sqlite3_close(s->db);
	}
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->efd >= 0)
		close(s->efd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->path);
	free(s);
}
