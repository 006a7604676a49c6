/*
 * What `isthmus status` (the admin socket's "status") shows of a running
 * edge, as text or JSON. It only reads the daemon's state.
 */
#include "edge/status.h"

#include <stdlib.h>
#include <time.h>

#include "common/jsonw.h"
#include "edge/cache/cache.h"
#include "edge/collect/collect.h"
#include "edge/manage/manage.h"
#include "edge/queue/queue.h"
#include "edge/trust/trust.h"
#include "common/tls.h"
#include "common/timefmt.h"

static unsigned long long
refused(const struct edge_listener *li)
{
	unsigned long long n = 0;
	size_t k;

	for (k = 0; k < EDGE_REFUSE_COUNT; k++)
		n += li->stats.refused[k];
	return n;
}

static void
iso_time(int64_t t, char *buf, size_t cap)
{
	if (t == 0)
		snprintf(buf, cap, "-");
	else
		time_format(t, TIME_ISO, buf, cap);
}

/* A transparent listener's table and what it refused. */
static void
map_json(struct jw *j, const struct edge_listener *li)
{
	size_t i;

	jw_key(j, "transparent");
	jw_begin_object(j);
	jw_key(j, "unmapped");
	jw_int(j, (int64_t)li->stats.unmapped);
	jw_key(j, "map");
	jw_begin_array(j);
	for (i = 0; i < li->lc->nroutes; i++) {
		jw_begin_object(j);
		jw_key(j, "destination");
		jw_string(j, li->lc->routes[i].text);
		jw_key(j, "service");
		jw_string(j, li->lc->routes[i].service);
		jw_end_object(j);
	}
	jw_end_array(j);
	jw_end_object(j);
}

static void
map_text(const struct edge_listener *li, FILE *f)
{
	size_t i;

	fprintf(f, "    transparent: %llu refused as unmapped\n",
	    (unsigned long long)li->stats.unmapped);
	for (i = 0; i < li->lc->nroutes; i++)
		fprintf(f, "      %-24s -> %s\n", li->lc->routes[i].text,
		    li->lc->routes[i].service);
}

/* A listener's store_forward, as its configuration says it. */
static const char *
sf_name(int mode)
{
	static const char *const names[] = { [SF_SERVICE] = "service",
		[SF_OFF] = "off", [SF_ON] = "on", [SF_ALWAYS] = "always" };

	return (unsigned)mode < sizeof(names) / sizeof(names[0]) ?
	    names[mode] : "?";
}

/* Whether a listener's store-and-forward counters mean anything: an
 * HTTP listener that may queue, on an edge with a queue. */
static bool
sf_shown(const struct edge *e, const struct edge_listener *li)
{
	return e->queue != NULL && li->lc->store_forward != SF_OFF;
}

static void
sf_json(struct jw *j, const struct edge_listener *li)
{
	jw_key(j, "store_forward");
	jw_begin_object(j);
	jw_key(j, "mode");
	jw_string(j, sf_name(li->lc->store_forward));
	jw_key(j, "direct");
	jw_int(j, (int64_t)li->stats.sf_direct);
	jw_key(j, "queued");
	jw_int(j, (int64_t)li->stats.sf_queued);
	jw_key(j, "refused");
	jw_int(j, (int64_t)li->stats.sf_refused);
	jw_end_object(j);
}

static void
http_json(struct jw *j, const struct edge_listener *li)
{
	char key[8];
	size_t k;

	jw_key(j, "http_requests");
	jw_int(j, (int64_t)li->stats.http_requests);
	jw_key(j, "http_errors");
	jw_begin_object(j);
	for (k = 0; k < HD_ERR_COUNT; k++) {
		snprintf(key, sizeof(key), "%d",
		    httpdev_error_status((enum httpdev_error)k));
		jw_key(j, key);
		jw_int(j, (int64_t)li->stats.http_errors[k]);
	}
	jw_end_object(j);
	if (li->devtls == NULL)
		return;
	jw_key(j, "device_tls");
	jw_begin_object(j);
	jw_key(j, "accepted");
	jw_int(j, (int64_t)li->stats.tls_accepted);
	jw_key(j, "refused");
	jw_begin_object(j);
	for (k = 0; k < DT_COUNT; k++) {
		jw_key(j, devtls_refusal_name((enum devtls_refusal)k));
		jw_int(j, (int64_t)li->stats.tls_refused[k]);
	}
	jw_end_object(j);
	jw_key(j, "revoked");
	jw_int(j, (int64_t)li->stats.tls_revoked);
	jw_end_object(j);
}

