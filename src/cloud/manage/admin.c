/*
 * `isthmus manage` and `isthmus audit` on the cloud's admin socket
 * (manage.h). The request is the command word and one JSON object; the
 * answer is one JSON object the CLI prints or turns into text. An
 * instruction is checked (its edge in this cloud's configuration, its
 * kind and arguments), recorded in the store with who issued it, and
 * only then sent; one the store cannot record now is refused.
 */
#include "cloud/manage/manage.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/cloud-int.h"
#include "cloud/config.h"
#include "cloud/manage/manage-int.h"
#include "common/admin.h"
#include "common/log.h"
#include "common/names.h"
#include "common/queuewords.h"
#include "common/timefmt.h"
#include "common/tls.h"

/* What --wait may ask, at most. */
#define WAIT_MAX_MS (3600u * 1000)
/* What --ttl may ask, at most: instruction_ttl's own bound, 30 days. */
#define TTL_MAX_MS (30ull * 86400 * 1000)

struct pending {
	struct manage_hub *h;
	struct store_instruction in;
	struct admin_req *req;
	uint64_t wait_ms;
};

static void
say_error(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say_error(FILE *f, const char *fmt, ...)
{
	char msg[512];
	json_t *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:s}", "error", msg);
	if (o != NULL)
		json_dumpf(o, f, JSON_COMPACT);
	json_decref(o);
	fputc('\n', f);
}

static void
answer_error(struct admin_req *req, const char *msg)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (f != NULL) {
		say_error(f, "%s", msg);
		fclose(f);
	}
	admin_answer(req, buf != NULL ? buf : "", buf != NULL ? n : 0);
	free(buf);
}

/* The edge named, in this cloud's configuration; its tenant too when the
 * operator gave none and the name is in one tenant only. */
static const struct cloud_edge *
find_edge(const struct cloud_conf *cf, const char *tenant, const char *edge,
    FILE *f)
{
	const struct cloud_edge *found = NULL, *other = NULL;
	size_t i;

	for (i = 0; i < cf->nedges; i++) {
		const struct cloud_edge *ce = cf->edges[i];

		if (strcmp(ce->name, edge) != 0)
			continue;
		if (tenant != NULL && strcmp(ce->tenant->name, tenant) != 0) {
			other = ce;
			continue;
		}
		if (found != NULL) {
			say_error(f, "edge '%s' is in several tenants: name "
			    "one with --tenant", edge);
			return NULL;
		}
		found = ce;
	}
	if (found == NULL && other != NULL)
		say_error(f, "tenant '%s' has no edge '%s'", tenant, edge);
	else if (found == NULL)
		say_error(f, "no edge '%s' in this cloud's configuration",
		    edge);
	return found;
}

/* readiness [PROFILE]: a profile of this cloud's configuration, refused
 * here rather than by the edge, which could only say it got none. */
static bool
profile_ok(const struct cloud_conf *cf, json_t *args, FILE *f)
{
	const char *name;
	char names[512];
	size_t i, n = 0;

	if (json_array_size(args) == 0)
		return true;
	name = json_string_value(json_array_get(args, 0));
	if (json_array_size(args) == 1 && cloud_conf_readiness(cf, name))
		return true;
	n += (size_t)snprintf(names, sizeof(names), "%s", READINESS_DEFAULT);
	for (i = 0; i < cf->nprofiles && n < sizeof(names); i++)
		if (strcmp(cf->profiles[i]->name, READINESS_DEFAULT) != 0)
			n += (size_t)snprintf(names + n, sizeof(names) - n,
			    ", %s", cf->profiles[i]->name);
	if (json_array_size(args) > 1)
		say_error(f, "readiness takes at most one profile (%s)", names);
	else
		say_error(f, "no readiness profile '%.64s' in this cloud's "
		    "configuration (it has: %s)", name, names);
	return false;
}

/* A trust store entry's id: a decimal number from 1, as the store gives
 * them (no sign, no leading zero). */
