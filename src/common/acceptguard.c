/* Listeners that pause instead of spinning when out of descriptors
 * (acceptguard.h). */
#include "common/acceptguard.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/loglimit.h"
#include "common/prom.h"
#include "common/stat.h"

/* One line a second per listener while it keeps failing (and the count of
 * the pauses not logged, once a second): a starved daemon's log grows by a
 * few lines a second, not by every retry. */
#define PAUSE_LOG_BURST		1
#define PAUSE_LOG_PER_SEC	1

enum pause_reason {
	PAUSE_FD_LIMIT,		/* EMFILE: this process's RLIMIT_NOFILE */
	PAUSE_SYSTEM_FD_LIMIT,	/* ENFILE: the system's file table */
	PAUSE_MEMORY,		/* ENOBUFS, ENOMEM */
	PAUSE_OTHER,
	PAUSE_COUNT
};

static const char *const pause_names[PAUSE_COUNT] = {
	[PAUSE_FD_LIMIT] = "fd_limit",
	[PAUSE_SYSTEM_FD_LIMIT] = "system_fd_limit",
	[PAUSE_MEMORY] = "memory",
	[PAUSE_OTHER] = "other",
};

struct guard {
	struct evconnlistener *l;
	struct event *resume;
	struct log_limit *lim;
	struct guard *next;
	char name[80];
};

static struct guard *guards;
static uint64_t pauses[PAUSE_COUNT];

static enum pause_reason
reason_of(int err)
{
	switch (err) {
	case EMFILE: return PAUSE_FD_LIMIT;
	case ENFILE: return PAUSE_SYSTEM_FD_LIMIT;
	case ENOBUFS: case ENOMEM: return PAUSE_MEMORY;
	default: return PAUSE_OTHER;
	}
}

static const char *
advice(enum pause_reason r)
{
	switch (r) {
	case PAUSE_FD_LIMIT:
		return "out of file descriptors: raise the limit "
		    "(LimitNOFILE, ulimit -n)";
	case PAUSE_SYSTEM_FD_LIMIT:
		return "the system is out of file descriptors (fs.file-max)";
	default:
		return "accept() failed";
	}
}

static struct guard **
find(struct evconnlistener *l)
{
	struct guard **gp;

	for (gp = &guards; *gp != NULL; gp = &(*gp)->next)
		if ((*gp)->l == l)
			return gp;
	return NULL;
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(g->l);
}

/* libevent calls this after an accept() error it would otherwise retry at
 * once; errno is still accept()'s. */
static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	static const struct timeval pause = {
		ACCEPTGUARD_PAUSE_MS / 1000, (ACCEPTGUARD_PAUSE_MS % 1000) * 1000
	};
	int err = EVUTIL_SOCKET_ERROR();
	enum pause_reason r = reason_of(err);
	struct guard **gp = find(l);

	(void)arg;
	STAT_ADD(pauses[r], 1);
	evconnlistener_disable(l);
	if (gp == NULL)
		return;	/* not watched: stays off rather than spin */
	evtimer_add((*gp)->resume, &pause);
	log_limited((*gp)->lim, LOG_WARN, "net", "accept_paused",
	    "listener=%s error=%s reason=%s pause_ms=%d action=%s",
	    (*gp)->name, strerror(err), pause_names[r], ACCEPTGUARD_PAUSE_MS,
	    advice(r));
}

int
acceptguard_watch(struct evconnlistener *l, const char *name)
{
	struct event_base *base = evconnlistener_get_base(l);
	struct guard *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return -ENOMEM;
	g->resume = evtimer_new(base, on_resume, g);
	g->lim = log_limit_new(base, PAUSE_LOG_BURST, PAUSE_LOG_PER_SEC);
	if (g->resume == NULL || g->lim == NULL) {
		if (g->resume != NULL)
			event_free(g->resume);
		log_limit_free(g->lim);
		free(g);
		return -ENOMEM;
	}
	g->l = l;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->next = guards;
	guards = g;
	evconnlistener_set_error_cb(l, on_accept_error);
	return 0;
}

void
acceptguard_release(struct evconnlistener *l)
{
	struct guard **gp = l != NULL ? find(l) : NULL;
	struct guard *g;

	if (gp == NULL)
		return;
	g = *gp;
	*gp = g->next;
	evconnlistener_set_error_cb(l, NULL);
	event_free(g->resume);
	log_limit_free(g->lim);
	free(g);
}

void
acceptguard_metrics(FILE *f)
{
	size_t i;

	prom_family(f, "isthmus_accept_paused_total", "counter",
	    "Times a listener stopped accepting for a moment because "
	    "accept() failed, by reason (fd_limit: out of descriptors).");
	for (i = 0; i < PAUSE_COUNT; i++)
		prom_sample(f, "isthmus_accept_paused_total",
		    (const char *[]){ "reason", pause_names[i], NULL },
		    STAT_GET(pauses[i]));
}
