#ifndef ISTHMUS_STATUS_H
#define ISTHMUS_STATUS_H

#include <stdbool.h>
#include <stdio.h>

/* "isthmus status" */
int status_main(int argc, char **argv);
void status_usage(FILE *f);
/* The admin socket named by a cloud or an edge config (told apart by its
 * [cloud] or [edge] section); *out is malloc'd. Errors on stderr. */
int status_socket_from_conf(const char *path, char **out);

/* The options every admin-socket client takes (-c CONF | --socket PATH,
 * --json); *sock is malloc'd. Returns CLI_GO_ON to go on (positional
 * arguments from optind), else the exit status (after --help, or an error). */
int status_client_args(const char *cmd, const char *usage, int argc,
    char **argv, bool *json, char **sock);
/* The same, also taking isthmus edges' --tenant T and --history EDGE
 * (each stays NULL when not given). */
int status_client_args_fleet(const char *cmd, const char *usage, int argc,
    char **argv, bool *json, char **sock, const char **tenant,
    const char **history);

/* Sends request to the daemon at sock and prints its answer on stdout,
 * or "isthmus CMD: why" on stderr when it answers "error: why" or not at
 * all. Returns the exit status. */
int status_ask(const char *cmd, const char *sock, const char *request);

/* "isthmus edges" (edgesctl.c) */
int edges_main(int argc, char **argv);
void edges_usage(FILE *f);

/* "isthmus manage" and "isthmus audit" (managectl.c) */
int manage_main(int argc, char **argv);
void manage_usage(FILE *f);
int audit_main(int argc, char **argv);
void audit_usage(FILE *f);

/* "isthmus readiness" (readinessctl.c) */
int readiness_main(int argc, char **argv);
void readiness_usage(FILE *f);

/* "isthmus trust" (trustctl.c) */
int trust_main(int argc, char **argv);
void trust_usage(FILE *f);

/* "isthmus queue" (queuectl.c) */
int queue_main(int argc, char **argv);
void queue_usage(FILE *f);

/* "isthmus cache" (cachectl.c) */
int cache_main(int argc, char **argv);
void cache_usage(FILE *f);

#endif
