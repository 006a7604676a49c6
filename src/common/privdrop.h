/*
 * A daemon started as root gives root up once it has what only root may
 * take (its ports, its keys, its sockets): the config's `user = NAME`
 * says whom it becomes, with that user's group and no other, and with
 * PR_SET_NO_NEW_PRIVS so nothing it runs can get root back. Started as
 * root without `user`, it refuses to run; `user = root` is the explicit,
 * logged choice to stay root. Started as anyone else, `user` must be
 * that user or absent.
 */
#ifndef ISTHMUS_PRIVDROP_H
#define ISTHMUS_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

struct privdrop {
	bool drop;			/* root now, NAME after privdrop_apply */
	bool stays_root;		/* user = root, said so */
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* Whether NAME is a user of this system (--check): 0, and its group is
 * the daemon's for the private-key rule (fs_set_daemon_group); -ENOENT
 * with e. */
int privdrop_known(const char *name, struct err *e);

/* What this process does about user (NULL: the key is absent) as the
 * daemon named daemon ("cloud", "edge") whose config section is
 * section: 0 and *p, or -EPERM with e saying what to write. */
int privdrop_plan(const char *user, const char *daemon, const char *section,
    struct privdrop *p, struct err *e);

/* Makes dir (and its parents, as mkdir -p, 0700) when missing and gives
 * the directory itself to p's user, so the daemon can keep its files
 * there once it is that user; an existing directory is left as it is.
 * Nothing when p does not drop. -errno with e. */
int privdrop_own_dir(const struct privdrop *p, const char *dir,
    struct err *e);
/* An existing dir the daemon will keep files in once it is p's user, but
 * which that user does not own: 1 and why (for a warning: the store
 * there will be unavailable, or the cache refused), else 0. */
int privdrop_not_owned(const struct privdrop *p, const char *dir,
    char *why, size_t cap);
/* A file root made for the daemon (its admin socket) goes to p's user;
 * nothing when p does not drop. -errno with e. */
int privdrop_own_file(const struct privdrop *p, const char *path,
    struct err *e);

/* Becomes p's user: setgroups to its group alone, setgid, setuid,
 * PR_SET_NO_NEW_PRIVS, then checks that root cannot be had back.
 * Nothing when p does not drop. -errno with e: the daemon stops. */
int privdrop_apply(const struct privdrop *p, struct err *e);

#endif
