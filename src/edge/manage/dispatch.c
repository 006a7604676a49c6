/*
 * A received instruction's course: logged with who issued it, then
 * answered at once when its kind is unknown (error), the site's policy
 * does not accept it (refused) or its deadline passed (expired, not
 * run); else its kind's executor runs it.
 */
#include "edge/manage/manage-int.h"

#include <time.h>

#include "common/log.h"
#include "edge/daemon.h"

static void (*const runs[MK_UNKNOWN])(struct manage_job *) = {
	[MK_STATUS] = run_status,
	[MK_DOCTOR] = run_doctor,
	[MK_PURGE_CACHE] = run_purge,
	[MK_PREFETCH] = run_prefetch,
	[MK_RELOAD] = run_reload,
	[MK_LOGS] = run_logs,
	[MK_READINESS] = run_readiness,
	[MK_TRUST] = run_trust,
	[MK_QUEUE] = run_queue,
};

/* The policy of the running configuration: a reload's `manage` line
 * applies to the next instruction. */
static manage_policy
site_policy(const struct manage_env *env)
{
	manage_policy p = 0;
	struct err er;

	/* The config checked the words: a failure here accepts nothing. */
	if (manage_policy_parse(&env->e->cf->manage, &p, &er) != 0)
		return 0;
	return p;
}

void
manage_dispatch(struct manage_env *env, struct manage_instr *in,
    unsigned gen)
{
	struct manage_job *j;
	time_t now = time(NULL);

	log_info("manage", "manage_instruction", "id=%s kind=%s issuer=%s "
	    "args=%zu issued=%lld deadline=%lld state=%s", in->id, in->kind,
	    in->issuer, in->nargs, (long long)in->issued,
	    (long long)in->deadline, "received");
	if ((j = mjob_new(env, in, gen)) == NULL) {
		manage_instr_clear(in);
		log_error("manage", "manage_instruction", "id=%s error=%s",
		    in->id, "out of memory: not run");
		return;
	}
	if (j->kind == MK_UNKNOWN || runs[j->kind] == NULL)
		mjob_fail(j, "unknown kind '%s': this edge knows status, "
		    "doctor, purge-cache, prefetch, reload, logs, "
		    "readiness, trust and queue", j->in.kind);
	else if (!manage_policy_accepts(site_policy(env), j->kind))
		mjob_answer(j, MO_REFUSED, NULL, "refused by the site's policy");
	else if (j->in.deadline != 0 && j->in.deadline < now)
		mjob_answer(j, MO_EXPIRED, NULL, "its deadline passed before it "
		    "reached the edge");
	else
		runs[j->kind](j);
}
