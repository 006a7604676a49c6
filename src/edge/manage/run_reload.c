/* reload: what SIGHUP does (reload.c), answered with its outcome. */
#include "edge/manage/manage-int.h"

void
run_reload(struct manage_job *j)
{
	struct err er;
	json_t *r;

	if (j->in.nargs > 0) {
		mjob_fail(j, "reload takes no arguments");
		return;
	}
	er.msg[0] = '\0';
	if (j->env->ops->reload(j->env->e, &er) != 0) {
		mjob_fail(j, "%s", er.msg[0] != '\0' ? er.msg :
		    "the reload failed; the edge's log says why");
		return;
	}
	if ((r = json_pack("{s:b}", "reloaded", 1)) == NULL) {
		mjob_fail(j, "out of memory");
		return;
	}
	mjob_answer(j, MO_OK, r, NULL);
}
