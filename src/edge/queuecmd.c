/*
 * The admin socket's queue commands (queuecmd.h). The words are checked
 * here as isthmus queue checks them (common/queuewords.h), so a request
 * typed by hand on the socket is refused in the same words; the queue's
 * thread then runs the command and the answer goes out from the loop.
 *
 * A request still with the queue when the edge stops is not answered:
 * the queue drops its callbacks (sfq_close), and the client sees the
 * connection close.
 */
#include "edge/queuecmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/managewords.h"
#include "common/queuewords.h"
#include "edge/daemon.h"
#include "edge/queue/queue.h"

/* A command's words after "queue", and one more to see too many. */
#define WORDS_CAP (QUEUE_WORDS_MAX + 1)
/* "queue", the verb and an id (or dead) with room to see more. */
#define LINE_MAX_LEN 128
/* "local:" and a user's name */
#define WHO_MAX 80

static const char oom_line[] = "{\"error\":\"out of memory\"}\n";

/* {"error": msg} as the answer's line; NULL when out of memory. */
static char *
error_line(const char *msg, size_t *len)
{
	return manage_json_line(json_pack("{s:s}", "error", msg), len);
}

static void
say_error(FILE *f, const char *msg)
{
	size_t len = 0;
	char *line = error_line(msg, &len);

	if (line != NULL)
		fwrite(line, 1, len, f);
	else
		fputs(oom_line, f);
	free(line);
}

/* The queue's answer (queue.h, sfq_exec_fn): result is ours. */
static void
on_done(int rc, json_t *result, const char *error, void *arg)
{
	struct admin_req *req = arg;
	size_t len = 0;
	char *line;

	if (rc != 0) {
		json_decref(result);
		line = error_line(error != NULL && error[0] != '\0' ? error :
		    "the queue failed", &len);
	} else {
		line = manage_json_line(result, &len);	/* takes it */
	}
	if (line != NULL)
		admin_answer(req, line, len);
	else
		admin_answer(req, oom_line, sizeof(oom_line) - 1);
	free(line);
}

/* cmd's words after "queue" into words (pointing into buf); how many,
 * at most WORDS_CAP. */
static size_t
split(const char *cmd, char *buf, size_t cap, char **words)
{
	char *save = NULL, *w;
	size_t n = 0;

	snprintf(buf, cap, "%s", cmd);
	w = strtok_r(buf, " ", &save);	/* "queue" */
	while (n < WORDS_CAP && (w = strtok_r(NULL, " ", &save)) != NULL)
		words[n++] = w;
	return n;
}

void
queuecmd_admin(struct edge *e, const char *cmd, FILE *f,
    struct admin_req *req)
{
	char buf[LINE_MAX_LEN], *words[WORDS_CAP], who[WHO_MAX];
	struct admin_req *later;
	struct err er;
	size_t n;

	if (e->queue == NULL) {
		say_error(f, QUEUECMD_NONE);
		return;
	}
	if (strlen(cmd) >= sizeof(buf)) {
		say_error(f, "a queue request is a verb and an id at most");
		return;
	}
	n = split(cmd, buf, sizeof(buf), words);
	if (queue_words_check((const char *const *)words, n, &er) != 0) {
		say_error(f, er.msg);
		return;
	}
	admin_local_who(admin_req_uid(req), who, sizeof(who));
	if ((later = admin_defer(req)) == NULL) {
		say_error(f, "out of memory");
		return;
	}
	if (sfq_exec(e->queue, (const char *const *)words, n, who, on_done,
	    later) != 0)
		on_done(-ENOMEM, NULL, "out of memory: the queue was not asked",
		    later);
}
