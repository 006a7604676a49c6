/*
 * The verdict on a certificate (trust_check, trust.h), on the loop and
 * from memory only: the table, and the certificates queued to be
 * recorded (places), so that a device retrying before the store wrote
 * its first contact waits instead of being learned twice.
 */
#include "edge/trust/trust-int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/loglimit.h"
#include "common/tls.h"

#define TRUST_TOUCH_SECS 3600	/* last_seen written at most hourly */
#define DAY_SECS 86400

/* What the entries of one peer say about one certificate. */
struct seen {
	const struct trust_entry *same;	/* that certificate's entry */
	size_t same_i;			/* its index in the table, or NONE */
	const struct trust_entry *approved;	/* another, approved */
	size_t waiting;			/* pending or changed */
};

static void
look(const struct trust *t, const struct trust_meet *m,
    const uint8_t fp[32], struct seen *s)
{
	const struct trust_place *p;
	const struct trust_entry *ent;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->same_i = TTABLE_NONE;
	for (i = ttable_first(t->table, m->kind, m->peer); i != TTABLE_NONE;
	    i = ttable_next(t->table, i)) {
		ent = &t->table->ents[i];
		if (CRYPTO_memcmp(ent->cert_sha256, fp, 32) == 0) {
			s->same = ent;
			s->same_i = i;
		} else if (ent->state == TS_APPROVED) {
			s->approved = ent;
		}
		s->waiting += ent->state == TS_PENDING ||
		    ent->state == TS_CHANGED;
	}
	for (p = t->places; p != NULL; p = p->next) {
		if (p->ent.kind != m->kind || strcmp(p->ent.peer, m->peer) != 0)
			continue;
		if (s->same == NULL && CRYPTO_memcmp(p->ent.cert_sha256, fp,
		    32) == 0)
			s->same = &p->ent;
		s->waiting++;
	}
}

static enum trust_verdict
refuse(struct trust *t, const struct trust_meet *m, enum trust_verdict v)
{
	t->st.refused[m->kind][v]++;
	if (v != TV_LEARNED && v != TV_MISMATCH)
		log_limited(t->lim, LOG_WARN, "trust", "trust_refused",
		    "kind=%s peer=%s verdict=%s", trust_kind_name(m->kind),
		    m->peer, trust_verdict_name(v));
	return v;
}

/* The entry for cert as met, to be recorded. */
static struct tjob *
record_job(const struct trust_meet *m, X509 *cert, const uint8_t fp[32],
    int64_t now)
{
	struct tjob *j = calloc(1, sizeof(*j));
	struct trust_entry *ent;
	unsigned char *der = NULL;
	int len;

	if (j == NULL)
		return NULL;
	j->kind = TJ_RECORD;
	ent = &j->ent;
	ent->kind = m->kind;
	snprintf(ent->peer, sizeof(ent->peer), "%s", m->peer);
	snprintf(ent->address, sizeof(ent->address), "%s",
	    m->address != NULL ? m->address : "");
	snprintf(ent->mac, sizeof(ent->mac), "%s", m->mac != NULL ? m->mac :
	    "");
	snprintf(ent->scope, sizeof(ent->scope), "%s", m->scope != NULL ?
	    m->scope : "");
	memcpy(ent->cert_sha256, fp, 32);
	tls_name_line(X509_get_subject_name(cert), ent->subject,
	    sizeof(ent->subject));
	tls_name_line(X509_get_issuer_name(cert), ent->issuer,
	    sizeof(ent->issuer));
	ent->not_before = tls_time_epoch(X509_get0_notBefore(cert));
	ent->not_after = tls_time_epoch(X509_get0_notAfter(cert));
	ent->first_seen = ent->last_seen = now;
	len = i2d_X509(cert, &der);
	if (tls_spki_sha256(cert, ent->spki_sha256) != 0 || len <= 0 ||
	    (size_t)len > TRUST_DER_MAX || (j->der = malloc((size_t)len)) ==
	    NULL) {
		OPENSSL_free(der);
		trust_job_free(j);
		return NULL;
	}
	memcpy(j->der, der, (size_t)len);
	j->derlen = (size_t)len;
	OPENSSL_free(der);
	return j;
}

