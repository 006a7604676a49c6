/*
 * The management messages as the cloud reads and writes them (manage-int.h;
 * docs/protocol.md section 5): the edge's hello and results checked field
 * by field against the contract's limits, instructions encoded. jansson
 * does the JSON; this file only says what a valid message is.
 */
#include "cloud/manage/manage-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/hex.h"

void
mmsg_clear(struct mmsg *m)
{
	free(m->result);
	m->result = NULL;
}

static int
bad(char *why, size_t cap, const char *what)
{
	snprintf(why, cap, "%s", what);
	return -EBADMSG;
}

/* A string field of at most max bytes (and no NUL), copied to buf;
 * absent is an error when required. */
static int
str_field(json_t *o, const char *key, bool required, char *buf, size_t max,
    char *why, size_t cap)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	buf[0] = '\0';
	if (v == NULL) {
		if (!required)
			return 0;
		snprintf(why, cap, "no %s", key);
		return -EBADMSG;
	}
	if (!json_is_string(v)) {
		snprintf(why, cap, "%s is not a string", key);
		return -EBADMSG;
	}
	n = json_string_length(v);
	if (n > max || memchr(json_string_value(v), '\0', n) != NULL) {
		snprintf(why, cap, "%s is over %zu bytes", key, max);
		return -EBADMSG;
	}
	memcpy(buf, json_string_value(v), n);
	buf[n] = '\0';
	return 0;
}

static bool
is_hex_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n > 0 && s[n] == '\0';
}

static int
parse_hello(json_t *o, struct mmsg *m, char *why, size_t cap)
{
	json_t *acc = json_object_get(o, "accepts"), *k;
	size_t i, used = 0;

	m->hello = true;
	if (str_field(o, "version", true, m->version,
	    sizeof(m->version) - 1, why, cap) != 0)
		return -EBADMSG;
	if (acc == NULL)
		return 0;
	if (!json_is_array(acc) || json_array_size(acc) > MK_COUNT * 2)
		return bad(why, cap, "accepts is not an array of kinds");
	json_array_foreach(acc, i, k) {
		const char *s = json_string_value(k);
		size_t n = s != NULL ? json_string_length(k) : 0;

		if (s == NULL || n == 0 || n > MANAGE_KIND_MAX ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz-") != n)
			return bad(why, cap, "accepts holds a bad kind");
		if (used + n + 2 > sizeof(m->accepts))
			return bad(why, cap, "accepts is too long");
		used += (size_t)snprintf(m->accepts + used,
		    sizeof(m->accepts) - used, "%s%s", used ? "," : "", s);
	}
	return 0;
}

/* r as the message's result text, within MANAGE_RESULT_MAX. */
static int
take_result(json_t *r, struct mmsg *m, char *why, size_t cap)
{
	m->result = json_dumps(r, MANAGE_JSON_FLAGS | JSON_ENCODE_ANY);
	if (m->result == NULL)
		return bad(why, cap, "result cannot be encoded");
	if (strlen(m->result) > MANAGE_RESULT_MAX) {
		mmsg_clear(m);
		return bad(why, cap, "result is over 192 KiB");
	}
	return 0;
}

static int
parse_result(json_t *o, struct mmsg *m, char *why, size_t cap)
{
	char outcome[16];
	json_t *r;
	int oc;

	if (str_field(o, "id", true, m->id, MANAGE_ID_MAX, why, cap) != 0 ||
	    str_field(o, "outcome", true, outcome, sizeof(outcome) - 1, why,
	    cap) != 0 ||
	    str_field(o, "error", false, m->error, MANAGE_ERROR_MAX, why,
	    cap) != 0)
		return -EBADMSG;
	if (!is_hex_id(m->id))
		return bad(why, cap, "id is not lowercase hex");
	oc = manage_outcome_parse(outcome);
	/* timeout is the cloud's verdict, never an edge's answer */
	if (oc < 0 || oc == MO_TIMEOUT)
		return bad(why, cap, "outcome is not one an edge gives");
	m->outcome = (enum manage_outcome)oc;
	r = json_object_get(o, "result");
	return r != NULL && !json_is_null(r) ? take_result(r, m, why, cap) :
	    0;
}

/* {"id", "result"}: a readiness result the edge kept (section 6). */
static int
parse_kept(json_t *o, struct mmsg *m, char *why, size_t cap)
{
	json_t *r = json_object_get(o, "result");

	m->kept = true;
	m->outcome = MO_OK;
	if (str_field(o, "id", true, m->id, MANAGE_ID_MAX, why, cap) != 0)
		return -EBADMSG;
	if (!is_hex_id(m->id))
		return bad(why, cap, "id is not lowercase hex");
	if (!json_is_object(r))
		return bad(why, cap, "a kept result is not an object");
	return take_result(r, m, why, cap);
}

int
mmsg_parse(const char *line, size_t len, struct mmsg *m, char *why,
    size_t cap)
{
	json_error_t jerr;
	const char *type;
	json_t *o, *v;
	int rc;

	memset(m, 0, sizeof(*m));
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		snprintf(why, cap, "not JSON: %s", jerr.text);
		return -EBADMSG;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		return bad(why, cap, "not a JSON object");
	}
	v = json_object_get(o, "v");
	type = json_string_value(json_object_get(o, "type"));
	if (!json_is_integer(v) || json_integer_value(v) != MANAGE_VERSION)
		rc = bad(why, cap, "v is not 1");
	else if (type == NULL)
		rc = bad(why, cap, "no type");
	else if (strcmp(type, MANAGE_T_HELLO) == 0)
		rc = parse_hello(o, m, why, cap);
	else if (strcmp(type, MANAGE_T_RESULT) == 0)
		rc = parse_result(o, m, why, cap);
	else if (strcmp(type, MANAGE_T_KEPT) == 0)
		rc = parse_kept(o, m, why, cap);
	else
		rc = bad(why, cap, "an unknown type");
	json_decref(o);
	if (rc != 0)
		mmsg_clear(m);
	return rc;
}

