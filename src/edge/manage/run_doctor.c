/*
 * doctor: the doctor's checks (`isthmus doctor --json`) run at the edge.
 * The doctor is blocking code that runs its own event loops, so it runs
 * as a child: this same binary (/proc/self/exe) with the running
 * configuration's file, its output read on the loop, at most
 * MANAGE_RESULT_MAX bytes and MANAGE_DOCTOR_TIMEOUT_S seconds (then it is
 * killed), and reaped. One doctor at a time.
 */
#include "edge/manage/manage-int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "edge/daemon.h"

/* How often a doctor that closed its output is looked for, and for how
 * long, before it is killed. */
#define REAP_POLL_MS 20
#define REAP_TRIES 250

struct doctor_run {
	struct manage_job *j;
	pid_t pid;
	int fd;
	struct event *read_ev, *timer;
	struct evbuffer *out;
	bool eof, killed, too_big;
	unsigned tries;
};

static void
doctor_free(struct doctor_run *d)
{
	if (d->read_ev != NULL)
		event_free(d->read_ev);
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->fd >= 0)
		close(d->fd);
	if (d->out != NULL)
		evbuffer_free(d->out);
	free(d);
}

/* The job is answered or stopped: the doctor is gone. */
static void
doctor_end(struct manage_job *j, struct doctor_run *d)
{
	j->env->doctor = NULL;
	j->state = NULL;
	j->cancel = NULL;
	doctor_free(d);
}

static void
doctor_cancel(struct manage_job *j)
{
	struct doctor_run *d = j->state;

	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	doctor_end(j, d);
}

static void
doctor_kill(struct doctor_run *d)
{
	if (!d->killed && d->pid > 0)
		kill(d->pid, SIGKILL);
	d->killed = true;
}

/* The child is reaped: answer from what it wrote. */
static void
doctor_answer(struct doctor_run *d, int status)
{
	struct manage_job *j = d->j;
	json_error_t je;
	json_t *doc = NULL;
	size_t len = evbuffer_get_length(d->out);
	char *text = (char *)evbuffer_pullup(d->out, -1);
	bool too_big = d->too_big, killed = d->killed;

	if (!killed && !too_big && len > 0)
		doc = json_loadb(text, len, 0, &je);
	doctor_end(j, d);
	if (too_big)
		mjob_fail(j, "result too large: the doctor wrote more than %u "
		    "bytes", MANAGE_RESULT_MAX);
	else if (killed)
		mjob_fail(j, "the doctor did not finish within %d s and was "
		    "stopped", MANAGE_DOCTOR_TIMEOUT_S);
	else if (doc == NULL)
		mjob_fail(j, "the doctor wrote no JSON (%s %d)",
		    WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	else
		mjob_answer(j, MO_OK, doc, NULL);
}

static void
try_reap(struct doctor_run *d)
{
	struct timeval tv = { 0, REAP_POLL_MS * 1000 };
	int status = 0;
	pid_t got;

	while ((got = waitpid(d->pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (got == d->pid || got < 0) {
		d->pid = -1;
		doctor_answer(d, status);
		return;
	}
	if (++d->tries > REAP_TRIES)
		doctor_kill(d);
	evtimer_add(d->timer, &tv);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct doctor_run *d = arg;

	(void)fd;
	(void)what;
	if (!d->eof) {
		/* MANAGE_DOCTOR_TIMEOUT_S passed: stop it, then reap. */
		doctor_kill(d);
		d->eof = true;
		event_del(d->read_ev);
	}
	try_reap(d);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct doctor_run *d = arg;
	char buf[16384];
	ssize_t n;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0 && !d->too_big) {
		if (evbuffer_get_length(d->out) + (size_t)n >
		    MANAGE_RESULT_MAX) {
			d->too_big = true;
			doctor_kill(d);
		} else if (evbuffer_add(d->out, buf, (size_t)n) != 0) {
			d->too_big = true;
			doctor_kill(d);
		}
	}
	if (n > 0)
		return;
	d->eof = true;
	event_del(d->read_ev);
	evtimer_del(d->timer);
	try_reap(d);
}

/* The child: the doctor with stdout to the pipe, nothing else open. */
static void
child(int wfd, const char *conf)
{
	int null = open("/dev/null", O_RDWR);

	if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(wfd, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
		_exit(127);
	close_range(3, ~0u, 0);	/* the daemon's sockets stay with it */
	execl("/proc/self/exe", "isthmus", "doctor", "-c", conf, "--json",
	    (char *)NULL);
	_exit(127);
}

void
run_doctor(struct manage_job *j)
{
	struct event_base *base = j->env->e->base;
	struct timeval tv = { MANAGE_DOCTOR_TIMEOUT_S, 0 };
	struct doctor_run *d;
	int fds[2];

	if (j->in.nargs > 0) {
		mjob_fail(j, "doctor takes no arguments");
		return;
	}
	if (j->env->doctor != NULL) {
		mjob_fail(j, "a doctor is already running");
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		mjob_fail(j, "out of memory");
		return;
	}
	d->j = j;
	d->fd = -1;
	d->pid = -1;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		doctor_free(d);
		mjob_fail(j, "cannot start the doctor: %s", strerror(errno));
		return;
	}
	d->fd = fds[0];
	d->out = evbuffer_new();
	d->read_ev = event_new(base, d->fd, EV_READ | EV_PERSIST, on_read, d);
	d->timer = evtimer_new(base, on_timer, d);
	if (d->out == NULL || d->read_ev == NULL || d->timer == NULL ||
	    evutil_make_socket_nonblocking(d->fd) != 0 ||
	    (d->pid = fork()) < 0) {
		close(fds[1]);
		doctor_free(d);
		mjob_fail(j, "cannot start the doctor: %s", strerror(errno));
		return;
	}
	if (d->pid == 0)
		child(fds[1], j->env->e->cf->path);
	close(fds[1]);
	j->state = d;
	j->cancel = doctor_cancel;
	j->env->doctor = j;
	event_add(d->read_ev, NULL);
	evtimer_add(d->timer, &tv);
}
