/*
 * The cloud's readiness state as a whole (readiness.h): made before the
 * workers start, with a timer in the control loop that prunes the tests
 * that ended; freed after the workers stopped, with the reflector (udp.c)
 * and every test left (table.c).
 */
#include "cloud/readiness/readiness-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* Ended tests go within a second: their keys with them. */
#define PRUNE_MS 1000

static void
on_prune(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ready_prune(arg, ready_now());
}

int
ready_new(struct event_base *base, struct ready **out)
{
	struct timeval tv = { PRUNE_MS / 1000, (PRUNE_MS % 1000) * 1000 };
	struct ready *rd = calloc(1, sizeof(*rd));

	if (rd == NULL)
		return -ENOMEM;
	pthread_mutex_init(&rd->mu, NULL);
	rd->base = base;
	rd->fd = -1;
	rd->prune = event_new(base, -1, EV_PERSIST, on_prune, rd);
	if (rd->prune == NULL || event_add(rd->prune, &tv) != 0) {
		ready_free(rd);
		return -ENOMEM;
	}
	*out = rd;
	return 0;
}

void
ready_free(struct ready *rd)
{
	if (rd == NULL)
		return;
	ready_udp_close(rd);
	if (rd->prune != NULL)
		event_free(rd->prune);
	ready_prune(rd, INT64_MAX);
	pthread_mutex_destroy(&rd->mu);
	free(rd);
}

unsigned
ready_udp_port(const struct ready *rd)
{
	return rd != NULL ? rd->udp_port : 0;
}
