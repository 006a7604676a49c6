/* Refusing a stream of an admitted tunnel (refuse.h). */
#include "cloud/refuse.h"

#include "cloud/tunnel-int.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/relay.h"
#include "common/stat.h"

void
refuse_stream(struct tunnel *t, struct relay *r, const char *svc,
    enum refusal why, int status)
{
	STAT_ADD(t->edge->tenant->stats.refused[why], 1);
	log_limited(t->w->lim_stream, LOG_INFO, "cloud", "stream_refused",
	    "edge=%s tenant=%s service=%s reason=%s", t->edge_name,
	    t->edge->tenant->name, svc, refusal_name(why));
	relay_refuse(r, status, refusal_name(why));
}
