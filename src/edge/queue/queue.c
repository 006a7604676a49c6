/*
 * The store-and-forward queue in the running edge (queue.h), the loop's
 * side: a request checked against the bounds and handed to the thread
 * (worker.c), a person's commands, the counters; and what the thread
 * hands back (answered jobs, the file's state, a fresh index after each
 * opening) taken in when efd says so.
 */
#include "edge/queue/queue-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/loglimit.h"

/* queue_refused lines, which devices cause: 20 at once, then 10 a
 * second. */
#define SFQ_LOG_BURST 20
#define SFQ_LOG_PER_SEC 10

const char *
sfq_refusal_name(int refusal)
{
	static const char *const names[SFQ_REFUSED_COUNT] = { "?", "full",
	    "disk", "unavailable", "memory" };

	return refusal > 0 && refusal < SFQ_REFUSED_COUNT ? names[refusal] :
	    "?";
}

/* The settings of cf the loop keeps (a reload may change them). */
static void
configure(struct sfq *q, const struct edge_conf *cf)
{
	uint64_t timeout = 0;
	size_t i;

	q->max_size = cf->queue_max_size;
	q->max_memory = cf->queue_max_memory;
	q->max_age = cf->queue_max_age;
	q->streams = cf->replay_streams > 0 ? (unsigned)cf->replay_streams :
	    1;
	for (i = 0; i < cf->nlisteners; i++)
		if (cf->listeners[i]->response_timeout > timeout)
			timeout = cf->listeners[i]->response_timeout;
	q->response_timeout = timeout > 0 ? timeout : SFQ_RESPONSE_TIMEOUT_MS;
}

/* A listener that queues by itself: the file is needed from the start. */
static bool
queues_now(const struct edge_conf *cf)
{
	size_t i;

	for (i = 0; i < cf->nlisteners; i++)
		if (cf->listeners[i]->mode == LISTEN_HTTP &&
		    (cf->listeners[i]->store_forward == SF_ON ||
		    cf->listeners[i]->store_forward == SF_ALWAYS))
			return true;
	return false;
}

static void
insert_done(struct sfq *q, struct qjob *j)
{
	struct sfq_ticket *t = j->ticket;
	struct qindex x;

	q->pending_bytes -= t->bytes;
	if (j->rc == 0) {
		q->st.accepted++;
		memset(&x, 0, sizeof(x));
		x.id = j->rec->id;
		x.service = j->rec->service;
		x.device = j->rec->device;
		x.mac = j->rec->mac;
		x.bytes = j->rec->bytes;
		x.accepted_ms = j->rec->accepted_ms;
		x.state = QS_WAITING;
		/* out of memory: it waits in the file for the next start */
		if (q->up && sfq_index_add(q, &x) != 0)
			log_error("queue", "queue_index_failed", "id=%lld "
			    "error=%s", (long long)x.id, "out of memory");
	} else {
		q->st.refused[j->rc]++;
		log_limited(q->lim, LOG_WARN, "queue", "queue_refused",
		    "listener=%s service=%s device=%s reason=%s", t->listener,
		    t->service, t->device, sfq_refusal_name(j->rc));
	}
	if (t->done != NULL)
		t->done(t->arg, j->rc);
}

/* A command's changes, in the index too, and logged with who. */
static void
exec_apply(struct sfq *q, struct qjob *j)
{
	bool retry = strcmp(j->args[0], "retry") == 0;
	json_t *ids = json_object_get(j->result, "ids");
	struct qent *e;
	size_t i;

	for (i = 0; i < json_array_size(ids); i++) {
		e = sfq_index_find(q, json_integer_value(json_array_get(ids,
		    i)));
		if (e != NULL && retry)
			(void)sfq_index_revive(q, e);
		else if (e != NULL)
			sfq_index_remove(q, e);
	}
	log_info("queue", retry ? "queue_retry" : "queue_dropped",
	    "id=%s count=%zu by=%s", j->args[1], json_array_size(ids),
	    j->who);
}

