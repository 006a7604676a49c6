/* The cloud gateway's /metrics in Prometheus text (metrics.h). */
#include "cloud/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/cloud-int.h"
#include "cloud/manage/manage.h"
#include "cloud/readiness/readiness.h"
#include "cloud/store/store.h"
#include "cloud/tunnel.h"
#include "cloud/tunnel-int.h"
#include "common/acceptguard.h"
#include "common/prom.h"
#include "common/stat.h"
#include "common/tls.h"

/* What the live tunnels of one tenant add up to. */
struct live {
	uint64_t up, streams_open, bytes_in, bytes_out;
};

static void
live_sums(const struct cloud *cl, struct live *lv, uint64_t *handshaking)
{
	struct tunnel_info ti;
	struct tunnel *t;
	size_t i;
	unsigned wi;

	*handshaking = 0;
	CLOUD_FOREACH_TUNNEL(cl, wi, t) {
		tunnel_info(t, &ti);
		if (!ti.up) {
			(*handshaking)++;
			continue;
		}
		for (i = 0; i < cl->conf->ntenants; i++)
			if (strcmp(cl->conf->tenants[i]->name, ti.tenant) == 0)
				break;
		if (i == cl->conf->ntenants)
			continue;	/* being dropped by a reload */
		lv[i].up++;
		lv[i].streams_open += ti.streams_open;
		lv[i].bytes_in += ti.bytes_in;
		lv[i].bytes_out += ti.bytes_out;
	}
}

/* The state store's health, when there is one (`state`). */
static void
store_families(FILE *f, struct store *s)
{
	struct store_stats st;

	if (s == NULL)
		return;
	store_get_stats(s, &st);
	prom_family(f, "isthmus_store_up", "gauge",
	    "1 when the state store's last write or read went through.");
	prom_sample(f, "isthmus_store_up", NULL, st.available ? 1 : 0);
	prom_family(f, "isthmus_store_queued", "gauge",
	    "Registry updates waiting for the state store.");
	prom_sample(f, "isthmus_store_queued", NULL, st.queued);
	prom_family(f, "isthmus_store_written_total", "counter",
	    "Registry updates written to the state store.");
	prom_sample(f, "isthmus_store_written_total", NULL, st.written);
	prom_family(f, "isthmus_store_dropped_total", "counter",
	    "Registry updates lost: the queue was full.");
	prom_sample(f, "isthmus_store_dropped_total", NULL, st.dropped);
	prom_family(f, "isthmus_store_errors_total", "counter",
	    "Failed attempts to reach or write the state store (each is "
	    "tried again).");
	prom_sample(f, "isthmus_store_errors_total", NULL, st.errors);
	prom_family(f, "isthmus_store_operation_seconds", "summary",
	    "Round trips to the state store's database (a write batch, a "
	    "read), off the data path.");
	prom_sample_us(f, "isthmus_store_operation_seconds_sum", NULL,
	    st.op_us_sum);
	prom_sample(f, "isthmus_store_operation_seconds_count", NULL, st.ops);
	prom_family(f, "isthmus_store_operation_max_seconds", "gauge",
	    "The slowest round trip to the state store since start.");
	prom_sample_us(f, "isthmus_store_operation_max_seconds", NULL,
	    st.op_us_max);
}

