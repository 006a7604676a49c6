/* The instruction kinds and the site's `manage` policy (policy.h). */
#include "edge/manage/policy.h"

#include <errno.h>
#include <string.h>

#include "common/proto.h"

static const char *const kind_names[MK_COUNT] = {
	[MK_STATUS] = MANAGE_K_STATUS,
	[MK_DOCTOR] = MANAGE_K_DOCTOR,
	[MK_PURGE_CACHE] = MANAGE_K_PURGE_CACHE,
	[MK_PREFETCH] = MANAGE_K_PREFETCH,
	[MK_RELOAD] = MANAGE_K_RELOAD,
	[MK_LOGS] = MANAGE_K_LOGS,
	[MK_UNKNOWN] = "unknown",
};

static const char *const outcome_names[MO_COUNT] = {
	[MO_OK] = MANAGE_O_OK,
	[MO_ERROR] = MANAGE_O_ERROR,
	[MO_REFUSED] = MANAGE_O_REFUSED,
	[MO_EXPIRED] = MANAGE_O_EXPIRED,
};

const char *
manage_kind_name(enum manage_kind k)
{
	return (unsigned)k < MK_COUNT ? kind_names[k] : "?";
}

enum manage_kind
manage_kind_parse(const char *name)
{
	int k;

	for (k = 0; k < MK_UNKNOWN; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return (enum manage_kind)k;
	return MK_UNKNOWN;
}

const char *
manage_outcome_name(enum manage_outcome o)
{
	return (unsigned)o < MO_COUNT ? outcome_names[o] : "?";
}

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
