/*
 * The cloud gateway's /metrics (Prometheus text format), served by
 * common/metrics_http.c on the loopback address `metrics` of cloud.conf.
 * Families and labels are documented in docs/cloud.md; label values are
 * only configured names and fixed reason words, never what a peer sent, so
 * no peer can grow the number of series.
 */
#ifndef ISTHMUS_CLOUD_METRICS_H
#define ISTHMUS_CLOUD_METRICS_H

#include <stdio.h>

void cloud_metrics(FILE *f, void *cloud);

#endif
