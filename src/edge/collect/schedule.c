/*
 * When a collector polls (docs/trust.md, "Collectors"): every interval,
 * at an offset within it that a hash of its name gives, so a thousand
 * collectors spread over the interval instead of firing at once, and a
 * collector keeps its offset across restarts and reloads.
 */
#include "edge/collect/collect-int.h"

/* FNV-1a, 64 bits: stable, and spread enough for offsets. */
uint64_t
collect_offset(const char *name, uint64_t interval_ms)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *name != '\0'; name++) {
		h ^= (unsigned char)*name;
		h *= 0x100000001b3ULL;
	}
	return interval_ms > 0 ? h % interval_ms : 0;
}

int64_t
collect_next_slot(int64_t slot_us, int64_t now_us, int64_t step_us)
{
	if (step_us <= 0)
		return now_us;
	do
		slot_us += step_us;
	while (slot_us <= now_us);
	return slot_us;
}
