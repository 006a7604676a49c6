/*
 * A collector's delivery (docs/trust.md, "Collectors"): the device's
 * answer POSTed through the tunnel to the collector's service, with the
 * HTTP_COLLECTOR_* fields saying what it came from. The cloud's answer
 * is read to its end and dropped: only its status counts.
 */
#include "edge/collect/collect-int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "common/relay.h"
#include "common/timeval.h"

#define NV(n, v) ((nghttp2_nv){ (uint8_t *)(uintptr_t)(n), \
	(uint8_t *)(uintptr_t)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE })

struct delivery {
	struct relay *r;
	deliver_done_fn done;
	void *arg;
	struct event *timer;		/* its bound */
	struct event *report_ev;	/* done runs from here */
	bool ok;
	int status;
	char why[160];
};

static void
delivery_free(struct delivery *d)
{
	if (d->r != NULL)
		relay_abort(d->r);
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->report_ev != NULL)
		event_free(d->report_ev);
	free(d);
}

static void
on_report(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;
	deliver_done_fn done = d->done;
	void *darg = d->arg;
	bool ok = d->ok;
	int status = d->status;
	char why[sizeof(d->why)];

	(void)fd;
	(void)what;
	memcpy(why, d->why, sizeof(why));
	delivery_free(d);
	done(ok, status, why, darg);
}

/* Ends from the loop: the relay's callbacks may not free what called
 * them. */
static void
report(struct delivery *d, const char *why)
{
	if (why != NULL)
		snprintf(d->why, sizeof(d->why), "%s", why);
	evtimer_del(d->timer);
	event_active(d->report_ev, EV_TIMEOUT, 1);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;

	(void)fd;
	(void)what;
	if (d->r != NULL) {
		relay_abort(d->r);	/* no done from it now */
		d->r = NULL;
	}
	report(d, "the cloud did not answer in time");
}

static void
on_head(struct relay *r, void *arg)
{
	struct delivery *d = arg;

	d->status = relay_info(r)->status;
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	struct delivery *d = arg;
	char why[80];

	d->r = NULL;
	d->status = relay_info(r)->status;
	d->ok = complete && d->status >= 200 && d->status < 300;
	if (d->ok)
		why[0] = '\0';
	else if (d->status == 0 || !complete)
		snprintf(why, sizeof(why), "the stream ended before the "
		    "cloud's answer was whole (tunnel down or reset)");
	else
		snprintf(why, sizeof(why), "the cloud answered %d",
		    d->status);
	report(d, why);
}

static const struct relay_http_ops deliver_ops = {
	.head = on_head,
	.body = relay_body_drop,
	.done = on_done,
};

static int
submit(struct delivery *d, struct h2conn *h2, const struct deliver_req *q)
{
	const struct edge_collector_conf *c = q->c;
	const struct poll_result *res = q->r;
	size_t len = evbuffer_get_length(res->body), n = 0;
	char status[16], clen[24];
	nghttp2_nv nv[13];
	unsigned char *body;

	snprintf(status, sizeof(status), "%d", res->status);
	snprintf(clen, sizeof(clen), "%zu", len);
	nv[n++] = NV(":method", "POST");
	nv[n++] = NV(":scheme", "http");
	nv[n++] = NV(":authority", c->service);
	nv[n++] = NV(":path", c->target != NULL ? c->target : c->path);
	nv[n++] = NV(RELAY_DEVICE_HEADER, res->device);
	nv[n++] = NV(HTTP_COLLECTOR_FIELD, c->name);
	nv[n++] = NV(HTTP_COLLECTOR_URL, c->url);
	nv[n++] = NV(HTTP_COLLECTOR_FP, res->fp);
	nv[n++] = NV(HTTP_COLLECTOR_STATUS, status);
	nv[n++] = NV(HTTP_COLLECTOR_TIME, res->time);
	nv[n++] = NV("content-length", clen);
	if (res->content_type != NULL)
		nv[n++] = NV("content-type", res->content_type);
	if (relay_http_request(h2, nv, n, len > 0, &deliver_ops, d,
	    &d->r) != 0)
		return -EAGAIN;
	if (len == 0)
		return 0;
	/* At most max_response: written at once, the relay's window
	 * paces it. */
	if ((body = evbuffer_pullup(res->body, -1)) == NULL ||
	    relay_body_write(d->r, body, len) != 0)
		return -ENOMEM;
	evbuffer_drain(res->body, len);
	relay_body_end(d->r);
	return 0;
}

int
deliver_start(struct event_base *base, struct h2conn *h2,
    const struct deliver_req *q, deliver_done_fn done, void *arg,
    struct delivery **out)
{
	struct delivery *d = calloc(1, sizeof(*d));
	struct timeval tv;
	int rc;

	if (d == NULL)
		return -ENOMEM;
	d->done = done;
	d->arg = arg;
	d->timer = evtimer_new(base, on_timeout, d);
	d->report_ev = event_new(base, -1, 0, on_report, d);
	if (d->timer == NULL || d->report_ev == NULL) {
		delivery_free(d);
		return -ENOMEM;
	}
	tv_ms(&tv, COLLECT_DELIVER_TIMEOUT_MS);
	evtimer_add(d->timer, &tv);
	*out = d;
	if (h2 == NULL) {
		report(d, "no tunnel");
		return 0;
	}
	if ((rc = submit(d, h2, q)) != 0) {
		if (d->r != NULL) {
			relay_abort(d->r);
			d->r = NULL;
		}
		report(d, rc == -ENOMEM ? "out of memory" : "the tunnel "
		    "takes no new stream");
	}
	return 0;
}

void
deliver_cancel(struct delivery *d)
{
	if (d != NULL)
		delivery_free(d);
}
