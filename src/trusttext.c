/* A trust store command's result as text (trusttext.h). */
#include "trusttext.h"

#include <string.h>

#include "common/timefmt.h"

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL && s[0] != '\0' ? s : "-";
}

const char *
trust_text_field(json_t *o, const char *key)
{
	return str(o, key);
}

static void
print_time(FILE *f, const char *label, json_t *o, const char *key)
{
	char when[TIME_TEXT_MAX];
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		time_format(json_integer_value(v), TIME_ISO, when,
		    sizeof(when));
	else
		snprintf(when, sizeof(when), "-");
	fprintf(f, "%-12s %s\n", label, when);
}

static void
print_line(FILE *f, json_t *ent)
{
	char first[TIME_TEXT_MAX];

	time_format(json_integer_value(json_object_get(ent, "first_seen")),
	    TIME_ISO, first, sizeof(first));
	fprintf(f, "%-5lld %-8s %-6s %-22s %-22s %s %s %s\n",
	    (long long)json_integer_value(json_object_get(ent, "id")),
	    str(ent, "state"), str(ent, "kind"), str(ent, "peer"),
	    str(ent, "address"), str(ent, "cert_sha256"), first,
	    str(ent, "subject"));
}

static void
print_list(FILE *f, json_t *res)
{
	json_t *arr = json_object_get(res, "entries"), *ent, *cnt;
	size_t i;

	json_array_foreach(arr, i, ent)
		print_line(f, ent);
	cnt = json_object_get(res, "counts");
	fprintf(f, "%s%lld pending, %lld approved, %lld rejected, %lld "
	    "changed\n", json_array_size(arr) > 0 ? "\n" : "",
	    (long long)json_integer_value(json_object_get(cnt, "pending")),
	    (long long)json_integer_value(json_object_get(cnt, "approved")),
	    (long long)json_integer_value(json_object_get(cnt, "rejected")),
	    (long long)json_integer_value(json_object_get(cnt, "changed")));
	/* a remote list carries the newest 200 */
	if (json_is_true(json_object_get(res, "truncated")))
		fprintf(f, "the newest %zu of %lld shown: isthmus trust at the "
		    "edge lists them all\n", json_array_size(arr),
		    (long long)json_integer_value(json_object_get(res,
		    "total")));
}

static void
print_show(FILE *f, json_t *ent)
{
	json_t *rep = json_object_get(ent, "replaces");

	fprintf(f, "%-12s %lld\n", "id",
	    (long long)json_integer_value(json_object_get(ent, "id")));
	fprintf(f, "%-12s %s%s\n", "state", str(ent, "state"),
	    json_is_true(json_object_get(ent, "expired")) ? " (expired)" : "");
	if (json_is_integer(rep))
		fprintf(f, "%-12s %lld\n", "replaces",
		    (long long)json_integer_value(rep));
	fprintf(f, "%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n",
	    "kind", str(ent, "kind"), "peer", str(ent, "peer"),
	    "address", str(ent, "address"), "mac", str(ent, "mac"),
	    "scope", str(ent, "scope"));
	fprintf(f, "%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n", "fingerprint",
	    str(ent, "cert_sha256"), "key", str(ent, "spki_sha256"),
	    "subject", str(ent, "subject"), "issuer", str(ent, "issuer"));
	print_time(f, "not_before", ent, "not_before");
	print_time(f, "not_after", ent, "not_after");
	print_time(f, "first_seen", ent, "first_seen");
	print_time(f, "last_seen", ent, "last_seen");
	fprintf(f, "%-12s %s\n", "decided_by", str(ent, "decided_by"));
	print_time(f, "decided_at", ent, "decided_at");
	fprintf(f, "%s", str(ent, "pem"));
}

static void
print_decision(FILE *f, json_t *res)
{
	json_t *ent = json_object_get(res, "entry");
	json_t *removed = json_object_get(res, "removed");
	const char *action = str(res, "action");

	fprintf(f, "entry %lld (%s %s) %s\n",
	    (long long)json_integer_value(json_object_get(ent, "id")),
	    str(ent, "kind"), str(ent, "peer"),
	    strcmp(action, "approve") == 0 ? "approved" :
	    strcmp(action, "reject") == 0 ? "rejected" : "forgotten");
	if (json_is_integer(removed))
		fprintf(f, "entry %lld, the certificate it replaces, removed\n",
		    (long long)json_integer_value(removed));
}

void
trust_result_text(json_t *result, FILE *f)
{
	if (json_is_array(json_object_get(result, "entries")))
		print_list(f, result);
	else if (json_is_string(json_object_get(result, "action")))
		print_decision(f, result);
	else if (json_is_object(json_object_get(result, "entry")))
		print_show(f, json_object_get(result, "entry"));
	else if (json_dumpf(result, f, JSON_INDENT(2) | JSON_ENCODE_ANY) == 0)
		fputc('\n', f);
}