static void
tenant_families(FILE *f, const struct cloud_conf *cf, const struct live *lv)
{
	size_t i, k;

	prom_family(f, "isthmus_tunnels_up", "gauge",
	    "Edge tunnels established, per tenant.");
	for (i = 0; i < cf->ntenants; i++)
		prom_sample(f, "isthmus_tunnels_up", (const char *[]){
		    "tenant", cf->tenants[i]->name, NULL }, lv[i].up);
	prom_family(f, "isthmus_streams_open", "gauge",
	    "Device streams open now, per tenant.");
	for (i = 0; i < cf->ntenants; i++)
		prom_sample(f, "isthmus_streams_open", (const char *[]){
		    "tenant", cf->tenants[i]->name, NULL }, lv[i].streams_open);
	prom_family(f, "isthmus_streams_refused_total", "counter",
	    "Streams refused, per tenant and reason.");
	for (i = 0; i < cf->ntenants; i++)
		for (k = 0; k < REFUSE_COUNT; k++)
			prom_sample(f, "isthmus_streams_refused_total",
			    (const char *[]){ "tenant", cf->tenants[i]->name,
			    "reason", refusal_name((enum refusal)k), NULL },
			    STAT_GET(cf->tenants[i]->stats.refused[k]));
	prom_family(f, "isthmus_streams_idle_closed_total", "counter",
	    "Streams ended after stream_idle_timeout without a byte either "
	    "way, per tenant.");
	for (i = 0; i < cf->ntenants; i++)
		prom_sample(f, "isthmus_streams_idle_closed_total",
		    (const char *[]){ "tenant", cf->tenants[i]->name, NULL },
		    STAT_GET(cf->tenants[i]->stats.idle_closed));
	prom_family(f, "isthmus_tunnel_bytes_total", "counter",
	    "Payload bytes carried by the tunnels, per tenant and direction.");
	for (i = 0; i < cf->ntenants; i++) {
		const struct cloud_tenant *tn = cf->tenants[i];

		prom_sample(f, "isthmus_tunnel_bytes_total", (const char *[]){
		    "tenant", tn->name, "direction", "from_edge", NULL },
		    STAT_GET(tn->stats.bytes_in) + lv[i].bytes_in);
		prom_sample(f, "isthmus_tunnel_bytes_total", (const char *[]){
		    "tenant", tn->name, "direction", "to_edge", NULL },
		    STAT_GET(tn->stats.bytes_out) + lv[i].bytes_out);
	}
}

/* What a backend family reports. */
enum be_value { BE_UP, BE_ACTIVE, BE_STREAMS, BE_CONNECT_FAILURES,
	BE_REUSED };

static uint64_t
be_value(const struct cloud_backend *be, enum be_value which)
{
	switch (which) {
	case BE_UP: return STAT_GET(be->healthy);
	case BE_ACTIVE: return STAT_GET(be->active);
	case BE_STREAMS: return STAT_GET(be->streams);
	case BE_CONNECT_FAILURES: return STAT_GET(be->connect_failures);
	case BE_REUSED: return STAT_GET(be->reused);
	}
	return 0;
}

/* One sample per backend of every service. */
static void
backend_family(FILE *f, const struct cloud_conf *cf, const char *name,
    const char *type, const char *help, enum be_value which)
{
	size_t i, k;

	prom_family(f, name, type, help);
	for (i = 0; i < cf->nservices; i++) {
		const struct cloud_service *s = cf->services[i];

		for (k = 0; k < s->nbe; k++)
			prom_sample(f, name, (const char *[]){ "tenant",
			    s->tenant_name, "service", s->name, "backend",
			    s->be[k].addr, NULL }, be_value(&s->be[k], which));
	}
}

static const char *const http_fail_labels[HTTPF_COUNT] = {
	[HTTPF_BAD_GATEWAY] = "502",
	[HTTPF_TIMEOUT] = "504",
};

/* HTTP-mode services only. */
static void
http_families(FILE *f, const struct cloud_conf *cf)
{
	size_t i, k;

	prom_family(f, "isthmus_http_requests_total", "counter",
	    "HTTP requests from edges, per HTTP-mode service.");
	for (i = 0; i < cf->nservices; i++)
		if (cf->services[i]->mode == SERVICE_HTTP)
			prom_sample(f, "isthmus_http_requests_total",
			    (const char *[]){ "tenant",
			    cf->services[i]->tenant_name, "service",
			    cf->services[i]->name, NULL },
			    STAT_GET(cf->services[i]->http_requests));
	prom_family(f, "isthmus_http_backend_failures_total", "counter",
	    "HTTP requests the cloud answered itself because the backend "
	    "broke the exchange (502) or did not answer in time (504).");
	for (i = 0; i < cf->nservices; i++) {
		if (cf->services[i]->mode != SERVICE_HTTP)
			continue;
		for (k = 0; k < HTTPF_COUNT; k++)
			prom_sample(f, "isthmus_http_backend_failures_total",
			    (const char *[]){ "tenant",
			    cf->services[i]->tenant_name, "service",
			    cf->services[i]->name, "status",
			    http_fail_labels[k], NULL },
			    STAT_GET(cf->services[i]->http_failed[k]));
	}
}

