/*
 * The state store on SQLite (store.h, store-int.h): one thread owns the
 * connection and works a queue; the loop only queues and, for questions,
 * gets the answer back through an eventfd. Queued writes (registry
 * events, instructions delivered and answered) go in batches, one
 * transaction each (sqlite-sql.c holds the statements). A batch that
 * fails (the file unwritable, the disk full) stays queued and is tried
 * again every STORE_RETRY_MS with a fresh connection, so the store comes
 * back by itself; questions asked meanwhile are answered "unavailable" at
 * once.
 */
#include "cloud/store/store-int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define STORE_RETRY_MS 1000
#define STORE_BATCH 256
/* Reads waiting at once (admin requests), at most; instructions to
 * record have the queue's bound. */
#define STORE_READS_MAX 64
/* What close waits for the queue to be written when the store is down. */
#define STORE_CLOSE_MS 3000

struct sqlite_store {
	struct store pub;
	char *path;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct job *head, *tail;	/* to do, in order */
	struct job *done, *done_tail;	/* answered, for the loop */
	size_t nwrites, nreads, nadds;
	size_t wbytes;			/* the writes' strings */
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
	return job_now_us() / 1000;
}

/* A round trip to the file, into the stats. mu held. */
static void
count_op(struct sqlite_store *s, int64_t t0)
{
	uint64_t us = (uint64_t)(job_now_us() - t0);

	s->st.ops++;
	s->st.op_us_sum += us;
	if (us > s->st.op_us_max)
		s->st.op_us_max = us;
}

/* The first queued writes (up to STORE_BATCH), in one transaction; n is
 * how many it took. Called with mu held; the writes run without it. Only
 * this thread takes jobs off the queue, so the batch stays at its head
 * meanwhile. */
static int
write_batch(struct sqlite_store *s, size_t *n, struct err *e)
{
	struct job *batch[STORE_BATCH], *j;
	size_t k = 0;
	int64_t t0;
	int rc;

	for (j = s->head; j != NULL && job_is_write(j) && k < STORE_BATCH;
	    j = j->next)
		batch[k++] = j;
	pthread_mutex_unlock(&s->mu);
	t0 = job_now_us();
	rc = sqlite_write(s->db, batch, k, e);
	pthread_mutex_lock(&s->mu);
	count_op(s, t0);
	*n = rc == 0 ? k : 0;
	return rc;
}

/* An answered question, to the loop. mu held. */
static void
push_done(struct sqlite_store *s, struct job *j)
{
	uint64_t one = 1;

	if (j->kind == JOB_ADD)
		s->nadds--;
	else
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

/* The queue's head is done: off the queue, and a question's answer to
 * the loop. mu held. */
static void
finish_head(struct sqlite_store *s)
{
	struct job *j = s->head;

	s->head = j->next;
	if (s->head == NULL)
		s->tail = NULL;
	if (!job_is_write(j)) {
		push_done(s, j);
		return;
	}
	s->nwrites--;
	s->wbytes -= j->size;
	job_free(j);
}

/* The store is down: every question waiting is answered so, at once;
 * the writes stay, in order. mu held. */
static void
fail_questions(struct sqlite_store *s, const struct err *why)
{
	struct job *keep = NULL, *keep_tail = NULL, *j, *next;

	for (j = s->head; j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		if (job_is_write(j)) {
			if (keep_tail != NULL)
				keep_tail->next = j;
			else
				keep = j;
			keep_tail = j;
			continue;
		}
		job_fail(j, -EIO, why);
		push_done(s, j);
	}
	s->head = keep;
	s->tail = keep_tail;
}

static void
wait_ms(struct sqlite_store *s, int64_t ms)
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

/* A failure: the connection goes (a fresh one next time), questions
 * waiting are told, and the queue waits STORE_RETRY_MS. mu held. */
static void
went_down(struct sqlite_store *s, const struct err *why)
{
	if (s->db != NULL) {
		pthread_mutex_unlock(&s->mu);
		sqlite3_close(s->db);
		pthread_mutex_lock(&s->mu);
		s->db = NULL;
	}
	s->st.available = false;
	s->st.errors++;
	fail_questions(s, why);
	wait_ms(s, STORE_RETRY_MS);
}

/* A fresh connection, made without mu. */
static int
reopen(struct sqlite_store *s, struct err *e)
{
	sqlite3 *db = NULL;
	int rc;

	pthread_mutex_unlock(&s->mu);
	rc = sqlite_db_open(s->path, &db, e);
	pthread_mutex_lock(&s->mu);
	s->db = db;
	return rc;
}

/* The question at the head, answered without mu: 0, or -1 when the
 * store failed (the question is answered with why). */
static int
answer_head(struct sqlite_store *s)
{
	struct job *j = s->head;
	int64_t t0;
	int rc;

	pthread_mutex_unlock(&s->mu);
	t0 = job_now_us();
	rc = sqlite_answer(s->db, j);
	pthread_mutex_lock(&s->mu);
	count_op(s, t0);
	if (rc == 0 && j->kind == JOB_SWEEP)
		s->st.waiting = (uint64_t)j->waiting;
	if (rc == -EIO) {
		struct err why = j->e;	/* j is answered too */

		went_down(s, &why);
		return -1;
	}
	finish_head(s);
	return 0;
}

static void *
run(void *arg)
{
	struct sqlite_store *s = arg;
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
		if (job_is_write(s->head)) {
			if (write_batch(s, &n, &e) != 0) {
				went_down(s, &e);
				continue;
			}
			s->st.written += n;
			while (n-- > 0)
				finish_head(s);
		} else if (answer_head(s) != 0) {
			continue;
		}
		s->st.available = true;
	}
	/* What could not be written by the deadline is lost: counted. */
	err_set(&e, -EIO, "the store is closing");
	while (s->head != NULL) {
		if (job_is_write(s->head))
			s->st.dropped++;
		else
			job_fail(s->head, -EIO, &e);
		finish_head(s);
	}
	pthread_mutex_unlock(&s->mu);
	if (s->db != NULL)
		sqlite3_close(s->db);
	s->db = NULL;
	return NULL;
}

