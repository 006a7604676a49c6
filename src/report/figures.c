/* The words and figures the text and HTML reports share (report-int.h). */
#include "report/report-int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

const char *const report_measures[] = {
	"dns", "tcp", "proxy", "tls", "rtt", "udp", "down", "up", "voice",
};
const size_t report_nmeasures =
    sizeof(report_measures) / sizeof(report_measures[0]);

bool
report_measure_known(const char *name)
{
	size_t i;

	for (i = 0; i < report_nmeasures; i++)
		if (strcmp(report_measures[i], name) == 0)
			return true;
	return false;
}

static const char *const verdict_names[RV_N] = {
	[RV_PASS] = "pass", [RV_WARN] = "warn", [RV_FAIL] = "fail",
	[RV_SKIPPED] = "skipped",
};

const char *
report_verdict_name(enum rverdict v)
{
	return (unsigned)v < RV_N ? verdict_names[v] : "?";
}

int
report_verdict_parse(const char *s, enum rverdict *v)
{
	int i;

	for (i = 0; i < RV_N; i++) {
		if (strcmp(s, verdict_names[i]) == 0) {
			*v = (enum rverdict)i;
			return 0;
		}
	}
	return -EINVAL;
}

void
report_fig(double v, int decimals, char *buf, size_t cap)
{
	if (isnan(v))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.*f", decimals, v);
}

/* Appends to a line that stays NUL-terminated whatever it is given. */
struct line {
	char *buf;
	size_t cap, len;
};

static void
line_add(struct line *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len + 1 >= l->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, l->cap - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n < l->cap - l->len ? (size_t)n :
		    l->cap - l->len - 1;
}

/* One figure of m, when it has it, between pre and post (every figure
 * of a checked result is a number). */
static void
add_num(struct line *l, json_t *m, const char *key, const char *pre,
    int decimals, const char *post)
{
	json_t *v = json_object_get(m, key);

	if (json_is_number(v))
		line_add(l, "%s%s%.*f%s", l->len > 0 ? ", " : "", pre,
		    decimals, json_number_value(v), post);
}

static void
add_pair(struct line *l, json_t *m, const char *got, const char *of,
    const char *what)
{
	json_t *a = json_object_get(m, got), *b = json_object_get(m, of);

	if (json_is_integer(a) && json_is_integer(b))
		line_add(l, "%s%lld/%lld %s", l->len > 0 ? ", " : "",
		    (long long)json_integer_value(a),
		    (long long)json_integer_value(b), what);
}

static void
rtt_text(struct line *l, json_t *m)
{
	add_num(l, m, "median_ms", "median ", 1, " ms");
	add_num(l, m, "p95_ms", "p95 ", 1, " ms");
	add_num(l, m, "min_ms", "min ", 1, "");
	add_num(l, m, "max_ms", "max ", 1, "");
	add_num(l, m, "jitter_ms", "jitter ", 1, " ms");
}

static void
udp_text(struct line *l, json_t *m)
{
	json_t *up = json_object_get(m, "up_loss_pct");
	json_t *down = json_object_get(m, "down_loss_pct");

	if (json_is_true(json_object_get(m, "blocked")))
		line_add(l, "UDP blocked");
	add_num(l, m, "loss_pct", "loss ", 1, " %");
	if (json_is_number(up) && json_is_number(down))
		line_add(l, " (up %.1f, down %.1f)", json_number_value(up),
		    json_number_value(down));
	add_num(l, m, "jitter_ms", "jitter ", 1, " ms");
	add_num(l, m, "median_ms", "median ", 1, " ms");
	add_num(l, m, "p95_ms", "p95 ", 1, " ms");
	add_pair(l, m, "received", "sent", "echoed");
	add_num(l, m, "reordered", "", 0, " reordered");
	add_num(l, m, "duplicates", "", 0, " duplicates");
}

void
report_measure_text(const char *name, json_t *m, char *buf, size_t cap)
{
	struct line l = { buf, cap, 0 };

	if (cap == 0)
		return;
	buf[0] = '\0';
	if (strcmp(name, "rtt") == 0) {
		rtt_text(&l, m);
		add_pair(&l, m, "received", "count", "answered");
	} else if (strcmp(name, "udp") == 0) {
		udp_text(&l, m);
	} else if (strcmp(name, "down") == 0 || strcmp(name, "up") == 0) {
		add_num(&l, m, "mbps", "", 1, " Mbit/s");
		add_num(&l, m, "bytes", "", 0, " bytes");
		add_num(&l, m, "seconds", "in ", 2, " s");
	} else if (strcmp(name, "voice") == 0) {
		add_num(&l, m, "mos", "MOS ", 2, "");
		add_num(&l, m, "r", "R ", 1, "");
		add_num(&l, m, "delay_ms", "delay ", 1, " ms");
		add_num(&l, m, "loss_pct", "loss ", 1, " %");
		if (json_is_true(json_object_get(m, "estimate")))
			line_add(&l, "%sestimate", l.len > 0 ? ", " : "");
	} else {
		add_num(&l, m, "ms", "", 1, " ms");
	}
}

const char report_left_out[] = "its result was left out of this answer "
    "(the cloud sends at most 64 MB of results, the newest): ask for "
    "fewer tests (--since, --limit, EDGE)";

void
report_row(const struct rtest *t, struct report_row *row)
{
	const double *f = t->fig;

	report_fig(f[RF_RTT_MEDIAN], 1, row->rtt, sizeof(row->rtt));
	report_fig(!isnan(f[RF_UDP_JITTER]) ? f[RF_UDP_JITTER] :
	    f[RF_RTT_JITTER], 1, row->jitter, sizeof(row->jitter));
	if (t->udp_blocked)
		snprintf(row->loss, sizeof(row->loss), "blocked");
	else
		report_fig(f[RF_UDP_LOSS], 1, row->loss, sizeof(row->loss));
	report_fig(f[RF_DOWN], 1, row->down, sizeof(row->down));
	report_fig(f[RF_UP], 1, row->up, sizeof(row->up));
	report_fig(f[RF_MOS], 2, row->mos, sizeof(row->mos));
}
