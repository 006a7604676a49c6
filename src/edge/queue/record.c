/*
 * A queued request as a record (qstore.h): its fields as stored
 * (name\0value\0 pairs), its size as the bounds count it, and the
 * SHA-256 that proves it is what was accepted.
 */
#include "edge/queue/qstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

const char *
qstate_name(int state)
{
	return state == QS_DEAD ? "dead" : "waiting";
}

const char *
qreason_name(int reason)
{
	static const char *const names[QR_COUNT] = { "refused", "expired",
	    "corrupt" };

	return reason >= 0 && reason < QR_COUNT ? names[reason] : NULL;
}

void
qrecord_free(struct qrecord *r)
{
	if (r == NULL)
		return;
	free(r->key);
	free(r->listener);
	free(r->service);
	free(r->device);
	free(r->mac);
	free(r->method);
	free(r->target);
	free(r->fields);
	free(r->body);
	free(r->last_error);
	free(r);
}

void
qrecords_free(struct qrecord **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		qrecord_free(v[i]);
	free(v);
}

void
qindex_free(struct qindex *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++) {
		free(v[i].service);
		free(v[i].device);
		free(v[i].mac);
	}
	free(v);
}

void
qservice_free(struct qservice *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i].name);
	free(v);
}

/* A value stops at its first NUL: HTTP allows none in a field, and
 * the stored form could not tell it from the separator. */
int
qrecord_set_fields(struct qrecord *r, const struct hdrs *h)
{
	size_t i, len = 0, nl, vl;
	uint8_t *p;

	for (i = 0; h != NULL && i < h->n; i++)
		len += strlen(h->v[i].name) + strlen(h->v[i].value) + 2;
	free(r->fields);
	r->fields_len = 0;
	if ((r->fields = malloc(len > 0 ? len : 1)) == NULL)
		return -ENOMEM;
	for (i = 0, p = r->fields; h != NULL && i < h->n; i++) {
		nl = strlen(h->v[i].name) + 1;
		vl = strlen(h->v[i].value) + 1;
		memcpy(p, h->v[i].name, nl);
		memcpy(p + nl, h->v[i].value, vl);
		p += nl + vl;
	}
	r->fields_len = len;
	return 0;
}

bool
qrecord_next_field(const struct qrecord *r, size_t *pos, const char **name,
    const char **value)
{
	const char *base = (const char *)r->fields;
	const char *end = base + r->fields_len, *n, *v, *z;

	if (r->fields == NULL || *pos >= r->fields_len)
		return false;
	n = base + *pos;
	if ((z = memchr(n, '\0', (size_t)(end - n))) == NULL)
		return false;
	v = z + 1;
	if (v >= end || (z = memchr(v, '\0', (size_t)(end - v))) == NULL)
		return false;
	*name = n;
	*value = v;
	*pos = (size_t)(z + 1 - base);
	return true;
}

static void
be64(uint64_t v, uint8_t out[8])
{
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* The sum: every text a replay uses (key, listener, service, device,
 * MAC, method, target) each with its NUL, the time accepted and the
 * fields' length (8 bytes each, big-endian, so no byte can move from
 * fields to body), the fields, the body. A bit flipped anywhere a
 * replay reads, even in whom it goes to, is found. Zeros when OpenSSL
 * fails (then it never matches). */
static void
digest(const struct qrecord *r, uint8_t out[32])
{
	const char *texts[] = { r->key, r->listener, r->service, r->device,
		r->mac, r->method, r->target };
	uint8_t when[8], len[8];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int olen = 0;
	bool ok;
	size_t i;

	be64((uint64_t)r->accepted_ms, when);
	be64(r->fields_len, len);
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	for (i = 0; ok && i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *t = texts[i] != NULL ? texts[i] : "";

		ok = EVP_DigestUpdate(md, t, strlen(t) + 1) == 1;
	}
	if (!ok || EVP_DigestUpdate(md, when, sizeof(when)) != 1 ||
	    EVP_DigestUpdate(md, len, sizeof(len)) != 1 ||
	    EVP_DigestUpdate(md, r->fields != NULL ? r->fields : len,
	    r->fields_len) != 1 ||
	    EVP_DigestUpdate(md, r->body != NULL ? r->body : len,
	    r->body_len) != 1 ||
	    EVP_DigestFinal_ex(md, out, &olen) != 1 || olen != 32)
		memset(out, 0, 32);
	EVP_MD_CTX_free(md);
}

uint64_t
qrecord_bytes(const struct qrecord *r)
{
	return (r->method != NULL ? strlen(r->method) : 0) +
	    (r->target != NULL ? strlen(r->target) : 0) + r->fields_len +
	    r->body_len;
}

void
qrecord_seal(struct qrecord *r)
{
	r->bytes = qrecord_bytes(r);
	digest(r, r->sum);
}

bool
qrecord_intact(const struct qrecord *r)
{
	static const uint8_t zero[32];
	uint8_t sum[32];

	digest(r, sum);
	return memcmp(sum, zero, sizeof(sum)) != 0 &&
	    memcmp(sum, r->sum, sizeof(sum)) == 0;
}

/* The length of the UTF-8 sequence at p (at most n bytes), 0 when it
 * is not one (overlong, a surrogate, past U+10FFFF, cut short). */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
	uint32_t c;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

size_t
qtext_clean(const void *p, size_t len, char *out, size_t cap)
{
	const uint8_t *s = p;
	size_t i = 0, o = 0, n;

	if (cap == 0)
		return 0;
	while (i < len) {
		n = utf8_len(s + i, len - i);
		if (n == 0 || (n == 1 && ((s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f))) {
			if (o + 1 >= cap)
				break;
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return o;
}

static const char *const mode_names[] = { "service", "off", "on",
	"always" };

const char *
qmode_name(int mode)
{
	return mode >= 0 && mode < 4 ? mode_names[mode] : "off";
}

int
qmode_parse(const char *s)
{
	int i;

	for (i = 0; s != NULL && i < 4; i++)
		if (strcmp(s, mode_names[i]) == 0)
			return i;
	return -1;
}
