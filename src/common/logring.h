/*
 * The last log lines in memory (logring.c), for a daemon that is asked
 * for them from afar (the edge's `logs` instruction). Bounded in bytes:
 * the oldest lines go first. Thread-safe: the log module adds every line
 * it writes once a daemon enabled the ring. The lines are the log's, so
 * they hold no secret (log.h).
 */
#ifndef ISTHMUS_LOGRING_H
#define ISTHMUS_LOGRING_H

#include <stddef.h>

/* Keeps the lines written from now on, at most bytes of them (with their
 * newlines); 0 turns the ring off and frees it. */
int logring_enable(size_t bytes);
/* A line as written, with its '\n'; a line longer than the ring is not
 * kept. */
void logring_add(const char *line, size_t len);
/* A copy of the last lines (at most max of them, oldest first, each
 * ended by '\n') in *out, malloc'ed, its length in *len; *out NULL and
 * *len 0 when the ring is off or empty. Returns the lines copied, or
 * -ENOMEM. */
long logring_tail(size_t max, char **out, size_t *len);

#endif