/* Queues cert to be recorded as state, and shows it as a place until the
 * table holds it. false: no room (the store's bounds, the queue) or no
 * memory; trust_full is logged. */
static bool
record(struct trust *t, const struct trust_meet *m, X509 *cert,
    const uint8_t fp[32], const struct seen *s, int state, int64_t now)
{
	struct trust_place *p = NULL;
	struct tjob *j = NULL;

	if ((t->table != NULL ? t->table->n : 0) + t->nplaces >=
	    TRUST_ENTRIES_MAX || s->waiting >= TRUST_WAITING_PER_PEER ||
	    (p = calloc(1, sizeof(*p))) == NULL ||
	    (j = record_job(m, cert, fp, now)) == NULL) {
		free(p);
		log_limited(t->lim, LOG_WARN, "trust", "trust_full",
		    "kind=%s peer=%s waiting=%zu", trust_kind_name(m->kind),
		    m->peer, s->waiting);
		return false;
	}
	p->ent = j->ent;
	p->ent.state = state;
	p->job = j;
	if (trust_worker_push(t, j) != 0) {
		free(p);
		trust_job_free(j);
		log_limited(t->lim, LOG_WARN, "trust", "trust_full",
		    "kind=%s peer=%s queued=%d", trust_kind_name(m->kind),
		    m->peer, TRUST_QUEUE_MAX);
		return false;
	}
	p->next = t->places;
	t->places = p;
	t->nplaces++;
	return true;
}

/* An approved certificate met again: its dates, and last_seen. */
static enum trust_verdict
approved(struct trust *t, const struct trust_meet *m, const struct seen *s,
    int64_t now)
{
	struct trust_entry *ent = &t->table->ents[s->same_i];
	struct tjob *j;

	if (now - ent->last_seen >= TRUST_TOUCH_SECS &&
	    (j = calloc(1, sizeof(*j))) != NULL) {
		j->kind = TJ_TOUCH;
		j->ent.id = ent->id;
		j->ent.last_seen = now;
		snprintf(j->ent.address, sizeof(j->ent.address), "%s",
		    m->address != NULL ? m->address : "");
		if (trust_worker_push(t, j) != 0)
			trust_job_free(j);
		else
			ent->last_seen = now;
	}
	if (now <= ent->not_after && now >= ent->not_before)
		return TV_TRUSTED;
	if (!t->expired_ok)
		return refuse(t, m, TV_EXPIRED);
	if (t->table->logged_day[s->same_i] != now / DAY_SECS) {
		t->table->logged_day[s->same_i] = now / DAY_SECS;
		log_warn("trust", "trust_expired", "id=%lld peer=%s "
		    "not_after=%lld", (long long)ent->id, ent->peer,
		    (long long)ent->not_after);
	}
	return TV_TRUSTED;
}

static enum trust_verdict
mismatch(struct trust *t, const struct trust_meet *m, X509 *cert,
    const uint8_t fp[32], const struct seen *s, int64_t now)
{
	char expected[TLS_FP_LEN], seen[TLS_FP_LEN], subject[TRUST_TEXT_MAX];

	tls_fp_format(s->approved->cert_sha256, expected);
	tls_fp_format(fp, seen);
	tls_name_line(X509_get_subject_name(cert), subject, sizeof(subject));
	t->st.mismatches[m->kind]++;
	log_limited(t->lim, LOG_WARN, "trust", "trust_mismatch", "kind=%s "
	    "peer=%s address=%s scope=%s expected=%s expected_subject=%s "
	    "seen=%s seen_subject=%s", trust_kind_name(m->kind), m->peer,
	    m->address != NULL ? m->address : "-", m->scope != NULL ?
	    m->scope : "-", expected, s->approved->subject, seen, subject);
	record(t, m, cert, fp, s, TS_CHANGED, now);
	return refuse(t, m, TV_MISMATCH);
}

