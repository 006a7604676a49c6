/*
 * trust list [pending] | show ID | approve ID sha256:HEX | reject ID |
 * forget ID: a person's look at, or decision on, the edge's trust store
 * from the cloud (docs/trust.md, "From the cloud"). The trust thread runs
 * it (trust_exec) as "cloud:ISSUER", logs the decision (trust_decision)
 * and answers on the loop; the cloud checked the arguments, the store
 * checks them again.
 */
#include "edge/manage/manage-int.h"

#include <stdio.h>

#include "edge/daemon.h"
#include "edge/trust/trust.h"

static void
trust_cancel(struct manage_job *j)
{
	trust_exec_cancel(j->state, j);
	j->state = NULL;
	j->cancel = NULL;
}

static void
trust_done(int rc, json_t *result, const char *error, void *arg)
{
	mjob_done(arg, rc, result, error, "the trust store failed");
}

void
run_trust(struct manage_job *j)
{
	struct trust *t = j->env->e->trust;
	char who[TRUST_BY_MAX];
	int rc;

	if (t == NULL) {
		mjob_fail(j, "this edge learns no certificates (no collector "
		    "with trust = tofu, no listener with device_trust = tofu)");
		return;
	}
	if (j->in.nargs == 0) {
		mjob_fail(j, "trust needs a command: list, show, approve, "
		    "reject or forget");
		return;
	}
	snprintf(who, sizeof(who), "cloud:%s", j->in.issuer);
	rc = trust_exec(t, (const char *const *)j->in.args, j->in.nargs, who,
	    trust_done, j);
	if (rc != 0) {
		mjob_fail(j, "out of memory: the trust store was not asked");
		return;
	}
	j->state = t;
	j->cancel = trust_cancel;
}
