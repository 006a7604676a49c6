/*
 * doctor: the doctor's checks (`isthmus doctor --json`) run at the edge.
 * The doctor is blocking code that runs its own event loops, so it runs
 * as a child (edge/child.h) with the running configuration's file, at
 * most MANAGE_RESULT_MAX bytes of output and MANAGE_DOCTOR_TIMEOUT_S
 * seconds. One doctor at a time.
 */
#include "edge/manage/manage-int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "edge/child.h"
#include "edge/daemon.h"

static void
doctor_cancel(struct manage_job *j)
{
	child_cancel(j->state);
	j->env->doctor = NULL;
	j->state = NULL;
	j->cancel = NULL;
}

/* The child is reaped: answer from what it wrote. */
static void
doctor_done(const struct child_result *res, void *arg)
{
	struct manage_job *j = arg;
	json_error_t je;
	json_t *doc = NULL;
	int st = res->status;

	j->env->doctor = NULL;
	j->state = NULL;
	j->cancel = NULL;
	if (!res->timed_out && !res->too_big && res->len > 0)
		doc = json_loadb(res->out, res->len, 0, &je);
	if (res->too_big)
		mjob_fail(j, "result too large: the doctor wrote more than %u "
		    "bytes", MANAGE_RESULT_MAX);
	else if (res->timed_out)
		mjob_fail(j, "the doctor did not finish within %d s and was "
		    "stopped", MANAGE_DOCTOR_TIMEOUT_S);
	else if (doc == NULL && st < 0)
		mjob_fail(j, "the doctor wrote no JSON");
	else if (doc == NULL)
		mjob_fail(j, "the doctor wrote no JSON (%s %d)",
		    WIFEXITED(st) ? "exit status" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) :
		    WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	else
		mjob_answer(j, MO_OK, doc, NULL);
}

void
run_doctor(struct manage_job *j)
{
	struct edge *e = j->env->e;
	char *argv[] = { "isthmus", "doctor", "-c", e->cf->path, "--json",
	    NULL };
	struct child *c;
	int rc;

	if (j->in.nargs > 0) {
		mjob_fail(j, "doctor takes no arguments");
		return;
	}
	if (j->env->doctor != NULL) {
		mjob_fail(j, "a doctor is already running");
		return;
	}
	rc = child_start(e->base, argv, MANAGE_RESULT_MAX,
	    MANAGE_DOCTOR_TIMEOUT_S, doctor_done, j, &c);
	if (rc != 0) {
		mjob_fail(j, "cannot start the doctor: %s", strerror(-rc));
		return;
	}
	j->state = c;
	j->cancel = doctor_cancel;
	j->env->doctor = j;
}
