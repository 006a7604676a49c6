/*
 * The live readiness tests (readiness.h): what the cloud issued and may
 * still serve. The control loop adds tests (the hub) and takes probes
 * (udp.c); the workers claim throughput directions (flow.c); all under
 * one mutex, held for a lookup and a few fields, never across I/O.
 */
#include "cloud/readiness/readiness-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>


int64_t
ready_now(void)
{
	return (int64_t)time(NULL);
}

static void
test_free(struct ready_test *t)
{
	free(t->seen);
	/* the key is good for this test only: nothing of it stays */
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

/* id as its 16 bytes; false when it is not 32 lowercase hex digits (the
 * ids the cloud makes). */
static bool
id_bytes(const char *id, uint8_t bid[16])
{
	size_t n = 0;

	if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
		return false;
	return OPENSSL_hexstr2buf_ex(bid, 16, &n, id, '\0') == 1 && n == 16;
}

struct ready_test *
ready_find(struct ready *rd, const char *id, int64_t now)
{
	struct ready_test *t;

	for (t = rd->tests; t != NULL; t = t->next)
		if (strcmp(t->s.id, id) == 0)
			return t->expires >= now ? t : NULL;
	return NULL;
}

struct ready_test *
ready_find_bin(struct ready *rd, const uint8_t bid[16], int64_t now)
{
	struct ready_test *t;

	for (t = rd->tests; t != NULL; t = t->next)
		if (memcmp(t->bid, bid, 16) == 0)
			return t->expires >= now ? t : NULL;
	return NULL;
}

/* With rd->mu held: unlinks and frees the tests that ended. */
static void
prune(struct ready *rd, int64_t now)
{
	struct ready_test **pp = &rd->tests, *t;

	while ((t = *pp) != NULL) {
		if (t->expires < now) {
			*pp = t->next;
			test_free(t);
		} else {
			pp = &t->next;
		}
	}
}

int
ready_issue(struct ready *rd, const struct ready_spec *s)
{
	struct ready_test *t = calloc(1, sizeof(*t)), **pp, *old;

	if (t == NULL)
		return -ENOMEM;
	if (!id_bytes(s->id, t->bid)) {
		free(t);
		return -EINVAL;
	}
	t->s = *s;
	t->expires = s->deadline + READY_GRACE_S;
	if (s->packets > 0 &&
	    (t->seen = calloc((s->packets + 7) / 8, 1)) == NULL) {
		test_free(t);
		return -ENOMEM;
	}
	pthread_mutex_lock(&rd->mu);
	for (pp = &rd->tests; (old = *pp) != NULL; pp = &old->next)
		if (strcmp(old->s.id, s->id) == 0) {
			/* sent again: the edge holds the newest key */
			*pp = old->next;
			test_free(old);
			break;
		}
	prune(rd, ready_now());
	t->next = rd->tests;
	rd->tests = t;
	pthread_mutex_unlock(&rd->mu);
	return 0;
}

void
ready_end(struct ready *rd, const char *id)
{
	struct ready_test **pp, *t;

	pthread_mutex_lock(&rd->mu);
	for (pp = &rd->tests; (t = *pp) != NULL; pp = &t->next)
		if (strcmp(t->s.id, id) == 0) {
			*pp = t->next;
			test_free(t);
			break;
		}
	pthread_mutex_unlock(&rd->mu);
}

void
ready_prune(struct ready *rd, int64_t now)
{
	pthread_mutex_lock(&rd->mu);
	prune(rd, now);
	pthread_mutex_unlock(&rd->mu);
}
