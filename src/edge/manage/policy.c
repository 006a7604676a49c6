/* The site's `manage` policy (policy.h). */
#include "edge/manage/policy.h"

#include <errno.h>
#include <string.h>


int
manage_policy_parse(const struct strlist *l, manage_policy *out,
    struct err *e)
{
	manage_policy p = 0;
	enum manage_kind k;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], "none") == 0) {
			if (l->n > 1)
				return err_set(e, -EINVAL, "'none' stands "
				    "alone");
			continue;
		}
		if ((k = manage_kind_parse(l->v[i])) == MK_UNKNOWN)
			return err_set(e, -EINVAL, "'%s' is not an instruction "
			    "kind", l->v[i]);
		p |= 1u << k;
	}
	*out = p;
	return 0;
}

bool
manage_policy_accepts(manage_policy p, enum manage_kind k)
{
	return k < MK_UNKNOWN && (p & (1u << k)) != 0;
}
