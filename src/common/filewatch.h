/*
 * Noticing that files changed, without a signal: each path is stat()ed on
 * a timer, and a change of its inode, size, mtime or ctime (or it coming
 * or going) calls the owner once per tick. Polling, as OpenVPN re-reads
 * its crl-verify file, works for files replaced by rename, edited in
 * place, or on any file system, where inotify misses some of those.
 */
#ifndef ISTHMUS_FILEWATCH_H
#define ISTHMUS_FILEWATCH_H

#include <stdint.h>

#include <event2/event.h>

struct filewatch;

typedef void (*filewatch_fn)(void *arg);

/* Every interval_ms (> 0), checks the paths added. */
int filewatch_new(struct event_base *base, uint64_t interval_ms,
    filewatch_fn fn, void *arg, struct filewatch **out);
/* Watches path from its state now. Returns 0 or -ENOMEM. */
int filewatch_add(struct filewatch *fw, const char *path);
/* Forgets every path (a reload adds the new ones). */
void filewatch_clear(struct filewatch *fw);
void filewatch_free(struct filewatch *fw);

#endif
