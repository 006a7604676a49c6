/*
 * The edge's /metrics (Prometheus text): the daemon's counters, read
 * only.
 */
#include "edge/metrics.h"

#include "common/acceptguard.h"
#include "common/prom.h"
#include "edge/cache/cache.h"
#include "edge/collect/collect.h"
#include "edge/trust/trust.h"
#include "edge/daemon.h"
#include "edge/manage/manage.h"
#include "edge/queue/queue.h"

static void
tunnel_families(FILE *f, const struct edge *e, const struct uplink_info *ui)
{
	size_t i;

	prom_family(f, "isthmus_certificate_not_after_seconds", "gauge",
	    "When a certificate in use expires, in seconds since the epoch.");
	prom_sample(f, "isthmus_certificate_not_after_seconds",
	    (const char *[]){ "certificate", "edge", NULL },
	    (uint64_t)e->cert_not_after);
	if (ui->state == UPLINK_UP)
		prom_sample(f, "isthmus_certificate_not_after_seconds",
		    (const char *[]){ "certificate", "cloud", NULL },
		    (uint64_t)ui->cloud_not_after);
	prom_family(f, "isthmus_tunnel_up", "gauge",
	    "1 while the tunnel to the cloud is established.");
	prom_sample(f, "isthmus_tunnel_up", NULL, ui->state == UPLINK_UP);
	prom_family(f, "isthmus_tunnel_connects_total", "counter",
	    "Tunnels established.");
	prom_sample(f, "isthmus_tunnel_connects_total", NULL, ui->connects);
	prom_family(f, "isthmus_tunnel_drops_total", "counter",
	    "Established tunnels lost (keepalive timeout, closed, error).");
	prom_sample(f, "isthmus_tunnel_drops_total", NULL, ui->drops);
	prom_family(f, "isthmus_tunnel_connect_failures_total", "counter",
	    "Attempts to reach the cloud that failed, per reason.");
	for (i = 0; i < UF_COUNT; i++)
		prom_sample(f, "isthmus_tunnel_connect_failures_total",
		    (const char *[]){ "reason",
		    uplink_fail_name((enum uplink_fail)i), NULL },
		    ui->failures[i]);
	prom_family(f, "isthmus_tunnel_keepalive_rtt_seconds", "gauge",
	    "Round trip of the last keepalive PING (present while up).");
	if (ui->state == UPLINK_UP && ui->rtt_us >= 0)
		prom_sample_us(f, "isthmus_tunnel_keepalive_rtt_seconds", NULL,
		    (uint64_t)ui->rtt_us);
	prom_family(f, "isthmus_tunnel_bytes_total", "counter",
	    "Stream payload bytes through the tunnel, per direction.");
	prom_sample(f, "isthmus_tunnel_bytes_total", (const char *[]){
	    "direction", "to_cloud", NULL }, ui->bytes_out);
	prom_sample(f, "isthmus_tunnel_bytes_total", (const char *[]){
	    "direction", "from_cloud", NULL }, ui->bytes_in);
}

static void
listener_families(FILE *f, const struct edge *e)
{
	size_t i, k;

#define LABELS(li) (const char *[]){ "listener", (li)->lc->name, \
	"service", (li)->lc->service, NULL }
	prom_family(f, "isthmus_device_connections_total", "counter",
	    "Device connections accepted, per listener.");
	for (i = 0; i < e->nlisteners; i++)
		prom_sample(f, "isthmus_device_connections_total",
		    LABELS(e->listeners[i]), e->listeners[i]->stats.accepted);
	prom_family(f, "isthmus_streams_open", "gauge",
	    "Device streams open now, per listener.");
	for (i = 0; i < e->nlisteners; i++)
		prom_sample(f, "isthmus_streams_open",
		    LABELS(e->listeners[i]), e->listeners[i]->stats.open);
	prom_family(f, "isthmus_devices_dropped_total", "counter",
	    "Device connections closed after waiting for the tunnel in vain.");
	for (i = 0; i < e->nlisteners; i++)
		prom_sample(f, "isthmus_devices_dropped_total",
		    LABELS(e->listeners[i]), e->listeners[i]->stats.dropped);
	prom_family(f, "isthmus_streams_idle_closed_total", "counter",
	    "Device streams ended after stream_idle_timeout without a byte "
	    "either way, per TCP-mode listener.");
	for (i = 0; i < e->nlisteners; i++)
		if (e->listeners[i]->lc->mode == LISTEN_TCP)
			prom_sample(f, "isthmus_streams_idle_closed_total",
			    LABELS(e->listeners[i]),
			    e->listeners[i]->stats.idle_closed);
	prom_family(f, "isthmus_devices_unmapped_total", "counter",
	    "Connections to a transparent listener whose original "
	    "destination maps to no service (reset).");
	for (i = 0; i < e->nlisteners; i++)
		if (e->listeners[i]->lc->transparent)
			prom_sample(f, "isthmus_devices_unmapped_total",
			    LABELS(e->listeners[i]),
			    e->listeners[i]->stats.unmapped);
	prom_family(f, "isthmus_http_requests_total", "counter",
	    "Device HTTP requests read whole enough to be sent, per HTTP-mode "
	    "listener.");
	for (i = 0; i < e->nlisteners; i++)
		if (e->listeners[i]->lc->mode == LISTEN_HTTP)
			prom_sample(f, "isthmus_http_requests_total",
			    LABELS(e->listeners[i]),
			    e->listeners[i]->stats.http_requests);
