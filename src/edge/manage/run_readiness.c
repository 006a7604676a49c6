/*
 * readiness [PROFILE]: a network readiness test (edge/readiness/) with
 * the profile the cloud put in the instruction's params, one at a time
 * (a second one meanwhile is answered error). A profile whose budget is
 * over the site's readiness_max_bytes is refused: the site, not the
 * cloud, decides what its link may carry. A result whose stream ended
 * while the test ran is kept and sent on the next one (docs/protocol.md,
 * section 6).
 */
#include "edge/manage/manage-int.h"

#include <errno.h>

#include "edge/readiness/readiness.h"

static void
readiness_cancel(struct manage_job *j)
{
	rtest_cancel(j->state);
	j->env->readiness = NULL;
	j->state = NULL;
	j->cancel = NULL;
}

static void
readiness_done(json_t *result, void *arg)
{
	struct manage_job *j = arg;
	struct manage_env *env = j->env;

	env->readiness = NULL;
	j->state = NULL;	/* the test frees itself after this */
	j->cancel = NULL;
	if (result == NULL)
		mjob_fail(j, "out of memory");
	else if (env->live(env->answer_arg, j->gen))
		mjob_answer(j, MO_OK, result, NULL);
	else
		mjob_keep(j, result);
}

void
run_readiness(struct manage_job *j)
{
	struct manage_env *env = j->env;
	struct rtest *t;
	struct err er;
	int rc;

	if (j->in.nargs > 1) {
		mjob_fail(j, "readiness takes at most one profile name");
		return;
	}
	if (env->readiness != NULL) {
		mjob_fail(j, "a readiness test is already running (%s)",
		    env->readiness->in.id);
		return;
	}
	rc = rtest_start(env->e, j->in.id, j->in.params, readiness_done, j,
	    &t, &er);
	if (rc == -EPERM) {
		mjob_answer(j, MO_REFUSED, NULL, er.msg);
		return;
	}
	if (rc != 0) {
		mjob_fail(j, "%s", er.msg);
		return;
	}
	j->state = t;
	j->cancel = readiness_cancel;
	env->readiness = j;
}
