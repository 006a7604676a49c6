/*
 * The commands of docs/queue.md ("Operating it") on the queue file,
 * shared by the running edge's thread and `isthmus queue` with no edge:
 * the arguments checked, the store asked or changed, the answer as the
 * JSON of queue.h. Printing it for a person is the caller's business
 * (src/queuetext.c), and so is logging a change (it knows who).
 */
#include "edge/queue/qstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/confparse.h"
#include "common/timefmt.h"
#include "edge/queue/queue.h"

/* Fields whose values a listing never shows: credentials. */
static const char *const hidden_fields[] = { "authorization", "cookie",
	"proxy-authorization" };

static int
nomem(struct err *e)
{
	return err_set(e, -ENOMEM, "out of memory");
}

/* Text from a device (a field, a target) as a JSON string: what is not
 * UTF-8 shows as '?'. */
static json_t *
text_json(const char *s)
{
	size_t len = strlen(s);
	json_t *j;
	char *clean;

	if ((j = json_stringn(s, len)) != NULL)
		return j;
	if ((clean = malloc(len * 3 + 1)) == NULL)
		return NULL;
	qtext_clean(s, len, clean, len * 3 + 1);
	j = json_string(clean);
	free(clean);
	return j;
}

static json_t *
time_json(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	    .tv_nsec = (ms % 1000) * 1000000 };
	char buf[TIME_TEXT_MAX];

	time_format_ms(&ts, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
entry_json(const struct qrecord *r)
{
	const char *reason = r->state == QS_DEAD ? qreason_name(r->reason) :
	    NULL;

	/* json_pack fails (NULL) when any value does (out of memory). */
	return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:I, "
	    "s:o, s:I, s:o, s:o, s:o, s:o}",
	    "id", (json_int_t)r->id,
	    "state", qstate_name(r->state),
	    "listener", text_json(r->listener),
	    "service", text_json(r->service),
	    "device", text_json(r->device),
	    "mac", r->mac[0] != '\0' ? text_json(r->mac) : json_null(),
	    "method", r->method,
	    "target", text_json(r->target),
	    "bytes", (json_int_t)r->bytes,
	    "accepted", time_json(r->accepted_ms),
	    "attempts", (json_int_t)r->attempts,
	    "last_status", r->last_status > 0 ?
	    json_integer(r->last_status) : json_null(),
	    "last_error", r->last_error != NULL ? text_json(r->last_error) :
	    json_null(),
	    "reason", reason != NULL ? json_string(reason) : json_null(),
	    "dead_at", r->state == QS_DEAD && r->dead_ms != 0 ?
	    time_json(r->dead_ms) : json_null());
}

static bool
hidden(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(hidden_fields) / sizeof(*hidden_fields); i++)
		if (strcmp(name, hidden_fields[i]) == 0)
			return true;
	return false;
}

static json_t *
fields_json(const struct qrecord *r)
{
	json_t *v = json_array(), *pair;
	const char *name, *value;
	size_t pos = 0;

	while (v != NULL && qrecord_next_field(r, &pos, &name, &value)) {
		pair = json_pack("[o, o]", text_json(name), hidden(name) ?
		    json_string("(hidden)") : text_json(value));
		if (pair == NULL || json_array_append_new(v, pair) != 0) {
			json_decref(v);
			return NULL;
		}
	}
	return v;
}

/* The body when it is text: UTF-8 without NUL. */
static json_t *
body_json(const struct qrecord *r)
{
	json_t *j = NULL;

	if (r->body_len == 0 || memchr(r->body, '\0', r->body_len) == NULL)
		j = json_stringn((const char *)r->body, r->body_len);
	return j != NULL ? j : json_null();
}

/* A record id as given: a positive decimal number. */
static int
parse_id(const char *s, int64_t *id, struct err *e)
{
	if (conf_parse_int(s, 1, INT64_MAX, id, NULL) != 0)
		return err_set(e, -EINVAL, "not a request id: \"%.40s\" (ids "
		    "are the numbers `queue list` shows)", s);
	return 0;
}

