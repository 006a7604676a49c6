/* The fleet registry's facts from each tunnel (registry.h). */
#include "cloud/registry.h"

#include <errno.h>
#include <time.h>

#include <openssl/x509.h>

#include "cloud/store/store.h"
#include "cloud/tunnel-int.h"
#include "common/log.h"
#include "common/loglimit.h"
#include "common/tls.h"

static void
queue(const struct tunnel *t, struct store_edge_event *ev)
{
	ev->tenant = t->edge->tenant->name;
	ev->edge = t->edge_name;
	ev->at = (int64_t)time(NULL);
	ev->peer = t->peer;
	if (store_edge_event(t->cl->store, ev) == -ENOBUFS)
		log_limited(t->w->lim_stream, LOG_WARN, "cloud",
		    "registry_dropped", "edge=%s tenant=%s up=%d reason=%s",
		    t->edge_name, t->edge->tenant->name, ev->up ? 1 : 0,
		    "the state store's queue is full");
}

void
registry_tunnel_up(const struct tunnel *t, SSL *ssl)
{
	struct store_edge_event ev = { .up = true };
	X509 *cert;
	char *serial = NULL;
	int64_t not_after = 0;

	if (t->cl->store == NULL)
		return;
	cert = SSL_get0_peer_certificate(ssl);
	if (cert != NULL) {
		serial = tls_serial_hex(X509_get0_serialNumber(cert));
		not_after = tls_time_epoch(X509_get0_notAfter(cert));
	}
	ev.serial = serial;
	ev.not_after = not_after;
	queue(t, &ev);
	OPENSSL_free(serial);
}

void
registry_edge_hello(const struct tunnel *t, const char *version)
{
	struct store_edge_event ev = { .hello = true };

	if (t->cl->store == NULL)
		return;
	ev.version = version;
	queue(t, &ev);
}

void
registry_tunnel_down(const struct tunnel *t)
{
	struct store_edge_event ev = { .up = false };

	if (t->cl->store == NULL)
		return;
	ev.reason = t->end_reason != NULL ? t->end_reason : "closed";
	queue(t, &ev);
}
