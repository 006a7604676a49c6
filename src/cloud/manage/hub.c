/*
 * The management hub, in the control loop (manage.h): which edge has a
 * live session on which worker, instructions handed to that worker,
 * what sessions report back (a session opened: send what waits for its
 * edge; a result: tell the operator waiting), and the sweep that turns
 * instructions nobody answered into timeouts and those that never
 * reached their edge into expiries.
 */
#include "cloud/manage/manage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cloud/cloud-int.h"
#include "cloud/config.h"
#include "cloud/manage/manage-int.h"
#include "common/admin.h"
#include "common/log.h"
#include "common/stat.h"

#define SWEEP_MS 1000

/* An operator waiting for an instruction's outcome (manage --wait). */
struct mwaiter {
	struct mwaiter *next;
	struct manage_hub *h;
	struct store_instruction in;	/* args and result malloc'd */
	struct admin_req *req;
	struct event *timer;
};

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

uint64_t
hub_register(struct manage_hub *h, const char *tenant, const char *edge,
    unsigned widx)
{
	struct mreg *g;
	uint64_t gen;

	pthread_mutex_lock(&h->mu);
	gen = ++h->next_gen;
	if ((g = calloc(1, sizeof(*g))) != NULL) {
		/* the newest session of an edge takes it; the older stay
		 * known, for when it ends first */
		struct mreg *o;

		for (o = h->regs; o != NULL; o = o->next)
			if (strcmp(o->tenant, tenant) == 0 &&
			    strcmp(o->edge, edge) == 0)
				o->shadowed = true;
		snprintf(g->tenant, sizeof(g->tenant), "%s", tenant);
		snprintf(g->edge, sizeof(g->edge), "%s", edge);
		g->widx = widx;
		g->gen = gen;
		g->next = h->regs;
		h->regs = g;
	}
	pthread_mutex_unlock(&h->mu);
	return gen;
}

void
hub_unregister(struct manage_hub *h, const char *tenant, const char *edge,
    uint64_t gen)
{
	struct mreg **pp, *g;

	pthread_mutex_lock(&h->mu);
	for (pp = &h->regs; (g = *pp) != NULL; pp = &g->next)
		if (g->gen == gen && strcmp(g->tenant, tenant) == 0 &&
		    strcmp(g->edge, edge) == 0) {
			bool newest = !g->shadowed;

			*pp = g->next;
			free(g);
			/* the next newest of the edge, if one is up, takes
			 * over (the list is newest first) */
			for (g = newest ? h->regs : NULL; g != NULL;
			    g = g->next)
				if (strcmp(g->tenant, tenant) == 0 &&
				    strcmp(g->edge, edge) == 0) {
					g->shadowed = false;
					break;
				}
			break;
		}
	pthread_mutex_unlock(&h->mu);
}

void
hub_note(struct manage_hub *h, struct mnote *n)
{
	uint64_t one = 1;

	n->next = NULL;
	pthread_mutex_lock(&h->mu);
	if (h->notes_tail != NULL)
		h->notes_tail->next = n;
	else
		h->notes = n;
	h->notes_tail = n;
	pthread_mutex_unlock(&h->mu);
	(void)!write(h->efd, &one, sizeof(one));
}

void
mdelivery_free(struct mdelivery *d)
{
	if (d == NULL)
		return;
	if (d->ready != NULL && d->line != NULL)
		OPENSSL_cleanse(d->line, d->len);	/* the test's key */
	mready_spec_free(d->ready);
	free(d->line);
	free(d);
}

static void outcome(struct manage_hub *h, const char *id,
    enum manage_kind kind, enum manage_outcome oc, char **result,
    const char *error);

/* A readiness instruction that cannot go down as it is (its profile was
 * removed by a reload): it ends now, as an error the operator reads. */
static void
undeliverable(struct manage_hub *h, const struct store_instruction *in,
    const char *why)
{
	char *none = NULL;

	log_warn("cloud", "manage_undeliverable", "edge=%s tenant=%s id=%s "
	    "kind=%s error=%s", in->edge, in->tenant, in->id, in->kind,
	    why);
	if (h->cl->store != NULL)
		(void)store_instruction_done(h->cl->store, in->id,
		    MANAGE_O_ERROR, NULL, why, now_s());
	outcome(h, in->id, manage_kind_parse(in->kind), MO_ERROR, &none, why);
}

/* d to the worker holding its edge's session: the one of generation
 * d->gen, or (0) the edge's newest; false (d freed) when there is none. */
