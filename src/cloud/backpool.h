/*
 * Kept-alive HTTP/1.1 connections to backends, per worker: after an
 * answer the connection waits here for the next request to the same
 * backend of the same tenant's service (a connection never carries two
 * tenants' requests, even to one address). An idle connection that the
 * backend closes, that speaks out of turn, or that waits past the
 * service's pool_idle_timeout is closed.
 */
#ifndef ISTHMUS_CLOUD_BACKPOOL_H
#define ISTHMUS_CLOUD_BACKPOOL_H

#include <stdint.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>

struct worker;
struct cloud_service;

/* An idle connection to ss, now the caller's, or NULL. */
struct bufferevent *backpool_take(struct worker *w,
    const struct cloud_service *svc, const struct sockaddr_storage *ss);
/* Parks bev (its input must be empty); closes it instead when the
 * backend has max_idle waiting already. */
void backpool_put(struct worker *w, const struct cloud_service *svc,
    const struct sockaddr_storage *ss, struct bufferevent *bev,
    uint64_t idle_ms, int64_t max_idle);
/* Closes every idle connection of w. */
void backpool_close(struct worker *w);

#endif
