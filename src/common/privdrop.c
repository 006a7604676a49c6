/* Giving root up after start (privdrop.h). */
#include "common/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"

/* NAME's entry, into p's uid, gid and name. */
static int
look_up(const char *name, struct privdrop *p, struct err *e)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc;

	rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (res == NULL)
		return err_set(e, -ENOENT, "user '%s': %s", name, rc != 0 ?
		    strerror(rc) : "no such user on this system");
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	snprintf(p->name, sizeof(p->name), "%s", pw.pw_name);
	return 0;
}

int
privdrop_known(const char *name, struct err *e)
{
	struct privdrop p;
	int rc;

	if ((rc = look_up(name, &p, e)) == 0)
		fs_set_daemon_group(p.gid);
	return rc;
}

int
privdrop_plan(const char *user, const char *daemon, const char *section,
    struct privdrop *p, struct err *e)
{
	struct passwd pw, *me = NULL;
	char buf[4096];
	int rc;

	memset(p, 0, sizeof(*p));
	if (geteuid() != 0) {
		/* Nothing to give up; a user it cannot become is a mistake
		 * worth saying, not a silent run as someone else. */
		if (user == NULL)
			return 0;
		getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &me);
		if (me != NULL && strcmp(me->pw_name, user) == 0)
			return 0;
		return err_set(e, -EPERM, "isthmus %s: started as %s (uid %u), "
		    "it cannot become user %s: start it as root (it binds, "
		    "then becomes %s) or as %s", daemon, me != NULL ?
		    me->pw_name : "?", (unsigned)geteuid(), user, user, user);
	}
	if (user == NULL)
		return err_set(e, -EPERM, "isthmus %s: started as root without "
		    "a user to become: set user = NAME in [%s] (e.g. isthmus; "
		    "it binds and loads its keys as root, then runs as NAME), "
		    "or start it as that user", daemon, section);
	if ((rc = look_up(user, p, e)) != 0)
		return err_wrap(e, rc, "isthmus %s: ", daemon);
	if (p->uid == 0) {
		p->stays_root = true;	/* said in the file: logged */
		return 0;
	}
	p->drop = true;
	return 0;
}

int
privdrop_own_dir(const struct privdrop *p, const char *dir, struct err *e)
{
	int rc;

	if (!p->drop || fs_exists(dir))
		return 0;
	if ((rc = fs_mkdir_p(dir, 0700, e)) != 0)
		return rc;
	if (chown(dir, p->uid, p->gid) != 0)
		return err_set(e, -errno, "cannot give %s to %s: %s", dir,
		    p->name, strerror(errno));
	return 0;
}

int
privdrop_not_owned(const struct privdrop *p, const char *dir, char *why,
    size_t cap)
{
	struct passwd pw, *owner = NULL;
	char buf[4096];
	struct stat st;

	if (!p->drop || stat(dir, &st) != 0 || st.st_uid == p->uid)
		return 0;
	getpwuid_r(st.st_uid, &pw, buf, sizeof(buf), &owner);
	snprintf(why, cap, "%s belongs to %s, not to %s, who the daemon "
	    "becomes: chown -R %s %s", dir, owner != NULL ? owner->pw_name :
	    "another user", p->name, p->name, dir);
	return 1;
}

int
privdrop_own_file(const struct privdrop *p, const char *path, struct err *e)
{
	if (p->drop && lchown(path, p->uid, p->gid) != 0)
		return err_set(e, -errno, "cannot give %s to %s: %s", path,
		    p->name, strerror(errno));
	return 0;
}

int
privdrop_apply(const struct privdrop *p, struct err *e)
{
	if (!p->drop)
		return 0;
	if (setgroups(1, &p->gid) != 0 || setgid(p->gid) != 0 ||
	    setuid(p->uid) != 0)
		return err_set(e, -errno, "cannot become %s (uid %u, gid %u): "
		    "%s", p->name, (unsigned)p->uid, (unsigned)p->gid,
		    strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return err_set(e, -errno, "cannot set no_new_privs: %s",
		    strerror(errno));
#if defined(__SANITIZE_ADDRESS__)
	/* Changing uid made the process undumpable, and LeakSanitizer's
	 * check at exit attaches to its own threads with ptrace, which that
	 * forbids: the sanitizer builds (make check) alone stay dumpable. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	/* A setuid that kept a saved root uid would let it come back. */
	if (setuid(0) == 0 || seteuid(0) == 0 || getuid() != p->uid ||
	    geteuid() != p->uid || getegid() != p->gid)
		return err_set(e, -EPERM, "root could be had back after "
		    "becoming %s: stopping", p->name);
	return 0;
}
