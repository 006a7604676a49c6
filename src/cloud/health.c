/* Active TCP and HTTP health checks of the backends (health.h). */
#include "cloud/health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <http_parser.h>

#include "common/log.h"
#include "common/stat.h"
#include "common/timeval.h"

struct probe {
	struct health *h;
	struct cloud_service *svc;
	struct cloud_backend *be;
	struct event *timer;
	struct bufferevent *bev;	/* a check in flight */
	http_parser parser;
	bool got_status;
	bool in_connect, failed_in_connect;
	unsigned ok_run, fail_run;
};

struct health {
	struct event_base *base;
	struct cloud_conf *cf;
	struct probe *probes;
	size_t nprobes;
};

static void
probe_result(struct probe *p, bool ok, const char *why)
{
	struct cloud_service *s = p->svc;

	if (p->bev != NULL) {
		bufferevent_free(p->bev);
		p->bev = NULL;
	}
	if (ok) {
		p->fail_run = 0;
		if (!p->be->healthy && ++p->ok_run >= (unsigned)s->health_rise) {
			STAT_SET(p->be->healthy, true);
			log_info("cloud", "backend_up", "tenant=%s service=%s "
			    "backend=%s", s->tenant_name, s->name, p->be->addr);
		}
		return;
	}
	p->ok_run = 0;
	if (p->be->healthy && ++p->fail_run >= (unsigned)s->health_fall) {
		STAT_SET(p->be->healthy, false);
		log_warn("cloud", "backend_down", "tenant=%s service=%s "
		    "backend=%s reason=%s", s->tenant_name, s->name,
		    p->be->addr, why);
	}
}

static int
on_headers_complete(http_parser *hp)
{
	struct probe *p = hp->data;

	p->got_status = true;
	return 1;	/* the status is all we need */
}

static const http_parser_settings http_settings = {
	.on_headers_complete = on_headers_complete,
};

static void
probe_read(struct bufferevent *bev, void *arg)
{
	struct probe *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	const char *data = (const char *)evbuffer_pullup(in, (ssize_t)len);
	unsigned status;

	http_parser_execute(&p->parser, &http_settings, data, len);
	evbuffer_drain(in, len);
	if (p->got_status) {
		status = p->parser.status_code;
		probe_result(p, status >= 200 && status < 300,
		    status >= 200 && status < 300 ? "ok" : "http status");
	} else if (HTTP_PARSER_ERRNO(&p->parser) != HPE_OK) {
		probe_result(p, false, "bad http response");
	}
}

static void
probe_event(struct bufferevent *bev, short what, void *arg)
{
	struct probe *p = arg;
	char req[512];

	if (p->in_connect) {
		p->failed_in_connect = true;
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		if (p->svc->health == HEALTH_TCP) {
			probe_result(p, true, "ok");
			return;
		}
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: isthmus-health\r\nConnection: close\r\n\r\n",
		    p->svc->health_path, p->be->addr);
		http_parser_init(&p->parser, HTTP_RESPONSE);
		p->parser.data = p;
		p->got_status = false;
		bufferevent_write(bev, req, strlen(req));
		bufferevent_enable(bev, EV_READ);
		return;
	}
	probe_result(p, false, (what & BEV_EVENT_TIMEOUT) ? "timeout" :
	    (what & BEV_EVENT_EOF) ? "closed" : "refused");
}

static void
probe_run(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (p->bev != NULL)
		probe_result(p, false, "timeout");
	p->bev = bufferevent_socket_new(p->h->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (p->bev == NULL)
		goto next;
	tv_ms(&tv, p->svc->health_timeout);
	bufferevent_set_timeouts(p->bev, &tv, &tv);
	bufferevent_setcb(p->bev, probe_read, NULL, probe_event, p);
	p->in_connect = true;
	p->failed_in_connect = false;
	if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&p->be->ss,
	    (int)p->be->sslen) != 0)
		p->failed_in_connect = true;
	p->in_connect = false;
	if (p->failed_in_connect)
		probe_result(p, false, "refused");
next:
	tv_ms(&tv, p->svc->health_interval);
	evtimer_add(p->timer, &tv);
}

int
health_start(struct event_base *base, struct cloud_conf *cf,
    struct health **out)
{
	struct health *h = calloc(1, sizeof(*h));
	size_t i, k, n = 0;

	if (h == NULL)
		return -ENOMEM;
	for (i = 0; i < cf->nservices; i++)
		if (cf->services[i]->health != HEALTH_NONE)
			n += cf->services[i]->nbe;
	h->probes = calloc(n > 0 ? n : 1, sizeof(*h->probes));
	if (h->probes == NULL) {
		free(h);
		return -ENOMEM;
	}
	h->base = base;
	h->cf = cloud_conf_ref(cf);
	for (i = 0; i < cf->nservices; i++) {
		struct cloud_service *s = cf->services[i];

		for (k = 0; s->health != HEALTH_NONE && k < s->nbe; k++) {
			struct probe *p = &h->probes[h->nprobes];

			p->h = h;
			p->svc = s;
			p->be = &s->be[k];
			p->timer = evtimer_new(base, probe_run, p);
			if (p->timer == NULL) {
				health_stop(h);
				return -ENOMEM;
			}
			h->nprobes++;
			/* first check at once */
			event_active(p->timer, EV_TIMEOUT, 0);
		}
	}
	*out = h;
	return 0;
}

void
health_stop(struct health *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nprobes; i++) {
		event_free(h->probes[i].timer);
		if (h->probes[i].bev != NULL)
			bufferevent_free(h->probes[i].bev);
	}
	free(h->probes);
	cloud_conf_unref(h->cf);
	free(h);
}
