/*
 * The store's jobs (store-int.h): a write or a question copied into one
 * allocation, so a caller's strings need not outlive the call, and the
 * answer handed back to the caller's callback. Both backends use them.
 */
#include "cloud/store/store-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* s copied to *p (moved past it), or NULL for NULL. */
static char *
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

struct job *
job_event(const struct store_edge_event *ev)
{
	size_t total = str_size(ev->tenant) + str_size(ev->edge) +
	    str_size(ev->peer) + str_size(ev->serial) +
	    str_size(ev->version) + str_size(ev->reason);
	struct job *j;
	char *p;

	j = calloc(1, sizeof(*j) + total);
	if (j == NULL)
		return NULL;
	j->kind = JOB_EVENT;
	j->size = total;
	j->ev = *ev;
	p = (char *)(j + 1);
	j->ev.tenant = copy_str(&p, ev->tenant);
	j->ev.edge = copy_str(&p, ev->edge);
	j->ev.peer = copy_str(&p, ev->peer);
	j->ev.serial = copy_str(&p, ev->serial);
	j->ev.version = copy_str(&p, ev->version);
	j->ev.reason = copy_str(&p, ev->reason);
	return j;
}

struct job *
job_sent(const char *id, int64_t at, int64_t answer_by)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->kind = JOB_SENT;
	snprintf(j->in.id, sizeof(j->in.id), "%s", id);
	j->at = at;
	j->in.answer_by = answer_by;
	return j;
}

struct job *
job_done(const char *id, const char *state, const char *result,
    const char *error, int64_t at)
{
	struct job *j = calloc(1, sizeof(*j) + str_size(result));
	char *p;

	if (j == NULL)
		return NULL;
	j->kind = JOB_DONE;
	j->size = str_size(result);
	p = (char *)(j + 1);
	snprintf(j->in.id, sizeof(j->in.id), "%s", id);
	snprintf(j->in.state, sizeof(j->in.state), "%s", state);
	j->in.result = copy_str(&p, result);
	snprintf(j->in.error, sizeof(j->in.error), "%s", error != NULL ?
	    error : "");
	j->at = at;
	return j;
}

struct job *
job_add(const struct store_instruction *in)
{
	const char *args = in->args != NULL ? in->args : "[]";
	struct job *j;
	char *p;

	j = calloc(1, sizeof(*j) + str_size(args) + str_size(in->result));
	if (j == NULL)
		return NULL;
	j->kind = JOB_ADD;
	j->size = str_size(args) + str_size(in->result);
	j->in = *in;
	p = (char *)(j + 1);
	j->in.args = copy_str(&p, args);
	j->in.result = copy_str(&p, in->result);
	snprintf(j->in.state, sizeof(j->in.state), "%s", STORE_STATE_WAITING);
	return j;
}

struct job *
job_readiness(const struct store_readiness *r)
{
	struct job *j = calloc(1, sizeof(*j) + str_size(r->result));
	char *p;

	if (j == NULL)
		return NULL;
	j->kind = JOB_READINESS;
	j->size = str_size(r->result);
	j->rd = *r;
	/* the caller's arrays, terminated whatever they hold */
	j->rd.id[sizeof(j->rd.id) - 1] = '\0';
	j->rd.tenant[sizeof(j->rd.tenant) - 1] = '\0';
	j->rd.edge[sizeof(j->rd.edge) - 1] = '\0';
	j->rd.profile[sizeof(j->rd.profile) - 1] = '\0';
	j->rd.verdict[sizeof(j->rd.verdict) - 1] = '\0';
	p = (char *)(j + 1);
	j->rd.result = copy_str(&p, r->result);
	return j;
}

int
job_grow(struct job *j, size_t *cap, size_t size)
{
	void *p;

	if (j->nrows < *cap)
		return 0;
	*cap = *cap != 0 ? *cap * 2 : 16;
	p = realloc(j->rows, *cap * size);
	if (p == NULL)
		return -ENOMEM;
	j->rows = p;
	memset((char *)p + j->nrows * size, 0, (*cap - j->nrows) * size);
	return 0;
}

void
job_answer(struct job *j)
{
	switch (j->kind) {
	case JOB_EDGES:
		j->edges_done(j->rc, j->rows, j->nrows, &j->e, j->arg);
		break;
	case JOB_HISTORY:
		j->history_done(j->rc, j->rows, j->nrows, &j->e, j->arg);
		break;
	case JOB_ADD:
		j->add_done(j->rc, &j->e, j->arg);
		break;
	case JOB_WAITING:
	case JOB_SWEEP:
	case JOB_AUDIT:
		j->instr_done(j->rc, j->rows, j->nrows, &j->e, j->arg);
		break;
	case JOB_READINESS_LIST:
		j->readiness_done(j->rc, j->rows, j->nrows, &j->e, j->arg);
		break;
	default:
		break;
	}
}

static void
free_rows(struct job *j)
{
	struct store_instruction *in = j->rows;
	struct store_readiness *rd = j->rows;
	size_t i;

	if (j->kind == JOB_WAITING || j->kind == JOB_SWEEP ||
	    j->kind == JOB_AUDIT)
		for (i = 0; i < j->nrows; i++) {
			free(in[i].args);
			free(in[i].result);
		}
	if (j->kind == JOB_READINESS_LIST)
		for (i = 0; i < j->nrows; i++)
			free(rd[i].result);
	free(j->rows);
	j->rows = NULL;
	j->nrows = 0;
}

void
job_fail(struct job *j, int rc, const struct err *why)
{
	free_rows(j);
	j->rc = rc;
	j->e = *why;
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free_rows(j);
	free(j);
}

static int
by_seq(const void *a, const void *b)
{
	const struct store_instruction *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
job_sort_by_seq(struct job *j)
{
	if (j->nrows > 1)
		qsort(j->rows, j->nrows, sizeof(struct store_instruction),
		    by_seq);
}

int64_t
job_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
