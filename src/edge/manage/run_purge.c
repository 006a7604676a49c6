/* purge-cache [URL]: the firmware cache's purge, as `isthmus cache
 * purge` does it through the admin socket (cache/admin.c). */
#include "edge/manage/manage-int.h"

#include "edge/cache/cache.h"
#include "edge/daemon.h"

void
run_purge(struct manage_job *j)
{
	struct cache *c = j->env->e->cache;
	uint64_t n;
	json_t *r;

	if (j->in.nargs > 1) {
		mjob_fail(j, "purge-cache takes at most one URL");
		return;
	}
	if (c == NULL) {
		mjob_fail(j, "this edge has no cache: no listener has "
		    "cache = on");
		return;
	}
	n = cache_purge_count(c, j->in.nargs == 1 ? j->in.args[0] : NULL,
	    NULL);
	if ((r = json_pack("{s:I}", "purged", (json_int_t)n)) == NULL) {
		mjob_fail(j, "out of memory");
		return;
	}
	mjob_answer(j, MO_OK, r, NULL);
}
