/*
 * The edge's HTTP cache (listener "cache = on"): firmware and other
 * static files are fetched from the cloud once and served to every device
 * from disk.
 *
 * Entries live in cache_dir, one body file and one metadata file each
 * (file.h), and survive restarts. A body carries its SHA-256; the
 * digest is checked before the body is served whenever the file is not
 * the one last checked (after a restart, or changed on disk since), and a
 * damaged entry is dropped and fetched again. cache_max_size bounds the
 * bodies and metadata on disk; the least recently used entries go first.
 *
 * A request that misses starts one fill: one upstream request, built from
 * the device's request by its connection (ops->fetch). Every device asking
 * for the same URL meanwhile waits for it, then reads the body from the
 * growing file at its own pace; the fill is never slowed by a slow device.
 * A response that may not be stored (policy.h: no-store, private,
 * confidential, Authorization or Cookie in the request, ...) is never
 * written anywhere: the device whose request fetched it takes the stream
 * as it is (ops->adopt), and the others send their own requests
 * (ops->pass).
 *
 * Callbacks into the device's connection run from the event loop (never
 * from inside the HTTP/2 session), except adopt and fetch, which run in
 * the relay's context.
 */
#ifndef ISTHMUS_EDGE_CACHE_CACHE_H
#define ISTHMUS_EDGE_CACHE_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/err.h"
#include "common/hdrs.h"
#include "common/relay.h"

struct cache;
struct cache_reader;

/* How a request was answered, for metrics. */
enum cache_result {
	CR_HIT,			/* fresh entry */
	CR_MISS,		/* fetched for this request */
	CR_COALESCED,		/* joined another device's fetch */
	CR_REVALIDATED,		/* stale, confirmed by a 304 */
	CR_STALE,		/* stale, served with the cloud unreachable */
	CR_BYPASS,		/* not for the cache: went upstream */
	CR_COUNT
};
const char *cache_result_name(enum cache_result r);

struct cache_stats {
	uint64_t requests[CR_COUNT];
	uint64_t bytes_served;		/* body bytes to devices from disk */
	uint64_t bytes_saved;		/* ... that did not cross the tunnel */
	uint64_t bytes_fetched;		/* body bytes stored from the cloud */
	uint64_t evictions, corrupt, write_errors, uncacheable;
	uint64_t size, entries, max_size;
};

/* The device connection's side (httpdev.c). */
struct cache_reader_ops {
	/* The answer's head: status and fields (Content-Length when the
	 * body's length is known). The body follows with cache_read. */
	void (*head)(void *arg, int status, const struct hdrs *h);
	/* More body can be read, or it is complete (cache_read says). */
	void (*ready)(void *arg);
	/* Not from the cache after all: send the request upstream as
	 * usual. The reader is gone. */
	void (*pass)(void *arg);
	/* Failed after the head went out: cut the connection. The reader
	 * is gone. */
	void (*failed)(void *arg);
	/* This device's request fetched a response that may not be
	 * stored: take stream r (relay_http_rebind it) and answer from its
	 * head, which has arrived. The reader is gone. */
	void (*adopt)(void *arg, struct relay *r);
	/* Send this device's request upstream for a fill, on relay
	 * ops/ops_arg: as a GET without Range; to revalidate an entry, with
	 * validators instead of the device's conditions (else NULL). */
	int (*fetch)(void *arg, const struct hdrs *validators,
	    const struct relay_http_ops *ops, void *ops_arg,
	    struct relay **out);
};

/* What the device asked. The strings and req must live as long as the
 * reader. */
struct cache_request {
	const char *service;
	const char *host;		/* Host field, or "" */
	const char *path;
	const char *method;
	const struct hdrs *req;
	bool has_body;
	/* The device proved who it is (a device certificate): like a
	 * request with Authorization (RFC 9111 3.5), its answer is stored
	 * only when it says public, s-maxage or must-revalidate. */
	bool authenticated;
};

/* Opens (creating it 0700) and indexes the cache directory; leftovers of
 * an interrupted fill are removed. */
int cache_open(struct event_base *base, const char *dir, uint64_t max_size,
    struct cache **out, struct err *e);
void cache_free(struct cache *c);

/*
 * Answers q from the cache when it can: returns 1 with *out set (the
 * reader calls ops back), or 0 when the request is not for the cache
 * (send it upstream; counted as a bypass). Requests with other methods
 * drop the URL's entries (RFC 9111 4.4).
 */
int cache_get(struct cache *c, const struct cache_request *q,
    const struct cache_reader_ops *ops, void *arg, struct cache_reader **out);
/* Appends up to max body bytes to out: returns the count, or -1 when the
 * body broke; *eof once the whole body was given. */
long cache_read(struct cache_reader *cr, struct evbuffer *out, size_t max,
    bool *eof);
/* The device is gone or done: no more callbacks. */
void cache_reader_free(struct cache_reader *cr);

const struct cache_stats *cache_stats(struct cache *c);
/* The admin socket's "cache list [json]" and "cache purge [URL]". */
void cache_list(struct cache *c, bool json, FILE *f);
/* url: "http://host/path", a path (any host), or NULL for all. */
void cache_purge(struct cache *c, const char *url, FILE *f);
/* The same, answering how many entries went (their bytes in *bytes when
 * not NULL). */
uint64_t cache_purge_count(struct cache *c, const char *url,
    uint64_t *bytes);

#endif
