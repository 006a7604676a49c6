/*
 * The admin unix socket: owner-only (created 0600 in a umask of 077), one
 * request line per connection ("status" or "status json"), the answer, then
 * close. The daemons serve it; `isthmus status` is the client.
 */
#ifndef ISTHMUS_ADMIN_H
#define ISTHMUS_ADMIN_H

#include <stdio.h>

#include <event2/event.h>

#include "common/err.h"

struct admin;

/* Writes the answer to the request line cmd on f. */
typedef void (*admin_fn)(const char *cmd, FILE *f, void *arg);

int admin_listen(struct event_base *base, const char *path, admin_fn fn,
    void *arg, struct admin **out, struct err *e);
void admin_close(struct admin *a);	/* also unlinks the socket */

/* Client: sends cmd to the socket at path and copies the answer to out. */
int admin_query(const char *path, const char *cmd, FILE *out, struct err *e);

#endif