static bool
post(struct manage_hub *h, struct mdelivery *d)
{
	struct mreg *g;
	unsigned widx;

	pthread_mutex_lock(&h->mu);
	for (g = h->regs; g != NULL; g = g->next)
		if (d->gen != 0 ? g->gen == d->gen : !g->shadowed &&
		    strcmp(g->tenant, d->tenant) == 0 &&
		    strcmp(g->edge, d->edge) == 0)
			break;
	if (g == NULL) {
		pthread_mutex_unlock(&h->mu);
		mdelivery_free(d);
		return false;
	}
	widx = g->widx;
	d->gen = g->gen;
	if (h->outbox_tail[widx] != NULL)
		h->outbox_tail[widx]->next = d;
	else
		h->outbox[widx] = d;
	h->outbox_tail[widx] = d;
	pthread_mutex_unlock(&h->mu);
	worker_post(&h->cl->workers[widx], WORKER_MANAGE);
	return true;
}

/* The line is made here, at send time: a readiness test gets its key,
 * its profile as configured now, and a deadline from now. */
bool
hub_deliver(struct manage_hub *h, const struct store_instruction *in)
{
	struct cloud *cl = h->cl;
	int64_t deadline = now_s() +
	    (int64_t)(cl->conf->instruction_timeout / 1000);
	struct ready_spec *rs = NULL;
	json_t *params = NULL;
	struct mdelivery *d;
	char why[256];
	int rc;

	if (manage_kind_parse(in->kind) == MK_READINESS &&
	    (rc = mready_prepare(h, in, &deadline, &params, &rs, why,
	    sizeof(why))) != 0) {
		if (rc == -ENOENT)
			undeliverable(h, in, why);
		return false;	/* else out of memory: it waits */
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		json_decref(params);
		mready_spec_free(rs);
		return false;	/* it waits in the store */
	}
	d->ready = rs;
	if ((d->line = mmsg_instruction(in, deadline, params,
	    &d->len)) == NULL) {
		mdelivery_free(d);
		return false;
	}
	snprintf(d->tenant, sizeof(d->tenant), "%s", in->tenant);
	snprintf(d->edge, sizeof(d->edge), "%s", in->edge);
	memcpy(d->id, in->id, sizeof(d->id));
	d->kind = manage_kind_parse(in->kind);
	d->answer_by = deadline + MANAGE_GRACE_S;
	return post(h, d);
}

void
hub_send_line(struct manage_hub *h, const char *tenant, const char *edge,
    uint64_t gen, char *line, size_t len)
{
	struct mdelivery *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		free(line);
		return;
	}
	d->line = line;
	d->len = len;
	d->gen = gen;
	snprintf(d->tenant, sizeof(d->tenant), "%s", tenant);
	snprintf(d->edge, sizeof(d->edge), "%s", edge);
	(void)post(h, d);
}

/* --- operators waiting ------------------------------------------------ */

static struct mwaiter *
waiter_find(struct manage_hub *h, const char *id)
{
	struct mwaiter *wt;

	for (wt = h->waiters; wt != NULL; wt = wt->next)
		if (strcmp(wt->in.id, id) == 0)
			return wt;
	return NULL;
}

void
manage_answer_json(struct admin_req *req, json_t *o)
{
	char *text = o != NULL ? json_dumps(o, MANAGE_JSON_FLAGS) : NULL;
	size_t n;

	json_decref(o);
	if (text == NULL) {
		admin_answer(req, "{\"error\":\"out of memory\"}\n", 25);
		return;
	}
	n = strlen(text);
	text[n] = '\n';		/* json_dumps left room: its NUL */
	admin_answer(req, text, n + 1);
	free(text);
}

void
hub_test_done(struct manage_hub *h, const char *id)
{
	struct mreg *g;

	pthread_mutex_lock(&h->mu);
	for (g = h->regs; g != NULL; g = g->next)
		if (g->busy[0] != '\0' && strcmp(g->busy, id) == 0)
			g->busy[0] = '\0';
	pthread_mutex_unlock(&h->mu);
}

/* The operator hears where the instruction stands, and the wait ends. */
static void
waiter_answer(struct mwaiter *wt)
{
	struct mwaiter **pp;

	for (pp = &wt->h->waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == wt) {
			*pp = wt->next;
			break;
		}
	manage_answer_json(wt->req, mmsg_record(&wt->in));
	event_free(wt->timer);
	free(wt->in.args);
	free(wt->in.result);
	free(wt);
}

static void
on_wait_over(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	waiter_answer(arg);	/* still waiting or sent: said as it is */
}

