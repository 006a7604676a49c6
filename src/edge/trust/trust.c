/*
 * Trust on first use in the running edge (trust.h), the loop's side:
 * the verdict on a certificate from the table in memory, what must be
 * recorded queued to the store's thread (worker.c), and what the thread
 * hands back (a fresh table, answered commands, the store's state)
 * taken in when its threadwake says so.
 */
#include "edge/trust/trust-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loglimit.h"
#include "common/tls.h"

/* Lines peers cause (learned, mismatch, refused): 20 at once, then 10 a
 * second. */
#define TRUST_LOG_BURST 20
#define TRUST_LOG_PER_SEC 10

const char *
trust_verdict_name(enum trust_verdict v)
{
	static const char *const names[TV_COUNT] = {
		"trusted", "learned", "waiting", "mismatch", "rejected",
		"expired", "unavailable", "full" };

	return (unsigned)v < TV_COUNT ? names[v] : "?";
}

/* An answered record: its place goes (the table, taken in first, shows
 * it now). */
static void
record_done(struct trust *t, struct tjob *j)
{
	struct trust_place **pp, *p;

	for (pp = &t->places; (p = *pp) != NULL; pp = &p->next)
		if (p->job == j) {
			*pp = p->next;
			free(p);
			t->nplaces--;
			break;
		}
	if (j->rc == -ENOSPC)
		log_limited(t->lim, LOG_WARN, "trust", "trust_full",
		    "kind=%s peer=%s error=%s", trust_kind_name(j->ent.kind),
		    j->ent.peer, j->error);
	else if (j->rc != 0 && j->rc != -EEXIST && j->rc != -EIO)
		log_warn("trust", "trust_record_failed", "peer=%s error=%s",
		    j->ent.peer, j->error);
}

/* A decision made here: logged with who made it. */
static void
exec_done(struct trust *t, struct tjob *j)
{
	json_t *ent = json_object_get(j->result, "entry");

	(void)t;
	if (j->rc == 0 && json_object_get(j->result, "action") != NULL)
		log_info("trust", "trust_decision", "id=%lld action=%s peer=%s "
		    "fingerprint=%s by=%s", (long long)json_integer_value(
		    json_object_get(ent, "id")), json_string_value(
		    json_object_get(j->result, "action")), json_string_value(
		    json_object_get(ent, "peer")), json_string_value(
		    json_object_get(ent, "cert_sha256")), j->who);
	if (j->done != NULL) {
		j->done(j->rc, j->rc == 0 ? j->result : NULL,
		    j->rc != 0 ? j->error : NULL, j->arg);
		if (j->rc == 0)
			j->result = NULL;	/* done's */
	}
}

static void
state_taken(struct trust *t, bool up, const char *error)
{
	if (up == t->up && strcmp(error, t->error) == 0)
		return;
	t->up = up;
	snprintf(t->error, sizeof(t->error), "%s", error);
	if (!up)
		log_error("trust", "trust_store_unavailable", "file=%s error=%s",
		    t->path, error);
}

/* The entry an answered command decided on (its id), or 0. */
static int64_t
exec_id(const struct tjob *j)
{
	return j->kind == TJ_EXEC && j->rc == 0 && j->result != NULL ?
	    (int64_t)json_integer_value(json_object_get(json_object_get(
	    j->result, "entry"), "id")) : 0;
}

static void
log_change(const struct trust_entry *was, const struct trust_entry *now)
{
	const struct trust_entry *ent = now != NULL ? now : was;
	char fp[TLS_FP_LEN];

	tls_fp_format(ent->cert_sha256, fp);
	log_info("trust", "trust_decision", "id=%lld action=%s peer=%s "
	    "fingerprint=%s by=%s source=store", (long long)ent->id,
	    now == NULL ? "forget" : now->state == TS_APPROVED ? "approve" :
	    now->state == TS_REJECTED ? "reject" : trust_state_name(
	    (enum trust_state)now->state), ent->peer, fp,
	    now != NULL && now->decided_by[0] != '\0' ? now->decided_by :
	    "-");
}

/* What another process (isthmus trust) changed in the store, as the
 * site's log should show it: entries whose state moved or that went
 * away. Both tables are in id order; a decision this edge ran itself
 * (skip) was logged with who asked for it. */
