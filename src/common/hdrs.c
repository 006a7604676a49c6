/* HTTP header lists (hdrs.h). */
#include "common/hdrs.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
hdrs_init(struct hdrs *h)
{
	memset(h, 0, sizeof(*h));
}

void
hdrs_clear(struct hdrs *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->v[i].name);	/* the value shares the allocation */
	h->n = 0;
	h->bytes = 0;
}

void
hdrs_free(struct hdrs *h)
{
	hdrs_clear(h);
	free(h->v);
	hdrs_init(h);
}

int
hdrs_add(struct hdrs *h, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	struct hdr *d;
	char *p;
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct hdr *nv = realloc(h->v, cap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		h->v = nv;
		h->cap = cap;
	}
	p = malloc(nlen + vlen + 2);
	if (p == NULL)
		return -ENOMEM;
	for (i = 0; i < nlen; i++)
		p[i] = (char)tolower((unsigned char)name[i]);
	p[nlen] = '\0';
	memcpy(p + nlen + 1, value, vlen);
	p[nlen + 1 + vlen] = '\0';
	d = &h->v[h->n++];
	d->name = p;
	d->nlen = nlen;
	d->value = p + nlen + 1;
	d->vlen = vlen;
	h->bytes += nlen + vlen;
	return 0;
}

void
hdrs_del(struct hdrs *h, const char *name)
{
	size_t i = 0;

	while (i < h->n) {
		if (strcmp(h->v[i].name, name) != 0) {
			i++;
			continue;
		}
		h->bytes -= h->v[i].nlen + h->v[i].vlen;
		free(h->v[i].name);
		memmove(&h->v[i], &h->v[i + 1], (h->n - i - 1) *
		    sizeof(h->v[0]));
		h->n--;
	}
}

const char *
hdrs_get(const struct hdrs *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	return NULL;
}

bool
hdr_list_has(const char *value, size_t vlen, const char *tok)
{
	size_t tlen = strlen(tok), i = 0;

	while (i < vlen) {
		size_t start, end;

		while (i < vlen && (value[i] == ' ' || value[i] == '\t' ||
		    value[i] == ','))
			i++;
		start = i;
		while (i < vlen && value[i] != ',' && value[i] != ';')
			i++;
		end = i;
		while (end > start && (value[end - 1] == ' ' ||
		    value[end - 1] == '\t'))
			end--;
		if (end - start == tlen && strncasecmp(value + start, tok,
		    tlen) == 0)
			return true;
		while (i < vlen && value[i] != ',')
			i++;	/* parameters after ';' */
	}
	return false;
}

bool
hdrs_has_token(const struct hdrs *h, const char *name, const char *tok)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->v[i].name, name) == 0 &&
		    hdr_list_has(h->v[i].value, h->v[i].vlen, tok))
			return true;
	return false;
}

int
str_append(char **buf, size_t *len, const char *at, size_t n)
{
	char *nb = realloc(*buf, *len + n + 1);

	if (nb == NULL)
		return -ENOMEM;
	memcpy(nb + *len, at, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
	return 0;
}

void
hdrs_reader_reset(struct hdrs_reader *rd)
{
	free(rd->field);
	free(rd->value);
	memset(rd, 0, sizeof(*rd));
}

int
hdrs_reader_end(struct hdrs_reader *rd, struct hdrs *h, size_t max)
{
	int rc;

	if (rd->field == NULL)
		return 0;
	if (h->n >= max)
		return -E2BIG;
	/* http-parser keeps the spaces before the line's end (OWS). */
	while (rd->vlen > 0 && (rd->value[rd->vlen - 1] == ' ' ||
	    rd->value[rd->vlen - 1] == '\t'))
		rd->vlen--;
	rc = hdrs_add(h, rd->field, rd->flen, rd->value != NULL ? rd->value :
	    "", rd->vlen);
	hdrs_reader_reset(rd);
	return rc;
}

int
hdrs_reader_field(struct hdrs_reader *rd, struct hdrs *h, size_t max,
    const char *at, size_t n)
{
	int rc;

	if (rd->in_value && (rc = hdrs_reader_end(rd, h, max)) != 0)
		return rc;
	return str_append(&rd->field, &rd->flen, at, n);
}

int
hdrs_reader_value(struct hdrs_reader *rd, const char *at, size_t n)
{
	rd->in_value = true;
	return str_append(&rd->value, &rd->vlen, at, n);
}
