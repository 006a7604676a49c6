/* A readiness profile: its config keys, checks and JSON form
 * (readiness.h). */
#include "common/readiness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define KEY(n, t, f, lo, hi, def) \
	{ n, t, offsetof(struct readiness_profile, f), lo, hi, NULL, def, 0 }

const struct conf_key readiness_keys[] = {
	KEY("path", CONF_BOOL, path, 0, 0, "on"),
	KEY("pings", CONF_INT, pings, 0, READINESS_PINGS_MAX, "20"),
	KEY("ping_interval", CONF_DURATION, ping_interval,
	    READINESS_PING_INTERVAL_MIN_MS, READINESS_PING_INTERVAL_MAX_MS,
	    "250ms"),
	KEY("down", CONF_SIZE, down, 0, READINESS_BYTES_MAX, "4M"),
	KEY("up", CONF_SIZE, up, 0, READINESS_BYTES_MAX, "4M"),
	KEY("udp", CONF_BOOL, udp, 0, 0, "on"),
	KEY("udp_rate", CONF_INT, udp_rate, 1, READINESS_UDP_RATE_MAX, "50"),
	KEY("udp_duration", CONF_DURATION, udp_duration,
	    READINESS_UDP_DURATION_MIN_MS, READINESS_UDP_DURATION_MAX_MS,
	    "10s"),
	KEY("udp_size", CONF_INT, udp_size, 64, 1200, "172"),
	KEY("budget", CONF_SIZE, budget, READINESS_BUDGET_MIN,
	    READINESS_BYTES_MAX, "10M"),
	KEY("delay", CONF_THRESH, delay, CTU_MS, 0, "150ms, 400ms"),
	KEY("jitter", CONF_THRESH, jitter, CTU_MS, 0, "30ms, 50ms"),
	KEY("loss", CONF_THRESH, loss, CTU_PCT, 0, "1%, 3%"),
	KEY("down_rate", CONF_THRESH, down_rate, CTU_MBIT, 1,
	    "10Mbit, 2Mbit"),
	KEY("up_rate", CONF_THRESH, up_rate, CTU_MBIT, 1, "5Mbit, 1Mbit"),
	KEY("mos", CONF_THRESH, mos, CTU_NUM, 1, "4.0, 3.6"),
	KEY("dns", CONF_THRESH, dns, CTU_MS, 0, "200ms, 1s"),
	KEY("connect", CONF_THRESH, connect, CTU_MS, 0, "200ms, 1s"),
	KEY("handshake", CONF_THRESH, handshake, CTU_MS, 0, "500ms, 2s"),
};
const size_t readiness_nkeys = sizeof(readiness_keys) /
    sizeof(readiness_keys[0]);

static void *
open_default(void *ctx, const char *name, int line)
{
	(void)name;
	(void)line;
	return ctx;
}

void
readiness_profile_default(struct readiness_profile *p)
{
	const struct conf_section sec = {
		.name = "readiness", .keys = readiness_keys,
		.nkeys = readiness_nkeys, .open = open_default,
	};
	const struct conf_schema schema = { &sec, 1 };
	struct conf_errors errs;

	memset(p, 0, sizeof(*p));
	/* The defaults are constants that parse: an empty file sets them. */
	(void)conf_parse_text(&schema, p, "(built in)", "", 0, NULL, &errs);
	snprintf(p->name, sizeof(p->name), "%s", READINESS_DEFAULT);
}

uint64_t
readiness_udp_packets(const struct readiness_profile *p)
{
	return (uint64_t)p->udp_rate * p->udp_duration / 1000;
}

uint64_t
readiness_plan_bytes(const struct readiness_profile *p)
{
	uint64_t b = ((p->down + p->up) * READINESS_FLOW_OVERHEAD_PCT + 99) /
	    100;

	if (p->udp)
		b += 2 * readiness_udp_packets(p) *
		    (uint64_t)(p->udp_size + READINESS_UDP_HEADERS);
	return b + (uint64_t)p->pings * READINESS_PING_BYTES;
}

uint64_t
readiness_max_seconds(const struct readiness_profile *p, bool udp)
{
	uint64_t s = 0;

	if (p->path)
		s += READINESS_PATH_MAX_S;
	if (p->pings > 0)
		s += ((uint64_t)p->pings * p->ping_interval + 999) / 1000 +
		    READINESS_PING_LOST_S;
	if (udp && p->udp)
		s += (p->udp_duration + 999) / 1000 + READINESS_UDP_WAIT_S;
	if (p->down > 0)
		s += READINESS_FLOW_MAX_S;
	if (p->up > 0)
		s += READINESS_FLOW_MAX_S;
	return s;
}

int
readiness_profile_check(const struct readiness_profile *p, struct err *e)
{
	uint64_t packets = readiness_udp_packets(p), plan;

	if (p->udp && packets > READINESS_UDP_PACKETS_MAX)
		return err_set(e, -EINVAL, "udp_rate x udp_duration is %llu "
		    "packets; at most %u", (unsigned long long)packets,
		    READINESS_UDP_PACKETS_MAX);
	plan = readiness_plan_bytes(p);
	if (plan > p->budget)
		return err_set(e, -EINVAL, "the test would move about %llu "
		    "bytes on the wire (docs/readiness.md, \"The budget\"), "
		    "over its budget of %llu: raise budget or lower down, up "
		    "or the UDP train", (unsigned long long)plan,
		    (unsigned long long)p->budget);
	return 0;
}

static json_t *
pair(const struct conf_thresh *t)
{
	return json_pack("[f, f]", t->warn, t->fail);
}