static void
exec_done(struct sfq *q, struct qjob *j)
{
	struct qjob **pp;

	for (pp = &q->execs; *pp != NULL; pp = &(*pp)->xnext)
		if (*pp == j) {
			*pp = j->xnext;
			break;
		}
	if (j->rc == 0 && qcmd_writes((const char *const *)j->args, j->nargs))
		exec_apply(q, j);
	if (j->done != NULL) {
		j->done(j->rc, j->rc == 0 ? j->result : NULL,
		    j->rc != 0 ? j->error : NULL, j->arg);
		if (j->rc == 0)
			j->result = NULL;	/* done's */
	}
}

/* The index goes, and the replays of its requests end unanswered
 * first (they point into it). */
static void
forget_index(struct sfq *q)
{
	sfq_replays_abort(q);
	sfq_index_clear(q);
}

/* A fresh index from the thread: the file (re)opened. */
static void
install(struct sfq *q, struct qload *l)
{
	size_t i;

	forget_index(q);
	q->up = true;
	q->error[0] = '\0';
	if (l->torn > 0)
		log_warn("queue", "queue_torn_tail", "path=%s bytes=%llu",
		    q->path, (unsigned long long)l->torn);
	for (i = 0; i < l->n; i++)
		if (sfq_index_add(q, &l->v[i]) != 0)
			break;
	if (i < l->n)
		log_error("queue", "queue_index_failed", "error=%s",
		    "out of memory");
	for (i = 0; i < l->nbad; i++) {
		log_error("queue", "queue_corrupt", "id=%lld service=%s",
		    (long long)l->bad[i].id, l->bad[i].service);
		q->st.dead_lettered[QR_CORRUPT]++;
		(void)sfq_index_add(q, &l->bad[i]);
	}
	sfq_services_take(q, l->svcs, l->nsvcs);
	log_info("queue", "queue_open", "path=%s waiting=%llu dead=%llu",
	    q->path, (unsigned long long)q->st.depth,
	    (unsigned long long)q->st.dead);
	sfq_expire(q);
}

/* The file's state as the thread saw it: a change is logged once. */
static void
state_taken(struct sfq *q, bool up, const char *error)
{
	if (!up && q->up) {
		forget_index(q);	/* read again when it is back */
		q->up = false;
	}
	if (up || strcmp(error, q->error) == 0)
		return;
	snprintf(q->error, sizeof(q->error), "%s", error);
	if (error[0] != '\0')
		log_error("queue", "queue_unavailable", "path=%s reason=%s",
		    q->path, error);
}

/* Changes the full disk holds back: said when they start and when they
 * are all on disk again. */
static void
unsaved_taken(struct sfq *q, size_t n)
{
	if (n > 0 && q->unsaved == 0)
		log_warn("queue", "queue_disk_full", "path=%s unsaved=%zu "
		    "reason=%s", q->path, n, "deletions of delivered requests "
		    "wait for room; a restart now would send them again");
	else if (n == 0 && q->unsaved > 0)
		log_info("queue", "queue_disk_ok", "path=%s", q->path);
	q->unsaved = n;
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct sfq *q = arg;
	char error[sizeof(q->sh_error)];
	struct qjob *list, *j;
	struct qload *l;
	size_t unsaved;
	bool up;

	(void)what;
	threadwake_drain(fd);
	pthread_mutex_lock(&q->mu);
	l = q->loaded;
	q->loaded = NULL;
	list = q->done;
	q->done = q->done_tail = NULL;
	up = q->sh_up;
	memcpy(error, q->sh_error, sizeof(error));
	unsaved = q->sh_unsaved;
	pthread_mutex_unlock(&q->mu);
	unsaved_taken(q, unsaved);
	/* The first try is over: its outcome says what may be queued. */
	if (up || error[0] != '\0')
		q->opening = false;
	state_taken(q, up, error);
	if (l != NULL && up)
		install(q, l);
	sfq_load_free(l);
	while ((j = list) != NULL) {
		list = j->next;
		if (j->kind == QJ_INSERT)
			insert_done(q, j);
		else if (j->kind == QJ_FETCH)
			sfq_fetched(q, j);
		else if (j->kind == QJ_EXEC)
			exec_done(q, j);
		sfq_job_free(j);
	}
	sfq_pump(q);
}

