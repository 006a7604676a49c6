/*
 * queue list [dead] | show ID | retry ID|dead | drop ID|dead: the edge's
 * store-and-forward queue from the cloud (docs/queue.md, "Operating
 * it"). The queue's thread runs the command (sfq_exec) as
 * "cloud:ISSUER" and logs what it changes; the cloud checked the words,
 * and they are checked again here in the same terms.
 *
 * A result must fit one answer (MANAGE_RESULT_MAX), and the queue's own
 * do not always: a list keeps its oldest entries ("truncated"), a show
 * the start of its body ("body_truncated"), retry and drop their first
 * ids ("truncated"). isthmus queue at the edge shows everything.
 */
#include "edge/manage/manage-int.h"

#include <stdio.h>
#include <string.h>

#include "common/proto.h"
#include "common/queuewords.h"
#include "edge/daemon.h"
#include "edge/queue/queue.h"
#include "edge/queuecmd.h"

/* What the result message adds around the result (its id, outcome and
 * keys) and the flag a cut adds, with room to spare. */
#define RESULT_SLACK 512
#define RESULT_BUDGET (MANAGE_RESULT_MAX - RESULT_SLACK)

static size_t
encoded(json_t *v)
{
	return json_dumpb(v, NULL, 0, MANAGE_JSON_FLAGS | JSON_ENCODE_ANY);
}

/* Drops arr's last items until o fits; whether any went. */
static bool
cut_array(json_t *o, json_t *arr)
{
	size_t len = encoded(o), n;
	bool cut = false;

	while (len > RESULT_BUDGET && (n = json_array_size(arr)) > 0) {
		/* the item and the comma before it, when it has one */
		len -= encoded(json_array_get(arr, n - 1)) + (n > 1);
		json_array_remove(arr, n - 1);
		cut = true;
	}
	return cut;
}

/* Cuts the body of a show to the bytes that fit, at a character's
 * start. Every byte of a string encodes to one JSON byte or more, so
 * dropping as many as o is over makes it fit. */
static bool
cut_body(json_t *o, json_t *ent)
{
	json_t *body = json_object_get(ent, "body");
	const char *s = json_string_value(body);
	size_t len = encoded(o), keep;

	if (s == NULL || len <= RESULT_BUDGET)
		return false;
	keep = json_string_length(body);
	keep = len - RESULT_BUDGET < keep ? keep - (len - RESULT_BUDGET) : 0;
	while (keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80)
		keep--;
	json_object_set_new(ent, "body", json_stringn(s, keep));
	return true;
}

/* result cut to RESULT_BUDGET where it is too long, saying so. What
 * still does not fit (a show whose fields alone would not) job.c
 * answers as too large. */
static void
fit(json_t *result)
{
	const char *cmd = json_string_value(json_object_get(result,
	    "command"));
	json_t *entry = json_object_get(result, "entry");

	if (cmd == NULL || encoded(result) <= RESULT_BUDGET)
		return;
	if (strcmp(cmd, "show") == 0) {
		if (cut_body(result, entry))
			json_object_set_new(entry, "body_truncated",
			    json_true());
	} else if (cut_array(result, json_object_get(result,
	    strcmp(cmd, "list") == 0 ? "entries" : "ids"))) {
		json_object_set_new(result, "truncated", json_true());
	}
}

static void
queue_cancel(struct manage_job *j)
{
	sfq_exec_cancel(j->state, j);
	j->state = NULL;
	j->cancel = NULL;
}

static void
queue_done(int rc, json_t *result, const char *error, void *arg)
{
	if (rc == 0 && result != NULL)
		fit(result);
	mjob_done(arg, rc, result, error, "the queue failed");
}

void
run_queue(struct manage_job *j)
{
	struct sfq *q = j->env->e->queue;
	const char *const *args = (const char *const *)j->in.args;
	char who[MANAGE_ISSUER_MAX + 16];
	struct err er;

	if (q == NULL) {
		mjob_fail(j, "%s", QUEUECMD_NONE);
		return;
	}
	if (queue_words_check(args, j->in.nargs, &er) != 0) {
		mjob_fail(j, "%s", er.msg);
		return;
	}
	snprintf(who, sizeof(who), "cloud:%s", j->in.issuer);
	if (sfq_exec(q, args, j->in.nargs, who, queue_done, j) != 0) {
		mjob_fail(j, "out of memory: the queue was not asked");
		return;
	}
	j->state = q;
	j->cancel = queue_cancel;
}
