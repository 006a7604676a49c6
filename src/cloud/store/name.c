/*
 * The store's name as it may be logged or shown (store.h): a PostgreSQL
 * URI without its password. Its own file: the backends and the daemon
 * use it, and store.c hands work to the backends.
 */
#include "cloud/store/store.h"

#include <stdio.h>
#include <string.h>

/* conninfo fit for a log line or a message: a URI's password (in its
 * user info or as password=) left out. */
void
store_safe_name(const char *conninfo, char *buf, size_t cap)
{
	const char *p = strstr(conninfo, "://"), *at, *colon, *end;
	char *pw;
	size_t n;

	snprintf(buf, cap, "%s", conninfo);
	if (p == NULL)
		return;
	p += 3;
	at = strchr(p, '@');
	colon = strchr(p, ':');
	if (at != NULL && colon != NULL && colon < at &&
	    strcspn(p, "/?") > (size_t)(at - p)) {
		n = (size_t)(colon - conninfo);
		snprintf(buf, cap, "%.*s%s", (int)n, conninfo, at);
	}
	while ((pw = strstr(buf, "password=")) != NULL) {
		end = pw + strcspn(pw, "&");
		if (*end == '&')
			end++;
		memmove(pw, end, strlen(end) + 1);
	}
	n = strlen(buf);
	if (n > 0 && (buf[n - 1] == '&' || buf[n - 1] == '?'))
		buf[n - 1] = '\0';
}