#undef LABELS
	prom_family(f, "isthmus_http_errors_total", "counter",
	    "Device HTTP requests the edge answered itself (bad request, "
	    "limits, timeouts, tunnel down or stream lost), per status.");
	for (i = 0; i < e->nlisteners; i++) {
		const struct edge_listener *li = e->listeners[i];

		if (li->lc->mode != LISTEN_HTTP)
			continue;
		for (k = 0; k < HD_ERR_COUNT; k++) {
			char st[8];

			snprintf(st, sizeof(st), "%d", httpdev_error_status(
			    (enum httpdev_error)k));
			prom_sample(f, "isthmus_http_errors_total",
			    (const char *[]){ "listener", li->lc->name,
			    "service", li->lc->service, "status", st, NULL },
			    li->stats.http_errors[k]);
		}
	}
	prom_family(f, "isthmus_device_tls_accepted_total", "counter",
	    "Device TLS handshakes admitted, per device-TLS listener.");
	for (i = 0; i < e->nlisteners; i++)
		if (e->listeners[i]->devtls != NULL)
			prom_sample(f, "isthmus_device_tls_accepted_total",
			    (const char *[]){ "listener",
			    e->listeners[i]->lc->name, NULL },
			    e->listeners[i]->stats.tls_accepted);
	prom_family(f, "isthmus_device_tls_refused_total", "counter",
	    "Devices refused at the TLS handshake, per listener and reason.");
	for (i = 0; i < e->nlisteners; i++) {
		const struct edge_listener *li = e->listeners[i];

		if (li->devtls == NULL)
			continue;
		for (k = 0; k < DT_COUNT; k++)
			prom_sample(f, "isthmus_device_tls_refused_total",
			    (const char *[]){ "listener", li->lc->name,
			    "reason", devtls_refusal_name(
			    (enum devtls_refusal)k), NULL },
			    li->stats.tls_refused[k]);
	}
	prom_family(f, "isthmus_device_tls_revoked_total", "counter",
	    "Device TLS connections closed by a reload whose vendor CAs or "
	    "mac_allow no longer admit them, per listener.");
	for (i = 0; i < e->nlisteners; i++)
		if (e->listeners[i]->devtls != NULL)
			prom_sample(f, "isthmus_device_tls_revoked_total",
			    (const char *[]){ "listener",
			    e->listeners[i]->lc->name, NULL },
			    e->listeners[i]->stats.tls_revoked);
	prom_family(f, "isthmus_streams_refused_total", "counter",
	    "Device streams the cloud refused, per listener and reason.");
	for (i = 0; i < e->nlisteners; i++) {
		const struct edge_listener *li = e->listeners[i];

		for (k = 0; k < EDGE_REFUSE_COUNT; k++)
			prom_sample(f, "isthmus_streams_refused_total",
			    (const char *[]){ "listener", li->lc->name,
			    "service", li->lc->service, "reason",
			    edge_refusal_name((enum edge_refusal)k), NULL },
			    li->stats.refused[k]);
	}
}

/* Per listener that may queue: how its POST and PUT went. */
static void
store_forward_families(FILE *f, const struct edge *e)
{
	static const char *const outcomes[] = { "direct", "queued",
		"refused" };
	size_t i, k;

	prom_family(f, "isthmus_store_forward_requests_total", "counter",
	    "POST and PUT on store-and-forward listeners, per outcome: "
	    "direct (answered straight through), queued (answered once on "
	    "disk), refused (503: the queue did not take them).");
	for (i = 0; i < e->nlisteners; i++) {
		const struct edge_listener *li = e->listeners[i];
		const uint64_t v[] = { li->stats.sf_direct,
			li->stats.sf_queued, li->stats.sf_refused };

		if (li->lc->mode != LISTEN_HTTP ||
		    li->lc->store_forward == SF_OFF)
			continue;
		for (k = 0; k < 3; k++)
			prom_sample(f, "isthmus_store_forward_requests_total",
			    (const char *[]){ "listener", li->lc->name,
			    "service", li->lc->service, "outcome", outcomes[k],
			    NULL }, v[k]);
	}
}

