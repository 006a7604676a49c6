/* The edge's readiness test, the parts with no socket: the arithmetic
 * (verdicts, order statistics, RFC 3550 jitter, the UDP train's loss
 * each way, goodput, the E-model) against values worked out by hand, the
 * probes' bytes and MAC against a vector from another HMAC
 * implementation (Python's hmac), and the instruction's params. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "edge/readiness/calc.h"
#include "edge/readiness/params.h"
#include "edge/readiness/probe.h"

#define assert_near(a, b) assert_true((a) - (b) < 1e-9 && (b) - (a) < 1e-9)

static void
test_verdicts(void **state)
{
	const struct conf_thresh delay = { 150, 400 }, rate = { 10, 2 };

	(void)state;
	/* higher is worse; a value at a threshold passes it */
	assert_int_equal(rcalc_above(0, &delay), RV_PASS);
	assert_int_equal(rcalc_above(150, &delay), RV_PASS);
	assert_int_equal(rcalc_above(150.1, &delay), RV_WARN);
	assert_int_equal(rcalc_above(400, &delay), RV_WARN);
	assert_int_equal(rcalc_above(400.5, &delay), RV_FAIL);
	/* lower is worse */
	assert_int_equal(rcalc_below(97, &rate), RV_PASS);
	assert_int_equal(rcalc_below(10, &rate), RV_PASS);
	assert_int_equal(rcalc_below(9.9, &rate), RV_WARN);
	assert_int_equal(rcalc_below(2, &rate), RV_WARN);
	assert_int_equal(rcalc_below(1.9, &rate), RV_FAIL);
	/* the test's: the worst; skipped counts for nothing */
	assert_int_equal(rverdict_worst(RV_SKIPPED, RV_PASS), RV_PASS);
	assert_int_equal(rverdict_worst(RV_WARN, RV_PASS), RV_WARN);
	assert_int_equal(rverdict_worst(RV_WARN, RV_FAIL), RV_FAIL);
	assert_string_equal(rverdict_name(RV_SKIPPED), "skipped");
	assert_string_equal(rverdict_name(RV_PASS), "pass");
	assert_string_equal(rverdict_name(RV_WARN), "warn");
	assert_string_equal(rverdict_name(RV_FAIL), "fail");
}

static void
test_stats(void **state)
{
	double odd[] = { 5, 1, 4, 2, 3 }, even[] = { 4, 1, 3, 2 };
	double one[] = { 7 }, twenty[20];
	struct rstats st;
	int i;

	(void)state;
	rcalc_stats(odd, 5, &st);
	/* sorted 1 2 3 4 5: the middle; p95 at rank ceil(4.75) = 5 */
	assert_near(st.min, 1);
	assert_near(st.median, 3);
	assert_near(st.p95, 5);
	assert_near(st.max, 5);
	rcalc_stats(even, 4, &st);
	/* 1 2 3 4: the mean of 2 and 3; rank ceil(3.8) = 4 */
	assert_near(st.median, 2.5);
	assert_near(st.p95, 4);
	rcalc_stats(one, 1, &st);
	assert_near(st.median, 7);
	assert_near(st.p95, 7);
	for (i = 0; i < 20; i++)
		twenty[i] = 20 - i;
	rcalc_stats(twenty, 20, &st);
	/* 1..20: (10 + 11) / 2; rank ceil(19) = 19, not 20 */
	assert_near(st.median, 10.5);
	assert_near(st.p95, 19);
	assert_near(st.max, 20);
}

static void
test_jitter(void **state)
{
	const double t[] = { 10, 12, 11, 15 }, flat[] = { 3, 3, 3 };

	(void)state;
	/* D = 2, 1, 4: J = 2/16 = 0.125; 0.125 + (1 - 0.125)/16 =
	 * 0.1796875; 0.1796875 + (4 - 0.1796875)/16 = 0.41845703125 */
	assert_near(rcalc_jitter(t, 4), 0.41845703125);
	assert_near(rcalc_jitter(t, 2), 0.125);
	assert_near(rcalc_jitter(t, 1), 0);
	assert_near(rcalc_jitter(flat, 3), 0);
	/* a constant clock offset cancels: transit + 1000 */
	{
		const double shifted[] = { 1010, 1012, 1011, 1015 };

		assert_near(rcalc_jitter(shifted, 4), 0.41845703125);
	}
}

