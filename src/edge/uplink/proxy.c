/* CONNECT through the site's HTTP proxy: its setting, the request and
 * reading and explaining its answer; see proxy.h. */
#include "edge/uplink/proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <http_parser.h>
#include <openssl/evp.h>

#include "common/hex.h"
#include "common/timeval.h"
#include "version.h"

/* The proxy's answer head may not be longer than this. */
#define PROXY_HEAD_MAX (16u * 1024)

/* Percent-decodes n bytes of s into out (cap bytes with the NUL). */
static int
pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			hi = hex_digit((unsigned char)s[i + 1]);
			lo = hex_digit((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return -EINVAL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

void
proxy_conf_clear(struct proxy_conf *p)
{
	if (p->auth != NULL)
		OPENSSL_cleanse(p->auth, strlen(p->auth));
	free(p->auth);
	memset(p, 0, sizeof(*p));
}

/* Everything but the credentials, for a message about a URL that did not
 * parse (a password with an unencoded '#' or '/' must not be echoed). */
static void
redacted(const char *url, char *out, size_t cap)
{
	const char *start = strstr(url, "://"), *at;

	start = start != NULL ? start + 3 : url;
	at = strrchr(start, '@');
	if (at == NULL)
		snprintf(out, cap, "%.200s", url);
	else
		snprintf(out, cap, "%.*s***%.150s", (int)(start - url), url,
		    at);
}

static int
parse(const char *url, struct proxy_conf *out, char *user, size_t ucap,
    char *pass, size_t pcap, struct err *e)
{
	struct http_parser_url u;
	char shown[256], cred[400];
	size_t n = strlen(url), i;
	long port;

	redacted(url, shown, sizeof(shown));
	if (strstr(url, "://") != NULL && strncasecmp(url, "http://", 7) != 0)
		return err_set(e, -EINVAL, "only http:// proxies are supported "
		    "(the tunnel's own TLS runs inside the CONNECT)");
	http_parser_url_init(&u);
	if (http_parser_parse_url(url, n, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)))
		return err_set(e, -EINVAL, "'%s' is not a proxy URL (expected "
		    "http://[USER:PASSWORD@]HOST:PORT; percent-encode any of "
		    ":@/?#%%[] and spaces in the user or password)", shown);
	if (u.field_data[UF_SCHEMA].len != 4 || strncasecmp(url +
	    u.field_data[UF_SCHEMA].off, "http", 4) != 0)
		return err_set(e, -EINVAL, "only http:// proxies are supported "
		    "(the tunnel's own TLS runs inside the CONNECT)");
	if (!(u.field_set & (1 << UF_PORT)))
		return err_set(e, -EINVAL, "the proxy URL needs the proxy's "
		    "port (http://HOST:PORT)");
	if ((u.field_set & (1 << UF_PATH)) && (u.field_data[UF_PATH].len > 1 ||
	    url[u.field_data[UF_PATH].off] != '/'))
		return err_set(e, -EINVAL, "a proxy URL has no path");
	if (u.field_set & ((1 << UF_QUERY) | (1 << UF_FRAGMENT)))
		return err_set(e, -EINVAL, "a proxy URL has no query");
	port = u.port;
	if (port <= 0 || port > 65535)
		return err_set(e, -EINVAL, "bad proxy port");
	if (u.field_data[UF_HOST].len >= sizeof(out->host))
		return err_set(e, -EINVAL, "proxy host name too long");
	memcpy(out->host, url + u.field_data[UF_HOST].off,
	    u.field_data[UF_HOST].len);
	out->host[u.field_data[UF_HOST].len] = '\0';
	out->port = (uint16_t)port;
	if (u.field_set & (1 << UF_USERINFO)) {
		const char *ui = url + u.field_data[UF_USERINFO].off;
		size_t len = u.field_data[UF_USERINFO].len;
		const char *colon = memchr(ui, ':', len);
		size_t ulen = colon != NULL ? (size_t)(colon - ui) : len;
		int clen, rc;

		rc = pct_decode(ui, ulen, user, ucap);
		if (rc == 0 && colon != NULL)
			rc = pct_decode(colon + 1, len - ulen - 1, pass, pcap);
		else
			pass[0] = '\0';
		for (i = 0; rc == 0 && user[i] != '\0'; i++)
			if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
				rc = -EINVAL;
		if (rc != 0 || user[0] == '\0' || strchr(user, ':') != NULL)
			return err_set(e, -EINVAL, "bad user or password in "
			    "the proxy URL (percent-encode ':', '@' and '%%')");
		snprintf(out->user, sizeof(out->user), "%s", user);
		clen = snprintf(cred, sizeof(cred), "%s:%s", user, pass);
		out->auth = malloc(4 * ((size_t)clen + 2) / 3 + 4);
		if (out->auth != NULL)
			EVP_EncodeBlock((unsigned char *)out->auth,
			    (const unsigned char *)cred, clen);
		OPENSSL_cleanse(cred, sizeof(cred));
		if (out->auth == NULL)
			return err_set(e, -ENOMEM, "out of memory");
	}
	snprintf(out->shown, sizeof(out->shown), "http://%s%s%s%s%s:%u",
	    out->auth != NULL ? out->user : "", out->auth != NULL ? ":***@" :
	    "", strchr(out->host, ':') != NULL ? "[" : "", out->host,
	    strchr(out->host, ':') != NULL ? "]" : "", out->port);
	return 0;
}

int
proxy_parse(const char *url, struct proxy_conf *out, struct err *e)
{
	char user[128], pass[256], *full = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	/* "proxy.corp:3128", as curl and most tools take it. */
	if (strstr(url, "://") == NULL && url[0] != '\0' &&
	    asprintf(&full, "http://%s", url) < 0)
		return err_set(e, -ENOMEM, "out of memory");
	rc = parse(full != NULL ? full : url, out, user, sizeof(user), pass,
	    sizeof(pass), e);
	OPENSSL_cleanse(pass, sizeof(pass));
	if (full != NULL) {
		OPENSSL_cleanse(full, strlen(full));
		free(full);
	}
	if (rc != 0)
		proxy_conf_clear(out);
	return rc;
}

/* host without brackets or a trailing dot, into out. */
static void
bare_host(const char *h, size_t n, char *out, size_t cap)
{
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n > 0 && h[n - 1] == '.')
		n--;
	snprintf(out, cap, "%.*s", (int)n, h);
}

