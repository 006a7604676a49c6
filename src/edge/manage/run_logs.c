/* logs [N]: the last N lines of the edge's log, from the ring the daemon
 * keeps (common/logring.h); as many of the newest as fit the result. */
#include "edge/manage/manage-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/logring.h"

#define LOGS_DEFAULT 100
#define LOGS_MAX 1000
/* What the object around the lines takes, and each line's comma. */
#define LOGS_SLACK 64

/* One line as a JSON string; a byte that is not UTF-8 becomes '?'. */
static json_t *
line_string(char *s, size_t n)
{
	json_t *v = json_stringn(s, n);
	size_t i;

	if (v != NULL)
		return v;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\0')
			s[i] = '?';
	return json_stringn(s, n);
}

static int
parse_count(const struct manage_job *j, long *n)
{
	char *end;

	*n = LOGS_DEFAULT;
	if (j->in.nargs == 0)
		return 0;
	if (j->in.nargs > 1)
		return -EINVAL;
	errno = 0;
	*n = strtol(j->in.args[0], &end, 10);
	if (errno != 0 || end == j->in.args[0] || *end != '\0' || *n < 1 ||
	    *n > LOGS_MAX)
		return -EINVAL;
	return 0;
}

void
run_logs(struct manage_job *j)
{
	json_t *lines, *r, *v;
	size_t len = 0, used = LOGS_SLACK, i, start;
	bool truncated = false;
	char *text = NULL, *p, *nl;
	long n, got;

	if (parse_count(j, &n) != 0) {
		mjob_fail(j, "logs takes one count, from 1 to %d (default %d)",
		    LOGS_MAX, LOGS_DEFAULT);
		return;
	}
	if ((got = logring_tail((size_t)n, &text, &len)) < 0 ||
	    (lines = json_array()) == NULL) {
		free(text);
		mjob_fail(j, "out of memory");
		return;
	}
	/* Newest first into the budget, then put back in order. */
	for (i = len; i > 0 && !truncated; ) {
		start = i - 1;
		while (start > 0 && text[start - 1] != '\n')
			start--;
		p = text + start;
		nl = memchr(p, '\n', i - start);
		if ((v = line_string(p, nl != NULL ? (size_t)(nl - p) :
		    i - start)) == NULL)
			break;
		used += json_dumpb(v, NULL, 0, JSON_ENCODE_ANY) + 1;
		if (used > MANAGE_RESULT_MAX) {
			json_decref(v);
			truncated = true;
			break;
		}
		json_array_insert_new(lines, 0, v);
		i = start;
	}
	free(text);
	r = json_pack("{s:o,s:b}", "lines", lines, "truncated", truncated);
	if (r == NULL) {
		mjob_fail(j, "out of memory");
		return;
	}
	mjob_answer(j, MO_OK, r, NULL);
}
