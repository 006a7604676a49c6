/* Milliseconds, as configured (CONF_DURATION), to what libevent takes. */
#ifndef ISTHMUS_TIMEVAL_H
#define ISTHMUS_TIMEVAL_H

#include <stdint.h>
#include <sys/time.h>

static inline void
tv_ms(struct timeval *tv, uint64_t ms)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

#endif