/* An IP address, as family (AF_INET, AF_INET6) and bytes; 0 when s is
 * not one: a family, not an error code. */
static int
ip_of(const char *s, unsigned char ip[16])
{
	if (inet_pton(AF_INET, s, ip) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, ip) == 1)
		return AF_INET6;
	return 0;
}

/* Whether entry ("10.0.0.0/8", "::1", "10.0.0.1") holds the address (a
 * predicate: bool). */
static bool
ip_entry_holds(const char *entry, int fam, const unsigned char ip[16])
{
	char addr[64];
	const char *slash = strchr(entry, '/');
	unsigned char net[16];
	long bits;
	int efam, i;

	snprintf(addr, sizeof(addr), "%.*s", slash != NULL ?
	    (int)(slash - entry) : (int)strlen(entry), entry);
	efam = ip_of(addr, net);
	if (efam != fam)
		return false;
	bits = fam == AF_INET ? 32 : 128;
	if (slash != NULL) {
		char *end;

		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0' || bits < 0 || bits > (fam == AF_INET ? 32 :
		    128))
			return false;
	}
	for (i = 0; bits > 0; i++, bits -= 8) {
		unsigned mask = bits >= 8 ? 0xff : (0xff00u >> bits) & 0xff;

		if ((ip[i] & mask) != (net[i] & mask))
			return false;
	}
	return true;
}

bool
proxy_bypassed(const char *no_proxy, const char *host_in)
{
	const char *p = no_proxy;
	char host[PROXY_HOST_MAX], entry[PROXY_HOST_MAX];
	unsigned char ip[16];
	size_t hl;
	int fam;

	bare_host(host_in, strlen(host_in), host, sizeof(host));
	hl = strlen(host);
	fam = ip_of(host, ip);
	while (p != NULL && *p != '\0') {
		const char *s;
		size_t n;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		s = p;
		while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (p == s)
			continue;
		bare_host(s, (size_t)(p - s), entry, sizeof(entry));
		if (strcmp(entry, "*") == 0)
			return true;
		if (fam != 0) {
			/* An address: the same address, or in a CIDR
			 * block; never by suffix. */
			if (ip_entry_holds(entry, fam, ip))
				return true;
			continue;
		}
		s = entry[0] == '.' ? entry + 1 : entry;
		n = strlen(s);
		if (n == 0)
			continue;
		if (n == hl && strcasecmp(s, host) == 0)
			return true;
		if (hl > n && host[hl - n - 1] == '.' &&
		    strcasecmp(host + hl - n, s) == 0)
			return true;
	}
	return false;
}

