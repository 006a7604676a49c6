/* The worker loops: their threads, inboxes and the hand-off of accepted
 * sockets (worker.h). */
#include "cloud/worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cloud/backpool.h"
#include "cloud/manage/manage.h"
#include "cloud/tunnel.h"
#include "cloud/tunnel-int.h"
#include "common/loglimit.h"
#include "common/stat.h"

/* An accepted socket on its way to a worker. */
struct handoff {
	struct handoff *next;
	evutil_socket_t fd;
	struct sockaddr_storage ss;
	int salen;
};

static void
on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct cloud *cl = w->cl;
	struct handoff *h, *next;
	struct tunnel *t, *tn;
	uint64_t n;
	unsigned msg;

	(void)what;
	(void)!read(fd, &n, sizeof(n));
	msg = __atomic_exchange_n(&w->pending, 0, __ATOMIC_ACQUIRE);
	cloud_lock(cl);
	h = w->queue;
	w->queue = NULL;
	cloud_unlock(cl);
	for (; h != NULL; h = next) {
		next = h->next;
		if (STAT_GET(cl->draining))
			close(h->fd);
		else
			tunnel_accept(w, h->fd, (struct sockaddr *)&h->ss,
			    h->salen);
		free(h);
	}
	if (msg & WORKER_SHUTDOWN)
		manage_worker_shutdown(w);
	if (msg & (WORKER_RECHECK | WORKER_SHUTDOWN | WORKER_PROBE)) {
		cloud_lock(cl);
		for (t = w->tunnels; t != NULL; t = tn) {
			tn = tunnel_next(t);
			if (msg & WORKER_SHUTDOWN)
				tunnel_shutdown(t);
			else if (msg & WORKER_RECHECK)
				tunnel_recheck(t);
		}
		for (t = w->tunnels; (msg & WORKER_PROBE) && t != NULL; t = tn) {
			tn = tunnel_next(t);
			tunnel_probe(t);
		}
		cloud_unlock(cl);
	}
	if (msg & WORKER_MANAGE)
		manage_worker_inbox(w);
	/* Worker 0, the control loop: a drain ends when all are empty. */
	if ((msg & WORKER_EMPTY) && STAT_GET(cl->draining) &&
	    workers_idle(cl))
		event_base_loopexit(cl->base, NULL);
	if (msg & WORKER_EXIT)
		event_base_loopexit(w->base, NULL);
}

static int
worker_setup(struct worker *w, struct event_base *base, unsigned burst,
    unsigned per_sec)
{
	w->base = base;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->base == NULL || w->efd < 0)
		return -ENOMEM;
	w->inbox = event_new(base, w->efd, EV_READ | EV_PERSIST, on_inbox, w);
	if (w->inbox == NULL || event_add(w->inbox, NULL) != 0)
		return -ENOMEM;
	w->lim_handshake = log_limit_new(base, burst, per_sec);
	w->lim_stream = log_limit_new(base, burst, per_sec);
	w->lim_backend = log_limit_new(base, burst, per_sec);
	return 0;
}

int
workers_init(struct cloud *cl, unsigned n, unsigned burst, unsigned per_sec)
{
	pthread_mutexattr_t a;
	unsigned i;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&cl->lock, &a);
	pthread_mutexattr_destroy(&a);
	cl->workers = calloc(n, sizeof(*cl->workers));
	if (cl->workers == NULL)
		return -ENOMEM;
	cl->nworkers = n;
	for (i = 0; i < n; i++) {
		struct worker *w = &cl->workers[i];

		w->cl = cl;
		w->idx = i;
		w->efd = -1;
		if (worker_setup(w, i == 0 ? cl->base : event_base_new(),
		    burst, per_sec) != 0)
			return -ENOMEM;
	}
	return 0;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

int
workers_start(struct cloud *cl)
{
	unsigned i;

	for (i = 1; i < cl->nworkers; i++) {
		struct worker *w = &cl->workers[i];

		if (pthread_create(&w->thread, NULL, worker_run, w) != 0)
			return -errno;
		w->threaded = true;
	}
	return 0;
}

void
workers_accept(struct cloud *cl, evutil_socket_t fd, const struct sockaddr *sa,
    int salen)
{
	struct worker *w = &cl->workers[cl->next_worker++ % cl->nworkers];
	struct handoff *h;

	if (w->idx == 0) {
		tunnel_accept(w, fd, sa, salen);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL || (size_t)salen > sizeof(h->ss)) {
		free(h);
		close(fd);
		return;
	}
	h->fd = fd;
	memcpy(&h->ss, sa, (size_t)salen);
	h->salen = salen;
	cloud_lock(cl);
	h->next = w->queue;
	w->queue = h;
	cloud_unlock(cl);
	worker_post(w, 0);
}

bool
workers_idle(struct cloud *cl)
{
	bool idle = true;
	unsigned i;

	cloud_lock(cl);
	for (i = 0; i < cl->nworkers; i++)
		if (cl->workers[i].tunnels != NULL ||
		    cl->workers[i].queue != NULL)
			idle = false;
	cloud_unlock(cl);
	return idle;
}

static void
worker_free(struct worker *w)
{
	struct handoff *h;

	while (w->tunnels != NULL) {
		w->tunnels->end_reason = "cloud_stopped";
		tunnel_free(w->tunnels);
	}
	backpool_close(w);
	while ((h = w->queue) != NULL) {
		w->queue = h->next;
		close(h->fd);
		free(h);
	}
	log_limit_free(w->lim_handshake);
	log_limit_free(w->lim_stream);
	log_limit_free(w->lim_backend);
	if (w->inbox != NULL)
		event_free(w->inbox);
	if (w->efd >= 0)
		close(w->efd);
	if (w->idx != 0 && w->base != NULL)
		event_base_free(w->base);
}

void
workers_stop(struct cloud *cl)
{
	unsigned i;

	if (cl->workers == NULL)
		return;
	for (i = 1; i < cl->nworkers; i++)
		if (cl->workers[i].threaded)
			worker_post(&cl->workers[i], WORKER_EXIT);
	for (i = 1; i < cl->nworkers; i++)
		if (cl->workers[i].threaded)
			pthread_join(cl->workers[i].thread, NULL);
	/* Every loop has stopped: what is left is freed from here, worker
	 * 0 last, as freeing a tunnel may still post to its inbox. */
	for (i = cl->nworkers; i-- > 0;)
		worker_free(&cl->workers[i]);
	free(cl->workers);
	cl->workers = NULL;
	pthread_mutex_destroy(&cl->lock);
}
