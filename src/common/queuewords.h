/*
 * The store-and-forward queue's commands as words (docs/queue.md,
 * "Operating it"), checked the same wherever a person's command is
 * checked before it reaches the edge: `isthmus queue` before it asks,
 * `isthmus manage` and the cloud before an instruction is recorded. The
 * edge's queue checks them again (edge/queue/queue.h, sfq_exec), as the
 * only judge of what the file holds.
 */
#ifndef ISTHMUS_QUEUEWORDS_H
#define ISTHMUS_QUEUEWORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* The words of a command, at most. */
#define QUEUE_WORDS_MAX 2
/* What stands for every dead letter, in place of an id (--dead). */
#define QUEUE_WORD_DEAD "dead"

/* args[0..n): "list" ["dead"], "show" ID, "retry" ID|"dead", "drop"
 * ID|"dead". 0; or -EINVAL with e's sentence, in the words a person
 * typed (--dead for "dead"). */
int queue_words_check(const char *const *args, size_t n, struct err *e);
/* Whether s is a record's id as the queue gives them: a decimal number
 * from 1, no sign, no leading zero, within 63 bits. */
bool queue_words_id(const char *s);

#endif
