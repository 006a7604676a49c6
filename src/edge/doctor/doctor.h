/*
 * isthmus doctor -c edge.conf: what the site's IT runs first. It walks
 * the edge's path to the cloud one step at a time, with the daemon's own
 * code for each (configuration loader, resolver, proxy CONNECT, TLS
 * context and certificate check, HTTP/2 session), and prints every step
 * with its time and a verdict:
 *
 *   config, clock, dns, tcp, proxy, tls, certificate, alpn, admission,
 *   round_trip, then one step per service the listeners name.
 *
 * After a failed step the later ones are skipped, with the reason; the
 * exit status is 0 only when every step passed. The admission and
 * service steps ask the cloud itself (cloud/diag.h) who it admitted and
 * whether each service has a backend that answers.
 */
#ifndef ISTHMUS_EDGE_DOCTOR_H
#define ISTHMUS_EDGE_DOCTOR_H

#include <stdio.h>

/* Returns the process exit status (EXIT_OK, EXIT_FAIL, EXIT_USAGE: common/cli.h), not
 * 0/-errno: main.c returns it as is. */
int doctor_main(int argc, char **argv);
void doctor_usage(FILE *f);

#endif
