/* The management channel's Prometheus families (manage.h). */
#include "cloud/manage/manage.h"

#include "cloud/cloud-int.h"
#include "cloud/manage/manage-int.h"
#include "common/prom.h"
#include "common/stat.h"

void
manage_metrics(struct cloud *cl, FILE *f)
{
	struct manage_hub *h = cl->hub;
	int k, o;

	if (h == NULL)
		return;
	prom_family(f, "isthmus_manage_streams_open", "gauge",
	    "Edges' management streams open now.");
	prom_sample(f, "isthmus_manage_streams_open", NULL,
	    STAT_GET(h->sessions_open));
	if (cl->store != NULL) {
		struct store_stats st;

		store_get_stats(cl->store, &st);
		prom_family(f, "isthmus_manage_waiting", "gauge",
		    "Instructions waiting for their edge to connect (in the "
		    "store, all replicas), as of the last sweep.");
		prom_sample(f, "isthmus_manage_waiting", NULL, st.waiting);
	}
	prom_family(f, "isthmus_manage_sent_total", "counter",
	    "Instructions written down a management stream.");
	prom_sample(f, "isthmus_manage_sent_total", NULL, STAT_GET(h->sent));
	prom_family(f, "isthmus_manage_instructions_total", "counter",
	    "Instructions that got their outcome, by kind and outcome.");
	for (k = 0; k < MK_UNKNOWN; k++)	/* the cloud sends known kinds */
		for (o = 0; o < MO_COUNT; o++)
			prom_sample(f, "isthmus_manage_instructions_total",
			    (const char *[]){ "kind", manage_kind_name(k),
			    "outcome", manage_outcome_name(o), NULL },
			    STAT_GET(h->outcomes[k][o]));
	prom_family(f, "isthmus_manage_bad_messages_total", "counter",
	    "Management streams reset for a message that broke the "
	    "protocol, by reason.");
	prom_sample(f, "isthmus_manage_bad_messages_total",
	    (const char *[]){ "reason", "oversized", NULL },
	    STAT_GET(h->bad[MBAD_OVERSIZED]));
	prom_sample(f, "isthmus_manage_bad_messages_total",
	    (const char *[]){ "reason", "malformed", NULL },
	    STAT_GET(h->bad[MBAD_MALFORMED]));
	prom_family(f, "isthmus_manage_unexpected_results_total", "counter",
	    "Results for no instruction waiting on that stream (late, or "
	    "never sent), ignored.");
	prom_sample(f, "isthmus_manage_unexpected_results_total", NULL,
	    STAT_GET(h->unexpected));
}
