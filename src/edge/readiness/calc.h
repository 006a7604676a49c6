/*
 * A readiness test's arithmetic, with no I/O (calc.c), as
 * docs/readiness.md states it: verdicts against a profile's thresholds,
 * order statistics of round trips, RFC 3550 jitter, the UDP train's loss
 * each way, goodput, and the G.107 E-model's voice estimate.
 */
#ifndef ISTHMUS_EDGE_READINESS_CALC_H
#define ISTHMUS_EDGE_READINESS_CALC_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* Ordered: the worse, the larger (a skipped measure counts for nothing). */
enum rverdict { RV_SKIPPED, RV_PASS, RV_WARN, RV_FAIL };

const char *rverdict_name(enum rverdict v);
enum rverdict rverdict_worst(enum rverdict a, enum rverdict b);
/* v against t where higher is worse (a delay, a loss): above fail is
 * fail, above warn is warn; a value at a threshold passes it. */
enum rverdict rcalc_above(double v, const struct conf_thresh *t);
/* ... where lower is worse (a rate, a MOS). */
enum rverdict rcalc_below(double v, const struct conf_thresh *t);

/* v rounded to decimals places (for the result document). */
double rcalc_round(double v, int decimals);

struct rstats {
	double min, median, p95, max;
};

/* Order statistics of v[0..n-1] (n > 0; v is sorted in place): the
 * median (the mean of the two middle values when n is even) and the
 * 95th percentile by nearest rank (the value at rank ceil(0.95 n)). */
void rcalc_stats(double *v, size_t n, struct rstats *out);

/* RFC 3550 section 6.4.1 interarrival jitter over the transit times
 * t[0..n-1] in order: D = |t(i) - t(i-1)|, J += (D - J) / 16, from
 * J = 0; the J after the last. 0 for fewer than two. */
double rcalc_jitter(const double *t, size_t n);

/* The UDP train's loss, percent (docs/readiness.md, "What the edge
 * measures"): overall from what was sent and echoed; upward from the
 * echo that carried the cloud's highest count (its seq: the probes sent
 * up to it, its count: how many of them the cloud took); downward from
 * the echoes of the probes up to that seq that came back, out of the
 * ones the cloud took. */
struct rudp_loss {
	double all, up, down;
};
void rcalc_udp_loss(uint32_t sent, uint32_t received, uint32_t last_seq,
    uint32_t last_count, uint32_t received_upto, struct rudp_loss *out);

/* Goodput in Mbit/s (10^6 bits a second); 0 for no time. */
double rcalc_mbps(uint64_t bytes, double seconds);

/* The G.107 E-model for G.711 with packet-loss concealment (Ie = 0,
 * Bpl = 25.1), random loss, its defaults otherwise (R0 - Is = 93.2):
 * Ta = rtt / 2 + 2 jitter + 20 ms, Id from Ta, Ie_eff from the loss. */
struct rvoice {
	double ta;		/* ms, one way */
	double id, ie_eff, r, mos;
};
void rcalc_voice(double median_rtt_ms, double jitter_ms, double loss_pct,
    struct rvoice *out);

#endif
