/*
 * A stream of an admitted tunnel, from its request on: its tenant's cap,
 * then where it goes by what it asks for (the cloud's diagnostic
 * authority to diag.c, an HTTP service to httpfwd.c, a TCP service's
 * CONNECT to a backend dialled here), or its refusal. tunnel.c registers
 * these as its session's callbacks; arg is the struct tunnel.
 */
#ifndef ISTHMUS_CLOUD_STREAM_H
#define ISTHMUS_CLOUD_STREAM_H

#include <stdbool.h>

struct h2conn;
struct relay;

/* The session's request callback: a new stream r on the tunnel arg. */
void stream_request(struct h2conn *c, struct relay *r, void *arg);
/* The session's stream callback: a stream of the tunnel arg opened or
 * ended. */
void stream_count(struct h2conn *c, bool open, void *arg);

#endif
