/*
 * What the cache's files share (private to src/edge/cache/): the layouts
 * of an entry, a fill, a reader and the cache, and each file's functions.
 * The layers, each calling only those below it:
 *   cache.c   the public face: looking up, open and free, stats
 *   admin.c   "cache list" and "cache purge" output, from the index
 *   fill.c    fills: one upstream request for everyone asking
 *   reader.c  readers: a device's answer from an entry's body
 *   verify.c  digest checks; says how one ended through cache->verified
 *   index.c   entries, the index, LRU, eviction, loading at start
 * file.c (the files on disk) and policy.c (RFC 9111) sit below them all.
 */
#ifndef ISTHMUS_EDGE_CACHE_INT_H
#define ISTHMUS_EDGE_CACHE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "common/hdrs.h"
#include "common/relay.h"
#include "edge/cache/cache.h"
#include "edge/cache/file.h"

#define NBUCKETS 1024

enum ce_state { CE_FILLING, CE_READY, CE_DEAD };

struct verify;
struct fill;

struct centry {
	struct cache *c;
	struct centry *hnext;		/* bucket */
	struct centry *lprev, *lnext;	/* LRU, most recent first */
	uint64_t khash;
	char id[CACHE_ID_LEN + 1];
	struct cache_meta m;		/* m.length: bytes so far when filling */
	enum ce_state state;
	bool indexed, on_lru;
	unsigned refs;			/* the index, readers, its fill */
	int64_t declared;		/* Content-Length, -1 */
	uint64_t disk, meta_bytes;
	uint64_t hits;
	/* the body file as last found to match the digest */
	bool checked;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec ctime;
	struct verify *verify;
	struct cache_reader *readers;
	struct fill *fill;
};

struct fill {
	struct cache *c;
	struct fill *next, **pprev;	/* c->fills, then c->ended */
	char *service, *url;
	uint64_t khash;
	struct relay *r;
	struct hdrs req;		/* what went upstream, for Vary */
	struct centry *ce;		/* after a storable head */
	struct centry *old;		/* the stale entry being revalidated */
	struct cache_reader *waiters;	/* waiting for the head */
	struct cache_reader *owner;	/* its request went upstream */
	int fd;
	EVP_MD_CTX *md;
	int64_t request_time;
	bool authenticated;		/* the owner's request (cache.h) */
	bool headed, failed;
	struct event *ev;		/* deferred abort and free */
};

struct cache_reader {
	struct cache *c;
	struct cache_reader *next, **pprev;	/* fill->waiters, ce->readers */
	const struct cache_reader_ops *ops;
	void *arg;
	struct cache_request q;
	char *url;
	uint64_t khash;
	bool head_only;
	struct centry *ce;
	struct fill *fill;
	enum cache_result result;
	struct event *kick;
	bool headed, pass, failed, verifying, starved;
	int fd;
	uint64_t off, end;		/* end UINT64_MAX: the whole body */
	struct stat st;
};

struct cache {
	struct event_base *base;
	char *dir;
	struct centry *buckets[NBUCKETS];
	struct centry *lru_head, *lru_tail;
	struct fill *fills;
	struct fill *ended;		/* to be freed from the loop */
	struct verify *verifies;
	/* verify.c reports the end of a check here (set by cache.c): ok,
	 * the readers waiting for it go on; else the entry is gone and they
	 * look again. A callback, so the check does not call up into the
	 * lookup that started it. */
	void (*verified)(struct centry *ce, bool ok);
	struct cache_stats stats;
};

/* ---- index.c: entries, the index, LRU, eviction ----------------------- */

uint64_t index_key_hash(const char *service, const char *url);
/* The cache key's URL, http://host/path, in a new string (NULL: out of
 * memory). */
char *index_make_url(const struct cache_request *q);
/* A new entry with a fresh id, in no index yet; NULL: out of memory. */
struct centry *index_entry_new(struct cache *c, uint64_t khash);
void index_entry_free(struct centry *ce);
void index_unref(struct centry *ce);
/* Into the index (which holds a reference), not yet on the LRU. */
void index_add(struct cache *c, struct centry *ce);
/* Out of the index and off the disk. Readers that have the body open
 * finish reading it; nobody finds it again. */
void index_drop(struct centry *ce);
/* Most recently used. */
void index_touch(struct centry *ce);
/* Removes the entry's body, metadata and partial body files. */
void index_unlink_files(struct centry *ce);
/* Makes room for more bytes by dropping the least recently used entries
 * (never one being fetched). */
void index_evict(struct cache *c, uint64_t more, const struct centry *keep);
/* Drops the entries this one replaces: same URL, same variant. */
void index_drop_replaced(struct cache *c, const struct centry *ce);
/* Whether req asks for the variant ce holds (its Vary fields match). */
bool index_vary_matches(const struct centry *ce, const struct hdrs *req);
/* Records in ce->m.vary the fields of req that the response's Vary
 * names. bool: false when out of memory, as cache_vary_each says. */
bool index_vary_record(struct centry *ce, const struct hdrs *req);
/* The newest entry for the key whose variant req asks for, or NULL. */
struct centry *index_find(struct cache *c, uint64_t h, const char *service,
    const char *url, const struct hdrs *req);
/* Drops every variant of the URL. */
void index_invalidate(struct cache *c, const char *service, const char *url);
/* Calls fn for every entry; fn may drop the entry it is given. */
void index_each(struct cache *c, void (*fn)(struct centry *ce, void *arg),
    void *arg);
/* Indexes the entries in c->dir, removing what an interrupted run left
 * and what does not fit. */
int index_load(struct cache *c, struct err *e);
/* Frees every entry in the index. */
void index_clear(struct cache *c);

/* ---- verify.c: digest checks ------------------------------------------ */

/* Checks ce's body against its digest from the loop, a piece per turn;
 * c->verified says how it ended. */
void verify_start(struct centry *ce);
void verify_free_all(struct cache *c);

/* ---- reader.c: readers ------------------------------------------------- */

/* Sets up a new (zeroed) reader for q; cache_reader_free frees it either
 * way. */
int reader_init(struct cache_reader *cr, struct cache *c,
    const struct cache_request *q, const struct cache_reader_ops *ops,
    void *arg);
void reader_link(struct cache_reader **head, struct cache_reader *cr);
/* Lets go of the entry or fill it was attached to. */
void reader_detach(struct cache_reader *cr);
/* Runs the reader from the loop: it tells the device what changed. */
void reader_kick(struct cache_reader *cr);
/* Not served from here: the device sends its request itself. */
void reader_pass(struct cache_reader *cr);
/* Attaches cr to ce: it reads the body file through its own descriptor,
 * so the entry may be replaced or evicted under it. -ENOENT: the body is
 * gone (the entry is dropped; look again). */
int reader_attach(struct cache_reader *cr, struct centry *ce,
    enum cache_result res);
/* ce's body matched its digest: the readers waiting for it go on. */
void reader_resume(struct centry *ce);

/* ---- fill.c: fills ----------------------------------------------------- */

/* The fill for the key still waiting for its head, or NULL. */
struct fill *fill_find(struct cache *c, uint64_t h, const char *service,
    const char *url);
void fill_wait(struct fill *f, struct cache_reader *cr);
/* Sends cr's request upstream for a fill (with old's validators when it
 * revalidates old); cr waits for it. */
int fill_start(struct cache_reader *cr, struct centry *old);
/* Ends every fill, dropping the entries they had not completed. */
void fill_free_all(struct cache *c);

#endif
