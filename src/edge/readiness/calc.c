/* A readiness test's arithmetic (calc.h). */
#include "edge/readiness/calc.h"

#include <stdlib.h>

/* G.107's default R0 - Is, and G.113 Appendix I's G.711 with PLC. */
#define EMODEL_R_BASE 93.2
#define G711_IE 0.0
#define G711_BPL 25.1
/* One 20 ms packet of voice in the one-way delay. */
#define PACKET_MS 20.0

static const char *const names[] = {
	[RV_SKIPPED] = "skipped",
	[RV_PASS] = "pass",
	[RV_WARN] = "warn",
	[RV_FAIL] = "fail",
};

const char *
rverdict_name(enum rverdict v)
{
	return (unsigned)v <= RV_FAIL ? names[v] : "?";
}

enum rverdict
rverdict_worst(enum rverdict a, enum rverdict b)
{
	return a > b ? a : b;
}

enum rverdict
rcalc_above(double v, const struct conf_thresh *t)
{
	if (v > t->fail)
		return RV_FAIL;
	return v > t->warn ? RV_WARN : RV_PASS;
}

enum rverdict
rcalc_below(double v, const struct conf_thresh *t)
{
	if (v < t->fail)
		return RV_FAIL;
	return v < t->warn ? RV_WARN : RV_PASS;
}

/* Without libm: the figures are far inside int64_t's range. */
double
rcalc_round(double v, int decimals)
{
	static const double scale[] = { 1, 10, 100, 1000, 10000, 100000,
	    1000000 };
	double m = scale[decimals < 0 ? 0 : decimals > 6 ? 6 : decimals];

	if (!(v > -9e12 && v < 9e12))	/* NaN, or no use to round */
		return v;
	return v >= 0 ? (double)(int64_t)(v * m + 0.5) / m :
	    -(double)(int64_t)(-v * m + 0.5) / m;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void
rcalc_stats(double *v, size_t n, struct rstats *out)
{
	size_t rank;

	qsort(v, n, sizeof(*v), cmp_double);
	out->min = v[0];
	out->max = v[n - 1];
	out->median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	/* ceil(0.95 n) in integers: no rounding of 0.95 * n to fear */
	rank = (95 * n + 99) / 100;
	out->p95 = v[rank > 0 ? rank - 1 : 0];
}

double
rcalc_jitter(const double *t, size_t n)
{
	double j = 0;
	size_t i;

	for (i = 1; i < n; i++) {
		double d = t[i] - t[i - 1];

		j += ((d < 0 ? -d : d) - j) / 16;
	}
	return j;
}

static double
pct(double part, double whole)
{
	double p = whole > 0 ? 100 * part / whole : 0;

	return p < 0 ? 0 : p > 100 ? 100 : p;
}

void
rcalc_udp_loss(uint32_t sent, uint32_t received, uint32_t last_seq,
    uint32_t last_count, uint32_t received_upto, struct rudp_loss *out)
{
	double upto = (double)last_seq + 1;

	out->all = pct((double)sent - received, sent);
	if (received == 0) {
		/* Nothing came back: which way it was lost is not known. */
		out->up = out->down = out->all;
		return;
	}
	/* A cloud that took probes out of order may count more than the
	 * seq it answered: no negative loss. */
	out->up = pct(upto - last_count, upto);
	out->down = pct((double)last_count - received_upto, last_count);
}

double
rcalc_mbps(uint64_t bytes, double seconds)
{
	return seconds > 0 ? (double)bytes * 8 / seconds / 1e6 : 0;
}

void
rcalc_voice(double median_rtt_ms, double jitter_ms, double loss_pct,
    struct rvoice *out)
{
	double ta = median_rtt_ms / 2 + 2 * jitter_ms + PACKET_MS, r;

	out->ta = ta;
	out->id = 0.024 * ta + (ta > 177.3 ? 0.11 * (ta - 177.3) : 0);
	out->ie_eff = G711_IE + (95 - G711_IE) * loss_pct /
	    (loss_pct + G711_BPL);
	r = EMODEL_R_BASE - out->id - out->ie_eff;
	out->r = r;
	if (r <= 0)
		out->mos = 1;
	else if (r >= 100)
		out->mos = 4.5;
	else
		out->mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
}
