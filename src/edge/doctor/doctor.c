/* isthmus doctor's runner and output: the table of steps run in order,
 * and the report as text or JSON; see doctor.h. The steps themselves are
 * in path.c and tunnel.c, their machinery in step.c. */
#include "edge/doctor/doctor.h"

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "common/cli.h"
#include "common/h2conn.h"
#include "common/jsonw.h"
#include "edge/doctor/doctor-int.h"

static const char usage_doctor[] =
    "usage: isthmus doctor -c FILE [--json] [--path]\n"
    "\n"
    "Checks, one step at a time, that this edge can reach its cloud and\n"
    "its services: config, clock, dns, tcp, proxy, tls, certificate,\n"
    "alpn, admission, round_trip, then each service the listeners name.\n"
    "Each step prints its time and a verdict (ok, warn, FAIL, n/a); after\n"
    "a failure the later steps are skipped. It opens its own tunnel, so it\n"
    "runs beside a running edge. When something on the path refuses the\n"
    "edge's TLS offer, it makes one probe handshake (more key exchanges,\n"
    "TLS 1.2, no client certificate) to name the certificate shown.\n"
    "\n"
    "  -c, --config FILE  the edge's configuration (edge.conf)\n"
    "      --json         one JSON object instead of text\n"
    "      --path         the path's steps only, config to alpn (a\n"
    "                     readiness test times dns, tcp, proxy and tls)\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 every step passed, 1 a step failed, 2 bad usage.\n";
static const char *const verdict_text[] = {
	[V_PASS] = "ok", [V_WARN] = "warn", [V_FAIL] = "FAIL",
	[V_NA] = "n/a", [V_SKIPPED] = "skip",
};
static const char *const verdict_json[] = {
	[V_PASS] = "pass", [V_WARN] = "warn", [V_FAIL] = "fail",
	[V_NA] = "n/a", [V_SKIPPED] = "skipped",
};

/* The steps in the order they run: path.c's, then tunnel.c's. */
static void (*const steps[])(struct doctor *d) = {
	step_config, step_clock, step_dns, step_tcp, step_proxy, step_tls,
	step_certificate, step_alpn,
	step_admission, step_round_trip, step_services,
};
/* --path: path.c's steps only, no tunnel. */
#define PATH_STEPS 8

static void
print_text(const struct doctor *d, FILE *f)
{
	size_t i, k, nrun = 0;

	fprintf(f, "isthmus doctor: %s\n", d->path);
	for (i = 0; i < d->n; i++) {
		const struct step *s = &d->steps[i];
		char t[24] = "";

		if (s->us >= 0)
			snprintf(t, sizeof(t), s->us < 10000 ? "%.2f ms" :
			    "%.1f ms", (double)s->us / 1000);
		fprintf(f, "  %-4s  %-20s %9s  %s\n", verdict_text[s->v],
		    s->name, t, s->detail);
		nrun += s->v != V_SKIPPED;
	}
	if (d->failed == NULL && d->path_only) {
		fprintf(f, "All path checks passed: this edge reaches its "
		    "cloud's tunnel port.\n");
		return;
	}
	if (d->failed == NULL) {
		fprintf(f, "All checks passed: this edge can reach its cloud "
		    "and its services.\n");
		return;
	}
	fprintf(f, "FAILED:");
	for (i = 0, k = 0; i < d->n; i++)
		if (d->steps[i].v == V_FAIL)
			fprintf(f, "%s %s", k++ > 0 ? "," : "",
			    d->steps[i].name);
	fputc('.', f);
	if (d->n > nrun)
		fprintf(f, " %zu later step%s skipped.", d->n - nrun,
		    d->n - nrun == 1 ? "" : "s");
	fprintf(f, " Fix the first failure and run isthmus doctor again.\n");
}

