/* The fleet registry on the admin socket (edges.h). */
#include "cloud/edges.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/store/store.h"
#include "common/json.h"
#include "common/names.h"
#include "common/timefmt.h"

struct ask {
	struct admin_req *req;
	bool json;
};

static void
when(int64_t t, char *buf, size_t cap)
{
	if (t <= 0)
		snprintf(buf, cap, "-");
	else
		time_format(t, TIME_ISO, buf, cap);
}

static void
write_text(FILE *f, const struct store_edge *v, size_t n)
{
	char seen[TIME_TEXT_MAX], since[TIME_TEXT_MAX], until[TIME_TEXT_MAX];
	size_t i;

	fprintf(f, "%-16s %-12s %-5s %-21s %-21s %-24s %-32s %-21s %s\n",
	    "EDGE", "TENANT", "STATE", "UP SINCE", "LAST SEEN", "PEER",
	    "SERIAL", "CERT UNTIL", "LAST DOWN");
	for (i = 0; i < n; i++) {
		when(v[i].up ? v[i].up_since : 0, since, sizeof(since));
		when(v[i].last_seen, seen, sizeof(seen));
		when(v[i].not_after, until, sizeof(until));
		fprintf(f, "%-16s %-12s %-5s %-21s %-21s %-24s %-32s %-21s %s\n",
		    v[i].edge, v[i].tenant, v[i].up ? "up" : "down", since,
		    seen, v[i].peer[0] ? v[i].peer : "-",
		    v[i].serial[0] ? v[i].serial : "-", until,
		    v[i].last_reason[0] ? v[i].last_reason : "-");
	}
	if (n == 0)
		fprintf(f, "no edge has connected yet\n");
}

static void
write_json(FILE *f, const struct store_edge *v, size_t n)
{
	struct json j;
	size_t i;

	json_init(&j, f);
	json_begin_object(&j);
	json_key(&j, "edges");
	json_begin_array(&j);
	for (i = 0; i < n; i++) {
		json_begin_object(&j);
		json_key(&j, "edge");
		json_string(&j, v[i].edge);
		json_key(&j, "tenant");
		json_string(&j, v[i].tenant);
		json_key(&j, "up");
		json_bool(&j, v[i].up);
		json_key(&j, "up_since");
		json_int(&j, v[i].up ? v[i].up_since : 0);
		json_key(&j, "first_seen");
		json_int(&j, v[i].first_seen);
		json_key(&j, "last_seen");
		json_int(&j, v[i].last_seen);
		json_key(&j, "peer");
		json_string(&j, v[i].peer);
		json_key(&j, "serial");
		json_string(&j, v[i].serial);
		json_key(&j, "not_after");
		json_int(&j, v[i].not_after);
		json_key(&j, "version");
		json_string(&j, v[i].version[0] ? v[i].version : NULL);
		json_key(&j, "last_reason");
		json_string(&j, v[i].last_reason[0] ? v[i].last_reason : NULL);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	fputc('\n', f);
}

static void
on_edges(int rc, const struct store_edge *v, size_t n, const struct err *e,
    void *arg)
{
	struct ask *a = arg;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f != NULL) {
		if (rc != 0)
			fprintf(f, "error: the state store is unavailable: "
			    "%s\n", e->msg);
		else if (a->json)
			write_json(f, v, n);
		else
			write_text(f, v, n);
		fclose(f);
	}
	admin_answer(a->req, buf != NULL ? buf : "", buf != NULL ? len : 0);
	free(buf);
	free(a);
}

void
cloud_edges(struct store *s, const char *args, FILE *f,
    struct admin_req *req)
{
	char tenant[NAME_MAX_LEN + 1] = "";
	struct ask *a;
	bool json = false;

	if (strncmp(args, "json", 4) == 0 && (args[4] == '\0' ||
	    args[4] == ' ')) {
		json = true;
		args += args[4] == ' ' ? 5 : 4;
	}
	if (*args != '\0') {
		if (!name_valid(args)) {
			fprintf(f, "error: '%.64s' is not a tenant name\n",
			    args);
			return;
		}
		snprintf(tenant, sizeof(tenant), "%s", args);
	}
	if (s == NULL) {
		fprintf(f, "error: this cloud keeps no registry: set state = "
		    "FILE in [cloud] (docs/cloud.md, \"The fleet "
		    "registry\")\n");
		return;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->req = admin_defer(req)) == NULL) {
		free(a);
		fprintf(f, "error: out of memory\n");
		return;
	}
	a->json = json;
	if (store_list_edges(s, tenant[0] ? tenant : NULL, on_edges, a) !=
	    0) {
		static const char busy[] = "error: the state store is busy\n";

		admin_answer(a->req, busy, sizeof(busy) - 1);
		free(a);
	}
}
