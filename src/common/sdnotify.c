/*
 * The service manager's notifications (sdnotify.h), through libsystemd:
 * the protocol (the socket, abstract names, credentials) is its to get
 * right, not ours to write again.
 */
#include "common/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/timeval.h"

/* The only place that knows whether libsystemd is there. */
#if ISTHMUS_SYSTEMD
#include <systemd/sd-daemon.h>
#else
static int
sd_notify(int unset_environment, const char *state)
{
	return 0;
}

static int __attribute__((format(printf, 2, 3)))
sd_notifyf(int unset_environment, const char *fmt, ...)
{
	return 0;
}

static int
sd_watchdog_enabled(int unset_environment, uint64_t *usec)
{
	return 0;
}
#endif

struct sdnotify {
	struct event *watchdog;
};

/* The environment stays (unset_environment 0): every later message
 * needs it. The children the edge runs (the doctor) send nothing, and
 * the units' NotifyAccess=main would drop what they sent. */
static void
notify_status(const char *state, const char *fmt, va_list ap)
{
	char status[SDNOTIFY_STATUS_MAX + 1];
	size_t i;

	vsnprintf(status, sizeof(status), fmt, ap);
	/* A newline would start another assignment: an error text must not
	 * be able to say READY=1. */
	for (i = 0; status[i] != '\0'; i++)
		if ((unsigned char)status[i] < 0x20 || status[i] == 0x7f)
			status[i] = '?';
	(void)sd_notifyf(0, "%sSTATUS=%s", state, status);
}

void
sdnotify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_status("READY=1\n", fmt, ap);
	va_end(ap);
}

void
sdnotify_stopping(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_status("STOPPING=1\n", fmt, ap);
	va_end(ap);
}

void
sdnotify_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_status("", fmt, ap);
	va_end(ap);
}

/* systemd 253 and later want CLOCK_MONOTONIC with RELOADING=1 (for
 * Type=notify-reload); 252 ignores it. */
void
sdnotify_reloading(void)
{
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=%s",
	    (unsigned long long)mono_us(), "reloading");
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)sd_notify(0, "WATCHDOG=1");
}

int
sdnotify_new(struct event_base *base, struct sdnotify **out)
{
	struct sdnotify *sd;
	struct timeval tv;
	uint64_t usec = 0;

	*out = NULL;
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is
	 * this process (not a parent's watchdog inherited by mistake). */
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	if ((sd = calloc(1, sizeof(*sd))) == NULL)
		return -ENOMEM;
	sd->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, sd);
	if (sd->watchdog == NULL) {
		free(sd);
		return -ENOMEM;
	}
	/* Half the interval: one late turn of the loop is no restart. */
	usec /= 2;
	tv_ms(&tv, usec / 1000 > 0 ? usec / 1000 : 1);
	event_add(sd->watchdog, &tv);
	(void)sd_notify(0, "WATCHDOG=1");
	log_info("sdnotify", "watchdog", "interval_ms=%llu",
	    (unsigned long long)(usec * 2 / 1000));
	*out = sd;
	return 0;
}

void
sdnotify_free(struct sdnotify *sd)
{
	if (sd == NULL)
		return;
	event_free(sd->watchdog);
	free(sd);
}
