/*
 * A device's TLS handshake at a device-TLS listener: its time limit
 * (request_timeout for the whole handshake), the reason a refused device
 * is logged and counted under, and an admitted device handed on as an
 * HTTP device with its MAC (httpdev.c). The checks themselves are
 * devtls.c's.
 */
#include "edge/device/handshake.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/loglimit.h"
#include "common/timeval.h"
#include "edge/daemon.h"
#include "edge/device/devtls.h"
#include "edge/device/httpdev.h"
#include "edge/device/listener.h"

/* One device's handshake. */
struct handshake {
	struct edge_listener *li;
	char service[NAME_MAX_LEN + 1];	/* where its requests go */
	struct handshake *next, **pprev;	/* e->handshakes */
	struct bufferevent *bev;
	struct event *timer;	/* the whole handshake's time */
	char device[64];
	char scope[NAME_MAX_LEN + 1];	/* its listener's name */
	struct devtls_verdict v;	/* what the checks found */
	unsigned tls_gen;	/* the listener's devtls it began with */
};

static void
hs_free(struct handshake *hs, bool free_bev)
{
	struct edge_listener *li = hs->li;

	*hs->pprev = hs->next;
	if (hs->next != NULL)
		hs->next->pprev = hs->pprev;
	if (free_bev)
		bufferevent_free(hs->bev);
	event_free(hs->timer);
	free(hs);
	edge_listener_release(li);
}

static enum devtls_refusal
refusal_of(struct handshake *hs, short what)
{
	unsigned long e = bufferevent_get_openssl_error(hs->bev);
	int reason = ERR_GET_REASON(e);

	if (hs->v.refusal >= 0)
		return (enum devtls_refusal)hs->v.refusal;
	switch (hs->v.verify_err) {
	case 0: break;
	case X509_V_ERR_CERT_HAS_EXPIRED: return DT_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID: return DT_NOT_YET_VALID;
	case X509_V_ERR_INVALID_PURPOSE: return DT_WRONG_USAGE;
	default: return DT_UNTRUSTED;
	}
	if (what & BEV_EVENT_TIMEOUT)
		return DT_TIMEOUT;
	if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		return DT_NO_CERT;
	if (reason == SSL_R_UNSUPPORTED_PROTOCOL ||
	    reason == SSL_R_NO_SHARED_CIPHER ||
	    reason == SSL_R_VERSION_TOO_LOW ||
	    reason == SSL_R_WRONG_VERSION_NUMBER ||
	    reason == SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS)
		return DT_PROTOCOL;
	return DT_CLOSED;
}

static void
handshake_event(struct bufferevent *bev, short what, void *arg)
{
	struct handshake *hs = arg;
	struct edge_listener *li = hs->li;
	enum devtls_refusal why;

	/* A reload came during the handshake: its chain was checked with
	 * the vendor CAs before it, so once more with the new ones. */
	if ((what & BEV_EVENT_CONNECTED) && hs->tls_gen != li->tls_gen &&
	    (li->devtls == NULL || (hs->v.refusal = devtls_recheck(li->devtls,
	    bufferevent_openssl_get_ssl(bev), hs->v.mac, &hs->v.at)) >= 0)) {
		if (hs->v.refusal < 0)
			hs->v.refusal = DT_UNTRUSTED;
		what = BEV_EVENT_ERROR;
	}
	if (what & BEV_EVENT_CONNECTED) {
		li->stats.tls_accepted++;
		log_debug("edge", "device_tls", "listener=%s device=%s mac=%s "
		    "version=%s", li->lc->name, hs->device, hs->v.mac,
		    SSL_get_version(bufferevent_openssl_get_ssl(bev)));
		devtls_ssl_admitted(bufferevent_openssl_get_ssl(bev));
		httpdev_start(li, bev, hs->service, hs->device, hs->v.mac);
		hs_free(hs, false);
		return;
	}
	why = refusal_of(hs, what);
	li->stats.tls_refused[why]++;
	log_limited(li->e->lim_device, LOG_INFO, "edge", "device_refused",
	    "listener=%s device=%s mac=%s reason=%s", li->lc->name,
	    hs->device, hs->v.mac[0] ? hs->v.mac : "-", devtls_refusal_name(why));
	hs_free(hs, true);
}

/* Not a per-read timeout: a device sending its handshake one byte at a
 * time gets no longer than request_timeout in all. */
static void
handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	handshake_event(((struct handshake *)arg)->bev, BEV_EVENT_TIMEOUT,
	    arg);
}

void
handshake_accept(struct edge_listener *li, evutil_socket_t fd,
    const char *service, const char *device)
{
	struct handshake *hs = calloc(1, sizeof(*hs));
	struct timeval tv;
	SSL *ssl = NULL;

	if (hs == NULL || (hs->timer = evtimer_new(li->e->base,
	    handshake_timeout, hs)) == NULL ||
	    (ssl = devtls_ssl_new(li->devtls, &hs->v)) == NULL) {
		if (hs != NULL && hs->timer != NULL)
			event_free(hs->timer);
		free(hs);
		evutil_closesocket(fd);
		return;
	}
	hs->li = li;
	hs->tls_gen = li->tls_gen;
	snprintf(hs->service, sizeof(hs->service), "%s", service);
	hs->v.current = &li->devtls;
	hs->v.refusal = -1;
	snprintf(hs->device, sizeof(hs->device), "%s", device);
	snprintf(hs->scope, sizeof(hs->scope), "%s", li->lc->name);
	/* The trust store as it is when the certificate arrives. */
	hs->v.at.trust = &li->e->trust;
	hs->v.at.address = hs->device;
	hs->v.at.scope = hs->scope;
	hs->bev = bufferevent_openssl_socket_new(li->e->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (hs->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		event_free(hs->timer);
		free(hs);
		return;
	}
	edge_listener_hold(li);
	tv_ms(&tv, li->lc->request_timeout);
	evtimer_add(hs->timer, &tv);
	bufferevent_setcb(hs->bev, NULL, NULL, handshake_event, hs);
	bufferevent_enable(hs->bev, EV_READ | EV_WRITE);
	hs->next = li->e->handshakes;
	if (hs->next != NULL)
		hs->next->pprev = &hs->next;
	hs->pprev = &li->e->handshakes;
	li->e->handshakes = hs;
}

void
handshake_drop(struct edge *e, struct edge_listener *li)
{
	struct handshake *hs, *next;

	for (hs = e->handshakes; hs != NULL; hs = next) {
		next = hs->next;
		if (li == NULL || hs->li == li)
			hs_free(hs, true);
	}
}