static void
test_udp_loss(void **state)
{
	struct rudp_loss l;

	(void)state;
	/* Every 10th of 200 lost on the way up: seq 198 was the last the
	 * cloud answered, its count 180 of the 199 sent up to it. */
	rcalc_udp_loss(200, 180, 198, 180, 180, &l);
	assert_near(l.all, 10);
	assert_near(l.up, 100.0 * 19 / 199);
	assert_near(l.down, 0);
	/* Every 10th echo lost on the way down: the cloud took all 100. */
	rcalc_udp_loss(100, 90, 99, 100, 90, &l);
	assert_near(l.all, 10);
	assert_near(l.up, 0);
	assert_near(l.down, 10);
	/* Nothing came back: which way is not known. */
	rcalc_udp_loss(500, 0, 0, 0, 0, &l);
	assert_near(l.all, 100);
	assert_near(l.up, 100);
	assert_near(l.down, 100);
	/* A cloud that took seq 5 before seq 4 counts 6 at seq 4: no
	 * negative loss. */
	rcalc_udp_loss(6, 6, 4, 6, 5, &l);
	assert_near(l.up, 0);
}

static void
test_mbps_and_round(void **state)
{
	(void)state;
	/* 10^6 bytes in 0.5 s: 8 x 10^6 bits / 0.5 s = 16 Mbit/s */
	assert_near(rcalc_mbps(1000000, 0.5), 16);
	assert_near(rcalc_mbps(1000, 0), 0);
	assert_near(rcalc_round(10.2004, 3), 10.2);
	assert_near(rcalc_round(0.0005, 3), 0.001);
	assert_near(rcalc_round(-1.25, 1), -1.3);
	assert_near(rcalc_round(1765000000.1234, 3), 1765000000.123);
}

static void
test_voice(void **state)
{
	struct rvoice v;

	(void)state;
	/* docs/readiness.md's example: rtt 10.5 ms, jitter 1.1 ms, loss
	 * 1.4 %. Ta = 5.25 + 2.2 + 20 = 27.45; Id = 0.024 x 27.45 =
	 * 0.6588; Ie_eff = 95 x 1.4 / 26.5 = 5.0188679245; R = 93.2 -
	 * 0.6588 - 5.0188679245 = 87.5223320755; MOS = 1 + 0.035 R +
	 * 7e-6 R (R - 60)(100 - R) = 4.2736767003 */
	rcalc_voice(10.5, 1.1, 1.4, &v);
	assert_near(v.ta, 27.45);
	assert_near(v.id, 0.6588);
	assert_true(v.ie_eff > 5.01886792 && v.ie_eff < 5.01886793);
	assert_true(v.r > 87.5223320 && v.r < 87.5223321);
	assert_true(v.mos > 4.2736767 && v.mos < 4.2736768);
	/* Past G.107's knee: Ta = 200 + 20 + 20 = 240; Id = 5.76 + 0.11 x
	 * 62.7 = 12.657; R = 80.543; MOS = 4.0443591638 */
	rcalc_voice(400, 10, 0, &v);
	assert_near(v.ta, 240);
	assert_near(v.id, 12.657);
	assert_near(v.r, 80.543);
	assert_true(v.mos > 4.0443591 && v.mos < 4.0443592);
	/* R below 0: MOS 1 */
	rcalc_voice(2000, 0, 0, &v);
	assert_true(v.r < 0);
	assert_near(v.mos, 1);
	/* 3 % loss: Ie_eff = 285 / 28.1 = 10.1423487544 */
	rcalc_voice(20, 0, 3, &v);
	assert_true(v.ie_eff > 10.1423487 && v.ie_eff < 10.1423488);
	assert_true(v.mos > 4.1092136 && v.mos < 4.1092137);
}

/* A key of 0x00..0x1f, test 0x10..0x1f, seq 7, clock 0x0102030405060708:
 * Python's hmac.new(key, header, sha256).digest()[:16]. */
static const uint8_t mac_vector[16] = {
	0x58, 0xf4, 0x50, 0xcf, 0x2c, 0x15, 0xa3, 0x24,
	0x6a, 0x6d, 0x46, 0x1a, 0x7c, 0x59, 0xc6, 0x81,
};

static void
fill(uint8_t *key, uint8_t *test)
{
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 16; i++)
		test[i] = (uint8_t)(0x10 + i);
}

