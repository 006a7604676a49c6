/*
 * The edge gateway's /metrics (Prometheus text format) on the loopback
 * address `metrics` of edge.conf; families in docs/edge.md. Labels are
 * listener and service names from the config and fixed reason words.
 */
#ifndef ISTHMUS_EDGE_METRICS_H
#define ISTHMUS_EDGE_METRICS_H

#include <stdio.h>

void edge_metrics(FILE *f, void *edge);

#endif
