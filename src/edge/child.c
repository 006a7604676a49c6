/* A command of this binary run as a child, read on the loop (child.h). */
#include "edge/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>

/* How often a child that closed its output is looked for, and for how
 * long, before it is killed: it may linger in its exit. */
#define REAP_POLL_MS 20
#define REAP_TRIES 250

struct child {
	pid_t pid;
	int fd;
	size_t max_out;
	struct event *read_ev, *timer;
	struct evbuffer *out;
	bool eof, killed, timed_out, too_big;
	unsigned tries;
	child_done_fn done;
	void *arg;
};

static void
child_free(struct child *c)
{
	if (c->read_ev != NULL)
		event_free(c->read_ev);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->fd >= 0)
		close(c->fd);
	if (c->out != NULL)
		evbuffer_free(c->out);
	free(c);
}

void
child_cancel(struct child *c)
{
	if (c == NULL)
		return;
	if (c->pid > 0) {
		/* SIGKILL ends it at once: this wait is short. */
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	child_free(c);
}

static void
child_kill(struct child *c)
{
	if (!c->killed && c->pid > 0)
		kill(c->pid, SIGKILL);
	c->killed = true;
}

/* Reaped: the owner hears what it wrote. */
static void
child_end(struct child *c, int status)
{
	struct child_result res = {
		.status = status,
		.timed_out = c->timed_out,
		.too_big = c->too_big,
	};

	if (evbuffer_add(c->out, "", 1) == 0) {
		res.len = evbuffer_get_length(c->out) - 1;
		res.out = (const char *)evbuffer_pullup(c->out, -1);
	}
	if (res.out == NULL) {
		res.out = "";
		res.len = 0;
	}
	c->done(&res, c->arg);
	child_free(c);
}

static void
try_reap(struct child *c)
{
	struct timeval tv = { 0, REAP_POLL_MS * 1000 };
	int status = -1;
	pid_t got;

	while ((got = waitpid(c->pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (got == c->pid || got < 0) {
		c->pid = -1;
		child_end(c, got < 0 ? -1 : status);
		return;
	}
	if (++c->tries > REAP_TRIES)
		child_kill(c);
	evtimer_add(c->timer, &tv);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)what;
	if (!c->eof) {
		/* timeout_s passed: stop it, then reap. */
		c->timed_out = true;
		child_kill(c);
		c->eof = true;
		event_del(c->read_ev);
	}
	try_reap(c);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	char buf[16384];
	ssize_t n;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0 && !c->too_big &&
	    (evbuffer_get_length(c->out) + (size_t)n > c->max_out ||
	    evbuffer_add(c->out, buf, (size_t)n) != 0)) {
		c->too_big = true;
		child_kill(c);
	}
	if (n > 0)
		return;
	c->eof = true;
	event_del(c->read_ev);
	evtimer_del(c->timer);
	try_reap(c);
}

/* In the child: stdout to the pipe, nothing else of the daemon's open. */
static void
child_exec(int wfd, char *const argv[])
{
	int null = open("/dev/null", O_RDWR);

	if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(wfd, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
		_exit(127);
	close_range(3, ~0u, 0);	/* the daemon's sockets stay with it */
	execv("/proc/self/exe", argv);
	_exit(127);
}

int
child_start(struct event_base *base, char *const argv[], size_t max_out,
    unsigned timeout_s, child_done_fn done, void *arg, struct child **out)
{
	struct timeval tv = { (time_t)timeout_s, 0 };
	struct child *c = calloc(1, sizeof(*c));
	int fds[2], rc;

	if (c == NULL)
		return -ENOMEM;
	c->fd = -1;
	c->pid = -1;
	c->max_out = max_out;
	c->done = done;
	c->arg = arg;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		rc = -errno;
		child_free(c);
		return rc;
	}
	c->fd = fds[0];
	c->out = evbuffer_new();
	c->read_ev = event_new(base, c->fd, EV_READ | EV_PERSIST, on_read, c);
	c->timer = evtimer_new(base, on_timer, c);
	rc = c->out == NULL || c->read_ev == NULL || c->timer == NULL ||
	    evutil_make_socket_nonblocking(c->fd) != 0 ? -ENOMEM : 0;
	if (rc == 0 && (c->pid = fork()) < 0)
		rc = -errno;
	if (rc != 0) {
		close(fds[1]);
		child_free(c);
		return rc;
	}
	if (c->pid == 0)
		child_exec(fds[1], argv);
	close(fds[1]);
	event_add(c->read_ev, NULL);
	evtimer_add(c->timer, &tv);
	*out = c;
	return 0;
}
