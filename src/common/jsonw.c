/* A small streaming JSON writer for --json output (json.h). */
#include "common/jsonw.h"

#include <inttypes.h>

void
jw_init(struct jw *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
	j->after_key = false;
}

/* Writes the separator a new value needs at the current position. */
static void
jw_sep(struct jw *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
}

static void
jw_open(struct jw *j, char c)
{
	jw_sep(j);
	fputc(c, j->f);
	if (j->depth + 1 < JW_MAX_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

static void
jw_close(struct jw *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
	if (j->depth == 0)
		fputc('\n', j->f);
}

void jw_begin_object(struct jw *j) { jw_open(j, '{'); }
void jw_end_object(struct jw *j) { jw_close(j, '}'); }
void jw_begin_array(struct jw *j) { jw_open(j, '['); }
void jw_end_array(struct jw *j) { jw_close(j, ']'); }

static void
jw_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

void
jw_key(struct jw *j, const char *key)
{
	jw_sep(j);
	jw_quoted(j->f, key);
	fputc(':', j->f);
	j->after_key = true;
}

void
jw_string(struct jw *j, const char *s)
{
	if (s == NULL) {
		jw_null(j);
		return;
	}
	jw_sep(j);
	jw_quoted(j->f, s);
}

void
jw_int(struct jw *j, int64_t v)
{
	jw_sep(j);
	fprintf(j->f, "%" PRId64, v);
}

void
jw_bool(struct jw *j, bool v)
{
	jw_sep(j);
	fputs(v ? "true" : "false", j->f);
}

void
jw_null(struct jw *j)
{
	jw_sep(j);
	fputs("null", j->f);
}