int
hub_wait(struct manage_hub *h, const struct store_instruction *in,
    struct admin_req *req, uint64_t wait_ms)
{
	struct timeval tv = { (time_t)(wait_ms / 1000),
	    (suseconds_t)(wait_ms % 1000) * 1000 };
	struct mwaiter *wt = calloc(1, sizeof(*wt));

	if (wt == NULL)
		return -ENOMEM;
	wt->in = *in;
	wt->in.result = NULL;
	wt->in.args = in->args != NULL ? strdup(in->args) : NULL;
	wt->h = h;
	wt->req = req;
	wt->timer = evtimer_new(h->cl->base, on_wait_over, wt);
	if (wt->timer == NULL || evtimer_add(wt->timer, &tv) != 0) {
		if (wt->timer != NULL)
			event_free(wt->timer);
		free(wt->in.args);
		free(wt);
		return -ENOMEM;
	}
	wt->next = h->waiters;
	h->waiters = wt;
	return 0;
}

/* id has its outcome: counted, and told to whoever waits for it. */
static void
outcome(struct manage_hub *h, const char *id, enum manage_kind kind,
    enum manage_outcome oc, char **result, const char *error)
{
	struct mwaiter *wt;

	if ((unsigned)kind < MK_COUNT && (unsigned)oc < MO_COUNT)
		STAT_ADD(h->outcomes[kind][oc], 1);
	hub_test_done(h, id);
	wt = waiter_find(h, id);
	if (wt == NULL)
		return;
	snprintf(wt->in.state, sizeof(wt->in.state), "%s", manage_outcome_name(oc));
	wt->in.done = now_s();
	free(wt->in.result);
	wt->in.result = *result;
	*result = NULL;
	snprintf(wt->in.error, sizeof(wt->in.error), "%s",
	    error != NULL ? error : "");
	waiter_answer(wt);
}

/* --- what sessions say ------------------------------------------------ */

struct edge_ask {
	struct edge_ask *next;		/* h->reread */
	struct manage_hub *h;
	bool warned;			/* said once that it failed */
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
};

static void ask_waiting(struct manage_hub *h, struct edge_ask *a);

static void
on_waiting(int rc, const struct store_instruction *v, size_t n,
    const struct err *e, void *arg)
{
	struct edge_ask *a = arg;
	size_t i;

	if (rc != 0) {
		/* asked again by the sweep, once the store answers */
		if (!a->warned)
			log_warn("cloud", "manage_waiting_unread", "edge=%s "
			    "tenant=%s error=%s action=retry_every_second",
			    a->edge, a->tenant, e->msg);
		a->warned = true;
		a->next = a->h->reread;
		a->h->reread = a;
		return;
	}
	for (i = 0; i < n; i++)
		hub_deliver(a->h, &v[i]);
	free(a);
}

static void
ask_waiting(struct manage_hub *h, struct edge_ask *a)
{
	if (store_instructions_waiting(h->cl->store, a->tenant, a->edge,
	    now_s(), on_waiting, a) != 0) {
		a->next = h->reread;	/* the store is busy: later */
		h->reread = a;
	}
}

/* The edge's session opened (or has room again): what waits for it in
 * the store goes down, oldest first. */
static void
send_waiting(struct manage_hub *h, const struct mnote *n)
{
	struct edge_ask *a;

	if (h->cl->store == NULL || (a = calloc(1, sizeof(*a))) == NULL)
		return;
	a->h = h;
	memcpy(a->tenant, n->tenant, sizeof(a->tenant));
	memcpy(a->edge, n->edge, sizeof(a->edge));
	ask_waiting(h, a);
}

static void
on_notes(evutil_socket_t fd, short what, void *arg)
{
	struct manage_hub *h = arg;
	struct mnote *n, *next;
	struct mwaiter *wt;
	struct mreg *g;
	uint64_t cnt;

	(void)what;
	(void)!read(fd, &cnt, sizeof(cnt));
	pthread_mutex_lock(&h->mu);
	n = h->notes;
	h->notes = h->notes_tail = NULL;
	pthread_mutex_unlock(&h->mu);
	for (; n != NULL; n = next) {
		next = n->next;
		switch (n->what) {
		case MN_OPENED:
		case MN_READY:
			send_waiting(h, n);
			break;
		case MN_SENT:
			STAT_ADD(h->sent, 1);
			if ((wt = waiter_find(h, n->id)) != NULL) {
				snprintf(wt->in.state, sizeof(wt->in.state),
				    "%s", STORE_STATE_SENT);
				wt->in.sent = now_s();
			}
			break;
		case MN_DONE:
			if (n->fig.ok)
				results_note(h, n->tenant, n->edge, &n->fig);
			outcome(h, n->id, n->kind, n->outcome, &n->result,
			    n->error);
			break;
		case MN_HELLO:
			pthread_mutex_lock(&h->mu);
			for (g = h->regs; g != NULL; g = g->next)
				if (g->gen == n->gen) {
					g->hello = true;
					g->accepts_readiness = n->readiness;
					g->told = false;
				}
			pthread_mutex_unlock(&h->mu);
			break;
		case MN_KEPT:
			results_note(h, n->tenant, n->edge, &n->fig);
			break;
		}
		free(n->result);
		free(n);
	}
}