/* Nonzero counters as "what: n, ..." after a label, on their own line. */
static void
http_text(const struct edge_listener *li, FILE *f)
{
	const char *sep = " (";
	size_t k;

	fprintf(f, "      http: %llu request%s", (unsigned long long)
	    li->stats.http_requests, li->stats.http_requests == 1 ? "" : "s");
	for (k = 0; k < HD_ERR_COUNT; k++) {
		if (li->stats.http_errors[k] == 0)
			continue;
		fprintf(f, "%s%d: %llu", sep, httpdev_error_status(
		    (enum httpdev_error)k), (unsigned long long)
		    li->stats.http_errors[k]);
		sep = ", ";
	}
	fprintf(f, "%s\n", sep[0] == ',' ? " answered by the edge)" : "");
	if (sf_shown(li->e, li))
		fprintf(f, "      store and forward (%s): %llu straight through, "
		    "%llu queued, %llu refused\n",
		    sf_name(li->lc->store_forward),
		    (unsigned long long)li->stats.sf_direct,
		    (unsigned long long)li->stats.sf_queued,
		    (unsigned long long)li->stats.sf_refused);
	if (li->devtls == NULL)
		return;
	sep = " (";
	fprintf(f, "      device TLS: %llu admitted", (unsigned long long)
	    li->stats.tls_accepted);
	for (k = 0; k < DT_COUNT; k++) {
		if (li->stats.tls_refused[k] == 0)
			continue;
		fprintf(f, "%srefused %s: %llu", sep, devtls_refusal_name(
		    (enum devtls_refusal)k), (unsigned long long)
		    li->stats.tls_refused[k]);
		sep = ", ";
	}
	if (li->stats.tls_revoked > 0) {
		fprintf(f, "%sdisconnected by a reload: %llu", sep,
		    (unsigned long long)li->stats.tls_revoked);
		sep = ", ";
	}
	fprintf(f, "%s\n", sep[0] == ',' ? ")" : "");
}

static void
cache_json(struct jw *j, const struct cache_stats *cs)
{
	size_t k;

	jw_key(j, "cache");
	jw_begin_object(j);
	jw_key(j, "entries");
	jw_int(j, (int64_t)cs->entries);
	jw_key(j, "bytes");
	jw_int(j, (int64_t)cs->size);
	jw_key(j, "max_bytes");
	jw_int(j, (int64_t)cs->max_size);
	jw_key(j, "requests");
	jw_begin_object(j);
	for (k = 0; k < CR_COUNT; k++) {
		jw_key(j, cache_result_name((enum cache_result)k));
		jw_int(j, (int64_t)cs->requests[k]);
	}
	jw_end_object(j);
	jw_key(j, "saved_bytes");
	jw_int(j, (int64_t)cs->bytes_saved);
	jw_key(j, "damaged");
	jw_int(j, (int64_t)cs->corrupt);
	jw_key(j, "write_errors");
	jw_int(j, (int64_t)cs->write_errors);
	jw_end_object(j);
}

