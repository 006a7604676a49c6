/*
 * A small streaming JSON writer for machine-readable output (--json); jw_,
 * not json_, so it never meets jansson's names (the parser of the
 * management channel) in one binary. It
 * tracks commas and nesting; strings are escaped per RFC 8259.
 */
#ifndef ISTHMUS_JSONW_H
#define ISTHMUS_JSONW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 16

struct jw {
	FILE *f;
	int depth;
	bool first[JW_MAX_DEPTH];
	bool after_key;
};

void jw_init(struct jw *j, FILE *f);
void jw_begin_object(struct jw *j);
void jw_end_object(struct jw *j);
void jw_begin_array(struct jw *j);
void jw_end_array(struct jw *j);
/* A key inside an object; the next value call writes its value. */
void jw_key(struct jw *j, const char *key);
void jw_string(struct jw *j, const char *s);	/* NULL writes null */
void jw_int(struct jw *j, int64_t v);
void jw_bool(struct jw *j, bool v);
void jw_null(struct jw *j);

#endif
