/*
 * What the daemon tells its service manager (systemd with Type=notify):
 * READY=1 once it serves, RELOADING=1 and READY=1 around a reload,
 * STOPPING=1 when it drains, a short STATUS= line, and WATCHDOG=1 from
 * the event loop while the manager asks for it (WatchdogSec=). The
 * messages go through libsystemd's sd_notify; without NOTIFY_SOCKET in
 * the environment they go nowhere, and in a build without libsystemd
 * (meson -Dsystemd=disabled) the calls do nothing.
 */
#ifndef ISTHMUS_SDNOTIFY_H
#define ISTHMUS_SDNOTIFY_H

#include <event2/event.h>

struct sdnotify;

/* Starts WATCHDOG=1 on a timer of base at half the interval the manager
 * set for this process (WATCHDOG_USEC, WATCHDOG_PID); *out is NULL when
 * it set none. Sent from the loop itself, so a loop that is stuck stops
 * them and the manager restarts the daemon. 0 or -ENOMEM. */
int sdnotify_new(struct event_base *base, struct sdnotify **out);
void sdnotify_free(struct sdnotify *sd);

/* STATUS= is one short line for `systemctl status`: control characters
 * become '?' and it is cut at SDNOTIFY_STATUS_MAX bytes. Never pass
 * secrets. */
#define SDNOTIFY_STATUS_MAX 200

/* READY=1: startup, or the reload RELOADING=1 announced, has ended. */
void sdnotify_ready(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* RELOADING=1 (with the time, as newer managers want it). */
void sdnotify_reloading(void);
/* STOPPING=1: the drain has begun. */
void sdnotify_stopping(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void sdnotify_status(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