/* What the site's IT wants to know about the cache at a glance. */
static void
cache_text(const struct cache_stats *cs, FILE *f)
{
	fprintf(f, "\nCache: %llu entries, %llu of %llu bytes; %llu hits, "
	    "%llu misses, %llu joined a fetch, %llu revalidated, %llu "
	    "stale, %llu bypassed; %llu bytes saved on the tunnel\n",
	    (unsigned long long)cs->entries, (unsigned long long)cs->size,
	    (unsigned long long)cs->max_size,
	    (unsigned long long)cs->requests[CR_HIT],
	    (unsigned long long)cs->requests[CR_MISS],
	    (unsigned long long)cs->requests[CR_COALESCED],
	    (unsigned long long)cs->requests[CR_REVALIDATED],
	    (unsigned long long)cs->requests[CR_STALE],
	    (unsigned long long)cs->requests[CR_BYPASS],
	    (unsigned long long)cs->bytes_saved);
	if (cs->corrupt > 0 || cs->write_errors > 0)
		fprintf(f, "  %llu damaged entries dropped, %llu write "
		    "errors (see the log: sub=cache)\n",
		    (unsigned long long)cs->corrupt,
		    (unsigned long long)cs->write_errors);
}

static void
queue_json(struct jw *j, const struct edge *e, const struct sfq_stats *st)
{
	const struct { const char *key; uint64_t v; } counts[] = {
		{ "waiting", st->depth }, { "bytes", st->bytes },
		{ "dead", st->dead }, { "dead_bytes", st->dead_bytes },
		{ "oldest_ms", st->oldest_ms }, { "accepted", st->accepted },
		{ "replayed", st->replayed }, { "retries", st->retried },
		{ "replaying", st->inflight }, { "holding", st->held },
		{ "unsaved", st->unsaved },
	};
	char *path = edge_queue_path(e->cf);
	size_t k;

	jw_key(j, "queue");
	jw_begin_object(j);
	jw_key(j, "file");
	jw_string(j, path);
	free(path);
	jw_key(j, "up");
	jw_bool(j, st->up);
	jw_key(j, "error");
	jw_string(j, st->up || st->error[0] == '\0' ? NULL : st->error);
	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		jw_key(j, counts[k].key);
		jw_int(j, (int64_t)counts[k].v);
	}
	jw_key(j, "dead_letters");
	jw_begin_object(j);
	for (k = 0; k < SFQ_DEAD_REASONS; k++) {
		jw_key(j, sfq_dead_reason_name((int)k));
		jw_int(j, (int64_t)st->dead_lettered[k]);
	}
	jw_end_object(j);
	jw_key(j, "refused");
	jw_begin_object(j);
	for (k = 1; k < SFQ_REFUSED_COUNT; k++) {
		jw_key(j, sfq_refusal_name((int)k));
		jw_int(j, (int64_t)st->refused[k]);
	}
	jw_end_object(j);
	jw_end_object(j);
}

/* What waits, what went and what was refused, in two lines; the
 * commands that show more. */
static void
queue_text(const struct edge *e, const struct sfq_stats *st, FILE *f)
{
	char *path = edge_queue_path(e->cf);
	uint64_t refused = 0;
	size_t k;

	for (k = 1; k < SFQ_REFUSED_COUNT; k++)
		refused += st->refused[k];
	fprintf(f, "\nQueue %s: ", path != NULL ? path : "?");
	free(path);
	if (st->up)
		fputs("up; ", f);
	else if (st->error[0] != '\0')
		fprintf(f, "UNAVAILABLE (%s); ", st->error);
	else	/* opened once a service is learned to be store and forward */
		fputs("not open; ", f);
	fprintf(f, "%llu waiting (%llu bytes", (unsigned long long)st->depth,
	    (unsigned long long)st->bytes);
	if (st->depth > 0)
		fprintf(f, ", oldest %llu s", (unsigned long long)
		    (st->oldest_ms / 1000));
	fprintf(f, "), %llu dead letter%s, %u replaying now, %llu bytes of "
	    "bodies held\n", (unsigned long long)st->dead,
	    st->dead == 1 ? "" : "s", st->inflight,
	    (unsigned long long)st->held);
	fprintf(f, "  %llu accepted, %llu replayed, %llu retried, %llu "
	    "refused 503 since start\n", (unsigned long long)st->accepted,
	    (unsigned long long)st->replayed,
	    (unsigned long long)st->retried, (unsigned long long)refused);
	if (st->unsaved > 0)
		fprintf(f, "  DISK FULL: %llu change%s not yet on disk "
		    "(deletions of delivered requests: a restart now would "
		    "send them again)\n", (unsigned long long)st->unsaved,
		    st->unsaved == 1 ? "" : "s");
	if (st->dead > 0)
		fprintf(f, "  see them: isthmus queue -c %s list --dead\n",
		    e->cf->path);
}

