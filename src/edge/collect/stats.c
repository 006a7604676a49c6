/*
 * The collectors' figures (docs/trust.md, "Metrics"; docs/edge.md,
 * "isthmus status"): what each run ended with, kept per collector and
 * for the edge, and shown as metrics and status.
 */
#include "edge/collect/collect-int.h"

#include <string.h>
#include <time.h>

#include "common/jsonw.h"
#include "common/prom.h"
#include "common/timefmt.h"
#include "common/timeval.h"

const char *
collect_outcome_name(enum collect_outcome o)
{
	static const char *const names[CO_COUNT] = {
		[CO_OK] = "ok",
		[CO_WAITING] = "waiting",
		[CO_LEARNED] = "learned",
		[CO_MISMATCH] = "mismatch",
		[CO_REJECTED] = "rejected",
		[CO_UNTRUSTED] = "untrusted",
		[CO_CONNECT] = "connect",
		[CO_TIMEOUT] = "timeout",
		[CO_TOO_LARGE] = "too_large",
		[CO_BAD_RESPONSE] = "bad_response",
		[CO_UNDELIVERED] = "undelivered",
	};

	return (unsigned)o < CO_COUNT ? names[o] : "?";
}

void
stats_note(struct collect_figures *f, struct collect_totals *t,
    enum collect_outcome o, const struct poll_result *r, uint64_t run_us,
    uint64_t bytes)
{
	f->outcomes[o]++;
	f->polls++;
	f->last = o;
	f->last_at = (int64_t)time(NULL);
	t->outcomes[o]++;
	t->bytes += bytes;
	if (r == NULL)		/* not contacted */
		return;
	f->last_status = r->status;
	if (r->fp[0] != '\0')
		memcpy(f->last_fp, r->fp, sizeof(f->last_fp));
	snprintf(f->last_error, sizeof(f->last_error), "%s",
	    o == CO_OK ? "" : r->error);
	if (r->reached) {
		t->seconds_us += run_us;
		t->seconds_count++;
	}
}

void
collectors_metrics(const struct collectors *cs, FILE *f)
{
	struct collect_totals t = { 0 };
	size_t n = 0;
	int o;

	if (cs != NULL) {
		t = cs->tot;
		n = cs->n;
	}
	prom_family(f, "isthmus_collectors", "gauge",
	    "Collectors configured.");
	prom_sample(f, "isthmus_collectors", NULL, n);
	prom_family(f, "isthmus_collections_total", "counter",
	    "Collector polls by outcome.");
	for (o = 0; o < CO_COUNT; o++)
		prom_sample(f, "isthmus_collections_total", (const char *[]){
		    "outcome", collect_outcome_name((enum collect_outcome)o),
		    NULL }, t.outcomes[o]);
	prom_family(f, "isthmus_collection_seconds", "summary",
	    "Time of the polls that reached the device (handshake and "
	    "answer).");
	prom_sample_us(f, "isthmus_collection_seconds_sum", NULL,
	    t.seconds_us);
	prom_sample(f, "isthmus_collection_seconds_count", NULL,
	    t.seconds_count);
	prom_family(f, "isthmus_collected_bytes_total", "counter",
	    "Body bytes of device answers delivered.");
	prom_sample(f, "isthmus_collected_bytes_total", NULL, t.bytes);
}

static const char *
trust_word(int t)
{
	return t == CT_PIN ? "pin" : t == CT_CA ? "ca" : "tofu";
}

/* The wall-clock time of the next poll. */
static int64_t
next_at(const struct collector *co)
{
	return (int64_t)time(NULL) + (co->next_us - mono_us()) / 1000000;
}

static void
outcomes_json(struct jw *j, const uint64_t v[CO_COUNT])
{
	int o;

	jw_key(j, "outcomes");
	jw_begin_object(j);
	for (o = 0; o < CO_COUNT; o++) {
		jw_key(j, collect_outcome_name((enum collect_outcome)o));
		jw_int(j, (int64_t)v[o]);
	}
	jw_end_object(j);
}

