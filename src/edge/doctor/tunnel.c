/* The doctor's tunnel checks, over path.c's TLS session: HTTP/2 and
 * admission by the cloud, a round trip (with the clocks compared), and
 * one step per service the listeners name. */
#include "edge/doctor/doctor-int.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/h2conn.h"
#include "common/proto.h"
#include "common/relay.h"
#include "edge/uplink/certdiag.h"
#include "edge/config.h"
/* A clock this far from the cloud's gets a warning. */
#define SKEW_WARN_S 30

static void
on_settings(struct h2conn *c, void *arg)
{
	struct doctor *d = arg;

	(void)c;
	d->admitted = true;
	d->done = true;
}

static void
on_pong(struct h2conn *c, const uint8_t opaque[8], void *arg)
{
	struct doctor *d = arg;

	(void)c;
	(void)opaque;
	d->ponged = true;
	d->done = true;
}

static void
on_closed(struct h2conn *c, const char *why, void *arg)
{
	struct doctor *d = arg;

	snprintf(d->closed_why, sizeof(d->closed_why), "%s", why);
	d->closed_tls = h2conn_tls_error(c);
	h2conn_free(c);
	d->h2 = NULL;
	d->done = true;
}

static const struct h2conn_cbs doctor_cbs = {
	.settings = on_settings,
	.pong = on_pong,
	.closed = on_closed,
};

static void
copy_field(const struct hdrs *h, const char *name, char *buf, size_t cap)
{
	const char *v = hdrs_get(h, name);

	snprintf(buf, cap, "%s", v != NULL ? v : "");
}

static void
on_head(struct relay *r, void *arg)
{
	struct doctor *d = arg;
	const struct hdrs *h = relay_hdrs(r);
	const char *t = hdrs_get(h, DIAG_FIELD_TIME);

	d->ans.status = relay_info(r)->status;
	copy_field(h, HTTP_REFUSED_FIELD, d->ans.refused,
	    sizeof(d->ans.refused));
	d->ans.cloud_time = t != NULL ? strtoll(t, NULL, 10) : 0;
}

static void
on_body(struct relay *r, void *arg)
{
	struct doctor *d = arg;
	struct evbuffer *in = relay_body_in(r);
	size_t n = evbuffer_get_length(in), room;

	room = sizeof(d->ans.text) - 1 - d->ans.tlen;
	evbuffer_remove(in, d->ans.text + d->ans.tlen, n < room ? n : room);
	d->ans.tlen += n < room ? n : room;
	d->ans.text[d->ans.tlen] = '\0';
	evbuffer_drain(in, evbuffer_get_length(in));
	relay_body_ack(r, n);
}

static void
on_done(struct relay *r, bool complete, void *arg)
{
	struct doctor *d = arg;

	(void)r;
	(void)complete;
	d->req = NULL;
	d->ans.done = true;
	d->done = true;
}

static const struct relay_http_ops ask_ops = {
	.head = on_head,
	.body = on_body,
	.done = on_done,
};

/* Asks the cloud path (cloud/diag.h); false when no answer came (bool:
 * whether d->ans holds one; the sentence says why not). */
static bool
ask(struct doctor *d, const char *path)
{
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
		{ (uint8_t *)":authority", (uint8_t *)DIAG_AUTHORITY, 10,
		    strlen(DIAG_AUTHORITY), 0 },
		{ (uint8_t *)":path", (uint8_t *)(uintptr_t)path, 5,
		    strlen(path), 0 },
	};
	char *nl;

	memset(&d->ans, 0, sizeof(d->ans));
	if (d->h2 == NULL)
		return false;
	d->done = false;
	if (relay_http_request(d->h2, nv, 4, false, &ask_ops, d,
	    &d->req) != 0) {
		d->req = NULL;
		return false;
	}
	h2conn_flush(d->h2);
	doctor_await(d, d->cf->handshake_timeout);
	if (d->req != NULL) {
		/* Abandoned: reset, so that a late answer is not taken for
		 * the next question's (an aborted relay calls no more). */
		relay_abort(d->req);
		d->req = NULL;
		h2conn_flush(d->h2);
	}
	nl = strchr(d->ans.text, '\n');
	if (nl != NULL)
		*nl = '\0';
	return d->ans.done && d->ans.status != 0;
}

