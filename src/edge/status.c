/*
 * What `isthmus status` (the admin socket's "status") shows of a running
 * edge, as text or JSON. It only reads the daemon's state.
 */
#include "edge/status.h"

#include "common/json.h"
#include "edge/cache/cache.h"
#include "edge/manage/manage.h"
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
map_json(struct json *j, const struct edge_listener *li)
{
	size_t i;

	json_key(j, "transparent");
	json_begin_object(j);
	json_key(j, "unmapped");
	json_int(j, (int64_t)li->stats.unmapped);
	json_key(j, "map");
	json_begin_array(j);
	for (i = 0; i < li->lc->nroutes; i++) {
		json_begin_object(j);
		json_key(j, "destination");
		json_string(j, li->lc->routes[i].text);
		json_key(j, "service");
		json_string(j, li->lc->routes[i].service);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
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

static void
http_json(struct json *j, const struct edge_listener *li)
{
	char key[8];
	size_t k;

	json_key(j, "http_requests");
	json_int(j, (int64_t)li->stats.http_requests);
	json_key(j, "http_errors");
	json_begin_object(j);
	for (k = 0; k < HD_ERR_COUNT; k++) {
		snprintf(key, sizeof(key), "%d",
		    httpdev_error_status((enum httpdev_error)k));
		json_key(j, key);
		json_int(j, (int64_t)li->stats.http_errors[k]);
	}
	json_end_object(j);
	if (li->devtls == NULL)
		return;
	json_key(j, "device_tls");
	json_begin_object(j);
	json_key(j, "accepted");
	json_int(j, (int64_t)li->stats.tls_accepted);
	json_key(j, "refused");
	json_begin_object(j);
	for (k = 0; k < DT_COUNT; k++) {
		json_key(j, devtls_refusal_name((enum devtls_refusal)k));
		json_int(j, (int64_t)li->stats.tls_refused[k]);
	}
	json_end_object(j);
	json_key(j, "revoked");
	json_int(j, (int64_t)li->stats.tls_revoked);
	json_end_object(j);
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
cache_json(struct json *j, const struct cache_stats *cs)
{
	size_t k;

	json_key(j, "cache");
	json_begin_object(j);
	json_key(j, "entries");
	json_int(j, (int64_t)cs->entries);
	json_key(j, "bytes");
	json_int(j, (int64_t)cs->size);
	json_key(j, "max_bytes");
	json_int(j, (int64_t)cs->max_size);
	json_key(j, "requests");
	json_begin_object(j);
	for (k = 0; k < CR_COUNT; k++) {
		json_key(j, cache_result_name((enum cache_result)k));
		json_int(j, (int64_t)cs->requests[k]);
	}
	json_end_object(j);
	json_key(j, "saved_bytes");
	json_int(j, (int64_t)cs->bytes_saved);
	json_key(j, "damaged");
	json_int(j, (int64_t)cs->corrupt);
	json_key(j, "write_errors");
	json_int(j, (int64_t)cs->write_errors);
	json_end_object(j);
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

static void
manage_json(struct json *j, const struct manage_info *mi)
{
	json_key(j, "management");
	json_begin_object(j);
	json_key(j, "state");
	json_string(j, manage_state(mi));
	json_key(j, "opens");
	json_int(j, (int64_t)mi->opens);
	json_key(j, "instructions");
	json_int(j, (int64_t)mi->done);
	json_key(j, "running");
	json_int(j, mi->running);
	json_key(j, "retry_in_ms");
	json_int(j, mi->retry_ms);
	json_key(j, "last_error");
	json_string(j, mi->last_error);
	json_end_object(j);
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
}

static void
status_json(struct edge *e, const struct uplink_info *ui, FILE *f)
{
	struct manage_info mi;
	struct json j;
	char when[32];
	size_t i;

	json_init(&j, f);
	json_begin_object(&j);
	json_key(&j, "role");
	json_string(&j, "edge");
	json_key(&j, "edge");
	json_string(&j, e->name);
	json_key(&j, "tenant");
	json_string(&j, e->tenant);
	iso_time(e->cert_not_after, when, sizeof(when));
	json_key(&j, "certificate_not_after");
	json_string(&j, when);
	json_key(&j, "tunnel");
	json_begin_object(&j);
	json_key(&j, "state");
	json_string(&j, uplink_state_name(ui->state));
	json_key(&j, "state_s");
	json_int(&j, ui->state_s);
	json_key(&j, "attempts");
	json_int(&j, ui->attempts);
	json_key(&j, "retry_in_ms");
	json_int(&j, ui->retry_ms);
	json_key(&j, "proxy");
	json_string(&j, ui->proxy[0] != '\0' ? ui->proxy : NULL);
	json_key(&j, "last_error");
	json_string(&j, ui->last_error);
	json_key(&j, "peer");
	json_string(&j, ui->peer);
	json_key(&j, "cloud_subject");
	json_string(&j, ui->cloud_subject);
	iso_time(ui->cloud_not_after, when, sizeof(when));
	json_key(&j, "cloud_not_after");
	json_string(&j, when);
	json_key(&j, "keepalive_rtt_us");
	json_int(&j, ui->rtt_us);
	json_key(&j, "connects");
	json_int(&j, (int64_t)ui->connects);
	json_key(&j, "streams_open");
	json_int(&j, ui->streams_open);
	json_key(&j, "bytes_to_cloud");
	json_int(&j, (int64_t)ui->bytes_out);
	json_key(&j, "bytes_from_cloud");
	json_int(&j, (int64_t)ui->bytes_in);
	json_end_object(&j);
	json_key(&j, "listeners");
	json_begin_array(&j);
	for (i = 0; i < e->nlisteners; i++) {
		const struct edge_listener *li = e->listeners[i];

		json_begin_object(&j);
		json_key(&j, "name");
		json_string(&j, li->lc->name);
		json_key(&j, "listen");
		json_string(&j, li->bound);
		json_key(&j, "service");
		json_string(&j, li->lc->service);
		json_key(&j, "devices_total");
		json_int(&j, (int64_t)li->stats.accepted);
		json_key(&j, "streams_open");
		json_int(&j, li->stats.open);
		json_key(&j, "dropped");
		json_int(&j, (int64_t)li->stats.dropped);
		json_key(&j, "refused");
		json_int(&j, (int64_t)refused(li));
		json_key(&j, "mode");
		json_string(&j, li->lc->mode == LISTEN_HTTP ? "http" : "tcp");
		if (li->lc->transparent)
			map_json(&j, li);
		if (li->lc->mode == LISTEN_HTTP)
			http_json(&j, li);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_key(&j, "pending");
	json_int(&j, e->npending);
	if (e->cache != NULL)
		cache_json(&j, cache_stats(e->cache));
	manage_info(e->manage, &mi);
	manage_json(&j, &mi);
	json_end_object(&j);
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
	manage_info(e->manage, &mi);
	manage_text(&mi, f);
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