static void
collector_json(struct jw *j, const struct collector *co)
{
	const struct collect_figures *f = &co->fig;
	char when[TIME_TEXT_MAX];

	jw_begin_object(j);
	jw_key(j, "name");
	jw_string(j, co->name);
	jw_key(j, "url");
	jw_string(j, co->c->url);
	jw_key(j, "service");
	jw_string(j, co->c->service);
	jw_key(j, "trust");
	jw_string(j, trust_word(co->c->trust));
	jw_key(j, "waiting");
	jw_bool(j, co->wait);
	jw_key(j, "running");
	jw_bool(j, co->running);
	jw_key(j, "last_outcome");
	jw_string(j, f->polls > 0 ? collect_outcome_name(f->last) : NULL);
	time_format(f->last_at, TIME_ISO, when, sizeof(when));
	jw_key(j, "last_at");
	jw_string(j, f->polls > 0 ? when : NULL);
	jw_key(j, "device_status");
	jw_int(j, f->last_status);
	jw_key(j, "fingerprint");
	jw_string(j, f->last_fp[0] != '\0' ? f->last_fp : NULL);
	jw_key(j, "last_error");
	jw_string(j, f->last_error[0] != '\0' ? f->last_error : NULL);
	time_format(next_at(co), TIME_ISO, when, sizeof(when));
	jw_key(j, "next");
	jw_string(j, co->wait ? NULL : when);
	outcomes_json(j, f->outcomes);
	jw_end_object(j);
}

static void
collector_text(const struct collector *co, FILE *f)
{
	const struct collect_figures *fg = &co->fig;
	char when[TIME_TEXT_MAX];

	fprintf(f, "  %-12s %s -> %s (trust %s)\n", co->name, co->c->url,
	    co->c->service, trust_word(co->c->trust));
	if (fg->polls > 0) {
		time_format(fg->last_at, TIME_ISO, when, sizeof(when));
		fprintf(f, "      last %s at %s", collect_outcome_name(fg->last),
		    when);
		if (fg->last_status != 0)
			fprintf(f, ", device answered %d", fg->last_status);
		if (fg->last_fp[0] != '\0')
			fprintf(f, ", certificate %s", fg->last_fp);
		fputc('\n', f);
		if (fg->last_error[0] != '\0')
			fprintf(f, "      %s\n", fg->last_error);
	}
	if (co->wait) {
		/* the hint is in its last error already */
		fprintf(f, "      not polled until a person decides\n");
	} else {
		time_format(next_at(co), TIME_ISO, when, sizeof(when));
		fprintf(f, "      next poll %s%s\n", when,
		    co->running ? " (one running)" : "");
	}
}

void
collectors_status(const struct collectors *cs, bool json, struct jw *j,
    FILE *f)
{
	size_t i;
	int o;

	if (cs == NULL)
		return;
	if (json) {
		jw_key(j, "collectors");
		jw_begin_object(j);
		jw_key(j, "configured");
		jw_int(j, (int64_t)cs->n);
		jw_key(j, "running");
		jw_int(j, cs->inflight);
		outcomes_json(j, cs->tot.outcomes);
		jw_key(j, "list");
		jw_begin_array(j);
		for (i = 0; i < cs->n; i++)
			collector_json(j, cs->v[i]);
		jw_end_array(j);
		jw_end_object(j);
		return;
	}
	fprintf(f, "\nCollectors: %zu, %u polling now;", cs->n, cs->inflight);
	for (o = 0; o < CO_COUNT; o++)
		if (cs->tot.outcomes[o] > 0)
			fprintf(f, " %s %llu", collect_outcome_name(
			    (enum collect_outcome)o),
			    (unsigned long long)cs->tot.outcomes[o]);
	fputc('\n', f);
	for (i = 0; i < cs->n; i++)
		collector_text(cs->v[i], f);
}
