#include "cloud/backpool.h"

#include <stdlib.h>

#include <event2/buffer.h>

#include "cloud/worker.h"
#include "common/netutil.h"

struct pooled {
	struct worker *w;
	struct pooled *next, **pprev;
	struct sockaddr_storage ss;
	struct bufferevent *bev;
};

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
backpool_take(struct worker *w, const struct sockaddr_storage *ss)
{
	struct pooled *p;

	/* Newest first: the one least likely to have timed out. */
	for (p = w->idle; p != NULL; p = p->next) {
		if (net_same_addr(&p->ss, ss)) {
			struct bufferevent *bev = unlink_pooled(p);

			bufferevent_set_timeouts(bev, NULL, NULL);
			bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
			return bev;
		}
	}
	return NULL;
}

void
backpool_put(struct worker *w, const struct sockaddr_storage *ss,
    struct bufferevent *bev, uint64_t idle_ms, int64_t max_idle)
{
	struct pooled *p, *q;
	struct timeval tv;
	int64_t same = 0;

	for (q = w->idle; q != NULL; q = q->next)
		same += net_same_addr(&q->ss, ss);
	if (idle_ms == 0 || same >= max_idle ||
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0 ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		bufferevent_free(bev);
		return;
	}
	p->w = w;
	p->ss = *ss;
	p->bev = bev;
	p->next = w->idle;
	if (p->next != NULL)
		p->next->pprev = &p->next;
	p->pprev = &w->idle;
	w->idle = p;
	w->nidle++;
	tv.tv_sec = (time_t)(idle_ms / 1000);
	tv.tv_usec = (suseconds_t)(idle_ms % 1000) * 1000;
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

unsigned
backpool_idle(struct worker *w)
{
	return w->nidle;
}
