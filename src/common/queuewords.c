/* The queue's commands as words (queuewords.h). */
#include "common/queuewords.h"

#include <errno.h>
#include <string.h>

bool
queue_words_id(const char *s)
{
	size_t n = strspn(s, "0123456789");

	/* 18 digits: below 2^63 whatever they are */
	return n > 0 && n <= 18 && s[n] == '\0' && s[0] != '0';
}

/* A command's second word: an id, or "dead" where the verb takes it. */
static int
check_target(const char *verb, const char *w, struct err *e)
{
	if (strcmp(w, QUEUE_WORD_DEAD) == 0) {
		if (strcmp(verb, "show") != 0)
			return 0;
		return err_set(e, -EINVAL, "queue show takes one request id, "
		    "not --dead (queue list --dead lists the dead letters)");
	}
	if (!queue_words_id(w))
		return err_set(e, -EINVAL, "'%.32s' is not a request id (a "
		    "number from 1, as queue list shows them)", w);
	return 0;
}

int
queue_words_check(const char *const *args, size_t n, struct err *e)
{
	const char *verb = n > 0 ? args[0] : NULL;

	if (verb == NULL)
		return err_set(e, -EINVAL, "say list, show, retry or drop");
	if (strcmp(verb, "list") == 0) {
		if (n == 1 || (n == 2 && strcmp(args[1], QUEUE_WORD_DEAD) == 0))
			return 0;
		return err_set(e, -EINVAL, "queue list takes --dead and "
		    "nothing else");
	}
	if (strcmp(verb, "show") != 0 && strcmp(verb, "retry") != 0 &&
	    strcmp(verb, "drop") != 0)
		return err_set(e, -EINVAL, "'%.32s' is not a queue command: "
		    "say list, show, retry or drop", verb);
	if (n != 2)
		return err_set(e, -EINVAL, "queue %s takes one request id%s",
		    verb, strcmp(verb, "show") == 0 ? "" : " or --dead");
	return check_target(verb, args[1], e);
}
