/*
 * What the running trust says about itself (trust.h): its counters, the
 * isthmus_trust_* metrics (docs/trust.md, "Metrics") and its part of
 * isthmus status.
 */
#include "edge/trust/trust-int.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "common/jsonw.h"
#include "common/prom.h"

void
trust_stats(const struct trust *t, struct trust_stats *out)
{
	const struct trust_entry *ent;
	int64_t now = time(NULL);
	size_t i;

	*out = t->st;
	out->store_up = t->up;
	snprintf(out->error, sizeof(out->error), "%s", t->up ? "" : t->error);
	memset(out->entries, 0, sizeof(out->entries));
	out->expired = 0;
	for (i = 0; t->table != NULL && i < t->table->n; i++) {
		ent = &t->table->ents[i];
		if ((unsigned)ent->state < TS_COUNT)
			out->entries[ent->state]++;
		if (ent->state == TS_APPROVED && (now > ent->not_after ||
		    now < ent->not_before))
			out->expired++;
	}
}

static void
by_kind(FILE *f, const char *name, const uint64_t v[TK_COUNT])
{
	int k;

	for (k = 0; k < TK_COUNT; k++)
		prom_sample(f, name, (const char *[]){ "kind",
		    trust_kind_name(k), NULL }, v[k]);
}

void
trust_metrics(const struct trust *t, FILE *f)
{
	struct trust_stats st;
	int k, v;

	if (t == NULL)
		return;
	trust_stats(t, &st);
	prom_family(f, "isthmus_trust_store_up", "gauge",
	    "1 when the trust store is open.");
	prom_sample(f, "isthmus_trust_store_up", NULL, st.store_up);
	prom_family(f, "isthmus_trust_entries", "gauge",
	    "Trust store entries by state.");
	for (k = 0; k < TS_COUNT; k++)
		prom_sample(f, "isthmus_trust_entries", (const char *[]){
		    "state", trust_state_name(k), NULL }, st.entries[k]);
	prom_family(f, "isthmus_trust_learned_total", "counter",
	    "Certificates recorded as pending.");
	by_kind(f, "isthmus_trust_learned_total", st.learned);
	prom_family(f, "isthmus_trust_mismatches_total", "counter",
	    "Certificates other than the approved one of their peer.");
	by_kind(f, "isthmus_trust_mismatches_total", st.mismatches);
	prom_family(f, "isthmus_trust_refused_total", "counter",
	    "Handshakes refused by the trust store, by verdict.");
	for (k = 0; k < TK_COUNT; k++)
		for (v = TV_LEARNED; v < TV_COUNT; v++)
			prom_sample(f, "isthmus_trust_refused_total",
			    (const char *[]){ "kind", trust_kind_name(k),
			    "verdict", trust_verdict_name(v), NULL },
			    st.refused[k][v]);
	prom_family(f, "isthmus_trust_expired", "gauge",
	    "Approved entries out of their certificate's dates.");
	prom_sample(f, "isthmus_trust_expired", NULL, st.expired);
}

static void
status_json(const struct trust *t, const struct trust_stats *st,
    struct jw *j)
{
	uint64_t mismatches = 0;
	int k;

	jw_begin_object(j);
	jw_key(j, "store");
	jw_string(j, t->path);
	jw_key(j, "up");
	jw_bool(j, st->store_up);
	jw_key(j, "error");
	jw_string(j, st->store_up ? NULL : st->error);
	jw_key(j, "entries");
	jw_begin_object(j);
	for (k = 0; k < TS_COUNT; k++) {
		jw_key(j, trust_state_name(k));
		jw_int(j, (int64_t)st->entries[k]);
	}
	jw_end_object(j);
	for (k = 0; k < TK_COUNT; k++)
		mismatches += st->mismatches[k];
	jw_key(j, "mismatches");
	jw_int(j, (int64_t)mismatches);
	jw_end_object(j);
}

void
trust_status(const struct trust *t, const char *conf, bool json,
    struct jw *j, FILE *f)
{
	struct trust_stats st;

	if (t == NULL)
		return;
	trust_stats(t, &st);
	if (json) {
		status_json(t, &st, j);
		return;
	}
	if (!st.store_up) {
		fprintf(f, "trust store %s: UNAVAILABLE (%s); every certificate "
		    "that needs it is refused\n", t->path, st.error);
		return;
	}
	fprintf(f, "trust store %s: %" PRIu64 " pending, %" PRIu64
	    " approved, %" PRIu64 " rejected, %" PRIu64 " changed",
	    t->path, st.entries[TS_PENDING], st.entries[TS_APPROVED],
	    st.entries[TS_REJECTED], st.entries[TS_CHANGED]);
	if (st.expired > 0)
		fprintf(f, ", %" PRIu64 " expired", st.expired);
	fprintf(f, "\n");
	if (st.entries[TS_PENDING] + st.entries[TS_CHANGED] > 0)
		fprintf(f, "  waiting for a decision: isthmus trust -c %s "
		    "list --pending\n", conf);
}