static void
test_probe_bytes(void **state)
{
	uint8_t key[32], test[16], buf[172];
	static const uint8_t zeros[172];

	(void)state;
	fill(key, test);
	rprobe_build(buf, 64, test, 7, 0x0102030405060708ull, key);
	assert_memory_equal(buf, "ISRT\x01\x01\x00\x40", 8);
	assert_memory_equal(buf + 8, test, 16);
	assert_memory_equal(buf + 24, "\0\0\0\x07" "\0\0\0\0", 8);
	assert_memory_equal(buf + 32, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_memory_equal(buf + 40, zeros, 8);
	assert_memory_equal(buf + 48, mac_vector, 16);
	/* Longer: the length field says so, zeros after the MAC. */
	rprobe_build(buf, 172, test, 7, 1, key);
	assert_int_equal(buf[6] << 8 | buf[7], 172);
	assert_memory_equal(buf + 64, zeros, 172 - 64);
}

/* An echo as the cloud makes it: type 2, its count and clock, a MAC
 * made afresh (here with OpenSSL's HMAC directly). */
static void
make_echo(uint8_t *buf, size_t len, const uint8_t *key, uint32_t count,
    uint64_t cloud)
{
	unsigned int n = 0;
	uint8_t md[32];
	int i;

	buf[5] = 2;
	for (i = 0; i < 4; i++)
		buf[28 + i] = (uint8_t)(count >> (24 - 8 * i));
	for (i = 0; i < 8; i++)
		buf[40 + i] = (uint8_t)(cloud >> (56 - 8 * i));
	HMAC(EVP_sha256(), key, 32, buf, 48, md, &n);
	memcpy(buf + 48, md, 16);
	(void)len;
}

static void
test_echo_parse(void **state)
{
	uint8_t key[32], test[16], buf[100], other[16];
	struct rprobe_echo ec;

	(void)state;
	fill(key, test);
	rprobe_build(buf, 100, test, 41, 123456789, key);
	/* A probe is not an echo. */
	assert_int_equal(rprobe_echo_parse(buf, 100, 100, test, key, &ec),
	    -EBADMSG);
	make_echo(buf, 100, key, 40, 987654321);
	assert_int_equal(rprobe_echo_parse(buf, 100, 100, test, key, &ec), 0);
	assert_int_equal(ec.seq, 41);
	assert_int_equal(ec.count, 40);
	assert_int_equal(ec.sent_us, 123456789);
	assert_int_equal(ec.cloud_us, 987654321);
	/* Not the size sent, another test, a wrong MAC, another key. */
	assert_int_equal(rprobe_echo_parse(buf, 99, 100, test, key, &ec),
	    -EBADMSG);
	memcpy(other, test, 16);
	other[15] ^= 1;
	assert_int_equal(rprobe_echo_parse(buf, 100, 100, other, key, &ec),
	    -EBADMSG);
	buf[60] ^= 0x80;
	assert_int_equal(rprobe_echo_parse(buf, 100, 100, test, key, &ec),
	    -EBADMSG);
	buf[60] ^= 0x80;
	key[0] ^= 1;
	assert_int_equal(rprobe_echo_parse(buf, 100, 100, test, key, &ec),
	    -EBADMSG);
	key[0] ^= 1;
	/* A seq changed after the MAC was made. */
	buf[27] ^= 1;
	assert_int_equal(rprobe_echo_parse(buf, 100, 100, test, key, &ec),
	    -EBADMSG);
}

static json_t *
params(const char *udp)
{
	char text[2048];
	json_error_t je;
	json_t *o;

	snprintf(text, sizeof(text), "{\"profile\": {\"name\": \"voice\", "
	    "\"path\": true, \"pings\": 50, \"ping_interval_ms\": 100, "
	    "\"down\": 4000000, \"up\": 2000000, \"udp\": true, "
	    "\"udp_rate\": 50, \"udp_duration_ms\": 10000, \"udp_size\": 172, "
	    "\"budget\": 10000000, \"thresholds\": {\"delay_ms\": [150, 400], "
	    "\"jitter_ms\": [30, 50], \"loss_pct\": [1, 3], \"down_mbps\": "
	    "[10, 2], \"up_mbps\": [5, 1], \"mos\": [4.0, 3.6], \"dns_ms\": "
	    "[200, 1000], \"connect_ms\": [200, 1000], \"handshake_ms\": "
	    "[500, 2000]}}%s%s}", udp != NULL ? ", \"udp\": " : "",
	    udp != NULL ? udp : "");
	o = json_loads(text, 0, &je);
	assert_non_null(o);
	return o;
}

static const char key_hex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void
test_params(void **state)
{
	struct rtest_params p;
	char udp[300];
	struct err e;
	json_t *o;

	(void)state;
	/* docs/protocol.md's example */
	snprintf(udp, sizeof(udp), "{\"host\": \"203.0.113.5\", \"port\": "
	    "7444, \"key\": \"%s\"}", key_hex);
	o = params(udp);
	assert_int_equal(rtest_params_parse(o, &p, &e), 0);
	assert_string_equal(p.p.name, "voice");
	assert_int_equal(p.p.pings, 50);
	assert_int_equal(p.p.ping_interval, 100);
	assert_int_equal(p.p.down, 4000000);
	assert_int_equal(p.p.udp_size, 172);
	assert_true(p.udp);
	assert_string_equal(p.udp_host, "203.0.113.5");
	assert_int_equal(p.udp_port, 7444);
	assert_int_equal(p.udp_key[0], 0);
	assert_int_equal(p.udp_key[31], 0x1f);
	assert_near(p.p.mos.warn, 4.0);
	rtest_params_clear(&p);
	json_decref(o);
	/* no host: the cloud's; no udp: no train */
	snprintf(udp, sizeof(udp), "{\"port\": 7444, \"key\": \"%s\"}",
	    key_hex);
	o = params(udp);
	assert_int_equal(rtest_params_parse(o, &p, &e), 0);
	assert_string_equal(p.udp_host, "");
	json_decref(o);
	o = params(NULL);
	assert_int_equal(rtest_params_parse(o, &p, &e), 0);
	assert_false(p.udp);
	json_decref(o);
}

static void
test_params_bad(void **state)
{
	static const char *const bad_udp[] = {
		"[]",
		"{\"port\": 0, \"key\": \"KEY\"}",
		"{\"port\": 65536, \"key\": \"KEY\"}",
		"{\"port\": \"7444\", \"key\": \"KEY\"}",
		"{\"port\": 7444}",
		"{\"port\": 7444, \"key\": \"00ff\"}",
		"{\"port\": 7444, \"key\": \"KEY0\"}",
		"{\"port\": 7444, \"key\": \"KEY\", \"host\": 5}",
		"{\"port\": 7444, \"key\": \"KEY\", \"host\": \"\"}",
	};
	struct rtest_params p;
	char udp[400], *k;
	json_error_t je;
	struct err e;
	json_t *o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_udp) / sizeof(bad_udp[0]); i++) {
		snprintf(udp, sizeof(udp), "%s", bad_udp[i]);
		if ((k = strstr(udp, "KEY")) != NULL) {
			char rest[100];

			snprintf(rest, sizeof(rest), "%s", k + 3);
			snprintf(k, sizeof(udp) - (size_t)(k - udp), "%s%s",
			    key_hex, rest);
		}
		o = params(udp);
		e.msg[0] = '\0';
		if (rtest_params_parse(o, &p, &e) != -EINVAL)
			fail_msg("accepted udp %s", udp);
		assert_non_null(strstr(e.msg, "udp"));
		json_decref(o);
	}
	/* no params, no profile, a profile out of its bounds */
	assert_int_equal(rtest_params_parse(NULL, &p, &e), -EINVAL);
	o = json_loads("{}", 0, &je);
	assert_int_equal(rtest_params_parse(o, &p, &e), -EINVAL);
	json_decref(o);
	o = params(NULL);
	json_object_set_new(json_object_get(o, "profile"), "pings",
	    json_integer(1001));
	assert_int_equal(rtest_params_parse(o, &p, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "pings"));
	json_decref(o);
	/* a plan over its budget */
	o = params(NULL);
	json_object_set_new(json_object_get(o, "profile"), "budget",
	    json_integer(1 << 20));
	assert_int_equal(rtest_params_parse(o, &p, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "budget"));
	json_decref(o);
}

static void
test_test_id(void **state)
{
	uint8_t id[16], want[16] = { 0 };

	(void)state;
	want[14] = 0x5f;
	want[15] = 0x0c;
	assert_int_equal(rtest_test_id("5f0c", id), 0);
	assert_memory_equal(id, want, 16);
	assert_int_equal(rtest_test_id("00112233445566778899aabbccddeeff",
	    id), 0);
	assert_int_equal(id[0], 0x00);
	assert_int_equal(id[9], 0x99);
	assert_int_equal(id[15], 0xff);
	assert_int_equal(rtest_test_id("", id), -EINVAL);
	assert_int_equal(rtest_test_id("5F0C", id), -EINVAL);
	assert_int_equal(rtest_test_id("00112233445566778899aabbccddeeff0",
	    id), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_udp_loss),
		cmocka_unit_test(test_mbps_and_round),
		cmocka_unit_test(test_voice),
		cmocka_unit_test(test_probe_bytes),
		cmocka_unit_test(test_echo_parse),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_params_bad),
		cmocka_unit_test(test_test_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
