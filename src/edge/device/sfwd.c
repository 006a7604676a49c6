/*
 * Store and forward at the device's side (docs/queue.md): which requests
 * are store and forward, their Idempotency-Key, their body read whole
 * (bounded by queue_max_body), the way they go to the queue (the fields
 * forward.c would send), what the cloud says of a service on its
 * answers, and the edge's own answers: accepted once on disk, 503 with
 * Retry-After when the queue did not take it. When a request goes
 * straight through or to the queue is the connection's (httpdev.c).
 */
#include "edge/device/device-int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/http1.h"
#include "common/proto.h"
#include "common/relay.h"
#include "edge/queue/queue.h"

/* "8e03978e-40d5-43e8-bc93-6894a57f9324" with its quotes and a NUL. */
#define SFWD_KEY_LEN 41

int
sfwd_mode(struct sfq *q, const struct edge_listener_conf *lc,
    const char *service, const char *method)
{
	int mode;

	/* Only these two carry a reading; the others are not replayed
	 * (a GET's answer is the point of it). */
	if (q == NULL || (strcmp(method, "POST") != 0 &&
	    strcmp(method, "PUT") != 0))
		return SF_OFF;
	mode = sfq_mode(q, lc, service);
	return mode == SF_ON || mode == SF_ALWAYS ? mode : SF_OFF;
}

/* A random UUID (RFC 9562 version 4) as a Structured Field string: the
 * draft's example form, and unguessable, so two edges' keys never meet
 * at one backend. */
static int
new_key(char out[SFWD_KEY_LEN])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);	/* RFC variant */
	snprintf(out, SFWD_KEY_LEN, "\"%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x\"", b[0], b[1], b[2], b[3],
	    b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
	    b[14], b[15]);
	return 0;
}

/* A device's own key: exactly one field, a Structured Field string
 * that is not empty ("..." of printable ASCII, no escapes). A backend
 * drops what it has seen under a key: an empty or doubled one would
 * make it drop other readings. */
static bool
key_ok(const struct devreq *q)
{
	const char *v = NULL;
	size_t i, n = 0, len;

	for (i = 0; i < q->req.n; i++)
		if (strcmp(q->req.v[i].name, HTTP_IDEMPOTENCY_KEY) == 0) {
			v = q->req.v[i].value;
			n++;
		}
	if (n == 0)
		return true;
	if (n > 1 || (len = strlen(v)) < 3 || v[0] != '"' ||
	    v[len - 1] != '"')
		return false;
	for (i = 1; i + 1 < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == '"' ||
		    v[i] == '\\')
			return false;
	return true;
}

/* Whether the cloud can take this head (relay.h: RELAY_HEADERS_MAX
 * bytes, RELAY_HEADERS_COUNT fields), with room for the fields the edge
 * adds. A queued request the tunnel cannot carry would wait at the head
 * of its order until it expired, holding back every request behind it:
 * refused now instead. */
#define SFWD_ADDED_BYTES 2048
#define SFWD_ADDED_FIELDS 8

static bool
head_fits(const struct devreq *q)
{
	size_t i, bytes = q->url_len + SFWD_ADDED_BYTES;

	if (q->req.n + SFWD_ADDED_FIELDS > RELAY_HEADERS_COUNT)
		return false;
	for (i = 0; i < q->req.n; i++)
		bytes += q->req.v[i].nlen + q->req.v[i].vlen;
	return bytes <= RELAY_HEADERS_MAX;
}

/* Room for len bytes of body, held in the queue's memory bound. */
static int
hold(struct sfwd *s, const struct sfq_req *who, uint64_t len)
{
	if (len <= s->held)
		return 0;
	if (sfq_hold(s->q, who, len - s->held) != 0)
		return -ENOBUFS;
	s->held = len;
	return 0;
}

int
sfwd_begin(struct sfwd *s, struct sfq *queue, const struct sfq_req *who,
    int mode, struct devreq *q, uint64_t length, uint64_t max)
{
	char key[SFWD_KEY_LEN];
	int rc;

	if (length > max)
		return -E2BIG;
	if (!key_ok(q))
		return -EINVAL;
	if (!head_fits(q))
		return -EMSGSIZE;
	/* A device's own key is the one its backend knows: kept as is. */
	if (hdrs_get(&q->req, HTTP_IDEMPOTENCY_KEY) == NULL) {
		if ((rc = new_key(key)) != 0)
			return rc;
		if ((rc = hdrs_add(&q->req, HTTP_IDEMPOTENCY_KEY,
		    strlen(HTTP_IDEMPOTENCY_KEY), key, strlen(key))) != 0)
			return rc;
	}
	/* A length said is held before a byte of it comes: a device that
	 * would trickle it is refused while nothing is read. */
	s->q = queue;
	if ((rc = hold(s, who, length)) != 0)
		return rc;
	if (s->body == NULL && (s->body = evbuffer_new()) == NULL)
		return -ENOMEM;
	s->mode = mode;
	return 0;
}

int
sfwd_body(struct sfwd *s, const struct sfq_req *who, const char *at,
    size_t n, uint64_t max)
{
	size_t len = evbuffer_get_length(s->body) + n;
	int rc;

	if (len > max)
		return -E2BIG;
	if ((rc = hold(s, who, len)) != 0)
		return rc;
	return evbuffer_add(s->body, at, n) == 0 ? 0 : -ENOMEM;
}