/* The params' encoded length, or SIZE_MAX when it cannot be encoded. */
static size_t
params_len(json_t *params)
{
	char *s = json_dumps(params, JSON_COMPACT);
	size_t n = s != NULL ? strlen(s) : SIZE_MAX;

	if (s != NULL) {
		/* a readiness test's key is in it */
		OPENSSL_cleanse(s, n);
		free(s);
	}
	return n;
}

char *
mmsg_instruction(const struct store_instruction *in, int64_t deadline,
    json_t *params, size_t *len)
{
	json_t *args;

	if (params != NULL && params_len(params) > MANAGE_PARAMS_MAX) {
		json_decref(params);
		return NULL;
	}
	args = in->args != NULL ? json_loads(in->args, 0, NULL) : NULL;
	if (args == NULL)
		args = json_array();
	return manage_json_line(json_pack("{s:i, s:s, s:s, s:s, s:o, s:s, "
	    "s:I, s:I, s:o*}", "v", MANAGE_VERSION, "type",
	    MANAGE_T_INSTRUCTION, "id", in->id, "kind", in->kind, "args",
	    args, "issuer", in->issuer, "issued", (json_int_t)in->issued,
	    "deadline", (json_int_t)deadline, "params", params), len);
}

json_t *
mmsg_record(const struct store_instruction *in)
{
	json_t *args, *result;

	args = in->args != NULL ? json_loads(in->args, 0, NULL) : NULL;
	result = in->result != NULL ? json_loads(in->result,
	    JSON_DECODE_ANY, NULL) : NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I, "
	    "s:I, s:s, s:o, s:s?}",
	    "id", in->id, "tenant", in->tenant, "edge", in->edge,
	    "kind", in->kind, "issuer", in->issuer,
	    "args", args != NULL ? args : json_array(),
	    "issued", (json_int_t)in->issued,
	    "expires", (json_int_t)in->expires,
	    "sent", (json_int_t)in->sent, "done", (json_int_t)in->done,
	    "state", in->state,
	    "result", result != NULL ? result : json_null(),
	    "error", in->error[0] ? in->error : NULL);
}

void
manage_new_id(char *buf)
{
	unsigned char r[MANAGE_ID_MAX / 2];

	if (RAND_bytes(r, sizeof(r)) != 1)	/* never, with OpenSSL 3 */
		memset(r, 0, sizeof(r));
	hex_encode(r, sizeof(r), buf);
}
