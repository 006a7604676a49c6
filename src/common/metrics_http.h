/*
 * The admin HTTP listener that serves /metrics (Prometheus text format) on
 * a loopback address. libevent's evhttp does the HTTP; GET and HEAD of
 * /metrics are answered, any other path gets 404 and any other method 405.
 * The listener stays bound for the daemon's life (a reload does not move
 * it).
 */
#ifndef ISTHMUS_METRICS_HTTP_H
#define ISTHMUS_METRICS_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include <event2/event.h>

#include "common/confparse.h"
#include "common/err.h"

struct metrics_http;

/* Writes the exposition text on f. */
typedef void (*metrics_fn)(FILE *f, void *arg);

/* Binds hp (port 0: the kernel picks); bound receives "ip:port". */
int metrics_http_listen(struct event_base *base, const struct hostport *hp,
    metrics_fn fn, void *arg, struct metrics_http **out, char *bound,
    size_t boundlen, struct err *e);
void metrics_http_close(struct metrics_http *m);

#endif