static bool
trust_id_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n <= 18 && s[n] == '\0' && s[0] != '0';
}

/* trust list [pending] | show ID | approve ID sha256:HEX | reject ID |
 * forget ID (docs/trust.md, "From the cloud"). */
static bool
trust_args_ok(json_t *args, FILE *f)
{
	size_t n = json_array_size(args);
	const char *cmd = n > 0 ? json_string_value(json_array_get(args, 0)) :
	    "", *id = n > 1 ? json_string_value(json_array_get(args, 1)) : "";
	uint8_t fp[32];
	struct err e;

	if (strcmp(cmd, "list") == 0 && (n == 1 || (n == 2 &&
	    strcmp(id, "pending") == 0)))
		return true;
	if ((strcmp(cmd, "show") == 0 || strcmp(cmd, "reject") == 0 ||
	    strcmp(cmd, "forget") == 0 || strcmp(cmd, "approve") == 0) &&
	    n >= 2 && !trust_id_ok(id)) {
		say_error(f, "trust %s: '%.32s' is not an entry id (a number "
		    "from 1, as trust list shows)", cmd, id);
		return false;
	}
	if ((strcmp(cmd, "show") == 0 || strcmp(cmd, "reject") == 0 ||
	    strcmp(cmd, "forget") == 0) && n == 2)
		return true;
	if (strcmp(cmd, "approve") == 0 && n == 3) {
		const char *pin = json_string_value(json_array_get(args, 2));

		if (tls_pin_parse(pin, fp, &e) == 0)
			return true;
		say_error(f, "trust approve: '%.80s' is not a certificate "
		    "fingerprint (sha256: and 64 hex digits, as trust show "
		    "prints it)", pin);
		return false;
	}
	say_error(f, "%s", "trust takes list [--pending], show ID, approve "
	    "ID --fingerprint sha256:HEX, reject ID or forget ID");
	return false;
}

/* queue list [dead] | show ID | retry ID|dead | drop ID|dead
 * (docs/queue.md, "Operating it"): checked as isthmus queue checks
 * them, so a mistyped id is refused before it is recorded. args_ok
 * holds them to MANAGE_ARGS_MAX strings. */
static bool
queue_args_ok(json_t *args, FILE *f)
{
	const char *w[MANAGE_ARGS_MAX];
	size_t n = json_array_size(args), i;
	struct err e;

	for (i = 0; i < n && i < MANAGE_ARGS_MAX; i++)
		w[i] = json_string_value(json_array_get(args, i));
	if (queue_words_check(w, i, &e) == 0)
		return true;
	say_error(f, "%s", e.msg);
	return false;
}

/* The arguments each kind takes: how many, and what they are. */
static bool
args_ok(const struct cloud_conf *cf, enum manage_kind k, json_t *args,
    FILE *f)
{
	size_t n = json_array_size(args), i;
	json_t *a;
	long v;
	char *end;

	json_array_foreach(args, i, a)
		if (!json_is_string(a) || json_string_length(a) >
		    MANAGE_ARG_MAX) {
			say_error(f, "an argument is not a string of at most "
			    "%u bytes", MANAGE_ARG_MAX);
			return false;
		}
	switch (k) {
	case MK_STATUS:
	case MK_DOCTOR:
	case MK_RELOAD:
		if (n == 0)
			return true;
		say_error(f, "%s takes no argument", manage_kind_name(k));
		return false;
	case MK_PURGE_CACHE:
		if (n <= 1)
			return true;
		say_error(f, "%s", "purge-cache takes at most one URL");
		return false;
	case MK_PREFETCH:
		if (n == 1)
			return true;
		say_error(f, "%s", "prefetch takes one URL");
		return false;
	case MK_LOGS:
		if (n == 0)
			return true;
		v = n == 1 ? strtol(json_string_value(json_array_get(args, 0)),
		    &end, 10) : 0;
		if (n == 1 && *end == '\0' && v >= 1 && v <= 1000)
			return true;
		say_error(f, "%s", "logs takes one count, 1 to 1000");
		return false;
	case MK_READINESS:
		return profile_ok(cf, args, f);
	case MK_TRUST:
		return trust_args_ok(args, f);
	case MK_QUEUE:
		return queue_args_ok(args, f);
	default:
		return false;
	}
}

