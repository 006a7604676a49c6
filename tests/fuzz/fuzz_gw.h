/*
 * For the harnesses that need gateways (fuzz_cloud, fuzz_edgehttp): a PKI
 * made by `isthmus pki`, a cloud with one worker on the harness's loop,
 * and a backend that answers each connection once with the bytes it is
 * given and then closes its side.
 */
#ifndef ISTHMUS_FUZZ_GW_H
#define ISTHMUS_FUZZ_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "cloud/cloud-int.h"
#include "common/tls.h"

/* dir/ca: a root CA, cloud "api" (cloud.example) and edge "gw1" of
 * tenant acme; their key pins. */
void gw_pki(char edge_pin[TLS_FP_LEN], char cloud_pin[TLS_FP_LEN]);
/* The backend's listening port, on 127.0.0.1, served on base. */
uint16_t gw_backend(struct event_base *base);
/* What the backend answers next (kept by the caller), and the end of an
 * input: its connections closed. */
void gw_backend_answer(const uint8_t *answer, size_t len);
void gw_backend_reset(void);
/* The cloud on base, from a config text (relative paths: the PKI's). */
void gw_cloud(struct cloud *cl, struct event_base *base, const char *conf);
/* Runs base until *flag, or secs; false on the deadline. */
bool gw_run_until(struct event_base *base, const bool *flag, int secs);

#endif