static void
print_json(const struct doctor *d, FILE *f)
{
	struct jw j;
	size_t i;

	jw_init(&j, f);
	jw_begin_object(&j);
	jw_key(&j, "config");
	jw_string(&j, d->path);
	jw_key(&j, "ok");
	jw_bool(&j, d->failed == NULL);
	jw_key(&j, "failed");
	jw_string(&j, d->failed);
	jw_key(&j, "steps");
	jw_begin_array(&j);
	for (i = 0; i < d->n; i++) {
		const struct step *s = &d->steps[i];

		jw_begin_object(&j);
		jw_key(&j, "name");
		jw_string(&j, s->name);
		jw_key(&j, "verdict");
		jw_string(&j, verdict_json[s->v]);
		jw_key(&j, "us");
		if (s->us >= 0)
			jw_int(&j, s->us);
		else
			jw_null(&j);
		jw_key(&j, "detail");
		jw_string(&j, s->detail);
		jw_end_object(&j);
	}
	jw_end_array(&j);
	jw_end_object(&j);
	fputc('\n', f);
}

/* ---- main --------------------------------------------------------------- */

void
doctor_usage(FILE *f)
{
	fputs(usage_doctor, f);
}

static void
doctor_free(struct doctor *d)
{
	if (d->h2 != NULL)
		h2conn_free(d->h2);
	if (d->tls != NULL)
		bufferevent_free(d->tls);
	proxy_dial_cancel(d->pd);
	dialer_cancel(d->tcp);
	if (d->fd >= 0)
		close(d->fd);
	if (d->ai != NULL)
		evutil_freeaddrinfo(d->ai);
	certcheck_clear(&d->ck);
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->dns != NULL)
		evdns_base_free(d->dns, 0);
	if (d->base != NULL)
		event_base_free(d->base);
	SSL_CTX_free(d->ctx);
	edge_conf_free(d->cf);
	free(d->steps);
}

/* -c FILE, --json, --path and the common options: CLI_GO_ON or the exit
 * status. */
static int
doctor_args(int argc, char **argv, const char **path, bool *json,
    bool *path_only)
{
	const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'J' },
		{ "path", no_argument, NULL, 'P' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*path = NULL;
	*json = *path_only = false;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "c:", opts,
	    NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		switch (c) {
		case 'h':
			fputs(usage_doctor, stdout);
			return EXIT_OK;
		case 'c': *path = optarg; break;
		case 'J': *json = true; break;
		case 'P': *path_only = true; break;
		default:
			return cli_bad_option("doctor", usage_doctor, argv, c);
		}
	}
	if (*path == NULL)
		return cli_usage_error("doctor", usage_doctor,
		    "-c FILE is required");
	if (optind != argc)
		return cli_usage_error("doctor", usage_doctor,
		    "unexpected argument '%s'", argv[optind]);
	return CLI_GO_ON;
}

int
doctor_main(int argc, char **argv)
{
	struct doctor *d;
	const char *path;
	bool json, path_only;
	size_t i, n;
	int rc;

	rc = doctor_args(argc, argv, &path, &json, &path_only);
	if (rc != CLI_GO_ON)
		return rc;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return cli_fail("doctor", EXIT_FAIL, "out of memory");
	d->path = path;
	d->path_only = path_only;
	d->fd = -1;
	signal(SIGPIPE, SIG_IGN);
	d->base = event_base_new();
	if (d->base != NULL) {
		d->timer = evtimer_new(d->base, doctor_on_timer, d);
		d->dns = evdns_base_new(d->base,
		    EVDNS_BASE_INITIALIZE_NAMESERVERS);
		if (d->dns == NULL)	/* no resolv.conf */
			d->dns = evdns_base_new(d->base, 0);
	}
	if (d->base == NULL || d->timer == NULL || d->dns == NULL) {
		doctor_free(d);
		free(d);
		return cli_fail("doctor", EXIT_FAIL, "out of memory");
	}
	/* Each step skips itself after a failure, before touching what
	 * the failed one did not provide. */
	n = path_only ? PATH_STEPS : sizeof(steps) / sizeof(steps[0]);
	for (i = 0; i < n; i++)
		steps[i](d);
	if (json)
		print_json(d, stdout);
	else
		print_text(d, stdout);
	fflush(stdout);
	rc = d->failed == NULL ? EXIT_OK : EXIT_FAIL;
	doctor_free(d);
	free(d);
	return rc;
}
