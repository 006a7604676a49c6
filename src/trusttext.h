/*
 * A trust store command's JSON result (docs/trust.md, "JSON") as text
 * for a person: what `isthmus manage EDGE trust ...` prints without
 * --json. list: one line per entry (id, state, kind, peer, address,
 * certificate fingerprint, subject, first seen) and the counts; show:
 * every field and the certificate; a decision: what it did.
 */
#ifndef ISTHMUS_TRUSTTEXT_H
#define ISTHMUS_TRUSTTEXT_H

#include <stdio.h>

#include <jansson.h>

void trust_result_text(json_t *result, FILE *f);

#endif
