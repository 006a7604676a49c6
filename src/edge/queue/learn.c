/*
 * What the cloud says of each service on its answers (docs/queue.md,
 * "Turning it on"): its store_forward and whether it is confidential.
 * Kept in memory for sfq_mode and in the queue file, so it holds while
 * the tunnel is down, even from the edge's start.
 */
#include "edge/queue/queue-int.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static struct qsvc *
find(const struct sfq *q, const char *name)
{
	struct qsvc *s;

	for (s = q->svcs; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static struct qsvc *
add(struct sfq *q, const char *name)
{
	struct qsvc *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->name = strdup(name)) == NULL) {
		free(s);
		return NULL;
	}
	s->mode = SF_OFF;
	s->next = q->svcs;
	q->svcs = s;
	return s;
}

/* s written to the file (dropped by the thread while there is none:
 * sfq_services_take writes it once there is). */
static void
save(struct sfq *q, const struct qsvc *s)
{
	struct qjob *j = sfq_job_new(QJ_LEARN);

	if (j == NULL || (j->svc.name = strdup(s->name)) == NULL) {
		sfq_job_free(j);
		return;	/* said again on the service's next answer */
	}
	j->svc.mode = s->mode;
	j->svc.confidential = s->confidential;
	j->when_ms = wall_ms();
	sfq_worker_push(q, j);
}

void
sfq_learn(struct sfq *q, const char *service, int mode, bool confidential)
{
	struct qsvc *s;

	if (q == NULL || service == NULL)
		return;
	if (mode != SF_ON && mode != SF_ALWAYS)
		mode = SF_OFF;
	s = find(q, service);
	/* Nothing known is off and not confidential: no change. */
	if (s == NULL && mode == SF_OFF && !confidential)
		return;
	if (s == NULL && (s = add(q, service)) == NULL)
		return;
	if (s->mode == mode && s->confidential == confidential &&
	    s->known) {
		s->heard = true;
		return;
	}
	log_info("queue", "store_forward_learned", "service=%s mode=%s "
	    "confidential=%s", service, qmode_name(mode),
	    confidential ? "yes" : "no");
	if (s->confidential && !confidential)
		s->refused_logged = false;
	s->known = s->heard = true;
	s->mode = mode;
	s->confidential = confidential;
	save(q, s);
	if (mode != SF_OFF)
		sfq_worker_want(q);	/* the first time: the file is made */
}

int
sfq_mode(struct sfq *q, const struct edge_listener_conf *lc,
    const char *service)
{
	struct qsvc *s = q != NULL && service != NULL ? find(q, service) :
	    NULL;
	int mode = lc->store_forward;

	if (s != NULL && s->confidential) {
		if ((mode == SF_ON || mode == SF_ALWAYS) &&
		    !s->refused_logged) {
			log_warn("queue", "store_forward_refused", "service=%s "
			    "reason=%s", service, "confidential");
			s->refused_logged = true;
		}
		return SF_OFF;
	}
	if (mode != SF_SERVICE)
		return mode;
	return s != NULL ? s->mode : SF_OFF;
}

static bool
in_file(const struct qservice *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return true;
	return false;
}

/*
 * The settings the file held, read at its opening: they stand for the
 * services not heard from in this run; what was heard wins, and is
 * written now when the file says otherwise or nothing.
 */
void
sfq_services_take(struct sfq *q, struct qservice *v, size_t n)
{
	struct qsvc *s;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((s = find(q, v[i].name)) == NULL &&
		    (s = add(q, v[i].name)) == NULL)
			continue;
		if (s->heard) {
			if (s->mode != v[i].mode ||
			    s->confidential != v[i].confidential)
				save(q, s);
			continue;
		}
		s->known = true;
		s->mode = v[i].mode == SF_ON || v[i].mode == SF_ALWAYS ?
		    v[i].mode : SF_OFF;
		s->confidential = v[i].confidential;
	}
	for (s = q->svcs; s != NULL; s = s->next)
		if (s->heard && !in_file(v, n, s->name))
			save(q, s);
}

void
sfq_services_free(struct sfq *q)
{
	struct qsvc *s;

	while ((s = q->svcs) != NULL) {
		q->svcs = s->next;
		free(s->name);
		free(s);
	}
}
