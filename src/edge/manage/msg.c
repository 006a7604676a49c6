/* The management channel's messages (msg.h): jansson reads the cloud's
 * and writes the edge's. */
#include "edge/manage/msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A string field of at most max bytes into buf; absent: def, or an
 * error when def is NULL. */
static int
take_string(json_t *o, const char *name, char *buf, size_t max,
    const char *def, struct err *e)
{
	json_t *v = json_object_get(o, name);
	size_t n;

	if (v == NULL) {
		if (def == NULL)
			return err_set(e, -EPROTO, "no \"%s\"", name);
		snprintf(buf, max + 1, "%s", def);
		return 0;
	}
	if (!json_is_string(v))
		return err_set(e, -EPROTO, "\"%s\" is not a string", name);
	n = json_string_length(v);
	if (n == 0 || n > max)
		return err_set(e, -EPROTO, "\"%s\" is %s (at most %zu bytes)",
		    name, n == 0 ? "empty" : "too long", max);
	memcpy(buf, json_string_value(v), n);
	buf[n] = '\0';
	return 0;
}

/* Unix seconds, or 0 when absent. */
static int
take_time(json_t *o, const char *name, int64_t *out, struct err *e)
{
	json_t *v = json_object_get(o, name);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_set(e, -EPROTO, "\"%s\" is not a time in Unix "
		    "seconds", name);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static bool
lower_hex(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static int
take_args(json_t *o, struct manage_instr *in, struct err *e)
{
	json_t *a = json_object_get(o, "args"), *v;
	size_t i;

	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return err_set(e, -EPROTO, "\"args\" is not an array");
	if (json_array_size(a) > MANAGE_ARGS_MAX)
		return err_set(e, -EPROTO, "\"args\" has %zu strings (at most "
		    "%d)", json_array_size(a), MANAGE_ARGS_MAX);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return err_set(e, -EPROTO, "\"args\" holds a value "
			    "that is not a string");
		if (json_string_length(v) > MANAGE_ARG_MAX)
			return err_set(e, -EPROTO, "an argument is too long "
			    "(at most %d bytes)", MANAGE_ARG_MAX);
		if ((in->args[i] = strdup(json_string_value(v))) == NULL)
			return -ENOMEM;
		in->nargs++;
	}
	return 0;
}

/* "params": an object of at most MANAGE_PARAMS_MAX bytes encoded. */
static int
take_params(json_t *o, struct manage_instr *in, struct err *e)
{
	json_t *p = json_object_get(o, "params");
	size_t n;

	if (p == NULL)
		return 0;
	if (!json_is_object(p))
		return err_set(e, -EPROTO, "\"params\" is not an object");
	n = json_dumpb(p, NULL, 0, JSON_COMPACT);
	if (n == 0 || n > MANAGE_PARAMS_MAX)
		return err_set(e, -EPROTO, "\"params\" is over %u bytes",
		    MANAGE_PARAMS_MAX);
	in->params = json_incref(p);
	return 0;
}

static int
parse_instruction(json_t *o, struct manage_instr *in, struct err *e)
{
	int rc;

	if ((rc = take_string(o, "id", in->id, MANAGE_ID_MAX, NULL, e)) != 0)
		return rc;
	if (!lower_hex(in->id))
		return err_set(e, -EPROTO, "\"id\" is not lowercase hex");
	if ((rc = take_string(o, "kind", in->kind, MANAGE_KIND_MAX, NULL,
	    e)) != 0 || (rc = take_string(o, "issuer", in->issuer,
	    MANAGE_ISSUER_MAX, "-", e)) != 0 ||
	    (rc = take_time(o, "issued", &in->issued, e)) != 0 ||
	    (rc = take_time(o, "deadline", &in->deadline, e)) != 0 ||
	    (rc = take_params(o, in, e)) != 0)
		return rc;
	return take_args(o, in, e);
}

/* {"readiness": {"profile", "every", "next"}} or {"readiness": null}. */
static int
parse_schedule(json_t *o, struct manage_schedule *s, struct err *e)
{
	json_t *r = json_object_get(o, "readiness"), *every, *next;
	int rc;

	memset(s, 0, sizeof(*s));
	if (json_is_null(r))
		return 0;
	if (!json_is_object(r))
		return err_set(e, -EPROTO, "\"readiness\" is not an object "
		    "or null");
	if ((rc = take_string(r, "profile", s->profile, NAME_MAX_LEN, NULL,
	    e)) != 0)
		return rc;
	every = json_object_get(r, "every");
	next = json_object_get(r, "next");
	if (!json_is_integer(every) || json_integer_value(every) <= 0)
		return err_set(e, -EPROTO, "\"every\" is not a number of "
		    "seconds");
	if (!json_is_integer(next) || json_integer_value(next) < 0)
		return err_set(e, -EPROTO, "\"next\" is not a time in Unix "
		    "seconds");
	s->every = (int64_t)json_integer_value(every);
	s->next = (int64_t)json_integer_value(next);
	s->set = true;
	return 0;
}

static int
parse_object(json_t *o, struct manage_msg *m, struct err *e)
{
	json_t *v = json_object_get(o, "v"), *t = json_object_get(o, "type");

	if (!json_is_integer(v) || json_integer_value(v) != MANAGE_VERSION)
		return err_set(e, -EPROTO, "\"v\" is not %d", MANAGE_VERSION);
	if (!json_is_string(t))
		return err_set(e, -EPROTO, "no \"type\"");
	if (strcmp(json_string_value(t), MANAGE_T_INSTRUCTION) == 0) {
		m->type = MM_INSTRUCTION;
		return parse_instruction(o, &m->in, e);
	}
	if (strcmp(json_string_value(t), MANAGE_T_SCHEDULE) == 0) {
		m->type = MM_SCHEDULE;
		return parse_schedule(o, &m->sched, e);
	}
	return err_set(e, -EPROTO, "type '%.32s' is not one the cloud sends",
	    json_string_value(t));
}

int
manage_msg_parse(const char *line, size_t len, struct manage_msg *out,
    struct err *e)
{
	json_error_t je;
	json_t *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len >= MANAGE_MSG_MAX)
		return err_set(e, -EPROTO, "longer than %u bytes",
		    MANAGE_MSG_MAX);
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL)
		return err_set(e, -EPROTO, "not JSON: %s", je.text);
	if (!json_is_object(o))
		rc = err_set(e, -EPROTO, "not a JSON object");
	else
		rc = parse_object(o, out, e);
	json_decref(o);
	if (rc == -ENOMEM)
		err_set(e, rc, "out of memory");
	if (rc != 0)
		manage_instr_clear(&out->in);
	return rc;
}

