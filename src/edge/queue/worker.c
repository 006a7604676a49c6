/*
 * The queue's thread (queue-int.h): it alone holds the file. It opens
 * it when there is something to queue (again every SFQ_RETRY_MS while
 * that fails, never replacing a file that is not ours) and hands the
 * loop the index; then it takes every job that arrived while its last
 * commit was syncing and writes them in one transaction (the group
 * commit: many devices share one fsync), reads the records replay asks
 * for, and runs a person's commands. The loop learns all of it through
 * efd; this thread makes no libevent call.
 */
#include "edge/queue/queue-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qjob *
sfq_job_new(enum qjob_kind kind)
{
	struct qjob *j = calloc(1, sizeof(*j));

	if (j != NULL)
		j->kind = kind;
	return j;
}

void
sfq_job_free(struct qjob *j)
{
	size_t i;

	if (j == NULL)
		return;
	qrecord_free(j->rec);
	free(j->ticket);	/* the loop's, freed by the loop */
	free(j->svc.name);
	for (i = 0; i < j->nargs; i++)
		free(j->args[i]);
	json_decref(j->result);
	free(j);
}

void
sfq_load_free(struct qload *l)
{
	if (l == NULL)
		return;
	qindex_free(l->v, l->n);
	qindex_free(l->bad, l->nbad);
	qservice_free(l->svcs, l->nsvcs);
	free(l);
}

