/* The admin unix socket: owner-only, one request line, one answer (admin.h). */
#include "common/admin.h"

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/acceptguard.h"

/* A request line, at most: `manage` carries its arguments (up to 8 of
 * 2 KB, JSON-escaped). The socket is owner-only. */
#define ADMIN_LINE_MAX (64 * 1024)

struct admin_req;

struct admin {
	struct evconnlistener *l;
	char *path;
	admin_fn fn;
	void *arg;
	/* Deferred requests not yet answered: freed by admin_close when
	 * the daemon stops before their answer (a store or a queue that
	 * drops its callbacks at the end). */
	struct admin_req *deferred;
};

static int
make_addr(const char *path, struct sockaddr_un *sun, struct err *e)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return err_set(e, -ENAMETOOLONG, "admin socket path too long: "
		    "%s", path);
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

static void
conn_write_done(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

/* A request whose answer comes later: its connection, or NULL once the
 * client went away. */
struct admin_req {
	struct admin *a;
	struct bufferevent *bev;
	bool deferred;
	uid_t uid;		/* the client's, from SO_PEERCRED */
	struct admin_req *next, **pprev;	/* a->deferred */
};

/* The client of a deferred request hung up: the answer finds no one. */
static void
deferred_event(struct bufferevent *bev, short what, void *arg)
{
	struct admin_req *r = arg;

	(void)what;
	bufferevent_free(bev);
	r->bev = NULL;
}

struct admin_req *
admin_defer(struct admin_req *req)
{
	struct admin_req *r = malloc(sizeof(*r));

	if (r == NULL)
		return NULL;
	*r = *req;
	req->deferred = true;
	bufferevent_setcb(r->bev, NULL, NULL, deferred_event, r);
	r->next = r->a->deferred;
	if (r->next != NULL)
		r->next->pprev = &r->next;
	r->pprev = &r->a->deferred;
	r->a->deferred = r;
	return r;
}

/* Sends what is in buf and closes once it is written. */
static void
send_answer(struct admin *a, struct bufferevent *bev, const char *buf,
    size_t n)
{
	bufferevent_write(bev, buf, n);
	bufferevent_setcb(bev, NULL, conn_write_done, conn_event, a);
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

uid_t
admin_req_uid(const struct admin_req *req)
{
	return req->uid;
}

void
admin_user_name(uid_t uid, char *buf, size_t cap)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (uid == (uid_t)-1)
		snprintf(buf, cap, "unknown");
	else if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 &&
	    res != NULL)
		snprintf(buf, cap, "%s", pw.pw_name);
	else
		snprintf(buf, cap, "uid:%u", (unsigned)uid);
}

void
admin_local_who(uid_t uid, char *buf, size_t cap)
{
	char name[64];

	admin_user_name(uid, name, sizeof(name));
	snprintf(buf, cap, "local:%s", name);
}

static void
deferred_unlink(struct admin_req *r)
{
	*r->pprev = r->next;
	if (r->next != NULL)
		r->next->pprev = r->pprev;
}

void
admin_answer(struct admin_req *req, const char *buf, size_t len)
{
	deferred_unlink(req);
	if (req->bev != NULL)
		send_answer(req->a, req->bev, buf, len);
	free(req);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct admin_req req = { .a = a, .bev = bev, .uid = (uid_t)-1 };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char *line, *buf = NULL;
	size_t n = 0, len;
	FILE *f;

	line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > ADMIN_LINE_MAX)
			bufferevent_free(bev);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	if (getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_PEERCRED, &cred,
	    &clen) == 0)
		req.uid = cred.uid;
	f = open_memstream(&buf, &n);
	if (f != NULL) {
		a->fn(line, f, &req, a->arg);
		fclose(f);
	}
	free(line);
	if (req.deferred) {
		/* The deferred copy is the connection's owner now. */
		free(buf);
		return;
	}
	send_answer(a, bev, buf != NULL ? buf : "", buf != NULL ? n : 0);
	free(buf);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct bufferevent *bev;

	(void)sa;
	(void)salen;
	bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(bev, conn_read, NULL, conn_event, arg);
	bufferevent_enable(bev, EV_READ);
}

int
admin_listen(struct event_base *base, const char *path, admin_fn fn,
    void *arg, struct admin **out, struct err *e)
{
	struct sockaddr_un sun;
	struct admin *a;
	struct stat sb;
	mode_t old;
	int rc;

	rc = make_addr(path, &sun, e);
	if (rc != 0)
		return rc;
	/* A socket left by a previous run is replaced; anything else at
	 * that path is not ours to remove. */
	if (lstat(path, &sb) == 0) {
		int probe;

		if (!S_ISSOCK(sb.st_mode))
			return err_set(e, -EEXIST, "%s exists and is not a "
			    "socket", path);
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0) {
			close(probe);
			return err_set(e, -EADDRINUSE, "%s is in use by a "
			    "running daemon", path);
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->path = strdup(path)) == NULL) {
		free(a);
		return err_set(e, -ENOMEM, "out of memory");
	}
	a->fn = fn;
	a->arg = arg;
	old = umask(077);	/* owner-only from the first instant */
	a->l = evconnlistener_new_bind(base, on_accept, a,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	rc = errno;
	umask(old);
	if (a->l != NULL)
		chmod(path, 0600);	/* no exec bit on a socket */
	if (a->l != NULL && acceptguard_watch(a->l, "admin") != 0) {
		evconnlistener_free(a->l);
		unlink(path);
		a->l = NULL;
		rc = ENOMEM;
	}
	if (a->l == NULL) {
		free(a->path);
		free(a);
		return err_set(e, -rc, "cannot listen on %s: %s", path,
		    strerror(rc));
	}
	*out = a;
	return 0;
}

void
admin_close(struct admin *a)
{
	struct admin_req *r;

	if (a == NULL)
		return;
	while ((r = a->deferred) != NULL) {
		deferred_unlink(r);
		if (r->bev != NULL)
			bufferevent_free(r->bev);
		free(r);
	}
	acceptguard_release(a->l);
	evconnlistener_free(a->l);
	unlink(a->path);
	free(a->path);
	free(a);
}

/* A request can be longer than one write takes (manage's arguments). */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
admin_query(const char *path, const char *cmd, FILE *out, struct err *e)
{
	struct sockaddr_un sun;
	char buf[4096];
	ssize_t n;
	int fd, rc;

	rc = make_addr(path, &sun, e);
	if (rc != 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		rc = err_set(e, -errno, "cannot connect to %s: %s (is the "
		    "daemon running, and are you its user?)", path,
		    strerror(errno));
		close(fd);
		return rc;
	}
	if (write_all(fd, cmd, strlen(cmd)) != 0 ||
	    write_all(fd, "\n", 1) != 0) {
		rc = err_set(e, -EIO, "cannot send to %s", path);
		close(fd);
		return rc;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, out);
	close(fd);
	return n < 0 ? err_set(e, -EIO, "read from %s failed", path) : 0;
}

int
admin_query_buf(const char *path, const char *cmd, char **out, size_t *len,
    struct err *e)
{
	FILE *f;
	int rc;

	*out = NULL;
	*len = 0;
	if ((f = open_memstream(out, len)) == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	rc = admin_query(path, cmd, f, e);
	if (fclose(f) != 0 && rc == 0)
		rc = err_set(e, -ENOMEM, "out of memory");
	if (rc != 0) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return rc;
}
