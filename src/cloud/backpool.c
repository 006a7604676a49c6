/* The worker's kept-alive backend connections: take, put back, close
 * (backpool.h). */
#include "cloud/backpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "cloud/cloud-int.h"
#include "cloud/config.h"
#include "common/netutil.h"
#include "common/timeval.h"

struct pooled {
	struct worker *w;
	struct pooled *next, **pprev;
	/* whose: by name, as a reload makes new service objects */
	char owner[2 * NAME_MAX_LEN + 2];
	struct sockaddr_storage ss;
	struct bufferevent *bev;
};

static void
owner_of(const struct cloud_service *svc, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", svc->tenant_name, svc->name);
}

static bool
same(const struct pooled *p, const char *owner,
    const struct sockaddr_storage *ss)
{
	return net_same_addr(&p->ss, ss) && strcmp(p->owner, owner) == 0;
}

static struct bufferevent *
unlink_pooled(struct pooled *p)
{
	struct bufferevent *bev = p->bev;

	*p->pprev = p->next;
	if (p->next != NULL)
		p->next->pprev = p->pprev;
	p->w->nidle--;
	free(p);
	return bev;
}

/* While idle, any event is the end: the backend closed, timed out, or
 * sent bytes no request asked for. */
static void
idle_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	bufferevent_free(unlink_pooled(arg));
}

static void
idle_read(struct bufferevent *bev, void *arg)
{
	idle_event(bev, BEV_EVENT_READING, arg);
}

struct bufferevent *
backpool_take(struct worker *w, const struct cloud_service *svc,
    const struct sockaddr_storage *ss)
{
	char owner[sizeof(((struct pooled *)0)->owner)];
	struct pooled *p;

	owner_of(svc, owner, sizeof(owner));
	/* Newest first: the one least likely to have timed out. */
	for (p = w->idle; p != NULL; p = p->next) {
		if (same(p, owner, ss)) {
			struct bufferevent *bev = unlink_pooled(p);

			bufferevent_set_timeouts(bev, NULL, NULL);
			bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
			return bev;
		}
	}
	return NULL;
}

void
backpool_put(struct worker *w, const struct cloud_service *svc,
    const struct sockaddr_storage *ss, struct bufferevent *bev,
    uint64_t idle_ms, int64_t max_idle)
{
	char owner[sizeof(((struct pooled *)0)->owner)];
	struct pooled *p, *q;
	struct timeval tv;
	int64_t n = 0;

	owner_of(svc, owner, sizeof(owner));
	for (q = w->idle; q != NULL; q = q->next)
		n += same(q, owner, ss);
	if (idle_ms == 0 || n >= max_idle ||
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0 ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		bufferevent_free(bev);
		return;
	}
	p->w = w;
	memcpy(p->owner, owner, sizeof(p->owner));
	p->ss = *ss;
	p->bev = bev;
	p->next = w->idle;
	if (p->next != NULL)
		p->next->pprev = &p->next;
	p->pprev = &w->idle;
	w->idle = p;
	w->nidle++;
	tv_ms(&tv, idle_ms);
	bufferevent_set_timeouts(bev, &tv, NULL);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setcb(bev, idle_read, NULL, idle_event, p);
	bufferevent_enable(bev, EV_READ);
}

void
backpool_close(struct worker *w)
{
	while (w->idle != NULL)
		bufferevent_free(unlink_pooled(w->idle));
}