static void
append(struct qjob **head, struct qjob **tail, struct qjob *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

/* j back to the loop. mu held. */
static void
answer(struct sfq *q, struct qjob *j)
{
	append(&q->done, &q->done_tail, j);
	threadwake_signal(&q->wake);
}

static void
set_state(struct sfq *q, bool up, const char *error, struct qload *l)
{
	pthread_mutex_lock(&q->mu);
	q->sh_up = up;
	snprintf(q->sh_error, sizeof(q->sh_error), "%s", error);
	if (l != NULL) {
		sfq_load_free(q->loaded);
		q->loaded = l;
	}
	threadwake_signal(&q->wake);
	pthread_mutex_unlock(&q->mu);
}

/* The file failed: the connection goes (the lock with it); a fresh
 * one is tried later, and what the loop holds is read again then. */
static void
went_down(struct sfq *q, const char *why)
{
	struct qjob *j;

	qstore_close(q->db);
	q->db = NULL;
	while ((j = q->later) != NULL) {
		q->later = j->next;
		sfq_job_free(j);
	}
	q->later_tail = NULL;
	set_state(q, false, why, NULL);
}

static void
try_open(struct sfq *q)
{
	struct qload *l = calloc(1, sizeof(*l));
	struct err e = { "" };
	int rc;

	if (l == NULL) {
		set_state(q, false, "out of memory", NULL);
		return;
	}
	rc = qstore_open(q->path, true, &q->db, &l->torn, &e);
	if (rc == 0)
		rc = qstore_load(q->db, &l->v, &l->n, &l->bad, &l->nbad, &e);
	if (rc == 0)
		rc = qstore_services(q->db, &l->svcs, &l->nsvcs, &e);
	if (rc != 0) {
		sfq_load_free(l);
		qstore_close(q->db);
		q->db = NULL;
		set_state(q, false, e.msg, NULL);
		return;
	}
	set_state(q, true, "", l);
}

/* One change inside the batch's transaction. */
static int
apply(struct sfq *q, struct qjob *j, struct err *e)
{
	switch (j->kind) {
	case QJ_INSERT:
		qrecord_seal(j->rec);	/* the sum off the loop */
		return qstore_add(q->db, j->rec, e);
	case QJ_DELETE:
		return qstore_delete(q->db, j->id, e);
	case QJ_ATTEMPTED:
		return qstore_attempted(q->db, j->id, j->status,
		    j->why[0] != '\0' ? j->why : NULL, e);
	case QJ_KILL:
		return qstore_kill(q->db, j->id, j->reason, j->status,
		    j->alen > 0 ? j->answer : NULL, j->alen, j->status > 0,
		    j->when_ms, e);
	case QJ_LEARN:
		return qstore_learn(q->db, &j->svc, j->when_ms, e);
	default:
		return 0;
	}
}

/* One transaction of jobs: 0 once committed, else the error (rolled
 * back). */
static int
commit(struct sfq *q, struct qjob *list, struct err *e)
{
	struct qjob *j;
	int rc;

	if ((rc = qstore_begin(q->db, e)) != 0)
		return rc;
	for (j = list; rc == 0 && j != NULL; j = j->next)
		rc = apply(q, j, e);
	if (rc == 0)
		rc = qstore_commit(q->db, e);
	if (rc != 0) {
		qstore_rollback(q->db);
		return rc;
	}
	pthread_mutex_lock(&q->mu);
	q->commits++;
	pthread_mutex_unlock(&q->mu);
	return 0;
}

/* Inserts answered with rc (and a refusal's reason); the changes freed. */
static void
settle(struct sfq *q, struct qjob *list, int rc, const char *why)
{
	struct qjob *j, *next;

	pthread_mutex_lock(&q->mu);
	for (j = list; j != NULL; j = next) {
		next = j->next;
		if (j->kind != QJ_INSERT) {
			sfq_job_free(j);
			continue;
		}
		j->rc = rc;
		snprintf(j->error, sizeof(j->error), "%s", why);
		answer(q, j);
	}
	pthread_mutex_unlock(&q->mu);
}

/* What an insert of r may take of the file system: its pages in the
 * log, then again in the file once the log is folded into it. */
static uint64_t
cost(const struct qrecord *r)
{
	return 2 * (r->bytes + 2 * QSTORE_PAGE);
}

/* The changes kept for later, told to the loop (it logs them). */
static void
set_unsaved(struct sfq *q)
{
	const struct qjob *j;
	size_t n = 0;

	for (j = q->later; j != NULL; j = j->next)
		n++;
	pthread_mutex_lock(&q->mu);
	if (q->sh_unsaved != n) {
		q->sh_unsaved = n;
		threadwake_signal(&q->wake);
	}
	pthread_mutex_unlock(&q->mu);
}

/*
 * The inserts of batch the file system has room for, SFQ_HEADROOM kept
 * free: deleting a delivered request writes to the log before the file
 * shrinks, so a queue that filled its disk to the last byte could never
 * delete what it delivered (it would be sent again after a restart) nor
 * take anything new. Before refusing, the log is folded into the file
 * and cut back, which may free room. From the first insert that does
 * not fit, every insert of the batch is refused ("disk"), so a device's
 * requests are never taken out of order; the other changes stay.
 */
static struct qjob *
admit(struct sfq *q, struct qjob *batch)
{
	struct qjob *keep = NULL, *ktail = NULL, *out = NULL, *otail = NULL,
	    *j, *next;
	uint64_t need = 0, used = 0;
	struct err e = { "" };
	int64_t room;

	for (j = batch; j != NULL; j = j->next)
		if (j->kind == QJ_INSERT)
			need += cost(j->rec);
	if (need == 0 || (room = qstore_room(q->db)) < 0 ||
	    (uint64_t)room >= need + SFQ_HEADROOM)
		return batch;
	(void)qstore_checkpoint(q->db, &e);
	if ((room = qstore_room(q->db)) < 0 ||
	    (uint64_t)room >= need + SFQ_HEADROOM)
		return batch;
	for (j = batch; j != NULL; j = next) {
		next = j->next;
		if (j->kind == QJ_INSERT && (out != NULL ||
		    used + cost(j->rec) + SFQ_HEADROOM > (uint64_t)room)) {
			append(&out, &otail, j);
			continue;
		}
		if (j->kind == QJ_INSERT)
			used += cost(j->rec);
		append(&keep, &ktail, j);
	}
	settle(q, out, SFQ_REFUSED_DISK, "the file system holding the queue "
	    "is nearly full (the queue keeps 2 MiB of it free to delete "
	    "what it delivers)");
	return keep;
}

/* Changes that found the disk full: the log folded into the file and
 * cut back may make room for them; 0 once committed. */
static int
commit_changes(struct sfq *q, struct qjob *changes, struct err *e)
{
	struct err ce = { "" };
	int rc;

	if ((rc = commit(q, changes, e)) != -ENOSPC)
		return rc;
	if (qstore_checkpoint(q->db, &ce) != 0)
		return rc;
	return commit(q, changes, e);
}

/*
 * The group commit: the changes left from a full disk, then every
 * insert and change that came, in one transaction. Inserts past what
 * the disk can take are refused first (admit). On a full disk
 * (SQLITE_FULL) even so, the inserts are refused ("disk": nothing was
 * accepted) and the changes tried alone, then kept for SFQ_LATER_MS: a
 * deletion must not be lost, or a request the backend took is sent
 * again.
 */
static void
flush(struct sfq *q, struct qjob *batch)
{
	struct qjob *changes = NULL, *ctail = NULL, *inserts = NULL,
	    *itail = NULL, *j, *next;
	struct err e = { "" };
	int rc;

	if (q->later != NULL) {
		q->later_tail->next = batch;
		batch = q->later;
		q->later = q->later_tail = NULL;
	}
	if (batch == NULL)
		return;
	if (q->db == NULL) {
		settle(q, batch, SFQ_REFUSED_UNAVAILABLE, "the queue is "
		    "unavailable");
		return;
	}
	if ((batch = admit(q, batch)) == NULL) {
		set_unsaved(q);
		return;
	}
	if ((rc = commit(q, batch, &e)) == 0) {
		settle(q, batch, 0, "");
		set_unsaved(q);
		return;
	}
	if (rc != -ENOSPC) {
		settle(q, batch, SFQ_REFUSED_UNAVAILABLE, e.msg);
		went_down(q, e.msg);
		return;
	}
	for (j = batch; j != NULL; j = next) {
		next = j->next;
		if (j->kind == QJ_INSERT)
			append(&inserts, &itail, j);
		else
			append(&changes, &ctail, j);
	}
	settle(q, inserts, SFQ_REFUSED_DISK, e.msg);
	if (changes == NULL || (rc = commit_changes(q, changes, &e)) == 0) {
		settle(q, changes, 0, "");
	} else if (rc == -ENOSPC) {
		q->later = changes;
		q->later_tail = ctail;
		q->later_at = mono_us() / 1000 + SFQ_LATER_MS;
	} else {
		settle(q, changes, 0, "");
		went_down(q, e.msg);
	}
	set_unsaved(q);
}

static void
fetch(struct sfq *q, struct qjob *j)
{
	struct err e = { "" };

	if (q->db == NULL) {
		j->rc = -EIO;
		snprintf(j->error, sizeof(j->error), "the queue is "
		    "unavailable");
		return;
	}
	j->rc = qstore_fetch(q->db, j->id, &j->rec, &e);
	snprintf(j->error, sizeof(j->error), "%s", e.msg);
	if (j->rc == -EIO || j->rc == -ENOSPC)
		went_down(q, e.msg);
}

static void
exec(struct sfq *q, struct qjob *j)
{
	struct err e = { "" };
	char why[sizeof(q->sh_error)];
	bool wanted;

	pthread_mutex_lock(&q->mu);
	wanted = q->want_open;
	memcpy(why, q->sh_error, sizeof(why));
	pthread_mutex_unlock(&q->mu);
	if (q->db == NULL && !wanted) {
		/* no file: nothing was ever queued */
		j->rc = qcmd_run(NULL, (const char *const *)j->args, j->nargs,
		    &j->result, &e);
	} else if (q->db == NULL) {
		j->rc = -EIO;
		snprintf(e.msg, sizeof(e.msg), "the queue is unavailable: %s",
		    why);
	} else {
		j->rc = qcmd_run(q->db, (const char *const *)j->args,
		    j->nargs, &j->result, &e);
	}
	if (j->rc != 0)
		snprintf(j->error, sizeof(j->error), "%s", e.msg);
	if (q->db != NULL && (j->rc == -EIO || j->rc == -ENOSPC))
		went_down(q, e.msg);
}

/*
 * Jobs taken at once, in the order the loop queued them. Reads of
 * records to send go first: they name records already stored, and
 * waiting for them would split the commit. Inserts and changes
 * gather into one transaction; a command writes it first, so that it
 * sees (and is seen after) everything queued before it.
 */
static void
work(struct sfq *q, struct qjob *list)
{
	struct qjob *batch = NULL, *btail = NULL, *j, *next;

	for (j = list; j != NULL; j = j->next)
		if (j->kind == QJ_FETCH)
			fetch(q, j);
	for (j = list; j != NULL; j = next) {
		next = j->next;
		if (j->kind == QJ_FETCH || j->kind == QJ_EXEC) {
			if (j->kind == QJ_EXEC) {
				flush(q, batch);
				batch = btail = NULL;
				exec(q, j);
			}
			pthread_mutex_lock(&q->mu);
			answer(q, j);
			pthread_mutex_unlock(&q->mu);
			continue;
		}
		if (j->kind != QJ_INSERT && q->db == NULL) {
			sfq_job_free(j);	/* read again at the next open */
			continue;
		}
		append(&batch, &btail, j);
	}
	flush(q, batch);
}

static void *
run(void *arg)
{
	struct sfq *q = arg;
	int64_t retry_at = 0, now, deadline;
	struct qjob *list;

	pthread_mutex_lock(&q->mu);
	while (!q->stop) {
		now = mono_us() / 1000;
		if (q->db == NULL && q->want_open && now >= retry_at) {
			pthread_mutex_unlock(&q->mu);
			try_open(q);
			pthread_mutex_lock(&q->mu);
			retry_at = now + SFQ_RETRY_MS;
			continue;
		}
		if (q->head != NULL || (q->later != NULL &&
		    now >= q->later_at)) {
			list = q->head;
			q->head = q->tail = NULL;
			pthread_mutex_unlock(&q->mu);
			work(q, list);
			pthread_mutex_lock(&q->mu);
			continue;
		}
		deadline = q->later != NULL ? q->later_at : 0;
		if (q->db == NULL && q->want_open && (deadline == 0 ||
		    retry_at < deadline))
			deadline = retry_at;
		threadwake_wait(&q->cv, &q->mu, deadline);
	}
	/* Stopping: what must be written is written; the rest is the
	 * loop's to free. */
	list = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->mu);
	work(q, list);
	qstore_close(q->db);
	q->db = NULL;
	return NULL;
}

int
sfq_worker_start(struct sfq *q)
{
	if (pthread_create(&q->thread, NULL, run, q) != 0)
		return -EAGAIN;
	q->started = true;
	return 0;
}

void
sfq_worker_stop(struct sfq *q)
{
	struct qjob *j;

	if (!q->started)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	q->started = false;
	while ((j = q->later) != NULL) {
		q->later = j->next;
		sfq_job_free(j);
	}
	q->later_tail = NULL;
}

void
sfq_worker_push(struct sfq *q, struct qjob *j)
{
	pthread_mutex_lock(&q->mu);
	append(&q->head, &q->tail, j);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void
sfq_worker_want(struct sfq *q)
{
	pthread_mutex_lock(&q->mu);
	if (!q->want_open) {
		q->want_open = true;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
}