/* The management stream's state, in a word. */
static const char *
manage_state(const struct manage_info *mi)
{
	if (mi->up)
		return "up";
	if (!mi->tunnel)
		return "no_tunnel";
	return mi->retry_ms >= 0 ? "waiting" : "opening";
}

/* The cloud's readiness schedule (null: none said), the test running
 * and the results kept for the next stream. */
static void
readiness_json(struct jw *j, const struct manage_info *mi)
{
	char when[32];

	jw_key(j, "readiness_profile");
	jw_string(j, mi->sched ? mi->sched_profile : NULL);
	jw_key(j, "readiness_every");
	if (mi->sched)
		jw_int(j, mi->sched_every);
	else
		jw_null(j);
	jw_key(j, "readiness_next");
	iso_time(mi->sched_next, when, sizeof(when));
	jw_string(j, mi->sched ? when : NULL);
	jw_key(j, "readiness_running");
	jw_string(j, mi->readiness_running);
	jw_key(j, "readiness_kept");
	jw_int(j, mi->kept);
}

static void
readiness_text(const struct manage_info *mi, FILE *f)
{
	char when[32];
	long long in;

	if (mi->sched) {
		iso_time(mi->sched_next, when, sizeof(when));
		in = (long long)(mi->sched_next - (int64_t)time(NULL));
		fprintf(f, "  readiness tests: profile %s every %lld s, next "
		    "%s (%s %lld s)\n", mi->sched_profile,
		    (long long)mi->sched_every, when, in >= 0 ? "in" : "due",
		    in >= 0 ? in : -in);
	} else if (mi->sched_known) {
		fprintf(f, "  readiness tests: none scheduled by the cloud\n");
	}
	if (mi->readiness_running != NULL)
		fprintf(f, "  readiness test %s running\n",
		    mi->readiness_running);
	if (mi->kept > 0)
		fprintf(f, "  %u readiness result%s kept for the next stream\n",
		    mi->kept, mi->kept == 1 ? "" : "s");
}

static void
manage_json(struct jw *j, const struct manage_info *mi)
{
	jw_key(j, "management");
	jw_begin_object(j);
	jw_key(j, "state");
	jw_string(j, manage_state(mi));
	jw_key(j, "opens");
	jw_int(j, (int64_t)mi->opens);
	jw_key(j, "instructions");
	jw_int(j, (int64_t)mi->done);
	jw_key(j, "running");
	jw_int(j, mi->running);
	jw_key(j, "retry_in_ms");
	jw_int(j, mi->retry_ms);
	jw_key(j, "last_error");
	jw_string(j, mi->last_error);
	readiness_json(j, mi);
	jw_end_object(j);
}

static void
manage_text(const struct manage_info *mi, FILE *f)
{
	fprintf(f, "\nManagement stream: %s", manage_state(mi));
	if (mi->retry_ms >= 0)
		fprintf(f, ", next attempt in %ld ms", mi->retry_ms);
	fprintf(f, "; %llu instruction%s answered, %u running; %llu "
	    "stream%s opened\n", (unsigned long long)mi->done,
	    mi->done == 1 ? "" : "s", mi->running,
	    (unsigned long long)mi->opens, mi->opens == 1 ? "" : "s");
	if (!mi->up && mi->last_error[0] != '\0')
		fprintf(f, "  last ended: %s\n", mi->last_error);
	readiness_text(mi, f);
}

