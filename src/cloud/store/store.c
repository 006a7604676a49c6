/*
 * The state store's one interface (store.h) over its two backends:
 * `state` a postgresql:// or postgres:// URI opens PostgreSQL (pg.c),
 * anything else is a SQLite file (sqlite.c). Each call becomes a job
 * (store-int.h) handed to the backend's table of operations.
 */
#include "cloud/store/store-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/proto.h"

static bool
is_pg(const char *state)
{
	return strncmp(state, "postgresql://", 13) == 0 ||
	    strncmp(state, "postgres://", 11) == 0;
}

int
store_open(struct event_base *base, const char *path, struct store **out,
    struct err *e)
{
	*out = NULL;
	if (is_pg(path))
		return store_pg_open(base, path, out, e);
	return store_sqlite_open(base, path, out, e);
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

void
store_get_stats(struct store *s, struct store_stats *st)
{
	s->ops->stats(s, st);
}

int
store_edge_event(struct store *s, const struct store_edge_event *ev)
{
	return s->ops->write(s, job_event(ev));
}

int
store_instruction_sent(struct store *s, const char *id, int64_t at,
    int64_t answer_by)
{
	return s->ops->write(s, job_sent(id, at, answer_by));
}

int
store_instruction_done(struct store *s, const char *id, const char *state,
    const char *result, const char *error, int64_t at)
{
	return s->ops->write(s, job_done(id, state, result, error, at));
}

static struct job *
question(enum job_kind kind, const char *tenant, const char *edge)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->kind = kind;
	snprintf(j->tenant, sizeof(j->tenant), "%s", tenant != NULL ?
	    tenant : "");
	snprintf(j->edge, sizeof(j->edge), "%s", edge != NULL ? edge : "");
	return j;
}

int
store_list_edges(struct store *s, const char *tenant, store_edges_fn done,
    void *arg)
{
	struct job *j = question(JOB_EDGES, tenant, NULL);

	if (j == NULL)
		return -ENOMEM;
	j->all = tenant == NULL;
	j->edges_done = done;
	j->arg = arg;
	return s->ops->ask(s, j);
}

int
store_edge_history(struct store *s, const char *tenant, const char *edge,
    store_history_fn done, void *arg)
{
	struct job *j = question(JOB_HISTORY, tenant, edge);

	if (j == NULL)
		return -ENOMEM;
	j->history_done = done;
	j->arg = arg;
	return s->ops->ask(s, j);
}

int
store_instruction_add(struct store *s, const struct store_instruction *in,
    store_done_fn done, void *arg)
{
	struct job *j;

	if (in->id[0] == '\0' || in->tenant[0] == '\0' ||
	    in->edge[0] == '\0' || in->kind[0] == '\0')
		return -EINVAL;
	j = job_add(in);
	if (j == NULL)
		return -ENOMEM;
	j->add_done = done;
	j->arg = arg;
	return s->ops->ask(s, j);
}

int
store_instructions_waiting(struct store *s, const char *tenant,
    const char *edge, int64_t now, store_instructions_fn done, void *arg)
{
	struct job *j = question(JOB_WAITING, tenant, edge);

	if (j == NULL)
		return -ENOMEM;
	j->now = now;
	j->instr_done = done;
	j->arg = arg;
	return s->ops->ask(s, j);
}

int
store_instructions_sweep(struct store *s, int64_t now,
    store_instructions_fn done, void *arg)
{
	struct job *j = question(JOB_SWEEP, NULL, NULL);

	if (j == NULL)
		return -ENOMEM;
	j->now = now;
	j->instr_done = done;
	j->arg = arg;
	return s->ops->ask(s, j);
}

int
store_audit(struct store *s, const struct store_audit_filter *f,
    store_instructions_fn done, void *arg)
{
	struct job *j = question(JOB_AUDIT, NULL, NULL);

	if (j == NULL)
		return -ENOMEM;
	if (f != NULL)
		j->f = *f;
	if (j->f.limit == 0)
		j->f.limit = 1000;
	j->instr_done = done;
	j->arg = arg;
	return s->ops->ask(s, j);
}

int
store_readiness_add(struct store *s, const struct store_readiness *r)
{
	struct store_readiness copy;

	if (r->id[0] == '\0' || r->tenant[0] == '\0' ||
	    r->edge[0] == '\0' || r->result == NULL)
		return -EINVAL;
	if (strlen(r->result) > MANAGE_RESULT_MAX)
		return -EMSGSIZE;
	copy = *r;
	if (copy.received == 0)
		copy.received = time(NULL);
	return s->ops->write(s, job_readiness(&copy));
}

int
store_readiness_list(struct store *s, const struct store_readiness_filter *f,
    store_readiness_fn done, void *arg)
{
	struct job *j = question(JOB_READINESS_LIST, NULL, NULL);

	if (j == NULL)
		return -ENOMEM;
	if (f != NULL)
		j->rf = *f;
	if (j->rf.limit == 0)
		j->rf.limit = STORE_READINESS_LIMIT;
	if (j->rf.limit > STORE_READINESS_LIMIT_MAX)
		j->rf.limit = STORE_READINESS_LIMIT_MAX;
	j->readiness_done = done;
	j->arg = arg;
	return s->ops->ask(s, j);
}
