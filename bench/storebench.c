/*
 * storebench: how many writes a second the cloud's state store takes, on
 * SQLite (a file in a fresh temporary directory) and, given a URI, on
 * PostgreSQL, through the real store (src/cloud/store/).
 *
 *   storebench [-n N] [--pg postgresql://...]
 *
 * Two figures a backend:
 * - registry events: N ups and downs queued as fast as the queue takes
 *   them (the data path's side), timed until the store has written all;
 * - instructions: N recorded (each add answered once committed, 32 asked
 *   at a time) and each given its outcome (a queued write), timed until
 *   all are written.
 * With the round trips' count, mean and slowest (store_get_stats). One
 * line of JSON a backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cloud/store/store.h"

#define IN_FLIGHT 32

static struct event_base *base;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One turn of the loop (the PostgreSQL store works on it). */
static void
spin(void)
{
	struct timeval tv = { 0, 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Until nothing waits to be written; 0, or -1 after 120 s. */
static int
drain(struct store *s)
{
	struct store_stats st;
	double give_up = now_s() + 120;

	for (;;) {
		store_get_stats(s, &st);
		if (st.queued == 0)
			return 0;
		if (now_s() > give_up)
			return -1;
		spin();
	}
}

static double
bench_events(struct store *s, int n)
{
	struct store_edge_event ev = { .tenant = "A", .peer = "192.0.2.1:1",
	    .serial = "0a", .not_after = 1900000000, .version = "0.1.0" };
	char edge[32];
	double t0 = now_s();
	int i = 0;

	while (i < n) {
		snprintf(edge, sizeof(edge), "e%d", i / 2 % 500);
		ev.edge = edge;
		ev.up = i % 2 == 0;
		ev.reason = ev.up ? NULL : "peer_closed";
		ev.at = 1000 + i;
		if (store_edge_event(s, &ev) == -ENOBUFS) {
			spin();		/* the queue is full: let it write */
			continue;
		}
		i++;
	}
	if (drain(s) != 0)
		return -1;
	return n / (now_s() - t0);
}

struct adds {
	int asked, answered, failed;
	struct err e;
};

static void
on_added(int rc, const struct err *e, void *arg)
{
	struct adds *a = arg;

	a->answered++;
	if (rc != 0 && a->failed++ == 0)
		a->e = *e;
}

static double
bench_instructions(struct store *s, int n)
{
	struct store_instruction in;
	struct adds a = { 0, 0, 0, { "" } };
	double t0 = now_s();
	int done = 0;

	memset(&in, 0, sizeof(in));
	snprintf(in.tenant, sizeof(in.tenant), "A");
	snprintf(in.kind, sizeof(in.kind), "status");
	snprintf(in.issuer, sizeof(in.issuer), "bench");
	in.args = "[]";
	in.issued = 1000;
	in.expires = 4000000000;
	while (a.answered < n) {
		while (a.asked < n && a.asked - a.answered < IN_FLIGHT) {
			snprintf(in.id, sizeof(in.id), "%032x", a.asked);
			snprintf(in.edge, sizeof(in.edge), "e%d", a.asked % 500);
			if (store_instruction_add(s, &in, on_added, &a) != 0)
				break;
			a.asked++;
		}
		spin();
		/* each answered one gets its outcome */
		while (done < a.answered) {
			char id[33];

			snprintf(id, sizeof(id), "%032x", done);
			if (store_instruction_done(s, id, "ok", "{}", NULL,
			    1001) == -ENOBUFS) {
				spin();
				continue;
			}
			done++;
		}
	}
	if (a.failed > 0) {
		fprintf(stderr, "storebench: %d adds failed: %s\n", a.failed,
		    a.e.msg);
		return -1;
	}
	if (drain(s) != 0)
		return -1;
	return n / (now_s() - t0);
}

static int
bench(const char *backend, const char *state, int n)
{
	struct store_stats st;
	struct store *s;
	double ev, ins;
	struct err e;

	if (store_open(base, state, &s, &e) != 0) {
		fprintf(stderr, "storebench: %s\n", e.msg);
		return -1;
	}
	store_get_stats(s, &st);
	if (!st.available) {
		fprintf(stderr, "storebench: %s\n", e.msg);
		store_close(s);
		return -1;
	}
	ev = bench_events(s, n);
	ins = bench_instructions(s, n);
	store_get_stats(s, &st);
	store_close(s);
	if (ev < 0 || ins < 0)
		return -1;
	printf("{\"backend\": \"%s\", \"n\": %d, "
	    "\"registry_events_per_s\": %.0f, "
	    "\"instructions_per_s\": %.0f, \"round_trips\": %llu, "
	    "\"round_trip_mean_us\": %.0f, \"round_trip_max_us\": %llu}\n",
	    backend, n, ev, ins, (unsigned long long)st.ops,
	    st.ops > 0 ? (double)st.op_us_sum / st.ops : 0.0,
	    (unsigned long long)st.op_us_max);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/storebench-XXXXXX", path[64], cmd[96];
	const char *pg = NULL;
	int i, n = 20000, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc)
			pg = argv[++i];
		else {
			fprintf(stderr, "usage: storebench [-n N] "
			    "[--pg postgresql://...]\n");
			return 2;
		}
	}
	if (n <= 0 || (base = event_base_new()) == NULL)
		return 2;
	if (mkdtemp(dir) == NULL) {
		perror("storebench: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/state.db", dir);
	if (bench("sqlite", path, n) != 0)
		rc = 1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	if (pg != NULL && bench("postgresql", pg, n) != 0)
		rc = 1;
	event_base_free(base);
	return rc;
}