static void
status_json(struct edge *e, const struct uplink_info *ui, FILE *f)
{
	struct manage_info mi;
	struct sfq_stats qs;
	struct jw j;
	char when[32];
	size_t i;

	jw_init(&j, f);
	jw_begin_object(&j);
	jw_key(&j, "role");
	jw_string(&j, "edge");
	jw_key(&j, "edge");
	jw_string(&j, e->name);
	jw_key(&j, "tenant");
	jw_string(&j, e->tenant);
	iso_time(e->cert_not_after, when, sizeof(when));
	jw_key(&j, "certificate_not_after");
	jw_string(&j, when);
	jw_key(&j, "tunnel");
	jw_begin_object(&j);
	jw_key(&j, "state");
	jw_string(&j, uplink_state_name(ui->state));
	jw_key(&j, "state_s");
	jw_int(&j, ui->state_s);
	jw_key(&j, "attempts");
	jw_int(&j, ui->attempts);
	jw_key(&j, "retry_in_ms");
	jw_int(&j, ui->retry_ms);
	jw_key(&j, "proxy");
	jw_string(&j, ui->proxy[0] != '\0' ? ui->proxy : NULL);
	jw_key(&j, "last_error");
	jw_string(&j, ui->last_error);
	jw_key(&j, "peer");
	jw_string(&j, ui->peer);
	jw_key(&j, "cloud_subject");
	jw_string(&j, ui->cloud_subject);
	iso_time(ui->cloud_not_after, when, sizeof(when));
	jw_key(&j, "cloud_not_after");
	jw_string(&j, when);
	jw_key(&j, "keepalive_rtt_us");
	jw_int(&j, ui->rtt_us);
	jw_key(&j, "connects");
	jw_int(&j, (int64_t)ui->connects);
	jw_key(&j, "streams_open");
	jw_int(&j, ui->streams_open);
	jw_key(&j, "bytes_to_cloud");
	jw_int(&j, (int64_t)ui->bytes_out);
	jw_key(&j, "bytes_from_cloud");
	jw_int(&j, (int64_t)ui->bytes_in);
	jw_end_object(&j);
	jw_key(&j, "listeners");
	jw_begin_array(&j);
	for (i = 0; i < e->nlisteners; i++) {
		const struct edge_listener *li = e->listeners[i];

		jw_begin_object(&j);
		jw_key(&j, "name");
		jw_string(&j, li->lc->name);
		jw_key(&j, "listen");
		jw_string(&j, li->bound);
		jw_key(&j, "service");
		jw_string(&j, li->lc->service);
		jw_key(&j, "devices_total");
		jw_int(&j, (int64_t)li->stats.accepted);
		jw_key(&j, "streams_open");
		jw_int(&j, li->stats.open);
		jw_key(&j, "dropped");
		jw_int(&j, (int64_t)li->stats.dropped);
		jw_key(&j, "refused");
		jw_int(&j, (int64_t)refused(li));
		jw_key(&j, "mode");
		jw_string(&j, li->lc->mode == LISTEN_HTTP ? "http" : "tcp");
		if (li->lc->transparent)
			map_json(&j, li);
		if (li->lc->mode == LISTEN_HTTP)
			http_json(&j, li);
		if (li->lc->mode == LISTEN_HTTP && sf_shown(e, li))
			sf_json(&j, li);
		jw_end_object(&j);
	}
	jw_end_array(&j);
	jw_key(&j, "pending");
	jw_int(&j, e->npending);
	if (e->cache != NULL)
		cache_json(&j, cache_stats(e->cache));
	if (e->queue != NULL) {
		sfq_stats(e->queue, &qs);
		queue_json(&j, e, &qs);
	}
	if (e->trust != NULL) {
		jw_key(&j, "trust");
		trust_status(e->trust, e->cf->path, true, &j, f);
	}
	manage_info(e->manage, &mi);
	manage_json(&j, &mi);
	collectors_status(e->collectors, true, &j, f);	/* its own key */
	jw_end_object(&j);
}

