/*
 * An edge listener's life: every device connection (waiting, in its TLS
 * handshake, HTTP or TCP) holds its listener, so that one a reload
 * removed lives until its last device is done. Its socket and what it
 * accepts are in accept.c.
 */
#include "edge/device/listener.h"

#include <stdlib.h>

#include <event2/listener.h>

#include "common/acceptguard.h"
#include "edge/device/devtls.h"

void
edge_listener_free(struct edge_listener *li)
{
	if (li == NULL)
		return;
	if (li->l != NULL) {
		acceptguard_release(li->l);
		evconnlistener_free(li->l);
	}
	devtls_free(li->devtls);
	edge_conf_free(li->cf);
	free(li);
}

void
edge_listener_hold(struct edge_listener *li)
{
	li->users++;
}

void
edge_listener_release(struct edge_listener *li)
{
	struct edge_listener **pp;

	if (--li->users > 0 || !li->closed)
		return;
	for (pp = &li->e->closed; *pp != NULL; pp = &(*pp)->next_closed)
		if (*pp == li) {
			*pp = li->next_closed;
			break;
		}
	edge_listener_free(li);
}
