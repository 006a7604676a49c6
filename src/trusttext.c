/* A trust store command's result as text (trusttext.h). */
#include "trusttext.h"

#include <string.h>

#include "common/timefmt.h"

static const char *
field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL && s[0] != '\0' ? s : "-";
}

static void
stamp(json_t *o, const char *key, char *buf, size_t cap)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		snprintf(buf, cap, "-");
	else
		time_format((int64_t)json_integer_value(v), TIME_ISO, buf,
		    cap);
}

static void
entry_line(json_t *ent, FILE *f)
{
	char first[TIME_TEXT_MAX];

	stamp(ent, "first_seen", first, sizeof(first));
	fprintf(f, "%lld  %-8s  %-6s  %s  %s  %s  %s  %s%s\n",
	    (long long)json_integer_value(json_object_get(ent, "id")),
	    field(ent, "state"), field(ent, "kind"), field(ent, "peer"),
	    field(ent, "address"), field(ent, "cert_sha256"),
	    field(ent, "subject"), first,
	    json_is_true(json_object_get(ent, "expired")) ? "  expired" : "");
}

static void
list_text(json_t *res, FILE *f)
{
	json_t *ents = json_object_get(res, "entries"), *counts, *ent;
	size_t i;

	json_array_foreach(ents, i, ent)
		entry_line(ent, f);
	counts = json_object_get(res, "counts");
	fprintf(f, "%zu entr%s shown; in the store: %lld pending, %lld "
	    "approved, %lld rejected, %lld changed\n", json_array_size(ents),
	    json_array_size(ents) == 1 ? "y" : "ies",
	    (long long)json_integer_value(json_object_get(counts, "pending")),
	    (long long)json_integer_value(json_object_get(counts,
	    "approved")),
	    (long long)json_integer_value(json_object_get(counts,
	    "rejected")),
	    (long long)json_integer_value(json_object_get(counts,
	    "changed")));
	if (json_is_true(json_object_get(res, "truncated")))
		fprintf(f, "only the newest %zu of %lld: see the others with "
		    "isthmus trust at the edge\n", json_array_size(ents),
		    (long long)json_integer_value(json_object_get(res,
		    "total")));
}

static void
show_text(json_t *ent, FILE *f)
{
	static const char *const texts[] = { "kind", "peer", "address",
		"mac", "scope", "state", "cert_sha256", "spki_sha256",
		"subject", "issuer", "decided_by" };
	static const char *const times[] = { "not_before", "not_after",
		"first_seen", "last_seen", "decided_at" };
	char t[TIME_TEXT_MAX];
	json_t *rep = json_object_get(ent, "replaces");
	size_t i;

	fprintf(f, "id: %lld\n",
	    (long long)json_integer_value(json_object_get(ent, "id")));
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		fprintf(f, "%s: %s\n", texts[i], field(ent, texts[i]));
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		stamp(ent, times[i], t, sizeof(t));
		fprintf(f, "%s: %s\n", times[i], t);
	}
	fprintf(f, "expired: %s\n", json_is_true(json_object_get(ent,
	    "expired")) ? "yes" : "no");
	if (json_is_integer(rep))
		fprintf(f, "replaces: %lld\n",
		    (long long)json_integer_value(rep));
	if (json_is_string(json_object_get(ent, "pem")))
		fputs(json_string_value(json_object_get(ent, "pem")), f);
}

static void
decision_text(json_t *res, FILE *f)
{
	json_t *ent = json_object_get(res, "entry");
	json_t *removed = json_object_get(res, "removed");

	fprintf(f, "%s: entry %lld (%s %s) is %s\n", field(res, "action"),
	    (long long)json_integer_value(json_object_get(ent, "id")),
	    field(ent, "kind"), field(ent, "peer"),
	    strcmp(field(res, "action"), "forget") == 0 ? "forgotten" :
	    field(ent, "state"));
	if (json_is_integer(removed))
		fprintf(f, "removed entry %lld, the certificate it replaces\n",
		    (long long)json_integer_value(removed));
}

void
trust_result_text(json_t *result, FILE *f)
{
	if (json_is_array(json_object_get(result, "entries")))
		list_text(result, f);
	else if (json_is_string(json_object_get(result, "action")))
		decision_text(result, f);
	else if (json_is_object(json_object_get(result, "entry")))
		show_text(json_object_get(result, "entry"), f);
	else if (json_dumpf(result, f, JSON_INDENT(2) | JSON_ENCODE_ANY) == 0)
		fputc('\n', f);
}