void
step_admission(struct doctor *d)
{
	int64_t skew;
	char extra[200] = "";

	if (!step_begin(d, "admission"))
		return;
	bufferevent_set_timeouts(d->tls, NULL, NULL);
	d->done = false;
	if (h2conn_new(d->tls, false, &doctor_cbs, d, &d->h2) != 0) {
		step_end(d, V_FAIL, true, "out of memory");
		return;
	}
	d->tls = NULL;		/* the session's now */
	doctor_await(d, d->cf->handshake_timeout);
	if (!d->admitted) {
		const char *alert = ERR_GET_LIB(d->closed_tls) != 0 ?
		    ERR_reason_error_string(d->closed_tls) : NULL;

		if (d->h2 != NULL)
			step_end(d, V_FAIL, true, "the cloud did not speak HTTP/2 "
			    "within handshake_timeout after the TLS handshake");
		else
			step_end(d, V_FAIL, true, "the cloud refused this edge "
			    "(%s): %s (edge '%s', tenant '%s', pin %s); the "
			    "cloud's log says why (event=handshake_failed)",
			    alert != NULL ? alert : d->closed_why,
			    certdiag_cloud_refusal(d->closed_tls),
			    d->me.has_edge ? d->me.edge : "?",
			    d->me.has_edge ? d->me.tenant : "?", d->my_pin);
		return;
	}
	if (!ask(d, DIAG_PATH_WHOAMI)) {
		step_end(d, V_FAIL, true, "the cloud admitted the tunnel but did "
		    "not answer a request on it%s%s", d->closed_why[0] ?
		    ": " : "", d->closed_why);
		return;
	}
	if (d->ans.status != 200) {
		step_end(d, V_WARN, true, "admitted; the cloud does not answer "
		    "diagnostic requests (%d %s): is it an older version?",
		    d->ans.status, d->ans.refused);
		return;
	}
	skew = d->ans.cloud_time != 0 ? (int64_t)time(NULL) -
	    d->ans.cloud_time : 0;
	if (skew > SKEW_WARN_S || skew < -SKEW_WARN_S) {
		snprintf(extra, sizeof(extra), "; but the local clock is %lld "
		    "s %s the cloud's: fix NTP", (long long)(skew < 0 ? -skew :
		    skew), skew < 0 ? "behind" : "ahead of");
		step_end(d, V_WARN, true, "%s%s", d->ans.text, extra);
		return;
	}
	step_end(d, V_PASS, true, "%s", d->ans.text);
}

void
step_round_trip(struct doctor *d)
{
	if (!step_begin(d, "round_trip"))
		return;
	d->done = false;
	d->ponged = false;
	if (d->h2 == NULL || h2conn_ping(d->h2) != 0) {
		step_end(d, V_FAIL, true, "the tunnel is gone: %s", d->closed_why);
		return;
	}
	doctor_await(d, d->cf->keepalive_timeout);
	if (!d->ponged) {
		step_end(d, V_FAIL, true, "%s%s", d->h2 == NULL ?
		    "the tunnel closed: " : "no answer to PING within "
		    "keepalive_timeout", d->h2 == NULL ? d->closed_why : "");
		return;
	}
	step_end(d, V_PASS, true, "PING answered through the tunnel");
}

static void
step_service(struct doctor *d, const char *svc, bool tcp)
{
	char path[NAME_MAX_LEN + 40];

	if (!step_begin(d, "service %s", svc))
		return;
	snprintf(path, sizeof(path), DIAG_PATH_SERVICE "%s?mode=%s", svc,
	    tcp ? "tcp" : "http");
	if (!ask(d, path)) {
		step_end(d, V_FAIL, true, "no answer from the cloud%s%s",
		    d->closed_why[0] ? ": " : "", d->closed_why);
		return;
	}
	if (d->ans.status == 200)
		step_end(d, V_PASS, true, "%s", d->ans.text);
	else if (d->ans.refused[0] != '\0')
		step_end(d, V_FAIL, true, "the cloud does not answer diagnostic "
		    "requests (%d %s)", d->ans.status, d->ans.refused);
	else
		step_end(d, V_FAIL, true, "%s", d->ans.text);
}

/* Whether an earlier listener or route than (li, ri) names svc in the
 * same mode (a service used in both modes is checked in both); a
 * predicate: bool. */
static bool
named_before(const struct edge_conf *cf, size_t li, size_t ri,
    const char *svc)
{
	int mode = cf->listeners[li]->mode;
	size_t i, j;

	for (i = 0; i <= li; i++) {
		const struct edge_listener_conf *lc = cf->listeners[i];

		if (lc->mode != mode)
			continue;
		if (!lc->transparent) {
			if (i < li && strcmp(lc->service, svc) == 0)
				return true;
			continue;
		}
		for (j = 0; j < lc->nroutes && (i < li || j < ri); j++)
			if (strcmp(lc->routes[j].service, svc) == 0)
				return true;
	}
	return false;
}

void
step_services(struct doctor *d)
{
	size_t i, j;

	if (d->cf == NULL) {	/* nothing to name them by */
		step_begin(d, "services");
		return;
	}
	/* Services do not depend on each other. */
	d->independent = true;
	for (i = 0; i < d->cf->nlisteners; i++) {
		const struct edge_listener_conf *lc = d->cf->listeners[i];
		bool tcp = lc->mode == LISTEN_TCP;

		if (!lc->transparent) {
			if (!named_before(d->cf, i, 0, lc->service))
				step_service(d, lc->service, tcp);
			continue;
		}
		for (j = 0; j < lc->nroutes; j++)
			if (!named_before(d->cf, i, j, lc->routes[j].service))
				step_service(d, lc->routes[j].service, tcp);
	}
}

/* ---- output ----------------------------------------------------------- */