/* The queue's figures (docs/queue.md, "Status and metrics"). */
static void
queue_families(FILE *f, const struct sfq *q)
{
	static const char *const state[] = { "state", "waiting", "state",
		"dead" };
	struct sfq_stats st;
	const struct { const char *name, *help; const uint64_t *v; }
	    counters[] = {
		{ "isthmus_edge_queue_accepted_total", "Requests queued and "
		    "answered.", &st.accepted },
		{ "isthmus_edge_queue_replayed_total", "Queued requests the "
		    "backend took (2xx, 3xx).", &st.replayed },
		{ "isthmus_edge_queue_retries_total", "Replays answered 5xx, "
		    "408, 425, 429, not answered in time, or lost.",
		    &st.retried },
	};
	size_t k;

	sfq_stats(q, &st);

	prom_family(f, "isthmus_edge_queue_up", "gauge",
	    "1 when the queue file is open.");
	prom_sample(f, "isthmus_edge_queue_up", NULL, st.up);
	prom_family(f, "isthmus_edge_queue_depth", "gauge",
	    "Requests in the queue: waiting, and dead letters.");
	prom_sample(f, "isthmus_edge_queue_depth", (const char *[]){
	    state[0], state[1], NULL }, st.depth);
	prom_sample(f, "isthmus_edge_queue_depth", (const char *[]){
	    state[2], state[3], NULL }, st.dead);
	prom_family(f, "isthmus_edge_queue_bytes", "gauge",
	    "Bytes of the requests in the queue (method, target, fields, "
	    "body).");
	prom_sample(f, "isthmus_edge_queue_bytes", (const char *[]){
	    state[0], state[1], NULL }, st.bytes);
	prom_sample(f, "isthmus_edge_queue_bytes", (const char *[]){
	    state[2], state[3], NULL }, st.dead_bytes);
	prom_family(f, "isthmus_edge_queue_memory_bytes", "gauge",
	    "Bytes of store-and-forward bodies held in memory now (read, "
	    "sent, being written), bounded by queue_max_memory.");
	prom_sample(f, "isthmus_edge_queue_memory_bytes", NULL, st.held);
	prom_family(f, "isthmus_edge_queue_unsaved", "gauge",
	    "Changes (deletions of delivered requests, dead letters) waiting "
	    "for room on a full disk.");
	prom_sample(f, "isthmus_edge_queue_unsaved", NULL, st.unsaved);
	prom_family(f, "isthmus_edge_queue_oldest_seconds", "gauge",
	    "Age of the oldest waiting request (0: none waits).");
	prom_sample_us(f, "isthmus_edge_queue_oldest_seconds", NULL,
	    st.oldest_ms * 1000);
	for (k = 0; k < sizeof(counters) / sizeof(counters[0]); k++) {
		prom_family(f, counters[k].name, "counter", counters[k].help);
		prom_sample(f, counters[k].name, NULL, *counters[k].v);
	}
	prom_family(f, "isthmus_edge_queue_dead_total", "counter",
	    "Requests made dead letters, per reason.");
	for (k = 0; k < SFQ_DEAD_REASONS; k++)
		prom_sample(f, "isthmus_edge_queue_dead_total",
		    (const char *[]){ "reason", sfq_dead_reason_name((int)k),
		    NULL }, st.dead_lettered[k]);
	prom_family(f, "isthmus_edge_queue_refused_total", "counter",
	    "Requests answered 503 instead of queued, per reason.");
	for (k = 1; k < SFQ_REFUSED_COUNT; k++)
		prom_sample(f, "isthmus_edge_queue_refused_total",
		    (const char *[]){ "reason", sfq_refusal_name((int)k), NULL },
		    st.refused[k]);
}

