/*
 * The trust store's thread (trust-int.h): it alone holds the
 * connection. It opens the store (again every TRUST_RETRY_MS while that
 * fails, never replacing the file), writes what the loop queued, runs a
 * person's commands, looks once every TRUST_POLL_MS whether another
 * process (`isthmus trust`) changed the file, and after any change hands
 * the loop a fresh table. The loop learns all of it through a threadwake; this
 * thread makes no libevent call.
 */
#include "edge/trust/trust-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/timeval.h"

static int64_t
mono_ms(void)
{
	return mono_us() / 1000;
}

void
trust_job_free(struct tjob *j)
{
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; i < j->nargs; i++)
		free(j->args[i]);
	free(j->der);
	json_decref(j->result);
	free(j);
}

/* Wakes the loop. mu held. */
static void
wake(struct trust *t)
{
	threadwake_signal(&t->wake);
}

/* The list from..from_tail after head..tail. */
static void
splice(struct tjob **head, struct tjob **tail, struct tjob *from,
    struct tjob *from_tail)
{
	if (from == NULL)
		return;
	if (*tail != NULL)
		(*tail)->next = from;
	else
		*head = from;
	*tail = from_tail;
}

static void
append(struct tjob **head, struct tjob **tail, struct tjob *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

/* The store's state, for the loop (which logs a change). mu held. */
static void
set_state(struct trust *t, bool up, const char *error)
{
	t->sh_up = up;
	snprintf(t->sh_error, sizeof(t->sh_error), "%s", error);
	wake(t);
}

/* The file failed: the connection goes; a fresh one is tried later. */
static void
went_down(struct trust *t, const char *why)
{
	tstore_close(t->db);
	t->db = NULL;
	pthread_mutex_lock(&t->mu);
	set_state(t, false, why);
	pthread_mutex_unlock(&t->mu);
}

/* A fresh table to the loop, with the jobs that waited for it. */
static void
reload(struct trust *t)
{
	struct trust_entry *v;
	struct ttable *tab;
	struct err e;
	size_t n;

	if (tstore_load(t->db, &v, &n, &e) != 0) {
		if (e.msg[0] != '\0')
			went_down(t, e.msg);
		return;
	}
	if ((tab = ttable_new(v, n)) == NULL)
		return;	/* out of memory: the next change tries again */
	pthread_mutex_lock(&t->mu);
	ttable_free(t->fresh);
	t->fresh = tab;
	splice(&t->done, &t->done_tail, t->held, t->held_tail);
	t->held = t->held_tail = NULL;
	wake(t);
	pthread_mutex_unlock(&t->mu);
}

static void
try_open(struct trust *t)
{
	struct err e;

	if (tstore_open(t->path, true, &t->db, &e) != 0) {
		pthread_mutex_lock(&t->mu);
		set_state(t, false, e.msg);
		pthread_mutex_unlock(&t->mu);
		return;
	}
	pthread_mutex_lock(&t->mu);
	set_state(t, true, "");
	pthread_mutex_unlock(&t->mu);
	reload(t);
}

static void
run_exec(struct trust *t, struct tjob *j)
{
	struct err e = { "" };

	j->rc = trust_command(t->db, (const char *const *)j->args, j->nargs,
	    j->who, TRUST_LIST_REMOTE, &j->result, &e);
	if (j->rc != 0)
		snprintf(j->error, sizeof(j->error), "%s", e.msg);
	if (j->rc == -EIO)
		went_down(t, e.msg);
}

/* One job, without mu. Whether a reload must follow (something was
 * written). */
static bool
work(struct trust *t, struct tjob *j)
{
	struct err e = { "" };

	if (t->db == NULL) {
		j->rc = -EIO;
		snprintf(j->error, sizeof(j->error), "the trust store is "
		    "unavailable");
		return false;
	}
	switch (j->kind) {
	case TJ_RECORD:
		j->rc = tstore_record(t->db, &j->ent, j->der, j->derlen, &e);
		break;
	case TJ_TOUCH:
		j->rc = tstore_touch(t->db, j->ent.id, j->ent.address,
		    j->ent.last_seen, &e);
		break;
	case TJ_EXEC:
		run_exec(t, j);
		/* a decision's answer waits for the table that shows it */
		return j->rc == 0 && strcmp(j->args[0], "list") != 0 &&
		    strcmp(j->args[0], "show") != 0;
	}
	if (j->rc != 0)
		snprintf(j->error, sizeof(j->error), "%s", e.msg);
	if (j->rc == -EIO)
		went_down(t, e.msg);
	return j->kind == TJ_RECORD && (j->rc == 0 || j->rc == -EEXIST);
}

/* The job is done: a touch is freed; the others go back to the loop, at
 * once when nothing was written, else with the next table. mu held. */
static void
answer(struct trust *t, struct tjob *j, bool wrote)
{
	if (j->kind == TJ_TOUCH) {
		trust_job_free(j);
	} else if (wrote) {
		append(&t->held, &t->held_tail, j);
	} else {
		append(&t->done, &t->done_tail, j);
		wake(t);
	}
}

/* Waits for a job, or until deadline (monotonic ms, never 0 here: the
 * condition variable runs on CLOCK_MONOTONIC, see trust_new). mu held. */
static void
wait_until(struct trust *t, int64_t deadline)
{
	threadwake_wait(&t->cv, &t->mu, deadline);
}

/* Work through the queue; dirty: reload once it is empty. */
static void *
run(void *arg)
{
	struct trust *t = arg;
	int64_t retry_at = 0, poll_at = 0, now;
	bool dirty = false, wrote;
	struct tjob *j;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		now = mono_ms();
		if (t->db == NULL && now >= retry_at) {
			pthread_mutex_unlock(&t->mu);
			try_open(t);
			pthread_mutex_lock(&t->mu);
			retry_at = now + TRUST_RETRY_MS;
			poll_at = now + TRUST_POLL_MS;
			continue;
		}
		if ((j = t->head) != NULL) {
			t->head = j->next;
			if (t->head == NULL)
				t->tail = NULL;
			t->queued--;
			t->cur = j;
			pthread_mutex_unlock(&t->mu);
			wrote = work(t, j);
			dirty |= wrote;
			pthread_mutex_lock(&t->mu);
			t->cur = NULL;
			answer(t, j, wrote && t->db != NULL);
			continue;
		}
		if (t->db != NULL && (dirty || now >= poll_at)) {
			pthread_mutex_unlock(&t->mu);
			if (dirty || tstore_changed(t->db))
				reload(t);
			pthread_mutex_lock(&t->mu);
			dirty = false;
			poll_at = now + TRUST_POLL_MS;
			continue;
		}
		wait_until(t, t->db == NULL ? retry_at : poll_at);
	}
	pthread_mutex_unlock(&t->mu);
	tstore_close(t->db);
	t->db = NULL;
	return NULL;
}

int
trust_worker_start(struct trust *t)
{
	if (pthread_create(&t->thread, NULL, run, t) != 0)
		return -EAGAIN;
	t->started = true;
	return 0;
}

void
trust_worker_stop(struct trust *t)
{
	if (!t->started)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	t->started = false;
	/* what waited for a table that will not come */
	splice(&t->done, &t->done_tail, t->held, t->held_tail);
	t->held = t->held_tail = NULL;
}

int
trust_worker_push(struct trust *t, struct tjob *j)
{
	pthread_mutex_lock(&t->mu);
	if (t->queued >= TRUST_QUEUE_MAX) {
		pthread_mutex_unlock(&t->mu);
		return -ENOSPC;
	}
	append(&t->head, &t->tail, j);
	t->queued++;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	return 0;
}
