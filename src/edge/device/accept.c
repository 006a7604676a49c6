/*
 * An edge listener's socket, and where each device it accepts goes: a
 * transparent listener's to the service its original destination maps
 * to; then device TLS (handshake.c), HTTP mode (httpdev.c) or TCP mode
 * (tcpdev.c).
 */
#include "edge/device/accept.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/acceptguard.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/netutil.h"
#include "edge/device/handshake.h"
#include "edge/device/httpdev.h"
#include "edge/device/listener.h"
#include "edge/device/tcpdev.h"

/* A transparent listener's connection: the service its original
 * destination maps to, or NULL when it maps to none (then the device got
 * a reset, and IT a log line naming where it was going). */
static const char *
transparent_service(struct edge_listener *li, evutil_socket_t fd,
    const char *device)
{
	struct sockaddr_storage dst;
	struct linger lg = { 1, 0 };
	const char *service = NULL;
	char where[80];
	bool redirected;
	int rc = net_original_dst(fd, &dst, &redirected);

	if (rc == 0 && redirected &&
	    (service = edge_route_find(li->lc, &dst)) != NULL)
		return service;
	if (rc == 0)
		net_format((struct sockaddr *)&dst, where, sizeof(where));
	else
		snprintf(where, sizeof(where), "unknown (%s)", strerror(-rc));
	li->stats.unmapped++;
	log_limited(li->e->lim_device, LOG_INFO, "edge", "device_refused",
	    "listener=%s device=%s original_dst=%s reason=%s", li->lc->name,
	    device, where, rc != 0 || !redirected ? "not_redirected" :
	    "unmapped");
	/* A reset, as the real server's closed port would give. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	evutil_closesocket(fd);
	return NULL;
}

static void
on_device(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct edge_listener *li = arg;
	struct edge *e = li->e;
	struct bufferevent *bev;
	char device[64];
	const char *service = li->lc->service;
	struct sockaddr_storage peer;

	(void)l;
	/* An IPv4 device on a dual-stack listener is shown (and sent to
	 * the cloud) as its IPv4 address. */
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, sa, (size_t)salen < sizeof(peer) ? (size_t)salen :
	    sizeof(peer));
	net_unmap(&peer);
	net_format((struct sockaddr *)&peer, device, sizeof(device));
	if (li->lc->transparent &&
	    (service = transparent_service(li, fd, device)) == NULL)
		return;
	net_nodelay(fd);
	if (li->devtls != NULL) {
		li->stats.accepted++;
		handshake_accept(li, fd, service, device);
		return;
	}
	bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	li->stats.accepted++;
	if (li->lc->mode == LISTEN_HTTP) {
		httpdev_start(li, bev, service, device, NULL);
		return;
	}
	tcpdev_start(li, bev, service, device);
}

/* A listener on lc's address, taking the device TLS context in *dt. */
int
edge_listener_open(struct edge *e, struct edge_conf *cf,
    const struct edge_listener_conf *lc, struct devtls **dt,
    struct edge_listener **out, struct err *er)
{
	struct edge_listener *li = calloc(1, sizeof(*li));
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct err rer;
	int rc;

	if (li == NULL)
		return err_set(er, -ENOMEM, "isthmus edge: listener %s: out "
		    "of memory", lc->name);
	li->e = e;
	li->cf = edge_conf_ref(cf);
	li->lc = lc;
	li->devtls = *dt;
	*dt = NULL;
	if (net_resolve(&lc->listen, &ss, &sslen, &rer) != 0) {
		rc = err_set(er, -EINVAL, "isthmus edge: listener %s: %s",
		    lc->name, rer.msg);
		goto fail;
	}
	li->l = evconnlistener_new_bind(e->base, on_device, li,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&ss, (int)sslen);
	if (li->l == NULL) {
		rc = err_set(er, -EINVAL, "isthmus edge: listener %s: cannot "
		    "listen on %s:%u: %s", lc->name, lc->listen.host,
		    lc->listen.port, strerror(errno));
		goto fail;
	}
	if (acceptguard_watch(li->l, lc->name) != 0) {
		rc = err_set(er, -EINVAL, "isthmus edge: listener %s: out of "
		    "memory", lc->name);
		goto fail;
	}
	net_local_name(evconnlistener_get_fd(li->l), li->bound,
	    sizeof(li->bound));
	*out = li;
	return 0;
fail:
	edge_listener_free(li);
	return rc;
}

void
edge_listener_listening(const struct edge_listener *li)
{
	log_info("edge", "listening", "listener=%s listen=%s service=%s",
	    li->lc->name, li->bound, li->lc->service);
}

