/*
 * The loop's index of the queue (queue-int.h): each record's id, size,
 * time and state, found by id, and the waiting ones in their lanes (a
 * service's, or a service's device's with replay_order = device), each
 * lane in the order accepted. Lanes take turns; one of a lane is sent
 * at a time. Bodies stay on disk.
 */
#include "edge/queue/queue-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
id_slot(const struct sfq *q, int64_t id)
{
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 32) &
	    (q->nid_buckets - 1);
}

static size_t
name_slot(const struct sfq *q, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return (size_t)h & (q->nlane_buckets - 1);
}

/* The id table twice as large once it holds as many as its buckets. */
static int
grow_ids(struct sfq *q)
{
	size_t nb = q->nid_buckets != 0 ? q->nid_buckets * 2 : 1024, i, k;
	struct qent **old = q->ids, *e, *next;
	size_t oldn = q->nid_buckets;

	if ((q->ids = calloc(nb, sizeof(*q->ids))) == NULL) {
		q->ids = old;
		return -ENOMEM;
	}
	q->nid_buckets = nb;
	for (i = 0; i < oldn; i++)
		for (e = old[i]; e != NULL; e = next) {
			next = e->hnext;
			k = id_slot(q, e->id);
			e->hnext = q->ids[k];
			q->ids[k] = e;
		}
	free(old);
	return 0;
}

struct qent *
sfq_index_find(const struct sfq *q, int64_t id)
{
	struct qent *e;

	if (q->nid_buckets == 0)
		return NULL;
	for (e = q->ids[id_slot(q, id)]; e != NULL; e = e->hnext)
		if (e->id == id)
			return e;
	return NULL;
}

/* A lane's name: the service, or the service and the device. */
static char *
lane_name(const struct sfq *q, const struct qent *e)
{
	char *s;

	if (q->order != REPLAY_BY_DEVICE)
		return strdup(e->service);
	return asprintf(&s, "%s %s", e->service, e->dev) < 0 ? NULL : s;
}

static struct qlane *
lane_find(const struct sfq *q, const char *name)
{
	struct qlane *l;

	if (q->nlane_buckets == 0)
		return NULL;
	for (l = q->lane_buckets[name_slot(q, name)]; l != NULL; l = l->hnext)
		if (strcmp(l->name, name) == 0)
			return l;
	return NULL;
}

static char *dev_key(const char *device, const char *mac);

bool
sfq_waiting(const struct sfq *q, const char *service, const char *device,
    const char *mac)
{
	struct qent e = { .service = (char *)(uintptr_t)service };
	struct qlane *l;
	char *name;

	if (q == NULL || (!q->up && !q->opening))
		return false;
	if (q->opening)
		return true;
	if (q->nlanes == 0)
		return false;
	/* Out of memory: behind them, to be safe. */
	if ((e.dev = dev_key(device, mac)) == NULL)
		return true;
	name = lane_name(q, &e);
	free(e.dev);
	if (name == NULL)
		return true;
	l = lane_find(q, name);
	free(name);
	return l != NULL && l->head != NULL;
}

static int
grow_lanes(struct sfq *q)
{
	size_t nb = q->nlane_buckets != 0 ? q->nlane_buckets * 2 : 64, k;
	struct qlane **b = calloc(nb, sizeof(*b)), *l;

	if (b == NULL)
		return -ENOMEM;
	free(q->lane_buckets);
	q->lane_buckets = b;
	q->nlane_buckets = nb;
	for (l = q->lanes; l != NULL; l = l->next) {
		k = name_slot(q, l->name);
		l->hnext = b[k];
		b[k] = l;
	}
	return 0;
}

/* e's lane, made when it has none yet. */
static struct qlane *
lane_of(struct sfq *q, const struct qent *e)
{
	char *name = lane_name(q, e);
	struct qlane *l = NULL;
	size_t k;

	if (name == NULL)
		return NULL;
	l = lane_find(q, name);
	if (l != NULL || (q->nlanes >= q->nlane_buckets &&
	    grow_lanes(q) != 0) || (l = calloc(1, sizeof(*l))) == NULL) {
		free(name);
		return l;
	}
	l->name = name;
	k = name_slot(q, name);
	l->hnext = q->lane_buckets[k];
	q->lane_buckets[k] = l;
	l->next = q->lanes;
	if (q->lanes != NULL)
		q->lanes->prev = l;
	q->lanes = l;
	q->nlanes++;
	return l;
}

