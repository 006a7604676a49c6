/* The loopback listener that serves /metrics (metrics_http.h). */
#include "common/metrics_http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "common/acceptguard.h"
#include "common/netutil.h"
#include "common/prom.h"

#define METRICS_TIMEOUT_S	10
#define METRICS_HEADERS_MAX	8192

struct metrics_http {
	struct evhttp *http;
	struct evconnlistener *l;	/* evhttp's: freed with it */
	metrics_fn fn;
	void *arg;
};

static void
reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	if (b != NULL)
		evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	if (b != NULL)
		evbuffer_free(b);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http *m = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *b;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed",
		    "only GET and HEAD are served here\n");
		return;
	}
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		reply_text(req, 404, "Not Found", "metrics are at /metrics\n");
		return;
	}
	f = open_memstream(&text, &len);
	b = evbuffer_new();
	if (f == NULL || b == NULL) {
		if (f != NULL)
			fclose(f);
		free(text);
		if (b != NULL)
			evbuffer_free(b);
		evhttp_send_error(req, 503, "Out of memory");
		return;
	}
	m->fn(f, m->arg);
	fclose(f);
	evbuffer_add(b, text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", PROM_CONTENT_TYPE);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

int
metrics_http_listen(struct event_base *base, const struct hostport *hp,
    metrics_fn fn, void *arg, struct metrics_http **out, char *bound,
    size_t boundlen, struct err *e)
{
	struct sockaddr_storage ss;
	struct evconnlistener *l;
	struct metrics_http *m;
	socklen_t sslen;
	int rc;

	rc = net_resolve(hp, &ss, &sslen, e);
	if (rc != 0)
		return rc;
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->http = evhttp_new(base)) == NULL) {
		free(m);
		return err_set(e, -ENOMEM, "out of memory");
	}
	m->fn = fn;
	m->arg = arg;
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, METRICS_HEADERS_MAX);
	evhttp_set_max_body_size(m->http, 4096);	/* then 413 */
	/* Every method reaches on_request, which answers 405 itself. */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH | EVHTTP_REQ_TRACE);
	evhttp_set_gencb(m->http, on_request, m);
	l = evconnlistener_new_bind(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 64,
	    (struct sockaddr *)&ss, (int)sslen);
	if (l == NULL) {
		rc = errno;
		evhttp_free(m->http);
		free(m);
		return err_set(e, -rc, "cannot listen for metrics on %s:%u: %s",
		    hp->host, hp->port, strerror(rc));
	}
	if (acceptguard_watch(l, "metrics") != 0 ||
	    evhttp_bind_listener(m->http, l) == NULL) {
		acceptguard_release(l);
		evconnlistener_free(l);
		evhttp_free(m->http);
		free(m);
		return err_set(e, -ENOMEM, "out of memory");
	}
	m->l = l;
	net_local_name(evconnlistener_get_fd(l), bound, boundlen);
	*out = m;
	return 0;
}

void
metrics_http_close(struct metrics_http *m)
{
	if (m == NULL)
		return;
	acceptguard_release(m->l);
	evhttp_free(m->http);	/* frees the bound listener too */
	free(m);
}