struct proxy_dial {
	struct bufferevent *bev;
	struct event *timer;		/* the whole exchange; failures later */
	const struct proxy_conf *pc;
	char target[PROXY_HOST_MAX + 8];
	http_parser p;
	char reason[96];
	char field[24];			/* the header name being read */
	size_t flen;
	bool in_value, in_pa;		/* ... Proxy-Authenticate's value */
	char scheme[24];		/* the first scheme it offered */
	bool basic_offered;
	int status;
	bool headed;
	char why[400];
	proxy_done_fn done;
	void *arg;
};

static void
dial_free(struct proxy_dial *d)
{
	if (d->bev != NULL) {
		int fd = bufferevent_getfd(d->bev);

		/* Unwatched now, not when the callback we may be in
		 * returns: the number may be reused at once. */
		bufferevent_setfd(d->bev, -1);
		bufferevent_free(d->bev);
		if (fd >= 0)
			evutil_closesocket(fd);
	}
	if (d->timer != NULL)
		event_free(d->timer);
	free(d);
}

void
proxy_dial_cancel(struct proxy_dial *d)
{
	if (d != NULL)
		dial_free(d);
}

/* Ends the exchange: the fd goes to the caller, or it failed with why. */
static void
finish(struct proxy_dial *d, int fd)
{
	proxy_done_fn done = d->done;
	void *arg = d->arg;
	int status = d->status;
	bool creds = (status == 401 || status == 407) && d->pc->auth != NULL &&
	    (d->scheme[0] == '\0' || d->basic_offered);
	char why[sizeof(d->why)];

	snprintf(why, sizeof(why), "%s", d->why);
	if (fd >= 0) {
		bufferevent_setfd(d->bev, -1);	/* the caller's now */
		bufferevent_free(d->bev);
		d->bev = NULL;
	}
	dial_free(d);
	done(fd, status, creds, fd >= 0 ? NULL : why, arg);
}

static void
fail(struct proxy_dial *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct proxy_dial *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	finish(d, -1);
}

/* The http_parser callbacks below return 0 to go on and non-zero to stop
 * (1 from on_headers_complete: no body): http_parser's contract, not an
 * error code. */
static int
on_status(http_parser *p, const char *at, size_t n)
{
	struct proxy_dial *d = p->data;
	size_t len = strlen(d->reason), i;

	/* The proxy's words, printable and short, for our message. */
	for (i = 0; i < n && len + 1 < sizeof(d->reason); i++)
		d->reason[len++] = at[i] >= 0x20 && at[i] < 0x7f ? at[i] : '?';
	d->reason[len] = '\0';
	return 0;
}

/* Proxy-Authenticate: whether Basic is among the schemes offered. */
static int
on_header_field(http_parser *p, const char *at, size_t n)
{
	struct proxy_dial *d = p->data;
	size_t i;

	if (d->in_value) {
		d->in_value = false;
		d->flen = 0;
	}
	for (i = 0; i < n && d->flen + 1 < sizeof(d->field); i++)
		d->field[d->flen++] = (char)tolower((unsigned char)at[i]);
	d->field[d->flen] = '\0';
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t n)
{
	struct proxy_dial *d = p->data;
	size_t i, len;

	if (!d->in_value) {
		d->in_value = true;
		d->in_pa = strcmp(d->field, "proxy-authenticate") == 0;
		if (d->in_pa && d->scheme[0] == '\0') {
			for (len = 0; len < n && len + 1 < sizeof(d->scheme) &&
			    at[len] > ' ' && at[len] < 0x7f; len++)
				d->scheme[len] = at[len];
			d->scheme[len] = '\0';
		}
	}
	if (!d->in_pa)
		return 0;
	for (i = 0; i + 5 <= n; i++)
		if (strncasecmp(at + i, "basic", 5) == 0)
			d->basic_offered = true;
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct proxy_dial *d = p->data;

	d->headed = true;
	d->status = (int)p->status_code;
	return 1;	/* the answer to CONNECT ends with its head */
}

