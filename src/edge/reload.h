/*
 * SIGHUP at the edge (reload.c), and the loading the start shares with it.
 * Errors go to stderr as "file:line: ..." at the start (logged = false)
 * and to the log on reload, when stderr is the log.
 */
#ifndef ISTHMUS_EDGE_RELOAD_H
#define ISTHMUS_EDGE_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/err.h"
#include "edge/config.h"

struct devtls;
struct edge;

/* The configuration and the tunnel's TLS context; why (or NULL) gets the
 * first error's text. */
int edge_load(const char *path, bool logged, struct edge_conf **cf,
    SSL_CTX **ctx, struct err *why);
/* Each device-TLS listener's context (NULL for the others), so that
 * --check finds bad files too. */
int edge_load_device_tls(const struct edge_conf *cf, bool logged,
    struct devtls ***out);
void edge_devtls_free_all(struct devtls **dt, size_t n);
/* What a tunnel is made from, its files' contents included. */
int edge_tunnel_digest(const struct edge_conf *cf, uint8_t out[32],
    struct err *er);
/* The store-and-forward queue, when a listener of the running
 * configuration may queue and it is not open yet; -ENOMEM (logged) when
 * it cannot even start. The start and a reload share it. */
int edge_queue_open(struct edge *e);
/* Applies the configuration file again, or logs why not and keeps the
 * running one: 0, or -EINVAL with why (or NULL) saying so in a
 * sentence (the management channel's reload answers it). */
int edge_reload(struct edge *e, struct err *why);

#endif
