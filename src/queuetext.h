/*
 * A store-and-forward queue command's JSON result (edge/queue/queue.h,
 * "The commands' results") as text for a person, the same whether
 * `isthmus queue` ran it at the edge or `isthmus manage EDGE queue ...`
 * through the cloud. list: a table, oldest first, and the count; show:
 * the record's every field, the request's fields and its body when it
 * is text; retry and drop: a sentence.
 *
 * What came from a device (targets, fields, bodies) is printed with the
 * bytes a terminal would act on escaped, so a reading cannot drive the
 * operator's terminal.
 */
#ifndef ISTHMUS_QUEUETEXT_H
#define ISTHMUS_QUEUETEXT_H

#include <stdio.h>

#include <jansson.h>

void queue_result_text(json_t *result, FILE *f);

#endif
