/*
 * The admin unix socket: owner-only (created 0600 in a umask of 077), one
 * request line per connection ("status" or "status json"), the answer, then
 * close. The daemon learns who asked from the socket itself. The daemons serve it; `isthmus status` is the client.
 */
#ifndef ISTHMUS_ADMIN_H
#define ISTHMUS_ADMIN_H

#include <stdio.h>
#include <sys/types.h>

#include <event2/event.h>

#include "common/err.h"

struct admin;
struct admin_req;

/* Writes the answer to the request line cmd on f; or, for an answer that
 * comes later (a read of the state store), takes req with admin_defer. */
typedef void (*admin_fn)(const char *cmd, FILE *f, struct admin_req *req,
    void *arg);

/* From inside an admin_fn: the answer comes later, through admin_answer
 * on the same loop; what was written on f is dropped. NULL when out of
 * memory (then answer on f now). */
struct admin_req *admin_defer(struct admin_req *req);
/* Who asked: the client's unix user id, from the socket (SO_PEERCRED);
 * (uid_t)-1 when the kernel did not say. */
uid_t admin_req_uid(const struct admin_req *req);
/* uid's user name, as the daemons record who did something ("alice");
 * "uid:N" for a uid without one, "unknown" for (uid_t)-1. */
void admin_user_name(uid_t uid, char *buf, size_t cap);
/* "local:USER" for uid: a person at the edge itself, as the trust store
 * and the queue record who decided. */
void admin_local_who(uid_t uid, char *buf, size_t cap);
/* The deferred answer: sent, then the connection closes (or only freed,
 * when the client went away meanwhile). Takes req. */
void admin_answer(struct admin_req *req, const char *buf, size_t len);

int admin_listen(struct event_base *base, const char *path, admin_fn fn,
    void *arg, struct admin **out, struct err *e);
void admin_close(struct admin *a);	/* also unlinks the socket */

/* Client: sends cmd to the socket at path and copies the answer to out. */
int admin_query(const char *path, const char *cmd, FILE *out, struct err *e);
/* The same, the answer in *out (malloc'd, NUL-terminated, *len bytes).
 * A daemon that does not run is -ENOENT (no socket) or -ECONNREFUSED
 * (a socket left behind). */
int admin_query_buf(const char *path, const char *cmd, char **out,
    size_t *len, struct err *e);

#endif
