/* An instruction being carried out, and its one answer (manage-int.h). */
#include "edge/manage/manage-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct manage_job *
mjob_new(struct manage_env *env, struct manage_instr *in, unsigned gen)
{
	struct manage_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->env = env;
	j->in = *in;
	in->nargs = 0;		/* the job's now */
	in->params = NULL;
	j->kind = manage_kind_parse(j->in.kind);
	j->gen = gen;
	j->next = env->jobs;
	if (j->next != NULL)
		j->next->pprev = &j->next;
	j->pprev = &env->jobs;
	env->jobs = j;
	env->njobs++;
	return j;
}

static void
job_free(struct manage_job *j)
{
	*j->pprev = j->next;
	if (j->next != NULL)
		j->next->pprev = j->pprev;
	j->env->njobs--;
	manage_instr_clear(&j->in);
	free(j);
}

void
mjob_answer(struct manage_job *j, enum manage_outcome o, json_t *result,
    const char *error)
{
	struct manage_env *env = j->env;
	enum manage_outcome sent;
	size_t len = 0;
	char *line;

	line = manage_msg_result(j->in.id, o, result, error, &sent, &len);
	if (line == NULL) {
		/* Out of memory: the cloud's timeout answers for us. */
		log_error("manage", "manage_instruction", "id=%s kind=%s "
		    "issuer=%s outcome=%s error=%s", j->in.id, j->in.kind,
		    j->in.issuer, "error", "out of memory: no answer sent");
		job_free(j);
		return;
	}
	env->counts[j->kind][sent]++;
	env->done++;
	if (sent == MO_OK)
		log_info("manage", "manage_instruction", "id=%s kind=%s "
		    "issuer=%s outcome=%s bytes=%zu", j->in.id, j->in.kind,
		    j->in.issuer, manage_outcome_name(sent), len);
	else
		log_info("manage", "manage_instruction", "id=%s kind=%s "
		    "issuer=%s outcome=%s error=%s", j->in.id, j->in.kind,
		    j->in.issuer, manage_outcome_name(sent),
		    sent != o ? "result too large" : error != NULL ? error :
		    "");
	env->answer(env->answer_arg, j->gen, line, len);
	job_free(j);
}

void
mjob_keep(struct manage_job *j, json_t *result)
{
	struct manage_env *env = j->env;

	env->counts[j->kind][MO_OK]++;
	env->done++;
	log_info("manage", "manage_instruction", "id=%s kind=%s issuer=%s "
	    "outcome=%s action=%s", j->in.id, j->in.kind, j->in.issuer,
	    manage_outcome_name(MO_OK), "kept: its stream ended, sent on the "
	    "next one");
	env->keep(env->answer_arg, j->in.id, result);
	job_free(j);
}

void
mjob_done(struct manage_job *j, int rc, json_t *result, const char *error,
    const char *fallback)
{
	j->state = NULL;
	j->cancel = NULL;
	if (rc == 0 && result != NULL) {
		mjob_answer(j, MO_OK, result, NULL);
		return;
	}
	json_decref(result);
	if (rc == 0)
		mjob_fail(j, "out of memory");
	else
		mjob_fail(j, "%s", error != NULL && error[0] != '\0' ? error :
		    fallback);
}

void
mjob_fail(struct manage_job *j, const char *fmt, ...)
{
	char msg[MANAGE_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mjob_answer(j, MO_ERROR, NULL, msg);
}

void
mjob_cancel_all(struct manage_env *env)
{
	struct manage_job *j;

	while ((j = env->jobs) != NULL) {
		log_info("manage", "manage_instruction", "id=%s kind=%s "
		    "issuer=%s outcome=%s", j->in.id, j->in.kind, j->in.issuer,
		    "cancelled");
		if (j->cancel != NULL)
			j->cancel(j);
		job_free(j);
	}
}