static void
on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sfq_pump(arg);
}

static void
on_expire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sfq_expire(arg);
}

static int
start(struct sfq *q, const struct edge_conf *cf)
{
	struct timeval tv;

	if ((q->path = edge_queue_path(cf)) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&q->mu, NULL);
	threadwake_cond_init(&q->cv);
	q->want_open = queues_now(cf) || fs_exists(q->path);
	q->opening = q->want_open;
	q->lim = log_limit_new(q->env.base, SFQ_LOG_BURST, SFQ_LOG_PER_SEC);
	tv_ms(&tv, SFQ_EXPIRE_MS);
	if (threadwake_open(&q->wake, q->env.base, on_wake, q) != 0 ||
	    (q->pump_ev = evtimer_new(q->env.base, on_pump, q)) == NULL ||
	    (q->expire_ev = event_new(q->env.base, -1, EV_PERSIST, on_expire,
	    q)) == NULL || event_add(q->expire_ev, &tv) != 0)
		return -ENOMEM;
	return sfq_worker_start(q);
}

int
sfq_open(const struct sfq_env *env, const struct edge_conf *cf,
    struct sfq **out, struct err *er)
{
	struct sfq *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (q == NULL)
		return err_set(er, -ENOMEM, "out of memory");
	q->env = *env;
	q->wake.efd = -1;
	q->order = cf->replay_order;
	configure(q, cf);
	if (start(q, cf) != 0) {
		sfq_close(q);
		return err_set(er, -ENOMEM, "cannot start the queue's thread");
	}
	*out = q;
	return 0;
}

static void
free_jobs(struct qjob *j)
{
	struct qjob *next;

	for (; j != NULL; j = next) {
		next = j->next;
		sfq_job_free(j);
	}
}

void
sfq_close(struct sfq *q)
{
	if (q == NULL)
		return;
	sfq_worker_stop(q);
	forget_index(q);
	/* Owners go first: nothing is answered now. */
	free_jobs(q->head);
	free_jobs(q->done);
	sfq_load_free(q->loaded);
	sfq_services_free(q);
	threadwake_close(&q->wake);
	if (q->pump_ev != NULL)
		event_free(q->pump_ev);
	if (q->expire_ev != NULL)
		event_free(q->expire_ev);
	log_limit_free(q->lim);
	if (q->path != NULL) {
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
	}
	free(q->path);
	free(q);
}

void
sfq_reconfigure(struct sfq *q, const struct edge_conf *cf)
{
	if (q == NULL)
		return;
	configure(q, cf);
	if (q->order != cf->replay_order) {
		q->order = cf->replay_order;
		if (sfq_index_relane(q) != 0)
			log_error("queue", "queue_index_failed", "error=%s",
			    "out of memory");
	}
	if (queues_now(cf))
		sfq_worker_want(q);
	sfq_pump(q);
}

void
sfq_kick(struct sfq *q)
{
	struct qlane *l;

	if (q == NULL)
		return;
	for (l = q->lanes; l != NULL; l = l->next)
		l->not_before = 0;
	sfq_pump(q);
}

static int
refuse(struct sfq *q, const struct sfq_req *r, int why)
{
	q->st.refused[why]++;
	log_limited(q->lim, LOG_WARN, "queue", "queue_refused", "listener=%s "
	    "service=%s device=%s reason=%s", r->listener, r->service,
	    r->device, sfq_refusal_name(why));
	return why;
}

