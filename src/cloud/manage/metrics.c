/* The management channel's Prometheus families (manage.h). */
#include "cloud/manage/manage.h"

#include "cloud/cloud-int.h"
#include "cloud/manage/manage-int.h"
#include <stdio.h>

#include "common/prom.h"
#include "common/stat.h"

static const struct {
	const char *name, *help;
} figures[RF_COUNT] = {
	[RF_RTT] = { "isthmus_readiness_rtt_seconds", "Each edge's latest "
	    "median round trip (the UDP train's, else the PINGs')." },
	[RF_JITTER] = { "isthmus_readiness_jitter_seconds", "Each edge's "
	    "latest jitter (RFC 3550; the UDP train's, else the PINGs')." },
	[RF_LOSS] = { "isthmus_readiness_loss_ratio", "Each edge's latest "
	    "UDP loss, 0 to 1 (1: UDP blocked)." },
	[RF_DOWN] = { "isthmus_readiness_down_bits_per_second", "Each edge's "
	    "latest goodput from the cloud." },
	[RF_UP] = { "isthmus_readiness_up_bits_per_second", "Each edge's "
	    "latest goodput to the cloud." },
};

static void
readiness_families(struct manage_hub *h, FILE *f)
{
	struct rlatest *l;
	int v;

	prom_family(f, "isthmus_readiness_tests_total", "counter",
	    "Readiness results received from edges (kept ones too), by "
	    "verdict.");
	for (v = 0; v < RV_COUNT; v++)
		prom_sample(f, "isthmus_readiness_tests_total",
		    (const char *[]){ "verdict",
		    results_verdict_name((enum rverdict)v), NULL },
		    STAT_GET(h->verdicts[v]));
	prom_family(f, "isthmus_readiness_scheduled_total", "counter",
	    "Readiness tests the schedule issued.");
	prom_sample(f, "isthmus_readiness_scheduled_total", NULL,
	    STAT_GET(h->scheduled));
	prom_family(f, "isthmus_readiness_kept_total", "counter",
	    "Results edges kept while their stream was down and sent later.");
	prom_sample(f, "isthmus_readiness_kept_total", NULL,
	    STAT_GET(h->kept));
	for (v = 0; v < RF_COUNT; v++) {
		prom_family(f, figures[v].name, "gauge", figures[v].help);
		for (l = h->latest; l != NULL; l = l->next)
			if (l->f.has[v])
				prom_sample_f(f, figures[v].name,
				    (const char *[]){ "tenant", l->tenant,
				    "edge", l->edge, NULL }, l->f.v[v]);
	}
}

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
	readiness_families(h, f);
}
