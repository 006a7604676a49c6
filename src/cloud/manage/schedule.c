/*
 * Readiness tests on the cloud's schedule (docs/readiness.md,
 * "Schedules"): `readiness = PROFILE every DURATION` for a tenant or an
 * edge. Each edge tests at a fixed offset within the interval, a hash of
 * its tenant and name, so a fleet spreads evenly and a restart moves
 * nobody. A test falls due only while the edge's management stream is up
 * and its hello said it accepts readiness; it is an instruction like an
 * operator's (recorded, then sent), issued by "schedule". One scheduled
 * test per edge at a time: a due time that finds the last one unanswered
 * is skipped. The edge is told its schedule after its hello and on every
 * change (a reload), for its status.
 */
#include "cloud/manage/manage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/cloud-int.h"
#include "cloud/config.h"
#include "cloud/manage/manage-int.h"
#include "common/log.h"
#include "common/readiness.h"
#include "common/stat.h"

#define SCHEDULE_ISSUER "schedule"

/* What the tick found to do once the lock is released. */
struct todo {
	struct todo *next;
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	uint64_t gen;
	bool tell, issue;
	char profile[NAME_MAX_LEN + 1];
	uint64_t every_ms;
	int64_t next_test;
	char id[MANAGE_ID_MAX + 1];
};

struct adding {
	struct manage_hub *h;
	struct store_instruction in;
};

int64_t
schedule_next(const char *tenant, const char *edge, uint64_t every_s,
    int64_t now)
{
	uint64_t x = 0xcbf29ce484222325ull, phase;
	const char *parts[3] = { tenant, "/", edge };
	const unsigned char *p;
	int i;

	if (every_s == 0)
		return 0;
	/* FNV-1a over "tenant/edge", then splitmix64's finalizer so that
	 * names differing in one letter land far apart */
	for (i = 0; i < 3; i++)
		for (p = (const unsigned char *)parts[i]; *p != '\0'; p++) {
			x ^= *p;
			x *= 0x100000001b3ull;
		}
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	phase = x % every_s;
	return (int64_t)phase + ((now - (int64_t)phase) / (int64_t)every_s +
	    1) * (int64_t)every_s;
}

static void
tell(struct manage_hub *h, const struct todo *t)
{
	json_t *o, *r = json_null();
	char *line;
	size_t len;

	if (t->profile[0] != '\0')
		r = json_pack("{s:s, s:I, s:I}", "profile", t->profile,
		    "every", (json_int_t)(t->every_ms / 1000), "next",
		    (json_int_t)t->next_test);
	o = json_pack("{s:i, s:s, s:o}", "v", MANAGE_VERSION, "type",
	    MANAGE_T_SCHEDULE, "readiness", r);
	if ((line = manage_json_line(o, &len)) != NULL)
		hub_send_line(h, t->tenant, t->edge, t->gen, line, len);
}

static void
on_added(int rc, const struct err *e, void *arg)
{
	struct adding *a = arg;

	if (rc != 0) {
		log_warn("cloud", "readiness_not_scheduled", "edge=%s "
		    "tenant=%s id=%s error=%s", a->in.edge, a->in.tenant,
		    a->in.id, e != NULL ? e->msg : "store refused it");
		hub_test_done(a->h, a->in.id);
	} else {
		log_info("cloud", "manage_issued", "id=%s edge=%s tenant=%s "
		    "kind=%s issuer=%s", a->in.id, a->in.edge, a->in.tenant,
		    a->in.kind, a->in.issuer);
		STAT_ADD(a->h->scheduled, 1);
		if (!hub_deliver(a->h, &a->in))
			log_info("cloud", "readiness_waits", "edge=%s "
			    "tenant=%s id=%s", a->in.edge, a->in.tenant,
			    a->in.id);
	}
	free(a->in.args);
	free(a);
}