static void
on_added(int rc, const struct err *e, void *arg)
{
	struct pending *p = arg;
	bool live = false;
	json_t *o;

	if (rc == -ENOSPC) {
		answer_error(p->req, "too many instructions wait for this "
		    "edge already: let them be delivered or expire");
		goto out;
	}
	if (rc != 0) {
		char msg[sizeof(e->msg) + 128];

		snprintf(msg, sizeof(msg), "store unavailable: %s (the "
		    "instruction was not recorded, so it was not sent)",
		    e->msg);
		answer_error(p->req, msg);
		goto out;
	}
	log_info("cloud", "manage_issued", "id=%s edge=%s tenant=%s kind=%s "
	    "issuer=%s", p->in.id, p->in.edge, p->in.tenant, p->in.kind,
	    p->in.issuer);
	live = hub_deliver(p->h, &p->in);
	if (p->wait_ms > 0 && hub_wait(p->h, &p->in, p->req,
	    p->wait_ms) == 0)
		goto out;
	o = mmsg_record(&p->in);
	if (o != NULL)
		json_object_set_new(o, "edge_connected", json_boolean(live));
	manage_answer_json(p->req, o);
out:
	free(p->in.args);
	free(p);
}

void
manage_admin(struct cloud *cl, const char *args, FILE *f,
    struct admin_req *req)
{
	const char *tenant = NULL, *edge = NULL, *kind = NULL;
	json_int_t wait = 0, ttl = 0;
	const struct cloud_edge *ce;
	json_t *o, *jargs = NULL;
	json_error_t jerr;
	struct pending *p;
	enum manage_kind k;

	o = json_loads(args, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || json_unpack_ex(o, &jerr, 0,
	    "{s?s, s:s, s:s, s?o, s?I, s?I}", "tenant", &tenant, "edge",
	    &edge, "kind", &kind, "args", &jargs, "wait", &wait, "ttl",
	    &ttl) != 0) {
		say_error(f, "bad manage request: %s", jerr.text);
		goto out;
	}
	if (cl->store == NULL) {
		say_error(f, "%s", "this cloud has no state store: set `state` "
		    "in cloud.conf (every instruction is recorded before it "
		    "is sent)");
		goto out;
	}
	if ((k = manage_kind_parse(kind)) == MK_UNKNOWN) {
		say_error(f, "unknown instruction kind '%s' (status, doctor, "
		    "purge-cache, prefetch, reload, logs, readiness, trust, "
		    "queue)", kind);
		goto out;
	}
	if (jargs != NULL && (!json_is_array(jargs) ||
	    json_array_size(jargs) > MANAGE_ARGS_MAX)) {
		say_error(f, "args must be an array of at most %d strings",
		    MANAGE_ARGS_MAX);
		goto out;
	}
	if (!args_ok(cl->conf, k, jargs, f))
		goto out;
	if (wait < 0 || (uint64_t)wait > WAIT_MAX_MS || ttl < 0 ||
	    (uint64_t)ttl > TTL_MAX_MS) {
		say_error(f, "%s", "wait or ttl out of range");
		goto out;
	}
	if ((ce = find_edge(cl->conf, tenant, edge, f)) == NULL)
		goto out;
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->in.args = json_dumps(jargs != NULL ? jargs :
	    json_array(), JSON_COMPACT)) == NULL ||
	    (p->req = admin_defer(req)) == NULL) {
		if (p != NULL)
			free(p->in.args);
		free(p);
		say_error(f, "%s", "out of memory");
		goto out;
	}
	p->h = cl->hub;
	p->wait_ms = (uint64_t)wait;
	manage_new_id(p->in.id);
	snprintf(p->in.tenant, sizeof(p->in.tenant), "%s", ce->tenant->name);
	snprintf(p->in.edge, sizeof(p->in.edge), "%s", ce->name);
	snprintf(p->in.kind, sizeof(p->in.kind), "%s", kind);
	/* the operator: the unix user behind the admin socket */
	admin_user_name(admin_req_uid(req), p->in.issuer,
	    sizeof(p->in.issuer));
	p->in.issued = (int64_t)time(NULL);
	p->in.expires = p->in.issued + (ttl > 0 ? (int64_t)ttl / 1000 :
	    (int64_t)(cl->conf->instruction_ttl / 1000));
	snprintf(p->in.state, sizeof(p->in.state), "%s", STORE_STATE_WAITING);
	if (store_instruction_add(cl->store, &p->in, on_added, p) != 0) {
		struct err e;

		err_set(&e, -EIO, "too many requests at once");
		on_added(-EIO, &e, p);
	}