/* The loop's side: answered questions get their callbacks. */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct sqlite_store *s = arg;
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
		job_answer(j);
		job_free(j);
	}
}

static void
enqueue(struct sqlite_store *s, struct job *j)
{
	if (s->tail != NULL)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->cv);
}

static int
sq_write(struct store *pub, struct job *j)
{
	struct sqlite_store *s = (struct sqlite_store *)pub;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	if (j == NULL || s->nwrites >= STORE_QUEUE_MAX ||
	    s->wbytes + j->size > STORE_QUEUE_BYTES_MAX) {
		s->st.dropped++;
		rc = j == NULL ? -ENOMEM : -ENOBUFS;
	} else {
		s->nwrites++;
		s->wbytes += j->size;
		enqueue(s, j);
	}
	pthread_mutex_unlock(&s->mu);
	if (rc != 0)
		job_free(j);
	return rc;
}

static int
sq_ask(struct store *pub, struct job *j)
{
	struct sqlite_store *s = (struct sqlite_store *)pub;

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
	enqueue(s, j);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void
sq_stats(struct store *pub, struct store_stats *st)
{
	struct sqlite_store *s = (struct sqlite_store *)pub;

	pthread_mutex_lock(&s->mu);
	*st = s->st;
	st->queued = s->nwrites;
	pthread_mutex_unlock(&s->mu);
}

static void
sq_close(struct store *pub)
{
	struct sqlite_store *s = (struct sqlite_store *)pub;

	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		on_done(s->efd, EV_READ, s);	/* answered "closing" */
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

static const struct store_ops sqlite_ops = {
	.write = sq_write,
	.ask = sq_ask,
	.stats = sq_stats,
	.close = sq_close,
};

int
store_sqlite_open(struct event_base *base, const char *path,
    struct store **out, struct err *e)
{
	struct sqlite_store *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return err_set(e, -ENOMEM, "out of memory");
	}
	s->pub.ops = &sqlite_ops;
	s->efd = -1;
	rc = sqlite_db_open(path, &s->db, e);
	if (rc == -EPROTO) {
		free(s->path);
		free(s);
		return rc;
	}
	/* One cloud per file: what the file says was up went down with
	 * the cloud that stopped. */
	if (rc == 0 && sqlite_mark_all_down(s->db, e) != 0) {
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
		sq_close(&s->pub);
		return err_set(e, -ENOMEM, "cannot start the store's thread");
	}
	s->started = true;
	*out = &s->pub;
	return 0;
}
