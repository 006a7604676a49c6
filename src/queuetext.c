/* A queue command's result as text (queuetext.h). */
#include "queuetext.h"

#include <stdbool.h>
#include <string.h>

/* retry and drop name this many ids, then how many more. */
#define IDS_SHOWN 20

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL && s[0] != '\0' ? s : "-";
}

static long long
num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The code point of a bidirectional formatting character at p (UTF-8),
 * or 0: U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069.
 * Shown raw, they reorder what a person reads (a target or a body that
 * looks like another; CVE-2021-42574's trick). *len: its bytes. */
static unsigned
bidi(const unsigned char *p, size_t *len)
{
	*len = 2;
	if (p[0] == 0xd8 && p[1] == 0x9c)
		return 0x61c;
	*len = 3;
	if (p[0] != 0xe2 || p[1] == '\0')
		return 0;
	if (p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f ||
	    (p[2] >= 0xaa && p[2] <= 0xae)))
		return 0x2000u | (p[2] & 0x3fu);
	if (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
		return 0x2040u | (p[2] & 0x3fu);
	return 0;
}

/* s on f, with every byte a terminal acts on as \xNN: C0 controls (but
 * newline and tab when multiline), DEL, and the UTF-8 form of the C1
 * controls (U+0080 to U+009F, which some terminals obey); and every
 * bidirectional formatting character as \uNNNN. The columns written. */
static size_t
put_safe(FILE *f, const char *s, bool multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cols = 0, len;
	unsigned cp;

	for (; *p != '\0'; p++) {
		if ((cp = bidi(p, &len)) != 0) {
			cols += (size_t)fprintf(f, "\\u%04x", cp);
			p += len - 1;
		} else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			cols += (size_t)fprintf(f, "\\x%02x\\x%02x", p[0],
			    p[1]);
			p++;
		} else if ((*p < 0x20 && !(multiline && (*p == '\n' ||
		    *p == '\t'))) || *p == 0x7f) {
			cols += (size_t)fprintf(f, "\\x%02x", *p);
		} else {
			fputc(*p, f);
			cols++;
		}
	}
	return cols;
}

/* A table cell: s escaped, then spaces to width and one more. */
static void
cell(FILE *f, const char *s, size_t width)
{
	size_t cols = put_safe(f, s, false);

	do
		fputc(' ', f);
	while (++cols <= width);
}

static void
print_row(FILE *f, json_t *ent, bool dead)
{
	json_t *last = json_object_get(ent, "last_status");
	char n[24];

	snprintf(n, sizeof(n), "%lld", num(ent, "id"));
	cell(f, n, 6);
	cell(f, str(ent, "service"), 16);
	cell(f, str(ent, "device"), 21);
	cell(f, str(ent, "method"), 6);
	snprintf(n, sizeof(n), "%lld", num(ent, "bytes"));
	cell(f, n, 8);
	cell(f, str(ent, "accepted"), 24);
	snprintf(n, sizeof(n), "%lld", num(ent, "attempts"));
	cell(f, n, 5);
	if (json_is_integer(last))
		snprintf(n, sizeof(n), "%lld", num(ent, "last_status"));
	else
		snprintf(n, sizeof(n), "-");
	cell(f, n, 4);
	if (dead)
		cell(f, str(ent, "reason"), 8);
	put_safe(f, str(ent, "target"), false);
	fputc('\n', f);
}

static void
print_list(FILE *f, json_t *res)
{
	json_t *arr = json_object_get(res, "entries"), *ent;
	bool dead = strcmp(str(res, "state"), "dead") == 0;
	long long total = num(res, "total");
	size_t i;

	if (json_array_size(arr) > 0)
		fprintf(f, "%-6s %-16s %-21s %-6s %-8s %-24s %-5s %-4s %s%s\n",
		    "ID", "SERVICE", "DEVICE", "METHOD", "BYTES", "ACCEPTED",
		    "TRIES", "LAST", dead ? "REASON   " : "", "TARGET");
	json_array_foreach(arr, i, ent)
		print_row(f, ent, dead);
	if (total == 0)
		fprintf(f, "%s\n", dead ? "no dead letter" :
		    "no request waits");
	else
		fprintf(f, "%s%lld %s\n", json_array_size(arr) > 0 ? "\n" : "",
		    total, dead ? (total == 1 ? "dead letter" :
		    "dead letters") : "waiting");
	if (json_is_true(json_object_get(res, "truncated")))
		fprintf(f, "the oldest %zu of %lld shown\n",
		    json_array_size(arr), total);
}

static void
line(FILE *f, const char *label, const char *value)
{
	fprintf(f, "%-12s ", label);
	put_safe(f, value, false);
	fputc('\n', f);
}

