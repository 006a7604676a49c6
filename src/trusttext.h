/*
 * A trust store command's JSON result (docs/trust.md, "JSON") as text
 * for a person, the same whether `isthmus trust` ran it at the edge or
 * `isthmus manage EDGE trust ...` through the cloud. list: one line per
 * entry (id, state, kind, peer, address, certificate fingerprint, first
 * seen, subject) and the counts; show: every field and the certificate;
 * a decision: what it did.
 */
#ifndef ISTHMUS_TRUSTTEXT_H
#define ISTHMUS_TRUSTTEXT_H

#include <stdio.h>

#include <jansson.h>

void trust_result_text(json_t *result, FILE *f);

/* A field of an entry or result as text: "-" when missing or empty. */
const char *trust_text_field(json_t *o, const char *key);

#endif
