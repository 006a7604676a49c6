/* Readiness tests' Prometheus families at the cloud (readiness.h). */
#include "cloud/readiness/readiness-int.h"

#include "common/prom.h"
#include "common/stat.h"

void
ready_metrics(struct ready *rd, FILE *f)
{
	struct ready_test *t;
	uint64_t live = 0;
	int64_t now = ready_now();
	int i;

	if (rd == NULL)
		return;
	pthread_mutex_lock(&rd->mu);
	for (t = rd->tests; t != NULL; t = t->next)
		live += t->expires >= now;
	pthread_mutex_unlock(&rd->mu);
	prom_family(f, "isthmus_readiness_tests_live", "gauge",
	    "Readiness tests issued whose streams and probes are still "
	    "taken (until their deadline and a grace).");
	prom_sample(f, "isthmus_readiness_tests_live", NULL, live);
	prom_family(f, "isthmus_readiness_udp_probes_total", "counter",
	    "Datagrams to the readiness UDP port: echoed, or dropped "
	    "unanswered by why.");
	for (i = 0; i < RP_COUNT; i++)
		prom_sample(f, "isthmus_readiness_udp_probes_total",
		    (const char *[]){ "result",
		    ready_probe_name((enum ready_probe)i), NULL },
		    STAT_GET(rd->probes[i]));
	prom_family(f, "isthmus_readiness_bytes_total", "counter",
	    "Readiness throughput body bytes, by direction (down: the "
	    "cloud sent them).");
	prom_sample(f, "isthmus_readiness_bytes_total",
	    (const char *[]){ "direction", "down", NULL },
	    STAT_GET(rd->bytes_down));
	prom_sample(f, "isthmus_readiness_bytes_total",
	    (const char *[]){ "direction", "up", NULL },
	    STAT_GET(rd->bytes_up));
}