/* Stops right after the head, so what follows is the tunnel's. */
static int
on_message_complete(http_parser *p)
{
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings answer_settings = {
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

/* What the proxy's refusal means, and what to do. */
static void
refused(struct proxy_dial *d)
{
	const char *host = d->pc->host;
	/* 407 is the standard answer; some proxies (tinyproxy) say 401 to
	 * wrong credentials. */
	bool auth = d->status == 407 || d->status == 401;

	if (auth && d->scheme[0] != '\0' && !d->basic_offered)
		fail(d, "the proxy %s:%u wants %s authentication (%d %s); "
		    "only Basic is supported: ask IT for a Basic account on "
		    "the proxy, or to let %s through without authentication",
		    host, d->pc->port, d->scheme, d->status, d->reason,
		    d->target);
	else if (auth && d->pc->auth == NULL)
		fail(d, "the proxy %s:%u requires authentication (%d %s): "
		    "give proxy = http://USER:PASSWORD@%s:%u", host,
		    d->pc->port, d->status, d->reason, host, d->pc->port);
	else if (auth)
		fail(d, "the proxy %s:%u refused the credentials of user "
		    "'%s' (%d %s): check the user and password in proxy",
		    host, d->pc->port, d->pc->user, d->status, d->reason);
	else if (d->status == 403 || d->status == 405)
		fail(d, "the proxy %s:%u refused CONNECT to %s (%d %s): ask "
		    "IT to allow CONNECT to %s through the proxy, without TLS "
		    "inspection", host, d->pc->port, d->target, d->status,
		    d->reason, d->target);
	else
		fail(d, "the proxy %s:%u answered CONNECT to %s with %d %s",
		    host, d->pc->port, d->target, d->status, d->reason);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct proxy_dial *d = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in), n;
	const char *data = (const char *)evbuffer_pullup(in, -1);
	enum http_errno err;

	n = http_parser_execute(&d->p, &answer_settings, data, len);
	err = HTTP_PARSER_ERRNO(&d->p);
	if (err != HPE_OK && err != HPE_PAUSED) {
		fail(d, "the proxy %s:%u answered CONNECT with something that "
		    "is not HTTP (%s)", d->pc->host, d->pc->port,
		    http_errno_description(err));
		return;
	}
	evbuffer_drain(in, n);
	if (!d->headed) {
		if (d->p.nread > PROXY_HEAD_MAX)
			fail(d, "the proxy %s:%u sent an over-long answer to "
			    "CONNECT", d->pc->host, d->pc->port);
		return;
	}
	if (d->status < 200 || d->status > 299) {
		refused(d);
		return;
	}
	if (evbuffer_get_length(in) > 0) {
		fail(d, "the proxy %s:%u sent data of its own after "
		    "accepting CONNECT", d->pc->host, d->pc->port);
		return;
	}
	finish(d, bufferevent_getfd(bev));
}

/* Connected to the proxy: ask it for the tunnel. */
static void
ask(struct proxy_dial *d)
{
	struct evbuffer *out = bufferevent_get_output(d->bev);

	evbuffer_add_printf(out, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: isthmus/" ISTHMUS_VERSION "\r\n", d->target,
	    d->target);
	if (d->pc->auth != NULL)
		evbuffer_add_printf(out, "Proxy-Authorization: Basic %s\r\n",
		    d->pc->auth);
	evbuffer_add(out, "\r\n", 2);
	bufferevent_enable(d->bev, EV_READ);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_dial *d = arg;

	(void)bev;
	(void)what;
	fail(d, "the proxy %s:%u closed the connection without answering "
	    "CONNECT to %s (does it allow CONNECT?)", d->pc->host, d->pc->port,
	    d->target);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_dial *d = arg;

	(void)fd;
	(void)what;
	fail(d, "the proxy %s:%u did not answer CONNECT within "
	    "handshake_timeout", d->pc->host, d->pc->port);
}

static struct proxy_dial *
dial_new(struct event_base *base, int fd, const struct proxy_conf *p,
    const char *host, uint16_t port, uint64_t timeout_ms, proxy_done_fn done,
    void *arg)
{
	struct proxy_dial *d = calloc(1, sizeof(*d));
	struct timeval tv;

	if (d == NULL)
		return NULL;
	d->pc = p;
	d->done = done;
	d->arg = arg;
	snprintf(d->target, sizeof(d->target), "%s%s%s:%u",
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", port);
	http_parser_init(&d->p, HTTP_RESPONSE);
	d->p.data = d;
	d->timer = evtimer_new(base, on_timer, d);
	d->bev = bufferevent_socket_new(base, fd, 0);
	if (d->timer == NULL || d->bev == NULL) {
		if (d->bev == NULL)
			fd = -1;	/* the caller's still */
		else
			bufferevent_setfd(d->bev, -1);
		dial_free(d);
		return NULL;
	}
	bufferevent_setcb(d->bev, on_read, NULL, on_event, d);
	tv_ms(&tv, timeout_ms);
	evtimer_add(d->timer, &tv);
	return d;
}

int
proxy_dial_fd(struct event_base *base, int fd, const struct proxy_conf *p,
    const char *host, uint16_t port, uint64_t timeout_ms, proxy_done_fn done,
    void *arg, struct proxy_dial **out)
{
	struct proxy_dial *d = dial_new(base, fd, p, host, port, timeout_ms,
	    done, arg);

	if (d == NULL)
		return -ENOMEM;
	ask(d);
	*out = d;
	return 0;
}