int
sfwd_send(struct sfwd *s, struct relay *r)
{
	struct evbuffer_iovec v[16];
	struct evbuffer_ptr at;
	int i, n;

	/* Copied, not moved: the queue may need the body after this
	 * attempt fails. */
	evbuffer_ptr_set(s->body, &at, 0, EVBUFFER_PTR_SET);
	for (;;) {
		n = evbuffer_peek(s->body, -1, &at, v, 16);
		if (n <= 0)
			break;
		for (i = 0; i < n && i < 16; i++) {
			if (relay_body_write(r, v[i].iov_base, v[i].iov_len) != 0)
				return -ENOMEM;
			evbuffer_ptr_set(s->body, &at, v[i].iov_len,
			    EVBUFFER_PTR_ADD);
		}
		if (n <= 16)
			break;
	}
	relay_body_end(r);
	return 0;
}

int
sfwd_submit(struct sfwd *s, struct sfq *q, const struct forward *f,
    const char *listener, void (*done)(void *arg, int rc), void *arg)
{
	struct hdrs fields;
	struct sfq_req r = {
		.listener = listener,
		.service = f->service,
		.device = f->device,
		.mac = f->mac,
		.method = f->method,
		.target = f->q->url,
		.fields = &fields,
		.key = hdrs_get(&f->q->req, HTTP_IDEMPOTENCY_KEY),
		.body = s->body,
	};
	int rc;

	hdrs_init(&fields);
	if (forward_fields(f, &fields) != 0) {
		hdrs_free(&fields);
		return -ENOMEM;
	}
	rc = sfq_submit(q, &r, done, arg, &s->ticket);
	hdrs_free(&fields);
	if (rc != 0)
		s->ticket = NULL;
	return rc;
}

void
sfwd_reset(struct sfwd *s)
{
	if (s->ticket != NULL)
		sfq_forget(s->ticket);
	s->ticket = NULL;
	if (s->body != NULL) {
		evbuffer_free(s->body);
		s->body = NULL;
	}
	if (s->held > 0)
		sfq_release(s->q, s->held);
	s->held = 0;
	s->mode = SF_OFF;
}

bool
sfwd_retryable(int status)
{
	/* The path failed, not the request: what docs/queue.md promises to
	 * keep. A 500 may be the request's own fault: it goes through. */
	return status == 502 || status == 503 || status == 504;
}

void
sfwd_learn(struct sfq *q, const char *service, const struct hdrs *h)
{
	const char *v;
	int mode = SF_OFF;

	/* The cloud's own refusal (unknown service, no backend) is not the
	 * service speaking: what was learned stays. */
	if (q == NULL || hdrs_get(h, HTTP_REFUSED_FIELD) != NULL)
		return;
	if ((v = hdrs_get(h, HTTP_STORE_FORWARD_FIELD)) != NULL)
		mode = strcmp(v, "always") == 0 ? SF_ALWAYS :
		    strcmp(v, "on") == 0 ? SF_ON : SF_OFF;
	sfq_learn(q, service, mode,
	    hdrs_get(h, HTTP_CONFIDENTIAL_FIELD) != NULL);
}

/* A short text answer of the edge's own, with one more field (name:
 * value), on a connection that may stay: the request was read whole. */
static int
answer(struct evbuffer *out, int status, const char *name, const char *value,
    const char *body, struct devreq *q, int http_minor)
{
	struct hdrs h;
	char len[24];
	int rc;

	hdrs_init(&h);
	snprintf(len, sizeof(len), "%zu", strlen(body));
	rc = hdrs_add(&h, "content-type", 12, "text/plain", 10);
	if (rc == 0)
		rc = hdrs_add(&h, "content-length", 14, len, strlen(len));
	if (rc == 0)
		rc = hdrs_add(&h, name, strlen(name), value, strlen(value));
	if (rc == 0) {
		response_head(out, status, &h, false, http_minor,
		    &q->keepalive);
		rc = evbuffer_add(out, body, strlen(body)) == 0 ? 0 : -ENOMEM;
	}
	hdrs_free(&h);
	return rc;
}

int
sfwd_accepted(struct evbuffer *out, int status, struct devreq *q,
    int http_minor)
{
	const char *key = hdrs_get(&q->req, HTTP_IDEMPOTENCY_KEY);
	char body[512];

	snprintf(body, sizeof(body), "accepted for delivery, "
	    "Idempotency-Key %.400s\n", key);
	return answer(out, status, "idempotency-key", key, body, q,
	    http_minor);
}

int
sfwd_refused(struct evbuffer *out, const struct sfq *q, int why,
    struct devreq *rq, int http_minor)
{
	static const char *const words[SFQ_REFUSED_COUNT] = {
		[SFQ_REFUSED_FULL] = "the store-and-forward queue is full",
		[SFQ_REFUSED_DISK] = "the disk of the store-and-forward queue "
		    "is full",
		[SFQ_REFUSED_UNAVAILABLE] = "the store-and-forward queue is "
		    "unavailable",
		[SFQ_REFUSED_MEMORY] = "the edge holds as many "
		    "store-and-forward bodies as it may (queue_max_memory)",
	};
	bool known = why > 0 && why < SFQ_REFUSED_COUNT;
	char body[256], secs[16];

	snprintf(body, sizeof(body), "not accepted: %s; try again later\n",
	    known ? words[why] : "out of memory");
	snprintf(secs, sizeof(secs), "%u", sfq_retry_after(q, known ? why :
	    SFQ_REFUSED_UNAVAILABLE));
	return answer(out, 503, "retry-after", secs, body, rq, http_minor);
}