static char *
dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* r as a record to store (its sum is the thread's to take). */
static struct qrecord *
record_of(const struct sfq_req *r)
{
	struct qrecord *rec = calloc(1, sizeof(*rec));
	size_t len = r->body != NULL ? evbuffer_get_length(r->body) : 0;

	if (rec == NULL)
		return NULL;
	rec->key = dup_or_empty(r->key);
	rec->listener = dup_or_empty(r->listener);
	rec->service = dup_or_empty(r->service);
	rec->device = dup_or_empty(r->device);
	rec->mac = dup_or_empty(r->mac);
	rec->method = dup_or_empty(r->method);
	rec->target = dup_or_empty(r->target);
	rec->body = malloc(len > 0 ? len : 1);
	rec->body_len = len;
	rec->accepted_ms = wall_ms();
	if (rec->key == NULL || rec->listener == NULL ||
	    rec->service == NULL || rec->device == NULL || rec->mac == NULL ||
	    rec->method == NULL || rec->target == NULL || rec->body == NULL ||
	    qrecord_set_fields(rec, r->fields) != 0 || (len > 0 &&
	    evbuffer_copyout(r->body, rec->body, len) != (ev_ssize_t)len)) {
		qrecord_free(rec);
		return NULL;
	}
	rec->bytes = qrecord_bytes(rec);
	return rec;
}

int
sfq_submit(struct sfq *q, const struct sfq_req *r, sfq_done_fn done,
    void *arg, struct sfq_ticket **t)
{
	struct qjob *j;

	*t = NULL;
	if (q == NULL)
		return SFQ_REFUSED_UNAVAILABLE;
	if (!sfq_takes(q))
		return refuse(q, r, SFQ_REFUSED_UNAVAILABLE);
	if ((j = sfq_job_new(QJ_INSERT)) == NULL ||
	    (j->ticket = calloc(1, sizeof(*j->ticket))) == NULL ||
	    (j->rec = record_of(r)) == NULL) {
		sfq_job_free(j);
		return refuse(q, r, SFQ_REFUSED_UNAVAILABLE);
	}
	/* Waiting, dead and on their way to the file: all of them are
	 * promised or about to be. */
	if (q->st.bytes + q->st.dead_bytes + q->pending_bytes +
	    j->rec->bytes > q->max_size) {
		sfq_job_free(j);
		return refuse(q, r, SFQ_REFUSED_FULL);
	}
	j->ticket->done = done;
	j->ticket->arg = arg;
	j->ticket->bytes = j->rec->bytes;
	snprintf(j->ticket->listener, sizeof(j->ticket->listener), "%s",
	    j->rec->listener);
	snprintf(j->ticket->service, sizeof(j->ticket->service), "%s",
	    j->rec->service);
	snprintf(j->ticket->device, sizeof(j->ticket->device), "%s",
	    j->rec->device);
	q->pending_bytes += j->rec->bytes;
	*t = j->ticket;
	sfq_worker_push(q, j);
	return 0;
}

int
sfq_hold(struct sfq *q, const struct sfq_req *r, uint64_t n)
{
	/* What others hold now is never taken back: a request that would
	 * go past the bound is the one refused. */
	if (q->held + n > q->max_memory)
		return refuse(q, r, SFQ_REFUSED_MEMORY);
	q->held += n;
	return 0;
}

void
sfq_release(struct sfq *q, uint64_t n)
{
	q->held -= n < q->held ? n : q->held;
}

bool
sfq_writing(const struct sfq *q)
{
	return q != NULL && q->pending_bytes > 0;
}

bool
sfq_takes(const struct sfq *q)
{
	return q != NULL && !q->sealed && (q->up || q->opening);
}

void
sfq_seal(struct sfq *q)
{
	if (q != NULL)
		q->sealed = true;
}

void
sfq_forget(struct sfq_ticket *t)
{
	if (t != NULL)
		t->done = NULL;
}

unsigned
sfq_retry_after(const struct sfq *q, int refusal)
{
	(void)q;
	/* Full: replay frees room at its own pace. Unavailable: the file
	 * is tried again every SFQ_RETRY_MS. Memory: bodies being read
	 * now are done, or timed out, within request_timeout. */
	return refusal == SFQ_REFUSED_UNAVAILABLE ? SFQ_RETRY_MS / 1000 :
	    refusal == SFQ_REFUSED_MEMORY ? 5 : 30;
}

int
sfq_exec(struct sfq *q, const char *const *args, size_t nargs,
    const char *who, sfq_exec_fn done, void *arg)
{
	struct qjob *j;
	size_t i;

	if (q == NULL || nargs == 0 || nargs > SFQ_ARGS_MAX)
		return -EINVAL;
	if ((j = sfq_job_new(QJ_EXEC)) == NULL)
		return -ENOMEM;
	j->done = done;
	j->arg = arg;
	snprintf(j->who, sizeof(j->who), "%s", who != NULL ? who : "");
	for (i = 0; i < nargs; i++) {
		if ((j->args[i] = strdup(args[i])) == NULL) {
			sfq_job_free(j);
			return -ENOMEM;
		}
		j->nargs++;
	}
	j->xnext = q->execs;
	q->execs = j;
	sfq_worker_push(q, j);
	return 0;
}

void
sfq_exec_cancel(struct sfq *q, void *arg)
{
	struct qjob *j;

	/* done is the loop's alone: the thread never reads it */
	for (j = q != NULL ? q->execs : NULL; j != NULL; j = j->xnext)
		if (j->arg == arg)
			j->done = NULL;
}

int
sfq_exec_offline(const struct edge_conf *cf, const char *const *args,
    size_t nargs, const char *who, json_t **result, struct err *er)
{
	struct qstore *s = NULL;
	char *path = edge_queue_path(cf);
	uint64_t torn = 0;
	int rc;

	*result = NULL;
	if (path == NULL)
		return err_set(er, -ENOMEM, "out of memory");
	rc = qstore_open(path, false, &s, &torn, er);
	if (rc == -ENOENT && !edge_conf_may_queue(cf))
		rc = err_set(er, -ENOENT, "%s", SFQ_NONE);
	else if (rc == -ENOENT)
		rc = 0;	/* nothing was ever queued */
	if (rc == 0 && torn > 0)
		log_warn("queue", "queue_torn_tail", "path=%s bytes=%llu",
		    path, (unsigned long long)torn);
	if (rc == 0)
		rc = qcmd_run(s, args, nargs, result, er);
	if (rc == 0 && qcmd_writes(args, nargs))
		log_info("queue", strcmp(args[0], "retry") == 0 ?
		    "queue_retry" : "queue_dropped", "id=%s count=%zu by=%s",
		    args[1], json_array_size(json_object_get(*result, "ids")),
		    who != NULL ? who : "");
	qstore_close(s);
	free(path);
	return rc;
}

_Static_assert(SFQ_DEAD_REASONS == QR_COUNT, "one name per reason");

const char *
sfq_dead_reason_name(int k)
{
	return k < SFQ_DEAD_REASONS ? qreason_name(k) : NULL;
}

void
sfq_stats(const struct sfq *q, struct sfq_stats *out)
{
	int64_t oldest = 0;
	const struct qent *e;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (q == NULL)
		return;
	*out = q->st;
	out->up = q->up;
	out->opening = q->opening;
	out->held = q->held;
	out->unsaved = q->unsaved;
	snprintf(out->error, sizeof(out->error), "%s", q->up ? "" : q->error);
	/* a scan: status and metrics ask seldom */
	for (i = 0; i < q->nid_buckets; i++)
		for (e = q->ids[i]; e != NULL; e = e->hnext)
			if (e->state == QS_WAITING && (oldest == 0 ||
			    e->accepted_ms < oldest))
				oldest = e->accepted_ms;
	if (oldest != 0 && wall_ms() > oldest)
		out->oldest_ms = (uint64_t)(wall_ms() - oldest);
}