static void
print_fields(FILE *f, json_t *fields)
{
	json_t *pair;
	size_t i;

	fprintf(f, "fields:\n");
	json_array_foreach(fields, i, pair) {
		fputs("  ", f);
		put_safe(f, json_string_value(json_array_get(pair, 0)) != NULL ?
		    json_string_value(json_array_get(pair, 0)) : "?", false);
		fputs(": ", f);
		put_safe(f, json_string_value(json_array_get(pair, 1)) != NULL ?
		    json_string_value(json_array_get(pair, 1)) : "", false);
		fputc('\n', f);
	}
}

static void
print_body(FILE *f, json_t *ent)
{
	json_t *body = json_object_get(ent, "body");
	size_t n = json_string_length(body);

	if (!json_is_string(body)) {
		fprintf(f, "body: not shown (binary: not UTF-8 text)\n");
		return;
	}
	if (n == 0) {
		fprintf(f, "body: empty\n");
		return;
	}
	if (json_is_true(json_object_get(ent, "body_truncated")))
		fprintf(f, "body (its first %zu bytes; isthmus queue show at "
		    "the edge shows it all):\n", n);
	else
		fprintf(f, "body:\n");
	put_safe(f, json_string_value(body), true);
	if (json_string_value(body)[n - 1] != '\n')
		fputc('\n', f);
}

static void
print_show(FILE *f, json_t *ent)
{
	char n[24], state[64];
	json_t *last = json_object_get(ent, "last_status");

	snprintf(n, sizeof(n), "%lld", num(ent, "id"));
	line(f, "id", n);
	if (json_is_string(json_object_get(ent, "reason")))
		snprintf(state, sizeof(state), "%s (%s)", str(ent, "state"),
		    str(ent, "reason"));
	else
		snprintf(state, sizeof(state), "%s", str(ent, "state"));
	line(f, "state", state);
	line(f, "listener", str(ent, "listener"));
	line(f, "service", str(ent, "service"));
	line(f, "device", str(ent, "device"));
	line(f, "mac", str(ent, "mac"));
	line(f, "method", str(ent, "method"));
	line(f, "target", str(ent, "target"));
	line(f, "key", str(ent, "key"));
	snprintf(n, sizeof(n), "%lld", num(ent, "bytes"));
	line(f, "bytes", n);
	line(f, "accepted", str(ent, "accepted"));
	snprintf(n, sizeof(n), "%lld", num(ent, "attempts"));
	line(f, "attempts", n);
	if (json_is_integer(last))
		snprintf(n, sizeof(n), "%lld", num(ent, "last_status"));
	line(f, "last_status", json_is_integer(last) ? n : "-");
	line(f, "last_error", str(ent, "last_error"));
	line(f, "dead_at", str(ent, "dead_at"));
	print_fields(f, json_object_get(ent, "fields"));
	print_body(f, ent);
}

/* retry and drop: what changed, by id. */
static void
print_change(FILE *f, json_t *res, bool retry)
{
	json_t *ids = json_object_get(res, "ids"), *id;
	long long count = num(res, "count");
	size_t i;

	if (count == 0) {
		fprintf(f, "%s\n", retry ? "nothing to retry: no dead letter" :
		    "nothing dropped: no dead letter");
		return;
	}
	if (count == 1 && json_array_size(ids) == 1) {
		fprintf(f, "request %lld %s\n", (long long)json_integer_value(
		    json_array_get(ids, 0)), retry ? "waits again, the next "
		    "of its order" : "dropped");
		return;
	}
	fprintf(f, "%lld requests %s:", count, retry ? "wait again, each "
	    "the next of its order" : "dropped");
	json_array_foreach(ids, i, id) {
		if (i == IDS_SHOWN)
			break;
		fprintf(f, "%s %lld", i > 0 ? "," : "",
		    (long long)json_integer_value(id));
	}
	if ((long long)i < count)
		fprintf(f, " and %lld more", count - (long long)i);
	fputc('\n', f);
}

void
queue_result_text(json_t *result, FILE *f)
{
	const char *cmd = str(result, "command");

	if (strcmp(cmd, "list") == 0)
		print_list(f, result);
	else if (strcmp(cmd, "show") == 0)
		print_show(f, json_object_get(result, "entry"));
	else if (strcmp(cmd, "retry") == 0 || strcmp(cmd, "drop") == 0)
		print_change(f, result, strcmp(cmd, "retry") == 0);
	else if (json_dumpf(result, f, JSON_INDENT(2) | JSON_ENCODE_ANY) == 0)
		fputc('\n', f);
}
