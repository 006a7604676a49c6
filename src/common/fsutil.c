/* Files never half-written, and secrets read with their mode checked
 * (fsutil.h). */
#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
fs_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s%s%s", dir,
		    dir[0] != '\0' && dir[strlen(dir) - 1] != '/' ? "/" : "",
		    name);
	return p;
}

bool
fs_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static void
fsync_parent(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd;

	if (dir == NULL)
		return;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, 2, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

int
fs_stage(struct fs_pending *p, const char *path, const void *data,
    size_t len, mode_t mode, struct err *e)
{
	const char *buf = data;
	size_t off = 0;
	int fd, rc = 0;

	p->path = strdup(path);
	p->tmp = malloc(strlen(path) + 16);
	if (p->path == NULL || p->tmp == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(p->tmp, strlen(path) + 16, "%s.tmp-XXXXXX", path);
	fd = mkstemp(p->tmp);	/* created 0600 */
	if (fd < 0) {
		rc = err_set(e, -errno, "cannot write %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	while (rc == 0 && off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = err_set(e, -errno, "cannot write %s: %s", path,
			    strerror(errno));
		else
			off += (size_t)w;
	}
	if (rc == 0 && fchmod(fd, mode) != 0)
		rc = err_set(e, -errno, "cannot chmod %s: %s", path,
		    strerror(errno));
	if (rc == 0 && fsync(fd) != 0)
		rc = err_set(e, -errno, "cannot sync %s: %s", path,
		    strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = err_set(e, -errno, "cannot write %s: %s", path,
		    strerror(errno));
	if (rc == 0)
		return 0;
	unlink(p->tmp);
fail:
	free(p->path);
	free(p->tmp);
	p->path = p->tmp = NULL;
	return rc;
}

void
fs_abort(struct fs_pending *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i].tmp != NULL)
			unlink(p[i].tmp);
		free(p[i].tmp);
		free(p[i].path);
		p[i].tmp = p[i].path = NULL;
	}
}

int
fs_commit(struct fs_pending *p, size_t n, bool overwrite, struct err *e)
{
	struct stat sb;
	size_t i, done;
	int rc = 0;

	/* rename(2) over a directory or a device fails only after earlier
	 * files were replaced; refuse before touching anything. */
	for (i = 0; overwrite && i < n; i++) {
		if (lstat(p[i].path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
			rc = err_set(e, -EEXIST, "%s exists and is not a "
			    "regular file", p[i].path);
			fs_abort(p, n);
			return rc;
		}
	}
	for (done = 0; done < n; done++) {
		int r = overwrite ? rename(p[done].tmp, p[done].path) :
		    link(p[done].tmp, p[done].path);

		if (r != 0) {
			rc = -errno;
			if (errno == EEXIST)
				err_set(e, rc, "%s already exists",
				    p[done].path);
			else
				err_set(e, rc, "cannot write %s: %s",
				    p[done].path, strerror(errno));
			break;
		}
		if (overwrite) {
			free(p[done].tmp);
			p[done].tmp = NULL;
		}
	}
	if (rc != 0 && !overwrite)
		for (i = 0; i < done; i++)
			unlink(p[i].path);
	if (rc == 0 && n > 0)
		fsync_parent(p[0].path);
	fs_abort(p, n);
	return rc;
}

int
fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
    bool overwrite, struct err *e)
{
	struct fs_pending p;
	int rc;

	rc = fs_stage(&p, path, data, len, mode, e);
	if (rc != 0)
		return rc;
	return fs_commit(&p, 1, overwrite, e);
}

/* The group's name for a message, or its number. */
static void
group_name(gid_t gid, char *out, size_t cap)
{
	struct group gr, *res = NULL;
	char buf[1024];

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res != NULL)
		snprintf(out, cap, "'%s'", gr.gr_name);
	else
		snprintf(out, cap, "%u", (unsigned)gid);
}

/*
 * OpenSSH's rule for private keys: a key that others can read is refused,
 * not just warned about, since by then it may already be copied. One
 * exception, for packaging (root:isthmus 0640): the group may read it when
 * it is the daemon's own group, and nothing more.
 */
static bool daemon_group_set;
static gid_t daemon_group;

void
fs_set_daemon_group(gid_t gid)
{
	daemon_group = gid;
	daemon_group_set = true;
}

static int
check_secret_mode(const char *path, const struct stat *sb, struct err *e)
{
	unsigned mode = (unsigned)sb->st_mode & 07777;
	char grp[64];

	if ((mode & 0007) != 0)
		return err_set(e, -EPERM, "%s: private key is accessible by "
		    "others (mode %04o); run: chmod 600 %s", path, mode, path);
	if ((mode & 0070) == 0)
		return 0;
	if ((mode & 0030) != 0)
		return err_set(e, -EPERM, "%s: private key is writable or "
		    "executable by its group (mode %04o); run: chmod 600 %s",
		    path, mode, path);
	if (sb->st_gid == getegid() ||
	    (daemon_group_set && sb->st_gid == daemon_group))
		return 0;
	group_name(sb->st_gid, grp, sizeof(grp));
	return err_set(e, -EPERM, "%s: private key is readable by group %s "
	    "(mode %04o), which is not this daemon's group; run: chmod 600 %s",
	    path, grp, mode, path);
}

static int
read_file(const char *path, bool secret, size_t max, char **out,
    size_t *len, struct err *e)
{
	struct stat sb;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "cannot read %s: %s", path,
		    strerror(errno));
	/* The mode of the file opened, not of a name that may change. */
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = err_set(e, -EINVAL, "cannot read %s: not a regular file",
		    path);
	} else if (secret && (rc = check_secret_mode(path, &sb, e)) != 0) {
		/* refused: message set */
	} else if ((size_t)sb.st_size > max) {
		rc = err_set(e, -EFBIG, "cannot read %s: larger than %zu bytes",
		    path, max);
	} else if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory");
	}
	while (rc == 0 && got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = err_set(e, -errno, "cannot read %s: %s", path,
			    strerror(errno));
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[got] = '\0';
	*out = buf;
	if (len != NULL)
		*len = got;
	return 0;
}

int
fs_read_file(const char *path, size_t max, char **out, size_t *len,
    struct err *e)
{
	return read_file(path, false, max, out, len, e);
}

int
fs_read_secret(const char *path, size_t max, char **out, size_t *len,
    struct err *e)
{
	return read_file(path, true, max, out, len, e);
}

int
fs_mkdir_p(const char *dir, mode_t mode, struct err *e)
{
	char *p = strdup(dir), *s;
	struct stat sb;
	int rc = 0;

	if (p == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	if (p[0] == '\0') {
		free(p);
		return err_set(e, -EINVAL, "empty directory name");
	}
	for (s = p + 1; rc == 0; s++) {
		bool last = *s == '\0';

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			rc = err_set(e, -errno, "cannot create directory %s: %s",
			    p, strerror(errno));
		else if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
			rc = err_set(e, -ENOTDIR, "cannot create directory %s: "
			    "not a directory", p);
		if (last)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}