static void
cache_families(FILE *f, struct cache *c)
{
	const struct cache_stats *cs = cache_stats(c);
	size_t k;

	prom_family(f, "isthmus_cache_requests_total", "counter",
	    "Requests on cache = on listeners, per result: hit (fresh "
	    "entry), miss (fetched for it), coalesced (joined a fetch in "
	    "progress), revalidated (stale, confirmed by a 304), stale (served "
	    "with the cloud out of reach), bypass (went upstream).");
	for (k = 0; k < CR_COUNT; k++)
		prom_sample(f, "isthmus_cache_requests_total",
		    (const char *[]){ "result",
		    cache_result_name((enum cache_result)k), NULL },
		    cs->requests[k]);
	prom_family(f, "isthmus_cache_served_bytes_total", "counter",
	    "Body bytes sent to devices from the cache.");
	prom_sample(f, "isthmus_cache_served_bytes_total", NULL,
	    cs->bytes_served);
	prom_family(f, "isthmus_cache_saved_bytes_total", "counter",
	    "Body bytes sent to devices from the cache that did not cross "
	    "the tunnel for them.");
	prom_sample(f, "isthmus_cache_saved_bytes_total", NULL,
	    cs->bytes_saved);
	prom_family(f, "isthmus_cache_fetched_bytes_total", "counter",
	    "Body bytes fetched from the cloud into the cache.");
	prom_sample(f, "isthmus_cache_fetched_bytes_total", NULL,
	    cs->bytes_fetched);
	prom_family(f, "isthmus_cache_bytes", "gauge",
	    "Bytes the cache holds on disk (bodies and metadata).");
	prom_sample(f, "isthmus_cache_bytes", NULL, cs->size);
	prom_family(f, "isthmus_cache_max_bytes", "gauge",
	    "cache_max_size.");
	prom_sample(f, "isthmus_cache_max_bytes", NULL, cs->max_size);
	prom_family(f, "isthmus_cache_entries", "gauge",
	    "Entries in the cache, including those being fetched.");
	prom_sample(f, "isthmus_cache_entries", NULL, cs->entries);
	prom_family(f, "isthmus_cache_evictions_total", "counter",
	    "Entries dropped to stay within cache_max_size.");
	prom_sample(f, "isthmus_cache_evictions_total", NULL, cs->evictions);
	prom_family(f, "isthmus_cache_damaged_total", "counter",
	    "Entries found damaged (digest mismatch, missing or resized "
	    "body, bad metadata) and dropped.");
	prom_sample(f, "isthmus_cache_damaged_total", NULL, cs->corrupt);
	prom_family(f, "isthmus_cache_write_errors_total", "counter",
	    "Responses that could not be written to cache_dir.");
	prom_sample(f, "isthmus_cache_write_errors_total", NULL,
	    cs->write_errors);
	prom_family(f, "isthmus_cache_uncacheable_total", "counter",
	    "Fetched responses that could not be stored (no-store, private, "
	    "confidential, status, too large) and went to the device only.");
	prom_sample(f, "isthmus_cache_uncacheable_total", NULL,
	    cs->uncacheable);
}

static void
manage_families(FILE *f, const struct edge *e)
{
	struct manage_info mi;
	int k, o;

	manage_info(e->manage, &mi);
	prom_family(f, "isthmus_edge_manage_stream_up", "gauge",
	    "1 while the management stream is open and answered.");
	prom_sample(f, "isthmus_edge_manage_stream_up", NULL, mi.up);
	prom_family(f, "isthmus_edge_manage_instructions_total", "counter",
	    "Instructions from the cloud answered, per kind and outcome.");
	for (k = 0; k < MK_COUNT; k++)
		for (o = 0; o < MO_EDGE_COUNT; o++)
			prom_sample(f, "isthmus_edge_manage_instructions_total",
			    (const char *[]){ "kind",
			    manage_kind_name((enum manage_kind)k), "outcome",
			    manage_outcome_name((enum manage_outcome)o), NULL },
			    mi.instructions[k][o]);
	prom_family(f, "isthmus_edge_manage_bad_messages_total", "counter",
	    "Management messages from the cloud that reset the stream, per "
	    "reason.");
	for (k = 0; k < MB_COUNT; k++)
		prom_sample(f, "isthmus_edge_manage_bad_messages_total",
		    (const char *[]){ "reason",
		    manage_bad_name((enum manage_bad)k), NULL }, mi.bad[k]);
}

void
edge_metrics(FILE *f, void *arg)
{
	const struct edge *e = arg;
	struct uplink_info ui;

	uplink_info(e->up, &ui);
	prom_identity(f, "edge", e->started);
	tunnel_families(f, e, &ui);
	listener_families(f, e);
	prom_family(f, "isthmus_devices_pending", "gauge",
	    "Device connections waiting for the tunnel.");
	prom_sample(f, "isthmus_devices_pending", NULL, e->npending);
	prom_family(f, "isthmus_reloads_total", "counter",
	    "SIGHUP reloads, applied or refused (the running configuration "
	    "kept).");
	prom_sample(f, "isthmus_reloads_total", (const char *[]){ "result",
	    "ok", NULL }, e->reloads);
	prom_sample(f, "isthmus_reloads_total", (const char *[]){ "result",
	    "failed", NULL }, e->reload_failures);
	acceptguard_metrics(f);
	if (e->cache != NULL)
		cache_families(f, e->cache);
	if (e->queue != NULL) {
		store_forward_families(f, e);
		queue_families(f, e->queue);
	}
	trust_metrics(e->trust, f);
	manage_families(f, e);
	collectors_metrics(e->collectors, f);
}