out:
	json_decref(o);
}

struct audit_ask {
	struct admin_req *req;
};

static void
on_audit(int rc, const struct store_instruction *v, size_t n,
    const struct err *e, void *arg)
{
	struct audit_ask *a = arg;
	json_t *o, *list;
	size_t i;

	if (rc != 0) {
		char msg[sizeof(e->msg) + 128];

		snprintf(msg, sizeof(msg), "store unavailable: %s", e->msg);
		answer_error(a->req, msg);
		free(a);
		return;
	}
	list = json_array();
	for (i = 0; list != NULL && i < n; i++)
		json_array_append_new(list, mmsg_record(&v[i]));
	o = json_pack("{s:o}", "instructions", list != NULL ? list :
	    json_array());
	manage_answer_json(a->req, o);
	free(a);
}

void
manage_audit(struct cloud *cl, const char *args, FILE *f,
    struct admin_req *req)
{
	const char *tenant = NULL, *edge = NULL, *id = NULL;
	struct store_audit_filter flt;
	json_int_t since = 0, limit = 0;
	struct audit_ask *a;
	json_error_t jerr;
	json_t *o;

	memset(&flt, 0, sizeof(flt));
	o = json_loads(args, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || json_unpack_ex(o, &jerr, 0,
	    "{s?s, s?s, s?s, s?I, s?I}", "tenant", &tenant, "edge", &edge,
	    "id", &id, "since", &since, "limit", &limit) != 0) {
		say_error(f, "bad audit request: %s", jerr.text);
		goto out;
	}
	if (cl->store == NULL) {
		say_error(f, "%s", "this cloud has no state store: set `state` "
		    "in cloud.conf");
		goto out;
	}
	if ((tenant != NULL && !name_valid(tenant)) ||
	    (edge != NULL && !name_valid(edge)) ||
	    (id != NULL && strlen(id) > MANAGE_ID_MAX) || since < 0 ||
	    limit < 0 || limit > 100000) {
		say_error(f, "%s", "bad audit filter");
		goto out;
	}
	snprintf(flt.tenant, sizeof(flt.tenant), "%s", tenant ? tenant : "");
	snprintf(flt.edge, sizeof(flt.edge), "%s", edge ? edge : "");
	snprintf(flt.id, sizeof(flt.id), "%s", id ? id : "");
	flt.since = since;
	flt.limit = (unsigned)limit;
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->req = admin_defer(req)) == NULL) {
		free(a);
		say_error(f, "%s", "out of memory");
		goto out;
	}
	if (store_audit(cl->store, &flt, on_audit, a) != 0) {
		answer_error(a->req, "store busy: too many requests at once");
		free(a);
	}
out:
	json_decref(o);
}

/* --- `isthmus readiness`: the stored results (docs/readiness.md,
 * "Reports") ----------------------------------------------------------- */

