/*
 * A command of this same binary (/proc/self/exe) run as a child of the
 * daemon, for code that blocks or runs loops of its own (the doctor): its
 * standard output read on the daemon's loop, at most max_out bytes and
 * timeout_s seconds (then it is killed), and reaped without ever blocking
 * the loop. Its stdin and stderr are /dev/null, and no descriptor of the
 * daemon's stays open in it. The management channel's doctor and the
 * readiness test's path measure run the doctor this way.
 */
#ifndef ISTHMUS_EDGE_CHILD_H
#define ISTHMUS_EDGE_CHILD_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

struct child;

struct child_result {
	int status;		/* waitpid's status; -1: not known */
	bool timed_out;		/* killed: it ran past timeout_s */
	bool too_big;		/* killed: it wrote more than max_out */
	const char *out;	/* what it wrote, NUL-terminated */
	size_t len;
};

/* From the loop, once: res (valid during the call only); the child is
 * freed right after. */
typedef void (*child_done_fn)(const struct child_result *res, void *arg);

/* Runs argv (argv[0] is its name) with /proc/self/exe. 0, or -errno with
 * nothing started. */
int child_start(struct event_base *base, char *const argv[], size_t max_out,
    unsigned timeout_s, child_done_fn done, void *arg, struct child **out);
/* Kills and reaps the child now; done is not called. */
void child_cancel(struct child *c);

#endif
