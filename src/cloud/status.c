/* What `isthmus status` shows of a running cloud gateway (status.h). */
#include "cloud/status.h"

#include "cloud/cloud-int.h"
#include "cloud/tunnel.h"
#include "cloud/tunnel-int.h"
#include "common/jsonw.h"
#include "common/stat.h"

static uint64_t
handshakes_failed(const struct cloud *cl)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < HSF_COUNT; i++)
		n += STAT_GET(cl->stats.handshakes_failed[i]);
	return n;
}

static uint64_t
streams_refused(const struct cloud *cl)
{
	uint64_t n = 0;
	size_t i, k;

	for (i = 0; i < cl->conf->ntenants; i++)
		for (k = 0; k < REFUSE_COUNT; k++)
			n += STAT_GET(cl->conf->tenants[i]->stats.refused[k]);
	return n;
}

static uint64_t
streams_opened(const struct cloud *cl)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < cl->conf->nservices; i++)
		n += STAT_GET(cl->conf->services[i]->streams_opened);
	return n;
}

static void
status_json(struct cloud *cl, const char *listen, FILE *f)
{
	const struct cloud_conf *cf = cl->conf;
	struct tunnel_info ti;
	struct tunnel *t;
	struct jw j;
	size_t i, k;
	unsigned wi;

	jw_init(&j, f);
	jw_begin_object(&j);
	jw_key(&j, "role");
	jw_string(&j, "cloud");
	jw_key(&j, "listen");
	jw_string(&j, listen);
	jw_key(&j, "workers");
	jw_begin_array(&j);
	for (wi = 0; wi < cl->nworkers; wi++) {
		jw_begin_object(&j);
		jw_key(&j, "tunnels");
		jw_int(&j, cl->workers[wi].ntunnels);
		jw_end_object(&j);
	}
	jw_end_array(&j);
	jw_key(&j, "tunnels");
	jw_begin_array(&j);
	CLOUD_FOREACH_TUNNEL(cl, wi, t) {
		tunnel_info(t, &ti);
		if (!ti.up)
			continue;
		jw_begin_object(&j);
		jw_key(&j, "edge");
		jw_string(&j, ti.edge);
		jw_key(&j, "tenant");
		jw_string(&j, ti.tenant);
		jw_key(&j, "peer");
		jw_string(&j, ti.peer);
		jw_key(&j, "uptime_s");
		jw_int(&j, ti.uptime_s);
		jw_key(&j, "streams_open");
		jw_int(&j, ti.streams_open);
		jw_key(&j, "streams_total");
		jw_int(&j, (int64_t)ti.streams_opened);
		jw_key(&j, "bytes_in");
		jw_int(&j, (int64_t)ti.bytes_in);
		jw_key(&j, "bytes_out");
		jw_int(&j, (int64_t)ti.bytes_out);
		jw_end_object(&j);
	}
	jw_end_array(&j);
	jw_key(&j, "services");
	jw_begin_array(&j);
	for (i = 0; i < cf->nservices; i++) {
		const struct cloud_service *s = cf->services[i];

		jw_begin_object(&j);
		jw_key(&j, "tenant");
		jw_string(&j, s->tenant_name);
		jw_key(&j, "name");
		jw_string(&j, s->name);
		jw_key(&j, "backends");
		jw_begin_array(&j);
		for (k = 0; k < s->nbe; k++) {
			jw_begin_object(&j);
			jw_key(&j, "address");
			jw_string(&j, s->be[k].addr);
			jw_key(&j, "healthy");
			jw_bool(&j, STAT_GET(s->be[k].healthy));
			jw_key(&j, "active");
			jw_int(&j, STAT_GET(s->be[k].active));
			jw_end_object(&j);
		}
		jw_end_array(&j);
		jw_end_object(&j);
	}
	jw_end_array(&j);
	jw_key(&j, "handshakes_ok");
	jw_int(&j, (int64_t)STAT_GET(cl->stats.handshakes_ok));
	jw_key(&j, "handshakes_failed");
	jw_int(&j, (int64_t)handshakes_failed(cl));
	jw_key(&j, "streams_opened");
	jw_int(&j, (int64_t)streams_opened(cl));
	jw_key(&j, "streams_refused");
	jw_int(&j, (int64_t)streams_refused(cl));
	jw_end_object(&j);
}

static void
status_text(struct cloud *cl, const char *listen, FILE *f)
{
	const struct cloud_conf *cf = cl->conf;
	struct tunnel_info ti;
	struct tunnel *t;
	size_t i, k, n = 0;
	unsigned wi;

	CLOUD_FOREACH_TUNNEL(cl, wi, t) {
		tunnel_info(t, &ti);
		n += ti.up;
	}
	fprintf(f, "cloud gateway listening on %s: %zu tunnel%s up, "
	    "%llu handshakes failed, %llu streams refused\n", listen, n,
	    n == 1 ? "" : "s",
	    (unsigned long long)handshakes_failed(cl),
	    (unsigned long long)streams_refused(cl));
	fprintf(f, "%u worker%s, tunnels per worker:", cl->nworkers,
	    cl->nworkers == 1 ? "" : "s");
	for (wi = 0; wi < cl->nworkers; wi++)
		fprintf(f, " %u", cl->workers[wi].ntunnels);
	fprintf(f, "\n\nTunnels:\n");
	CLOUD_FOREACH_TUNNEL(cl, wi, t) {
		tunnel_info(t, &ti);
		if (!ti.up)
			continue;
		fprintf(f, "  %-16s tenant %-12s from %-22s up %lds, %u "
		    "streams open (%llu total), %llu bytes in, %llu out\n",
		    ti.edge, ti.tenant, ti.peer, ti.uptime_s, ti.streams_open,
		    (unsigned long long)ti.streams_opened,
		    (unsigned long long)ti.bytes_in,
		    (unsigned long long)ti.bytes_out);
	}
	fprintf(f, "\nServices:\n");
	for (i = 0; i < cf->nservices; i++) {
		const struct cloud_service *s = cf->services[i];

		fprintf(f, "  %s/%s\n", s->tenant_name, s->name);
		for (k = 0; k < s->nbe; k++)
			fprintf(f, "    %-24s %-5s %u active\n", s->be[k].addr,
			    STAT_GET(s->be[k].healthy) ? "up" : "DOWN",
			    STAT_GET(s->be[k].active));
	}
}

void
cloud_status(struct cloud *cl, const char *listen, bool json, FILE *f)
{
	cloud_lock(cl);
	if (json)
		status_json(cl, listen, f);
	else
		status_text(cl, listen, f);
	cloud_unlock(cl);
}