/* At most what one report asks (docs/readiness.md). */
#define READINESS_LIMIT_MAX 10000

struct readiness_ask {
	struct admin_req *req;
	json_t *filter;
};

static json_t *
readiness_test(const struct store_readiness *r)
{
	json_t *result = r->result != NULL ? json_loads(r->result, 0, NULL) :
	    NULL;

	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:b, s:s, "
	    "s:o}", "id", r->id, "tenant", r->tenant, "edge", r->edge,
	    "profile", r->profile, "at", (json_int_t)r->at,
	    "received", (json_int_t)r->received, "verdict", r->verdict,
	    "late", r->late, "issuer", r->issuer,
	    /* null: left out of an answer over the store's byte bound */
	    "result", result != NULL ? result : json_null());
}

static void
on_readiness(int rc, const struct store_readiness *v, size_t n,
    const struct err *e, void *arg)
{
	struct readiness_ask *a = arg;
	char now[TIME_TEXT_MAX];
	json_t *o, *list;
	size_t i;

	if (rc != 0) {
		char msg[sizeof(e->msg) + 128];

		snprintf(msg, sizeof(msg), "store unavailable: %s", e->msg);
		answer_error(a->req, msg);
		goto out;
	}
	time_format(time(NULL), TIME_ISO, now, sizeof(now));
	list = json_array();
	for (i = 0; list != NULL && i < n; i++)
		json_array_append_new(list, readiness_test(&v[i]));
	o = json_pack("{s:s, s:O, s:o}", "generated", now, "filter",
	    a->filter, "tests", list != NULL ? list : json_array());
	manage_answer_json(a->req, o);
out:
	json_decref(a->filter);
	free(a);
}

void
manage_readiness(struct cloud *cl, const char *args, FILE *f,
    struct admin_req *req)
{
	const char *tenant = NULL, *edge = NULL;
	struct store_readiness_filter flt;
	json_int_t since = 0, limit = 0;
	struct readiness_ask *a;
	json_error_t jerr;
	json_t *o;

	memset(&flt, 0, sizeof(flt));
	o = json_loads(args, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || json_unpack_ex(o, &jerr, 0, "{s?s, s?s, s?I, s?I}",
	    "tenant", &tenant, "edge", &edge, "since", &since, "limit",
	    &limit) != 0) {
		say_error(f, "bad readiness request: %s", jerr.text);
		goto out;
	}
	if (cl->store == NULL) {
		say_error(f, "%s", "this cloud has no state store: set `state` "
		    "in cloud.conf (readiness results are kept there)");
		goto out;
	}
	if ((tenant != NULL && !name_valid(tenant)) ||
	    (edge != NULL && !name_valid(edge)) || since < 0 || limit < 0 ||
	    limit > READINESS_LIMIT_MAX) {
		say_error(f, "bad readiness filter (limit: at most %d)",
		    READINESS_LIMIT_MAX);
		goto out;
	}
	snprintf(flt.tenant, sizeof(flt.tenant), "%s", tenant ? tenant : "");
	snprintf(flt.edge, sizeof(flt.edge), "%s", edge ? edge : "");
	flt.since = since;
	flt.limit = limit > 0 ? (unsigned)limit : 1000;
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->filter = json_pack("{s:s?, s:s?, s:I, s:I}",
	    "tenant", tenant, "edge", edge, "since", since, "limit",
	    (json_int_t)flt.limit)) == NULL ||
	    (a->req = admin_defer(req)) == NULL) {
		if (a != NULL)
			json_decref(a->filter);
		free(a);
		say_error(f, "%s", "out of memory");
		goto out;
	}
	if (store_readiness_list(cl->store, &flt, on_readiness, a) != 0) {
		answer_error(a->req, "store busy: too many requests at once");
		json_decref(a->filter);
		free(a);
	}
out:
	json_decref(o);
}