static void
issue(struct manage_hub *h, const struct todo *t, int64_t now)
{
	struct adding *a = calloc(1, sizeof(*a));
	json_t *args;

	args = json_pack("[s]", t->profile);
	if (a == NULL || args == NULL ||
	    (a->in.args = json_dumps(args, JSON_COMPACT)) == NULL) {
		json_decref(args);
		free(a);
		hub_test_done(h, t->id);
		return;
	}
	json_decref(args);
	a->h = h;
	memcpy(a->in.id, t->id, sizeof(a->in.id));
	snprintf(a->in.tenant, sizeof(a->in.tenant), "%s", t->tenant);
	snprintf(a->in.edge, sizeof(a->in.edge), "%s", t->edge);
	snprintf(a->in.kind, sizeof(a->in.kind), "%s", MANAGE_K_READINESS);
	snprintf(a->in.issuer, sizeof(a->in.issuer), "%s", SCHEDULE_ISSUER);
	a->in.issued = now;
	/* not delivered within one interval: the next one will be */
	a->in.expires = now + (int64_t)(t->every_ms / 1000);
	if (store_instruction_add(h->cl->store, &a->in, on_added, a) != 0)
		on_added(-1, NULL, a);
}

/* Each second: schedules told, due tests issued. */
static void
tick(struct manage_hub *h)
{
	const struct cloud_conf *cf = h->cl->conf;
	const struct readiness_profile *p;
	struct todo *list = NULL, *t;
	int64_t now = (int64_t)time(NULL);
	uint64_t every;
	struct mreg *g;
	bool have;

	pthread_mutex_lock(&h->mu);
	for (g = h->regs; g != NULL; g = g->next) {
		if (!g->hello || g->shadowed)
			continue;
		have = g->accepts_readiness && cloud_conf_schedule(cf,
		    g->tenant, g->edge, &p, &every) && every >= 1000;
		if ((t = calloc(1, sizeof(*t))) == NULL)
			break;
		if (!g->told || strcmp(g->profile, have ? p->name : "") != 0 ||
		    g->every_ms != (have ? every : 0)) {
			snprintf(g->profile, sizeof(g->profile), "%s",
			    have ? p->name : "");
			g->every_ms = have ? every : 0;
			g->next_test = have ? schedule_next(g->tenant,
			    g->edge, every / 1000, now) : 0;
			g->told = true;
			t->tell = true;
		} else if (have && now >= g->next_test) {
			if (g->busy[0] == '\0') {
				manage_new_id(g->busy);
				memcpy(t->id, g->busy, sizeof(t->id));
				t->issue = true;
			} else
				log_info("cloud", "readiness_skipped",
				    "edge=%s tenant=%s reason=%s", g->edge,
				    g->tenant, "the last test is unanswered");
			g->next_test = schedule_next(g->tenant, g->edge,
			    every / 1000, now);
			t->tell = true;	/* its next time */
		}
		if (!t->tell) {
			free(t);
			continue;
		}
		memcpy(t->tenant, g->tenant, sizeof(t->tenant));
		memcpy(t->edge, g->edge, sizeof(t->edge));
		memcpy(t->profile, g->profile, sizeof(t->profile));
		t->gen = g->gen;
		t->every_ms = g->every_ms;
		t->next_test = g->next_test;
		t->next = list;
		list = t;
	}
	pthread_mutex_unlock(&h->mu);
	for (; list != NULL; list = t) {
		t = list->next;
		if (list->issue)
			issue(h, list, now);
		tell(h, list);
		free(list);
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct manage_hub *h = arg;

	(void)fd;
	(void)what;
	if (h->cl->store != NULL)	/* every test is recorded first */
		tick(h);
}

int
manage_schedule_start(struct cloud *cl, struct err *e)
{
	struct timeval tv = { 1, 0 };
	struct manage_hub *h = cl->hub;

	if ((h->schedule = event_new(cl->base, -1, EV_PERSIST, on_tick,
	    h)) == NULL || event_add(h->schedule, &tv) != 0)
		return err_set(e, -ENOMEM, "cannot start the readiness "
		    "schedule");
	return 0;
}

void
manage_schedule_stop(struct cloud *cl)
{
	if (cl->hub != NULL && cl->hub->schedule != NULL) {
		event_free(cl->hub->schedule);
		cl->hub->schedule = NULL;
	}
}
