/* A tunnel's liveness: PING when quiet, dead when nothing comes back
 * (keepalive.h). */
#include "cloud/keepalive.h"

#include <errno.h>
#include <stdlib.h>

#include "common/h2conn.h"
#include "common/log.h"
#include "common/timeval.h"

struct keepalive {
	struct h2conn *h2;
	struct event *tick, *deadline;
	uint64_t interval_ms, timeout_ms;
	int64_t ping_sent;		/* mono_us(), 0: none out */
	keepalive_dead_fn dead;
	void *arg;
};

void
keepalive_probe(struct keepalive *ka)
{
	struct timeval tv;

	if (ka->ping_sent != 0)
		return;
	ka->ping_sent = mono_us();
	tv_ms(&tv, ka->timeout_ms);
	evtimer_add(ka->deadline, &tv);
	if (h2conn_ping(ka->h2) != 0)
		log_warn("cloud", "keepalive_failed", "reason=%s",
		    "out of memory");
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct keepalive *ka = arg;

	(void)fd;
	(void)what;
	if (mono_us() - h2conn_last_read(ka->h2) >=
	    (int64_t)ka->interval_ms * 1000)
		keepalive_probe(ka);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct keepalive *ka = arg;
	int64_t last = h2conn_last_read(ka->h2);

	(void)fd;
	(void)what;
	/* Anything the edge sent after the PING answers it as well. */
	if (last > ka->ping_sent) {
		ka->ping_sent = 0;
		return;
	}
	ka->dead((mono_us() - last) / 1000, ka->arg);
}

void
keepalive_pong(struct keepalive *ka)
{
	ka->ping_sent = 0;
	evtimer_del(ka->deadline);
}

int
keepalive_new(struct event_base *base, struct h2conn *h2,
    uint64_t interval_ms, uint64_t timeout_ms, keepalive_dead_fn dead,
    void *arg, struct keepalive **out)
{
	struct keepalive *ka = calloc(1, sizeof(*ka));
	struct timeval tv;

	if (ka == NULL)
		return -ENOMEM;
	ka->h2 = h2;
	ka->interval_ms = interval_ms;
	ka->timeout_ms = timeout_ms;
	ka->dead = dead;
	ka->arg = arg;
	ka->tick = event_new(base, -1, EV_PERSIST, on_tick, ka);
	ka->deadline = evtimer_new(base, on_deadline, ka);
	if (ka->tick == NULL || ka->deadline == NULL) {
		keepalive_free(ka);
		return -ENOMEM;
	}
	tv_ms(&tv, interval_ms);
	evtimer_add(ka->tick, &tv);
	*out = ka;
	return 0;
}

void
keepalive_free(struct keepalive *ka)
{
	if (ka == NULL)
		return;
	if (ka->tick != NULL)
		event_free(ka->tick);
	if (ka->deadline != NULL)
		event_free(ka->deadline);
	free(ka);
}
