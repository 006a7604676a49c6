/* The fleet registry on the admin socket (edges.h). */
#include "cloud/edges.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/config.h"
#include "cloud/store/store.h"
#include "common/jsonw.h"
#include "common/names.h"
#include "common/timefmt.h"

struct ask {
	struct admin_req *req;
	bool json;
	char edge[NAME_MAX_LEN + 1], tenant[NAME_MAX_LEN + 1];
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
	struct jw j;
	size_t i;

	jw_init(&j, f);
	jw_begin_object(&j);
	jw_key(&j, "edges");
	jw_begin_array(&j);
	for (i = 0; i < n; i++) {
		jw_begin_object(&j);
		jw_key(&j, "edge");
		jw_string(&j, v[i].edge);
		jw_key(&j, "tenant");
		jw_string(&j, v[i].tenant);
		jw_key(&j, "up");
		jw_bool(&j, v[i].up);
		jw_key(&j, "up_since");
		jw_int(&j, v[i].up ? v[i].up_since : 0);
		jw_key(&j, "first_seen");
		jw_int(&j, v[i].first_seen);
		jw_key(&j, "last_seen");
		jw_int(&j, v[i].last_seen);
		jw_key(&j, "peer");
		jw_string(&j, v[i].peer);
		jw_key(&j, "serial");
		jw_string(&j, v[i].serial);
		jw_key(&j, "not_after");
		jw_int(&j, v[i].not_after);
		jw_key(&j, "version");
		jw_string(&j, v[i].version[0] ? v[i].version : NULL);
		jw_key(&j, "last_reason");
		jw_string(&j, v[i].last_reason[0] ? v[i].last_reason : NULL);
		jw_end_object(&j);
	}
	jw_end_array(&j);
	jw_end_object(&j);
	fputc('\n', f);
}

/* What a store read makes the answer: written by write (v, n) or the
 * store's error, sent, and a done with. */
static void
reply(struct ask *a, int rc, const struct err *e,
    void (*write)(FILE *, const struct ask *, const void *, size_t),
    const void *v, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f != NULL) {
		if (rc != 0)
			fprintf(f, "error: the state store is unavailable: "
			    "%s\n", e->msg);
		else
			write(f, a, v, n);
		fclose(f);
	}
	admin_answer(a->req, buf != NULL ? buf : "", buf != NULL ? len : 0);
	free(buf);
	free(a);
}

static void
write_edges(FILE *f, const struct ask *a, const void *v, size_t n)
{
	if (a->json)
		write_json(f, v, n);
	else
		write_text(f, v, n);
}

static void
on_edges(int rc, const struct store_edge *v, size_t n, const struct err *e,
    void *arg)
{
	reply(arg, rc, e, write_edges, v, n);
}

static void
write_history(FILE *f, const struct ask *a, const void *rows, size_t n)
{
	const struct store_history *v = rows;
	char at[TIME_TEXT_MAX];
	struct jw j;
	size_t i;

	if (!a->json) {
		fprintf(f, "edge %s of tenant %s, newest first:\n", a->edge,
		    a->tenant);
		for (i = 0; i < n; i++) {
			when(v[i].at, at, sizeof(at));
			fprintf(f, "%-21s %-5s %-24s %s\n", at, v[i].up ? "up" :
			    "down", v[i].peer[0] ? v[i].peer : "-",
			    v[i].reason[0] ? v[i].reason : "");
		}
		if (n == 0)
			fprintf(f, "nothing recorded\n");
		return;
	}
	jw_init(&j, f);
	jw_begin_object(&j);
	jw_key(&j, "edge");
	jw_string(&j, a->edge);
	jw_key(&j, "tenant");
	jw_string(&j, a->tenant);
	jw_key(&j, "history");
	jw_begin_array(&j);
	for (i = 0; i < n; i++) {
		jw_begin_object(&j);
		jw_key(&j, "at");
		jw_int(&j, v[i].at);
		jw_key(&j, "up");
		jw_bool(&j, v[i].up);
		jw_key(&j, "peer");
		jw_string(&j, v[i].peer);
		jw_key(&j, "reason");
		jw_string(&j, v[i].reason[0] ? v[i].reason : NULL);
		jw_end_object(&j);
	}
	jw_end_array(&j);
	jw_end_object(&j);
	fputc('\n', f);
}

static void
on_history(int rc, const struct store_history *v, size_t n,
    const struct err *e, void *arg)
{
	reply(arg, rc, e, write_history, v, n);
}

/* The next word of *p (moved past it and its space), or NULL. */
static const char *
word(char **p)
{
	char *w = *p, *sp;

	if (*w == '\0')
		return NULL;
	sp = strchr(w, ' ');
	if (sp != NULL) {
		*sp = '\0';
		*p = sp + 1;
	} else {
		*p = w + strlen(w);
	}
	return w;
}

/* The tenant the configuration puts edge in, or NULL. */
static const char *
tenant_of(const struct cloud_conf *cf, const char *edge)
{
	size_t i;

	for (i = 0; i < cf->nedges; i++)
		if (strcmp(cf->edges[i]->name, edge) == 0)
			return cf->edges[i]->tenant->name;
	return NULL;
}

void
cloud_edges(struct store *s, const struct cloud_conf *cf, const char *args,
    FILE *f, struct admin_req *req)
{
	char line[2 * NAME_MAX_LEN + 32], *p = line;
	const char *w, *edge = NULL, *tenant = NULL;
	bool json = false, history = false;
	struct ask *a;
	int rc;

	snprintf(line, sizeof(line), "%s", args);
	w = word(&p);
	if (w != NULL && strcmp(w, "history") == 0) {
		history = true;
		w = word(&p);
	}
	if (w != NULL && strcmp(w, "json") == 0) {
		json = true;
		w = word(&p);
	}
	if (history) {
		edge = w;
		w = word(&p);
	}
	tenant = w;
	if ((history && (edge == NULL || !name_valid(edge))) ||
	    (tenant != NULL && !name_valid(tenant)) || *p != '\0') {
		fprintf(f, "error: the request is \"edges [json] [TENANT]\" "
		    "or \"edges history [json] EDGE [TENANT]\", with names\n");
		return;
	}
	if (history && tenant == NULL && (tenant = tenant_of(cf, edge)) ==
	    NULL) {
		fprintf(f, "error: edge '%s' is not in this cloud's "
		    "configuration: name its tenant (--tenant T)\n", edge);
		return;
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
	if (history) {
		snprintf(a->edge, sizeof(a->edge), "%s", edge);
		snprintf(a->tenant, sizeof(a->tenant), "%s", tenant);
		rc = store_edge_history(s, tenant, edge, on_history, a);
	} else {
		rc = store_list_edges(s, tenant, on_edges, a);
	}
	if (rc != 0) {
		static const char busy[] = "error: the state store is busy\n";

		admin_answer(a->req, busy, sizeof(busy) - 1);
		free(a);
	}
}
