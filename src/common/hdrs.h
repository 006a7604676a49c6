/*
 * An HTTP header list: names lowercased (as HTTP/2 carries them), values
 * as received, in order, each pair in one allocation. Used for a request
 * or response on its way between HTTP/1.1 and the tunnel's HTTP/2.
 */
#ifndef ISTHMUS_HDRS_H
#define ISTHMUS_HDRS_H

#include <stdbool.h>
#include <stddef.h>

struct hdr {
	char *name, *value;	/* NUL-terminated; name lowercase */
	size_t nlen, vlen;
};

struct hdrs {
	struct hdr *v;
	size_t n, cap;
	size_t bytes;		/* names and values, for limits */
};

void hdrs_init(struct hdrs *h);
void hdrs_free(struct hdrs *h);
void hdrs_clear(struct hdrs *h);
/*
 * Building a list from http-parser's callbacks, which deliver a field's
 * name and value in pieces: a new name commits the pair before it, and
 * hdrs_reader_end the last. A commit past max fields fails with -E2BIG.
 */
struct hdrs_reader {
	char *field, *value;
	size_t flen, vlen;
	bool in_value;
};

int hdrs_reader_field(struct hdrs_reader *rd, struct hdrs *h, size_t max,
    const char *at, size_t n);
int hdrs_reader_value(struct hdrs_reader *rd, const char *at, size_t n);
int hdrs_reader_end(struct hdrs_reader *rd, struct hdrs *h, size_t max);
void hdrs_reader_reset(struct hdrs_reader *rd);
/* Appends n bytes to a NUL-terminated growing buffer. */
int str_append(char **buf, size_t *len, const char *at, size_t n);

/* Appends a copy; the name is lowercased. -ENOMEM on failure. */
int hdrs_add(struct hdrs *h, const char *name, size_t nlen,
    const char *value, size_t vlen);
/* Removes every field called name (lowercase). */
void hdrs_del(struct hdrs *h, const char *name);
/* The first value of name (lowercase), or NULL. */
const char *hdrs_get(const struct hdrs *h, const char *name);
/* Whether a comma-separated header name has token tok (any case). */
bool hdrs_has_token(const struct hdrs *h, const char *name, const char *tok);
/* Whether value, a comma-separated list, holds token tok (any case). */
bool hdr_list_has(const char *value, size_t vlen, const char *tok);

#endif
