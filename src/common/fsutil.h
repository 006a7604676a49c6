/*
 * Files that are never half-written: data goes to a temporary file in the
 * target's directory, is fsync'ed, and only then takes the target's name
 * (link(2) when the target must not exist, so the check and the creation are
 * one atomic step; rename(2) when replacing). Several files can be staged
 * and committed together, e.g. a certificate and its key.
 */
#ifndef ISTHMUS_FSUTIL_H
#define ISTHMUS_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

struct fs_pending {
	char *path;
	char *tmp;
};

/* Writes data to a temporary file next to path with the given mode. */
int fs_stage(struct fs_pending *p, const char *path, const void *data,
    size_t len, mode_t mode, struct err *e);
/* Gives every staged file its name. Without overwrite an existing target is
 * an -EEXIST error, and files this call already created are removed again,
 * so either all appear or none does. Temporary files are always removed. */
int fs_commit(struct fs_pending *p, size_t n, bool overwrite, struct err *e);
/* Removes staged temporary files (after an error before commit). */
void fs_abort(struct fs_pending *p, size_t n);

int fs_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, bool overwrite, struct err *e);
/* Reads a whole regular file of at most max bytes; *out is NUL-terminated. */
int fs_read_file(const char *path, size_t max, char **out, size_t *len,
    struct err *e);
/* Like fs_read_file, for a private key: refused (-EPERM, the message
 * naming the file, its mode and the chmod to run) when others may read it,
 * or its group unless that is the process's effective group. */
int fs_read_secret(const char *path, size_t max, char **out, size_t *len,
    struct err *e);
/* Creates dir (and parents) with mode if missing. */
int fs_mkdir_p(const char *dir, mode_t mode, struct err *e);
/* The group a daemon started as root becomes (privdrop.h, the config's
 * user): a private key its group may read (0640) is the daemon's when
 * that group is this one, as when it is the process's own. */
void fs_set_daemon_group(gid_t gid);
bool fs_exists(const char *path);
/* "dir/name" into a new string, or NULL when out of memory. */
char *fs_join(const char *dir, const char *name);

#endif