static void
service_families(FILE *f, const struct cloud_conf *cf)
{
	size_t i;

	prom_family(f, "isthmus_streams_opened_total", "counter",
	    "Streams accepted for a service of the edge's tenant.");
	for (i = 0; i < cf->nservices; i++)
		prom_sample(f, "isthmus_streams_opened_total", (const char *[]){
		    "tenant", cf->services[i]->tenant_name, "service",
		    cf->services[i]->name, NULL },
		    STAT_GET(cf->services[i]->streams_opened));
	backend_family(f, cf, "isthmus_backend_up", "gauge",
	    "1 if the backend passes its health checks.", BE_UP);
	backend_family(f, cf, "isthmus_backend_active_streams", "gauge",
	    "Streams relayed to the backend now.", BE_ACTIVE);
	backend_family(f, cf, "isthmus_backend_streams_total", "counter",
	    "Streams relayed to the backend.", BE_STREAMS);
	backend_family(f, cf, "isthmus_backend_connect_failures_total",
	    "counter", "Connections to the backend refused or timed out "
	    "(the stream was retried on the next backend).",
	    BE_CONNECT_FAILURES);
	backend_family(f, cf, "isthmus_backend_reused_total", "counter",
	    "HTTP requests sent on a kept-alive connection.", BE_REUSED);
	http_families(f, cf);
}

void
cloud_metrics(FILE *f, void *arg)
{
	struct cloud *cl = arg;
	const struct cloud_conf *cf = cl->conf;
	struct live *lv;
	uint64_t handshaking;
	size_t i;

	lv = calloc(cf->ntenants + 1, sizeof(*lv));
	if (lv == NULL)
		return;
	cloud_lock(cl);
	live_sums(cl, lv, &handshaking);
	prom_family(f, "isthmus_worker_tunnels", "gauge",
	    "Tunnels (established or handshaking) per worker event loop.");
	for (i = 0; i < cl->nworkers; i++) {
		char idx[16];

		snprintf(idx, sizeof(idx), "%zu", i);
		prom_sample(f, "isthmus_worker_tunnels", (const char *[]){
		    "worker", idx, NULL }, cl->workers[i].ntunnels);
	}
	cloud_unlock(cl);
	prom_identity(f, "cloud", cl->started);
	prom_family(f, "isthmus_certificate_not_after_seconds", "gauge",
	    "When a certificate in use expires, in seconds since the epoch.");
	prom_sample(f, "isthmus_certificate_not_after_seconds",
	    (const char *[]){ "certificate", "cloud", NULL },
	    (uint64_t)tls_time_epoch(X509_get0_notAfter(
	    SSL_CTX_get0_certificate(cl->ssl_ctx))));
	prom_family(f, "isthmus_handshakes_in_progress", "gauge",
	    "TLS handshakes with edges not finished yet.");
	prom_sample(f, "isthmus_handshakes_in_progress", NULL, handshaking);
	prom_family(f, "isthmus_handshakes_admitted_total", "counter",
	    "Edge handshakes that passed verification and admission.");
	prom_sample(f, "isthmus_handshakes_admitted_total", NULL,
	    STAT_GET(cl->stats.handshakes_ok));
	prom_family(f, "isthmus_handshakes_failed_total", "counter",
	    "Edge handshakes refused or failed, per reason.");
	for (i = 0; i < HSF_COUNT; i++)
		prom_sample(f, "isthmus_handshakes_failed_total",
		    (const char *[]){ "reason", hs_fail_name((enum hs_fail)i),
		    NULL }, STAT_GET(cl->stats.handshakes_failed[i]));
	prom_family(f, "isthmus_tunnels_revoked_total", "counter",
	    "Live tunnels dropped because a re-check (reload, CRL change, "
	    "certificate end) would not admit them now, per reason.");
	for (i = 0; i < HSF_COUNT; i++)
		if (hs_fail_recheckable((enum hs_fail)i))
			prom_sample(f, "isthmus_tunnels_revoked_total",
			    (const char *[]){ "reason",
			    hs_fail_name((enum hs_fail)i), NULL },
			    STAT_GET(cl->stats.tunnels_revoked[i]));
	prom_family(f, "isthmus_tunnels_reaped_total", "counter",
	    "Tunnels dropped because the edge answered no keepalive PING.");
	prom_sample(f, "isthmus_tunnels_reaped_total", NULL,
	    STAT_GET(cl->stats.tunnels_reaped));
	tenant_families(f, cf, lv);
	service_families(f, cf);
	store_families(f, cl->store);
	manage_metrics(cl, f);
	ready_metrics(cl->ready, f);
	acceptguard_metrics(f);
	free(lv);
}
