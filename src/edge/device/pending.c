/*
 * The one waiting room for device connections that arrive (TCP) or send
 * a request (HTTP) while the tunnel to the cloud is down. Each waits for
 * pending_timeout at most; e->npending counts them for status and
 * metrics.
 */
#include "edge/device/pending.h"

#include <errno.h>
#include <stddef.h>

#include "common/timeval.h"
#include "edge/daemon.h"

static void
unlink_wait(struct pending *p)
{
	p->e->npending--;
	*p->pprev = p->next;
	if (p->next != NULL)
		p->next->pprev = p->pprev;
	p->next = NULL;
	p->pprev = NULL;
	event_free(p->timer);
	p->timer = NULL;
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	unlink_wait(p);
	p->ops->expired(p->arg);
}

int
pending_wait(struct edge *e, struct pending *p,
    const struct pending_ops *ops, void *arg)
{
	struct timeval tv;

	p->timer = evtimer_new(e->base, on_timeout, p);
	if (p->timer == NULL)
		return -ENOMEM;
	p->e = e;
	p->ops = ops;
	p->arg = arg;
	e->npending++;
	p->next = e->pending;
	if (p->next != NULL)
		p->next->pprev = &p->next;
	p->pprev = &e->pending;
	e->pending = p;
	tv_ms(&tv, e->cf->pending_timeout);
	evtimer_add(p->timer, &tv);
	return 0;
}

void
pending_cancel(struct pending *p)
{
	if (pending_waiting(p))
		unlink_wait(p);
}

/* The list is taken whole first: a device that goes on may end another
 * one's wait, and none waits again while the tunnel is up. */
void
pending_tunnel_up(struct edge *e)
{
	struct pending *list = e->pending, *p;

	e->pending = NULL;
	if (list != NULL)
		list->pprev = &list;
	while ((p = list) != NULL) {
		unlink_wait(p);
		p->ops->ready(p->arg);
	}
}

void
pending_drop_all(struct edge *e)
{
	struct pending *p, *next;

	for (p = e->pending; p != NULL; p = next) {
		next = p->next;
		if (p->ops->drop == NULL)
			continue;
		unlink_wait(p);
		p->ops->drop(p->arg);
	}
}