json_t *
readiness_profile_json(const struct readiness_profile *p)
{
	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, "
	    "s:I, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}}",
	    "name", p->name, "path", p->path,
	    "pings", (json_int_t)p->pings,
	    "ping_interval_ms", (json_int_t)p->ping_interval,
	    "down", (json_int_t)p->down, "up", (json_int_t)p->up,
	    "udp", p->udp, "udp_rate", (json_int_t)p->udp_rate,
	    "udp_duration_ms", (json_int_t)p->udp_duration,
	    "udp_size", (json_int_t)p->udp_size,
	    "budget", (json_int_t)p->budget,
	    "thresholds",
	    "delay_ms", pair(&p->delay), "jitter_ms", pair(&p->jitter),
	    "loss_pct", pair(&p->loss), "down_mbps", pair(&p->down_rate),
	    "up_mbps", pair(&p->up_rate), "mos", pair(&p->mos),
	    "dns_ms", pair(&p->dns), "connect_ms", pair(&p->connect),
	    "handshake_ms", pair(&p->handshake));
}

static int
int_field(json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *out,
    struct err *e)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return err_set(e, -EINVAL, "profile: \"%s\" is not an integer "
		    "from %lld to %lld", k, (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

static int
bool_field(json_t *o, const char *k, bool *out, struct err *e)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_boolean(v))
		return err_set(e, -EINVAL, "profile: \"%s\" is not a boolean",
		    k);
	*out = json_is_true(v);
	return 0;
}

static int
thresh_field(json_t *th, const char *k, bool lower_worse,
    struct conf_thresh *t, struct err *e)
{
	json_t *v = json_object_get(th, k);
	double w, f;

	if (!json_is_array(v) || json_array_size(v) != 2 ||
	    !json_is_number(json_array_get(v, 0)) ||
	    !json_is_number(json_array_get(v, 1)))
		return err_set(e, -EINVAL, "profile: threshold \"%s\" is not "
		    "[warn, fail]", k);
	w = json_number_value(json_array_get(v, 0));
	f = json_number_value(json_array_get(v, 1));
	if (!(w >= 0 && f >= 0 && w <= 1e12 && f <= 1e12) ||
	    (lower_worse ? w < f : w > f))
		return err_set(e, -EINVAL, "profile: threshold \"%s\" is out "
		    "of order or range", k);
	t->warn = w;
	t->fail = f;
	return 0;
}

int
readiness_profile_from_json(json_t *o, struct readiness_profile *p,
    struct err *e)
{
	json_t *name = json_object_get(o, "name"), *th;
	int64_t v[9];

	memset(p, 0, sizeof(*p));
	if (!json_is_object(o))
		return err_set(e, -EINVAL, "profile: not an object");
	if (!json_is_string(name) || !name_valid(json_string_value(name)))
		return err_set(e, -EINVAL, "profile: \"name\" is not a name");
	snprintf(p->name, sizeof(p->name), "%s", json_string_value(name));
	th = json_object_get(o, "thresholds");
	if (bool_field(o, "path", &p->path, e) != 0 ||
	    bool_field(o, "udp", &p->udp, e) != 0 ||
	    int_field(o, "pings", 0, READINESS_PINGS_MAX, &v[0], e) != 0 ||
	    int_field(o, "ping_interval_ms", READINESS_PING_INTERVAL_MIN_MS,
	    READINESS_PING_INTERVAL_MAX_MS, &v[1], e) != 0 ||
	    int_field(o, "down", 0, READINESS_BYTES_MAX, &v[2], e) != 0 ||
	    int_field(o, "up", 0, READINESS_BYTES_MAX, &v[3], e) != 0 ||
	    int_field(o, "udp_rate", 1, READINESS_UDP_RATE_MAX, &v[4], e) != 0 ||
	    int_field(o, "udp_duration_ms", READINESS_UDP_DURATION_MIN_MS,
	    READINESS_UDP_DURATION_MAX_MS, &v[5], e) != 0 ||
	    int_field(o, "udp_size", 64, 1200, &v[6], e) != 0 ||
	    int_field(o, "budget", READINESS_BUDGET_MIN, READINESS_BYTES_MAX,
	    &v[7], e) != 0)
		return -EINVAL;
	p->pings = v[0];
	p->ping_interval = (uint64_t)v[1];
	p->down = (uint64_t)v[2];
	p->up = (uint64_t)v[3];
	p->udp_rate = v[4];
	p->udp_duration = (uint64_t)v[5];
	p->udp_size = v[6];
	p->budget = (uint64_t)v[7];
	if (!json_is_object(th))
		return err_set(e, -EINVAL, "profile: \"thresholds\" is not an "
		    "object");
	if (thresh_field(th, "delay_ms", false, &p->delay, e) != 0 ||
	    thresh_field(th, "jitter_ms", false, &p->jitter, e) != 0 ||
	    thresh_field(th, "loss_pct", false, &p->loss, e) != 0 ||
	    thresh_field(th, "down_mbps", true, &p->down_rate, e) != 0 ||
	    thresh_field(th, "up_mbps", true, &p->up_rate, e) != 0 ||
	    thresh_field(th, "mos", true, &p->mos, e) != 0 ||
	    thresh_field(th, "dns_ms", false, &p->dns, e) != 0 ||
	    thresh_field(th, "connect_ms", false, &p->connect, e) != 0 ||
	    thresh_field(th, "handshake_ms", false, &p->handshake, e) != 0)
		return -EINVAL;
	return readiness_profile_check(p, e);
}