static void
lane_free(struct sfq *q, struct qlane *l)
{
	struct qlane **pp;

	for (pp = &q->lane_buckets[name_slot(q, l->name)]; *pp != l;
	    pp = &(*pp)->hnext)
		;
	*pp = l->hnext;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		q->lanes = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	if (q->turn == l)
		q->turn = l->next;
	q->nlanes--;
	free(l->name);
	free(l);
}

/* e into its lane, in id order: new requests at the tail, a dead
 * letter that waits again in its old place. */
static int
lane_enter(struct sfq *q, struct qent *e)
{
	struct qlane *l = lane_of(q, e);
	struct qent *at;

	if (l == NULL)
		return -ENOMEM;
	for (at = l->tail; at != NULL && at->id > e->id; at = at->prev)
		;
	e->prev = at;
	e->next = at != NULL ? at->next : l->head;
	if (e->next != NULL)
		e->next->prev = e;
	else
		l->tail = e;
	if (at != NULL)
		at->next = e;
	else
		l->head = e;
	e->lane = l;
	return 0;
}

static void
lane_leave(struct sfq *q, struct qent *e)
{
	struct qlane *l = e->lane;

	if (l == NULL)
		return;
	if (e->replay != NULL && l->busy > 0)
		l->busy--;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
	e->lane = NULL;
	if (l->head == NULL && l->busy == 0)
		lane_free(q, l);
}

static void
count(struct sfq *q, const struct qent *e, int sign)
{
	if (e->state == QS_DEAD) {
		q->st.dead += (uint64_t)sign;
		q->st.dead_bytes += (uint64_t)sign * e->bytes;
	} else {
		q->st.depth += (uint64_t)sign;
		q->st.bytes += (uint64_t)sign * e->bytes;
	}
}

/* The part of a device that names its lane: its MAC, else its address
 * without the port. */
static char *
dev_key(const char *device, const char *mac)
{
	const char *end;

	if (mac != NULL && mac[0] != '\0')
		return strdup(mac);
	if (device == NULL)
		return strdup("");
	end = device[0] == '[' ? strchr(device, ']') : strrchr(device, ':');
	if (end == NULL)
		return strdup(device);
	return strndup(device, (size_t)(end - device) +
	    (device[0] == '[' ? 1 : 0));
}

int
sfq_index_add(struct sfq *q, const struct qindex *x)
{
	struct qent *e;
	size_t k;

	if (sfq_index_find(q, x->id) != NULL)
		return 0;
	if (q->nents >= q->nid_buckets && grow_ids(q) != 0)
		return -ENOMEM;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -ENOMEM;
	e->id = x->id;
	e->accepted_ms = x->accepted_ms;
	e->seen_ms = (int64_t)(mono_us() / 1000);
	e->bytes = x->bytes;
	e->state = x->state;
	e->service = strdup(x->service != NULL ? x->service : "");
	e->dev = dev_key(x->device, x->mac);
	if (e->service == NULL || e->dev == NULL || (e->state == QS_WAITING &&
	    lane_enter(q, e) != 0)) {
		free(e->service);
		free(e->dev);
		free(e);
		return -ENOMEM;
	}
	k = id_slot(q, e->id);
	e->hnext = q->ids[k];
	q->ids[k] = e;
	q->nents++;
	count(q, e, 1);
	return 0;
}