/* --- the sweep -------------------------------------------------------- */

static void
on_swept(int rc, const struct store_instruction *v, size_t n,
    const struct err *e, void *arg)
{
	struct manage_hub *h = arg;
	char *none = NULL;
	enum manage_kind k;
	size_t i;
	int oc;

	(void)e;
	h->sweeping = false;
	for (i = 0; rc == 0 && i < n; i++) {
		k = manage_kind_parse(v[i].kind);
		oc = manage_outcome_parse(v[i].state);
		log_info("cloud", "manage_outcome", "edge=%s tenant=%s id=%s "
		    "kind=%s outcome=%s", v[i].edge, v[i].tenant, v[i].id,
		    v[i].kind, v[i].state);
		if (oc >= 0)
			outcome(h, v[i].id, k, (enum manage_outcome)oc,
			    &none, NULL);
	}
}

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct manage_hub *h = arg;

	struct edge_ask *a, *next;

	(void)fd;
	(void)what;
	if (h->sweeping || h->cl->store == NULL)
		return;
	/* what could not be read for edges that came while it was away */
	a = h->reread;
	h->reread = NULL;
	for (; a != NULL; a = next) {
		next = a->next;
		ask_waiting(h, a);
	}
	if (store_instructions_sweep(h->cl->store, now_s(), on_swept, h) == 0)
		h->sweeping = true;
}

int
cloud_manage_init(struct cloud *cl, struct err *e)
{
	struct timeval tv = { SWEEP_MS / 1000, (SWEEP_MS % 1000) * 1000 };
	struct manage_hub *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	h->cl = cl;
	h->nworkers = cl->nworkers;
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&h->mu, NULL);
	h->outbox = calloc(cl->nworkers, sizeof(*h->outbox));
	h->outbox_tail = calloc(cl->nworkers, sizeof(*h->outbox_tail));
	h->sessions = calloc(cl->nworkers, sizeof(*h->sessions));
	cl->hub = h;
	if (h->efd < 0 || h->outbox == NULL || h->outbox_tail == NULL ||
	    h->sessions == NULL || (h->ev = event_new(cl->base, h->efd,
	    EV_READ | EV_PERSIST, on_notes, h)) == NULL ||
	    event_add(h->ev, NULL) != 0 ||
	    (h->sweep = event_new(cl->base, -1, EV_PERSIST, on_sweep,
	    h)) == NULL || event_add(h->sweep, &tv) != 0) {
		cloud_manage_free(cl);
		return err_set(e, -ENOMEM, "cannot set up the management hub");
	}
	return 0;
}

void
cloud_manage_free(struct cloud *cl)
{
	struct manage_hub *h = cl->hub;
	struct mdelivery *d;
	struct mnote *n;
	struct mreg *g;
	unsigned i;

	if (h == NULL)
		return;
	while (h->waiters != NULL)
		waiter_answer(h->waiters);	/* as it stands */
	for (i = 0; h->outbox != NULL && i < h->nworkers; i++)
		while ((d = h->outbox[i]) != NULL) {
			h->outbox[i] = d->next;
			mdelivery_free(d);
		}
	while ((n = h->notes) != NULL) {
		h->notes = n->next;
		free(n->result);
		free(n);
	}
	while (h->reread != NULL) {
		struct edge_ask *a = h->reread;

		h->reread = a->next;
		free(a);
	}
	while ((g = h->regs) != NULL) {
		h->regs = g->next;
		free(g);
	}
	results_free(h);
	if (h->ev != NULL)
		event_free(h->ev);
	if (h->sweep != NULL)
		event_free(h->sweep);
	if (h->efd >= 0)
		close(h->efd);
	pthread_mutex_destroy(&h->mu);
	free(h->outbox);
	free(h->outbox_tail);
	free(h->sessions);
	free(h);
	cl->hub = NULL;
}