static int
cmd_list(struct qstore *s, bool dead, json_t **result, struct err *e)
{
	struct qrecord **v = NULL;
	int64_t total = 0;
	json_t *arr, *ent;
	size_t n = 0, i;
	int rc;

	if (s != NULL && (rc = qstore_list(s, dead ? QS_DEAD : QS_WAITING,
	    SFQ_LIST_MAX, &v, &n, &total, e)) != 0)
		return rc;
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++)
		if ((ent = entry_json(v[i])) == NULL ||
		    json_array_append_new(arr, ent) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	qrecords_free(v, n);
	if (arr == NULL)
		return nomem(e);
	*result = json_pack("{s:s, s:s, s:s, s:I, s:b, s:o}", "kind",
	    "queue", "command", "list", "state", dead ? "dead" : "waiting",
	    "total", (json_int_t)total, "truncated", (int64_t)n < total,
	    "entries", arr);
	return *result != NULL ? 0 : nomem(e);
}

static int
cmd_show(struct qstore *s, int64_t id, json_t **result, struct err *e)
{
	struct qrecord *r = NULL;
	json_t *ent;
	int rc;

	if (s == NULL)
		return err_set(e, -ENOENT, "there is no request %lld in the "
		    "queue", (long long)id);
	if ((rc = qstore_get(s, id, &r, e)) != 0)
		return rc;
	ent = entry_json(r);
	if (ent == NULL || json_object_set_new(ent, "key",
	    text_json(r->key)) != 0 || json_object_set_new(ent, "fields",
	    fields_json(r)) != 0 || json_object_set_new(ent, "body",
	    body_json(r)) != 0) {
		json_decref(ent);
		qrecord_free(r);
		return nomem(e);
	}
	qrecord_free(r);
	*result = json_pack("{s:s, s:s, s:o}", "kind", "queue", "command",
	    "show", "entry", ent);
	return *result != NULL ? 0 : nomem(e);
}

static int
cmd_change(struct qstore *s, const char *cmd, int64_t id,
    json_t **result, struct err *e)
{
	bool retry = strcmp(cmd, "retry") == 0;
	int64_t *ids = NULL;
	size_t n = 0, i;
	json_t *arr;
	int rc;

	if (s == NULL && id > 0)
		return err_set(e, -ENOENT, "there is no request %lld in the "
		    "queue", (long long)id);
	if (s != NULL && (rc = retry ? qstore_retry(s, id, &ids, &n, e) :
	    qstore_drop(s, id, &ids, &n, e)) != 0)
		return rc;
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, json_integer(ids[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(ids);
	if (arr == NULL)
		return nomem(e);
	*result = json_pack("{s:s, s:s, s:o, s:I}", "kind", "queue",
	    "command", cmd, "ids", arr, "count", (json_int_t)n);
	return *result != NULL ? 0 : nomem(e);
}

bool
qcmd_writes(const char *const *args, size_t nargs)
{
	return nargs > 0 && (strcmp(args[0], "retry") == 0 ||
	    strcmp(args[0], "drop") == 0);
}

int
qcmd_run(struct qstore *s, const char *const *args, size_t nargs,
    json_t **result, struct err *e)
{
	const char *cmd = nargs > 0 ? args[0] : "";
	int64_t id = 0;
	int rc;

	*result = NULL;
	if (strcmp(cmd, "list") == 0) {
		if (nargs > 2 || (nargs == 2 && strcmp(args[1], "dead") != 0))
			return err_set(e, -EINVAL, "list takes nothing, or "
			    "dead");
		return cmd_list(s, nargs == 2, result, e);
	}
	if (strcmp(cmd, "show") == 0) {
		if (nargs != 2)
			return err_set(e, -EINVAL, "show takes a request id");
		if ((rc = parse_id(args[1], &id, e)) != 0)
			return rc;
		return cmd_show(s, id, result, e);
	}
	if (qcmd_writes(args, nargs)) {
		if (nargs != 2)
			return err_set(e, -EINVAL, "%s takes a request id, or "
			    "dead", cmd);
		if (strcmp(args[1], "dead") != 0 &&
		    (rc = parse_id(args[1], &id, e)) != 0)
			return rc;
		return cmd_change(s, cmd, id, result, e);
	}
	return err_set(e, -EINVAL, "unknown queue command \"%.40s\": list, "
	    "show, retry or drop", cmd);
}
