/* Choosing a backend of a service by its balance setting (pool.h). */
#include "cloud/pool.h"

#include <string.h>

#include "common/stat.h"

static bool
usable(const struct cloud_service *s, size_t i, uint64_t tried)
{
	return i < POOL_MAX_TRIES && STAT_GET(s->be[i].healthy) &&
	    !(tried & (1ull << i));
}

/* FNV-1a over the device's address without its port, so that every
 * connection of one device lands on the same backend. */
static uint64_t
device_hash(const char *device)
{
	const char *end = strrchr(device, ':');
	uint64_t h = 1469598103934665603ull;
	size_t n = end != NULL ? (size_t)(end - device) : strlen(device);
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)device[i];
		h *= 1099511628211ull;
	}
	return h;
}

int
pool_pick(struct cloud_service *s, const char *device, uint64_t tried)
{
	size_t i, start, best = SIZE_MAX;

	if (s->nbe == 0)
		return -1;
	switch (s->balance) {
	case BALANCE_LEAST_CONN:
		/* Ties go round-robin, so idle backends share the load. */
		start = __atomic_fetch_add(&s->rr_next, 1, __ATOMIC_RELAXED);
		for (i = 0; i < s->nbe; i++) {
			size_t k = (start + i) % s->nbe;

			if (usable(s, k, tried) && (best == SIZE_MAX ||
			    STAT_GET(s->be[k].active) <
			    STAT_GET(s->be[best].active)))
				best = k;
		}
		return best == SIZE_MAX ? -1 : (int)best;
	case BALANCE_HASH:
		start = (size_t)(device_hash(device) % s->nbe);
		break;
	default:
		start = __atomic_fetch_add(&s->rr_next, 1, __ATOMIC_RELAXED) %
		    s->nbe;
		break;
	}
	/* From the preferred one, the next usable in order: a refused
	 * backend's streams move to its neighbour. */
	for (i = 0; i < s->nbe; i++)
		if (usable(s, (start + i) % s->nbe, tried))
			return (int)((start + i) % s->nbe);
	return -1;
}
