/* Noticing changed files without a signal, by stat() on a timer
 * (filewatch.h). */
#include "common/filewatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/timeval.h"

struct watched {
	char *path;
	bool exists;
	struct stat st;
};

struct filewatch {
	struct event *timer;
	filewatch_fn fn;
	void *arg;
	struct watched *v;
	size_t n;
};

static void
look(struct watched *w)
{
	w->exists = stat(w->path, &w->st) == 0;
	if (!w->exists)
		memset(&w->st, 0, sizeof(w->st));
}

static bool
same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct filewatch *fw = arg;
	bool changed = false;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < fw->n; i++) {
		struct watched now = { .path = fw->v[i].path };

		look(&now);
		if (now.exists != fw->v[i].exists ||
		    !same(&now.st, &fw->v[i].st)) {
			fw->v[i] = now;
			changed = true;
		}
	}
	if (changed)
		fw->fn(fw->arg);
}

int
filewatch_new(struct event_base *base, uint64_t interval_ms,
    filewatch_fn fn, void *arg, struct filewatch **out)
{
	struct filewatch *fw = calloc(1, sizeof(*fw));
	struct timeval tv;

	if (fw == NULL)
		return -ENOMEM;
	fw->fn = fn;
	fw->arg = arg;
	fw->timer = event_new(base, -1, EV_PERSIST, on_tick, fw);
	if (fw->timer == NULL) {
		free(fw);
		return -ENOMEM;
	}
	tv_ms(&tv, interval_ms);
	event_add(fw->timer, &tv);
	*out = fw;
	return 0;
}

int
filewatch_add(struct filewatch *fw, const char *path)
{
	struct watched *nv = realloc(fw->v, (fw->n + 1) * sizeof(*nv));

	if (nv == NULL)
		return -ENOMEM;
	fw->v = nv;
	nv[fw->n].path = strdup(path);
	if (nv[fw->n].path == NULL)
		return -ENOMEM;
	look(&nv[fw->n]);
	fw->n++;
	return 0;
}

void
filewatch_clear(struct filewatch *fw)
{
	size_t i;

	for (i = 0; i < fw->n; i++)
		free(fw->v[i].path);
	free(fw->v);
	fw->v = NULL;
	fw->n = 0;
}

void
filewatch_free(struct filewatch *fw)
{
	if (fw == NULL)
		return;
	filewatch_clear(fw);
	event_free(fw->timer);
	free(fw);
}