static void
tunnel_text(struct edge *e, const struct uplink_info *ui, FILE *f)
{
	char when[32];

	fprintf(f, "Tunnel to %s:%u%s%s: ", e->tun->cf->cloud.host,
	    e->tun->cf->cloud.port,
	    ui->proxy[0] != '\0' ? " via proxy " : "", ui->proxy);
	switch (ui->state) {
	case UPLINK_UP:
		iso_time(ui->cloud_not_after, when, sizeof(when));
		fprintf(f, "up %lds, peer %s\n  cloud certificate %s "
		    "(expires %s)\n", ui->state_s, ui->peer, ui->cloud_subject,
		    when);
		if (ui->rtt_us >= 0)
			fprintf(f, "  keepalive round trip %ld.%03ld ms\n",
			    ui->rtt_us / 1000, ui->rtt_us % 1000);
		fprintf(f, "  %u streams open, %llu bytes to the cloud, %llu "
		    "from it\n", ui->streams_open,
		    (unsigned long long)ui->bytes_out,
		    (unsigned long long)ui->bytes_in);
		return;
	case UPLINK_CONNECTING:
		fprintf(f, "CONNECTING (%lds)\n", ui->state_s);
		break;
	case UPLINK_WAITING:
		fprintf(f, "DOWN, next attempt in %ld ms\n", ui->retry_ms);
		break;
	case UPLINK_STOPPED:
		fprintf(f, "stopped (draining)\n");
		break;
	}
	if (ui->attempts > 0)
		fprintf(f, "  %u failed attempt%s", ui->attempts,
		    ui->attempts == 1 ? "" : "s");
	if (ui->last_error[0] != '\0')
		fprintf(f, "%slast error: %s", ui->attempts > 0 ? "; " : "  ",
		    ui->last_error);
	if (ui->attempts > 0 || ui->last_error[0] != '\0')
		fputc('\n', f);
}

static void
status_text(struct edge *e, const struct uplink_info *ui, FILE *f)
{
	struct manage_info mi;
	struct sfq_stats qs;
	char when[32];
	size_t i;

	iso_time(e->cert_not_after, when, sizeof(when));
	fprintf(f, "edge gateway %s of tenant %s (certificate expires %s)\n",
	    e->name[0] ? e->name : "?", e->tenant[0] ? e->tenant : "?", when);
	tunnel_text(e, ui, f);
	fprintf(f, "\nListeners:\n");
	for (i = 0; i < e->nlisteners; i++) {
		const struct edge_listener *li = e->listeners[i];

		fprintf(f, "  %-12s %-22s -> %-14s %llu devices, %u open, "
		    "%llu dropped, %llu refused\n", li->lc->name, li->bound,
		    li->lc->service, (unsigned long long)li->stats.accepted,
		    li->stats.open, (unsigned long long)li->stats.dropped,
		    refused(li));
		if (li->lc->transparent)
			map_text(li, f);
		if (li->lc->mode == LISTEN_HTTP)
			http_text(li, f);
	}
	if (e->npending > 0)
		fprintf(f, "\n%u device connection%s waiting for the tunnel\n",
		    e->npending, e->npending == 1 ? "" : "s");
	if (e->cache != NULL)
		cache_text(cache_stats(e->cache), f);
	if (e->queue != NULL) {
		sfq_stats(e->queue, &qs);
		queue_text(e, &qs, f);
	}
	if (e->trust != NULL) {
		fputc('\n', f);
		trust_status(e->trust, e->cf->path, false, NULL, f);
	}
	manage_info(e->manage, &mi);
	manage_text(&mi, f);
	collectors_status(e->collectors, false, NULL, f);
}

void
edge_status(struct edge *e, bool json, FILE *f)
{
	struct uplink_info ui;

	uplink_info(e->up, &ui);
	if (json)
		status_json(e, &ui, f);
	else
		status_text(e, &ui, f);
}
