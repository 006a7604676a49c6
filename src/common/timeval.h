/* Time helpers: milliseconds, as configured (CONF_DURATION), to what
 * libevent takes; microseconds on the monotonic clock, for durations;
 * milliseconds on the wall clock. */
#ifndef ISTHMUS_TIMEVAL_H
#define ISTHMUS_TIMEVAL_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static inline void
tv_ms(struct timeval *tv, uint64_t ms)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

static inline int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Milliseconds since the epoch, for times that are stored and shown. */
static inline int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