void
sfq_index_remove(struct sfq *q, struct qent *e)
{
	struct qent **pp;

	for (pp = &q->ids[id_slot(q, e->id)]; *pp != e; pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	q->nents--;
	count(q, e, -1);
	lane_leave(q, e);
	if (e->replay != NULL)
		*e->replay = NULL;
	free(e->service);
	free(e->dev);
	free(e);
}

void
sfq_index_kill(struct sfq *q, struct qent *e)
{
	if (e->state == QS_DEAD)
		return;
	count(q, e, -1);
	e->state = QS_DEAD;
	count(q, e, 1);
	lane_leave(q, e);
	if (e->replay != NULL)
		*e->replay = NULL;
	e->replay = NULL;
}

int
sfq_index_revive(struct sfq *q, struct qent *e)
{
	if (e->state == QS_WAITING)
		return 0;
	if (lane_enter(q, e) != 0)
		return -ENOMEM;
	count(q, e, -1);
	e->state = QS_WAITING;
	count(q, e, 1);
	return 0;
}

void
sfq_index_clear(struct sfq *q)
{
	struct qent *e, *next;
	size_t i;

	for (i = 0; i < q->nid_buckets; i++)
		for (e = q->ids[i]; e != NULL; e = next) {
			next = e->hnext;
			free(e->service);
			free(e->dev);
			free(e);
		}
	while (q->lanes != NULL)
		lane_free(q, q->lanes);
	free(q->ids);
	free(q->lane_buckets);
	q->ids = NULL;
	q->lane_buckets = NULL;
	q->nid_buckets = q->nlane_buckets = q->nents = 0;
	q->turn = NULL;
	q->st.depth = q->st.bytes = q->st.dead = q->st.dead_bytes = 0;
}

static int
cmp_ent(const void *a, const void *b)
{
	const struct qent *x = *(struct qent *const *)a;
	const struct qent *y = *(struct qent *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Every waiting request into the lanes of the new order. Replays under
 * way keep going; each holds its new lane busy, so a lane that merged
 * two old ones waits for both.
 */
int
sfq_index_relane(struct sfq *q)
{
	struct qent **v, *e;
	size_t n = 0, i;
	struct qlane *l;
	int rc = 0;

	if (q->st.depth == 0)
		return 0;
	if ((v = calloc(q->st.depth, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (i = 0; i < q->nid_buckets; i++)
		for (e = q->ids[i]; e != NULL; e = e->hnext)
			if (e->state == QS_WAITING && n < q->st.depth)
				v[n++] = e;
	qsort(v, n, sizeof(*v), cmp_ent);
	for (l = q->lanes; l != NULL; l = l->next) {
		l->head = l->tail = NULL;
		l->busy = 0;
	}
	for (i = 0; i < n; i++) {
		v[i]->lane = NULL;
		v[i]->prev = v[i]->next = NULL;
	}
	while (q->lanes != NULL)
		lane_free(q, q->lanes);
	for (i = 0; i < n; i++) {
		if (lane_enter(q, v[i]) != 0)
			rc = -ENOMEM;	/* it waits outside; sent after restart */
		else if (v[i]->replay != NULL)
			v[i]->lane->busy++;
	}
	free(v);
	return rc;
}

/* Whether l may send now: nothing of it under way, and its back-off
 * over. */
static bool
ready(const struct qlane *l, int64_t now, int64_t *wake)
{
	if (l->busy > 0 || l->head == NULL)
		return false;
	if (l->not_before <= now)
		return true;
	if (*wake == 0 || l->not_before < *wake)
		*wake = l->not_before;
	return false;
}

struct qlane *
sfq_lane_pick(struct sfq *q, int64_t now, int64_t *wake)
{
	struct qlane *l, *start = q->turn != NULL ? q->turn : q->lanes;

	*wake = 0;
	for (l = start; l != NULL; l = l->next)
		if (ready(l, now, wake))
			goto found;
	for (l = q->lanes; l != start; l = l->next)
		if (ready(l, now, wake))
			goto found;
	return NULL;
found:
	q->turn = l->next;
	return l;
}

void
sfq_lane_hold(struct qent *e, struct qent **held_by)
{
	e->replay = held_by;
	if (e->lane != NULL)
		e->lane->busy++;
}

void
sfq_lane_unhold(struct sfq *q, struct qent *e)
{
	struct qlane *l = e->lane;

	e->replay = NULL;
	if (l == NULL)
		return;
	if (l->busy > 0)
		l->busy--;
	if (l->head == NULL && l->busy == 0)
		lane_free(q, l);
}
