/*
 * The cache's files in cache_dir, for one entry with id ID (32 hex
 * digits, random):
 *   ID.body   the response body, exactly as received
 *   ID.meta   what it is: the URL and service, status, response fields,
 *             the request fields its Vary names, when it was fetched, the
 *             body's length and SHA-256; a text file that ends with the
 *             SHA-256 of all lines before, so a damaged one is seen
 *   ID.part   a body being fetched (removed at start: never complete)
 * Files are created 0600; the metadata is written to a temporary file and
 * renamed, so it is whole or absent.
 */
#ifndef ISTHMUS_EDGE_CACHE_FILE_H
#define ISTHMUS_EDGE_CACHE_FILE_H

#include <stdint.h>

#include "common/err.h"
#include "common/hdrs.h"

#define CACHE_ID_LEN 32

struct cache_meta {
	char *service, *url;
	int status;
	int64_t request_time, response_time;
	uint64_t length;
	uint8_t sha256[32];
	struct hdrs resp;		/* stored response fields */
	struct hdrs vary;		/* the request's fields Vary names */
};

void cache_meta_init(struct cache_meta *m);
void cache_meta_free(struct cache_meta *m);

/* dir/ID.suffix into a new string. */
char *cachefile_path(const char *dir, const char *id, const char *suffix);
/* A new random id (CACHE_ID_LEN hex digits and a NUL). */
int cachefile_new_id(char id[CACHE_ID_LEN + 1]);
/* Writes (or replaces) ID.meta; *bytes: its size. */
int cachefile_write_meta(const char *dir, const char *id,
    const struct cache_meta *m, uint64_t *bytes, struct err *e);
/* Reads one; -EINVAL (with the reason) when it is damaged. */
int cachefile_read_meta(const char *path, struct cache_meta *m,
    uint64_t *bytes, struct err *e);
/* Whether name is one of ours, and which: 'b' body, 'm' meta, 'p' part,
 * 't' a temporary metadata file; id gets the entry's id. 0 otherwise. */
int cachefile_kind(const char *name, char id[CACHE_ID_LEN + 1]);

#endif