void
manage_instr_clear(struct manage_instr *in)
{
	size_t i;

	for (i = 0; i < in->nargs; i++)
		free(in->args[i]);
	in->nargs = 0;
	json_decref(in->params);
	in->params = NULL;
}

char *
manage_msg_hello(const char *version, manage_policy p, size_t *len)
{
	json_t *o = json_object(), *a = json_array();
	int k;

	if (o == NULL || a == NULL) {
		json_decref(o);
		json_decref(a);
		return NULL;
	}
	for (k = 0; k < MK_UNKNOWN; k++)
		if (manage_policy_accepts(p, (enum manage_kind)k))
			json_array_append_new(a, json_string(
			    manage_kind_name((enum manage_kind)k)));
	json_object_set_new(o, "v", json_integer(MANAGE_VERSION));
	json_object_set_new(o, "type", json_string(MANAGE_T_HELLO));
	json_object_set_new(o, "version", json_string(version));
	json_object_set_new(o, "accepts", a);
	return manage_json_line(o, len);
}

/* s cut to at most max bytes, not inside a UTF-8 sequence. */
static json_t *
cut_string(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return json_stringn(s, n);
}

char *
manage_msg_result(const char *id, enum manage_outcome o, json_t *result,
    const char *error, enum manage_outcome *final, size_t *len)
{
	json_t *m = json_object();
	char big[128];
	size_t n;

	if (result != NULL && (n = json_dumpb(result, NULL, 0,
	    JSON_COMPACT | JSON_ENCODE_ANY)) > MANAGE_RESULT_MAX) {
		snprintf(big, sizeof(big), "result too large (%zu bytes, at "
		    "most %u)", n, MANAGE_RESULT_MAX);
		json_decref(result);
		result = NULL;
		o = MO_ERROR;
		error = big;
	}
	*final = o;
	if (m == NULL) {
		json_decref(result);
		return NULL;
	}
	json_object_set_new(m, "v", json_integer(MANAGE_VERSION));
	json_object_set_new(m, "type", json_string(MANAGE_T_RESULT));
	json_object_set_new(m, "id", json_string(id));
	json_object_set_new(m, "outcome", json_string(manage_outcome_name(o)));
	if (result != NULL)
		json_object_set_new(m, "result", result);
	if (error != NULL)
		json_object_set_new(m, "error", cut_string(error,
		    MANAGE_ERROR_MAX - 1));
	return manage_json_line(m, len);
}

char *
manage_msg_kept(const char *id, json_t *result, size_t *len)
{
	json_t *m;

	if (result == NULL || json_dumpb(result, NULL, 0, JSON_COMPACT |
	    JSON_ENCODE_ANY) > MANAGE_RESULT_MAX) {
		json_decref(result);
		return NULL;
	}
	m = json_pack("{s:i, s:s, s:s, s:o}", "v", MANAGE_VERSION, "type",
	    MANAGE_T_KEPT, "id", id, "result", result);
	return manage_json_line(m, len);
}
