/*
 * The cloud's state store (docs/cloud.md, "The state store"): what the
 * cloud remembers across restarts, starting with the fleet registry (every
 * edge it ever admitted, up or down, and a bounded history of its
 * connects and disconnects).
 *
 * The data path never waits on it. Writes are queued and done off the
 * event loop; while the store is unavailable (its file unwritable, its
 * disk gone) they wait in bounded memory, are written when it is back,
 * and what did not fit is counted as dropped, never blocking a tunnel.
 * Reads answer through a callback on the loop that asked.
 *
 * Backend: SQLite (sqlite.c), on a thread of its own, the file in WAL
 * mode. The schema and its versioned migrations are schema.c's.
 */
#ifndef ISTHMUS_CLOUD_STORE_H
#define ISTHMUS_CLOUD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/err.h"
#include "common/names.h"

/* Registry writes waiting for the store, at most; past it they are
 * dropped and counted. */
#define STORE_QUEUE_MAX 4096
/* Connects and disconnects kept per edge. */
#define STORE_HISTORY_MAX 50

struct store;

/* An edge's tunnel came up or went down, as the cloud saw it. */
struct store_edge_event {
	const char *tenant, *edge;
	bool up;
	int64_t at;			/* Unix seconds */
	const char *peer;		/* "ip:port" the tunnel came from */
	/* up only (NULL or 0 otherwise): */
	const char *serial;		/* the certificate's, lowercase hex */
	int64_t not_after;		/* the certificate's, Unix seconds */
	const char *version;		/* what the edge reports, or NULL */
	/* down only: */
	const char *reason;		/* why it ended (a log reason label) */
};

/* One edge of the registry. */
struct store_edge {
	char tenant[NAME_MAX_LEN + 1], edge[NAME_MAX_LEN + 1];
	int64_t first_seen, last_seen;	/* Unix seconds */
	char peer[64];
	char serial[48];
	int64_t not_after;
	char version[32];
	bool up;
	int64_t up_since;		/* when its tunnel came up, if up */
	char last_reason[64];		/* why it last went down */
};

/* One line of an edge's history, newest first. */
struct store_history {
	int64_t at;
	bool up;
	char peer[64];
	char reason[64];
};

struct store_stats {
	bool available;		/* the last write or read went through */
	uint64_t written;	/* registry events stored */
	uint64_t dropped;	/* events that found the queue full */
	uint64_t errors;	/* failed attempts (each is retried) */
	size_t queued;		/* waiting now */
};

/*
 * Opens the store in file path (SQLite), creating it and applying the
 * schema's migrations. A file whose schema is newer than this isthmus is
 * refused (-EPROTO) and never written; one that cannot be opened now is
 * not an error: the store starts unavailable (store_get_stats), e says
 * why, and it tries again by itself.
 */
int store_open(struct event_base *base, const char *path, struct store **out,
    struct err *e);
/* Writes what is queued (within a few seconds), then closes. */
void store_close(struct store *s);

/* Queues ev (copied); -ENOBUFS when the queue is full (counted). */
int store_edge_event(struct store *s, const struct store_edge_event *ev);

/* The answer to a read, on the loop: rc 0 or -errno (-EIO: the store is
 * unavailable, e says why). The arrays are valid during the call only. */
typedef void (*store_edges_fn)(int rc, const struct store_edge *v, size_t n,
    const struct err *e, void *arg);
typedef void (*store_history_fn)(int rc, const struct store_history *v,
    size_t n, const struct err *e, void *arg);

/* Every edge of tenant (NULL: all), down ones included, by tenant and
 * name. Asked after a store_edge_event, it sees that event. */
int store_list_edges(struct store *s, const char *tenant,
    store_edges_fn done, void *arg);
/* One edge's history, newest first. */
int store_edge_history(struct store *s, const char *tenant, const char *edge,
    store_history_fn done, void *arg);

void store_get_stats(struct store *s, struct store_stats *st);

#endif