static void
log_changes(const struct ttable *old, const struct ttable *fresh,
    const int64_t *skip, size_t nskip)
{
	size_t i = 0, k = 0, s;
	bool skipped;

	while (old != NULL && i < old->n) {
		const struct trust_entry *a = &old->ents[i];
		const struct trust_entry *b = k < fresh->n ? &fresh->ents[k] :
		    NULL;

		if (b != NULL && b->id < a->id) {
			k++;
			continue;
		}
		for (s = 0, skipped = false; s < nskip; s++)
			skipped |= skip[s] == a->id;
		if (b == NULL || b->id > a->id) {
			if (!skipped)
				log_change(a, NULL);
			i++;
			continue;
		}
		if (a->state != b->state && !skipped)
			log_change(a, b);
		i++;
		k++;
	}
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct trust *t = arg;
	struct ttable *fresh;
	struct tjob *list, *j;
	struct trust_watcher *w, *next;
	char error[sizeof(t->sh_error)];
	int64_t skip[16];
	size_t nskip = 0;
	bool up;

	(void)what;
	threadwake_drain(fd);
	pthread_mutex_lock(&t->mu);
	fresh = t->fresh;
	t->fresh = NULL;
	list = t->done;
	t->done = t->done_tail = NULL;
	up = t->sh_up;
	memcpy(error, t->sh_error, sizeof(error));
	pthread_mutex_unlock(&t->mu);
	state_taken(t, up, error);
	for (j = list; j != NULL && nskip < 16; j = j->next)
		if ((skip[nskip] = exec_id(j)) != 0)
			nskip++;
	if (fresh != NULL) {
		log_changes(t->table, fresh, skip, nskip);
		ttable_carry(fresh, t->table);
		ttable_free(t->table);
		t->table = fresh;
	}
	while ((j = list) != NULL) {
		list = j->next;
		if (j->kind == TJ_RECORD)
			record_done(t, j);
		else
			exec_done(t, j);
		trust_job_free(j);
	}
	for (w = fresh != NULL ? t->watchers : NULL; w != NULL; w = next) {
		next = w->next;
		w->fn(w->arg);
	}
}

int
trust_new(struct event_base *base, const char *path, bool expired_ok,
    struct trust **out, struct err *e)
{
	struct trust *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (t == NULL || (t->path = strdup(path)) == NULL) {
		free(t);
		return err_set(e, -ENOMEM, "out of memory");
	}
	t->base = base;
	t->expired_ok = expired_ok;
	t->wake.efd = -1;
	snprintf(t->error, sizeof(t->error), "not opened yet");
	pthread_mutex_init(&t->mu, NULL);
	/* the thread's deadlines do not move with the wall clock */
	threadwake_cond_init(&t->cv);
	t->lim = log_limit_new(base, TRUST_LOG_BURST, TRUST_LOG_PER_SEC);
	if (threadwake_open(&t->wake, base, on_wake, t) != 0 ||
	    trust_worker_start(t) != 0) {
		trust_free(t);
		return err_set(e, -ENOMEM, "cannot start the trust store's "
		    "thread");
	}
	*out = t;
	return 0;
}

void
trust_set_expired_ok(struct trust *t, bool expired_ok)
{
	if (t != NULL)
		t->expired_ok = expired_ok;
}

static void
free_jobs(struct tjob *j)
{
	struct tjob *next;

	for (; j != NULL; j = next) {
		next = j->next;
		trust_job_free(j);
	}
}

void
trust_free(struct trust *t)
{
	struct trust_place *p;
	struct trust_watcher *w;

	if (t == NULL)
		return;
	trust_worker_stop(t);
	/* Owners go first: nothing is answered now. */
	free_jobs(t->head);
	free_jobs(t->done);
	ttable_free(t->fresh);
	ttable_free(t->table);
	while ((p = t->places) != NULL) {
		t->places = p->next;
		free(p);
	}
	while ((w = t->watchers) != NULL) {
		t->watchers = w->next;
		free(w);
	}
	threadwake_close(&t->wake);
	log_limit_free(t->lim);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t->path);
	free(t);
}

void
trust_watch(struct trust *t, trust_changed_fn fn, void *arg)
{
	struct trust_watcher **pp, *w;

	for (pp = &t->watchers; (w = *pp) != NULL; pp = &w->next)
		if (w->arg == arg)
			break;
	if (fn == NULL) {
		if (w != NULL) {
			*pp = w->next;
			free(w);
		}
		return;
	}
	if (w == NULL && (w = calloc(1, sizeof(*w))) != NULL) {
		w->arg = arg;
		*pp = w;
	}
	if (w != NULL)
		w->fn = fn;
}

int
trust_exec(struct trust *t, const char *const *args, size_t nargs,
    const char *who, trust_done_fn done, void *arg)
{
	struct tjob *j;
	size_t i;

	if (nargs > TRUST_ARGS_MAX || (j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	j->kind = TJ_EXEC;
	j->done = done;
	j->arg = arg;
	snprintf(j->who, sizeof(j->who), "%s", who != NULL ? who : "");
	for (i = 0; i < nargs; i++) {
		if ((j->args[i] = strdup(args[i])) == NULL) {
			trust_job_free(j);
			return -ENOMEM;
		}
		j->nargs++;
	}
	if (trust_worker_push(t, j) != 0) {
		trust_job_free(j);
		return -ENOMEM;
	}
	return 0;
}

static void
cancel_in(struct tjob *j, void *arg)
{
	for (; j != NULL; j = j->next)
		if (j->kind == TJ_EXEC && j->arg == arg)
			j->done = NULL;
}

void
trust_exec_cancel(struct trust *t, void *arg)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	cancel_in(t->head, arg);
	/* cur's next is stale: only cur itself */
	if (t->cur != NULL && t->cur->kind == TJ_EXEC && t->cur->arg == arg)
		t->cur->done = NULL;
	cancel_in(t->done, arg);
	cancel_in(t->held, arg);
	pthread_mutex_unlock(&t->mu);
}