static enum trust_verdict
learn(struct trust *t, const struct trust_meet *m, X509 *cert,
    const uint8_t fp[32], const struct seen *s, int64_t now)
{
	char fps[TLS_FP_LEN], subject[TRUST_TEXT_MAX];

	if (!record(t, m, cert, fp, s, TS_PENDING, now))
		return refuse(t, m, TV_FULL);
	tls_fp_format(fp, fps);
	tls_name_line(X509_get_subject_name(cert), subject, sizeof(subject));
	t->st.learned[m->kind]++;
	log_limited(t->lim, LOG_INFO, "trust", "trust_learned", "kind=%s "
	    "peer=%s address=%s scope=%s fingerprint=%s subject=%s",
	    trust_kind_name(m->kind), m->peer, m->address != NULL ?
	    m->address : "-", m->scope != NULL ? m->scope : "-", fps, subject);
	return refuse(t, m, TV_LEARNED);
}

enum trust_verdict
trust_check(struct trust *t, const struct trust_meet *m, X509 *cert,
    int64_t *id)
{
	int64_t now = time(NULL);
	uint8_t fp[32];
	struct seen s;

	*id = 0;
	if ((unsigned)m->kind >= TK_COUNT || m->peer == NULL ||
	    m->peer[0] == '\0' || strlen(m->peer) >= TRUST_PEER_MAX)
		return TV_UNAVAILABLE;	/* a caller's mistake: not counted */
	if (!t->up || t->table == NULL || cert == NULL ||
	    tls_cert_sha256(cert, fp) != 0)
		return refuse(t, m, TV_UNAVAILABLE);
	look(t, m, fp, &s);
	if (s.same != NULL) {
		switch (s.same->state) {
		case TS_APPROVED:
			*id = s.same->id;
			return approved(t, m, &s, now);
		case TS_REJECTED:
			return refuse(t, m, TV_REJECTED);
		default:
			return refuse(t, m, TV_WAITING);
		}
	}
	if (s.approved != NULL)
		return mismatch(t, m, cert, fp, &s, now);
	return learn(t, m, cert, fp, &s, now);
}

enum trust_verdict
trust_peek(const struct trust *t, const struct trust_meet *m, X509 *cert)
{
	int64_t now = time(NULL);
	const struct trust_entry *ent;
	uint8_t fp[32];
	struct seen s;

	if ((unsigned)m->kind >= TK_COUNT || m->peer == NULL ||
	    m->peer[0] == '\0' || strlen(m->peer) >= TRUST_PEER_MAX ||
	    !t->up || t->table == NULL || cert == NULL ||
	    tls_cert_sha256(cert, fp) != 0)
		return TV_UNAVAILABLE;
	look(t, m, fp, &s);
	if ((ent = s.same) != NULL) {
		if (ent->state == TS_REJECTED)
			return TV_REJECTED;
		if (ent->state != TS_APPROVED)
			return TV_WAITING;
		return (now <= ent->not_after && now >= ent->not_before) ||
		    t->expired_ok ? TV_TRUSTED : TV_EXPIRED;
	}
	return s.approved != NULL ? TV_MISMATCH : TV_LEARNED;
}

/* FNV-1a over each entry's certificate and state, XORed so the order of
 * the table and of the places does not count. */
static uint64_t
entry_digest(const struct trust_entry *ent)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < 32; i++)
		h = (h ^ ent->cert_sha256[i]) * 1099511628211ull;
	h = (h ^ (uint8_t)ent->state) * 1099511628211ull;
	return h;
}

uint64_t
trust_peer_digest(const struct trust *t, int kind, const char *peer)
{
	const struct trust_place *p;
	uint64_t d = (uint64_t)t->up;
	size_t i;

	if (t->table != NULL)
		for (i = ttable_first(t->table, kind, peer); i != TTABLE_NONE;
		    i = ttable_next(t->table, i))
			d ^= entry_digest(&t->table->ents[i]);
	for (p = t->places; p != NULL; p = p->next)
		if (p->ent.kind == kind && strcmp(p->ent.peer, peer) == 0)
			d ^= entry_digest(&p->ent);
	return d;
}
