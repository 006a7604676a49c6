/*
 * The edge's side of its site's HTTP proxy (edge/uplink/proxy.c): the proxy URL
 * (config or https_proxy), the no_proxy list, and above all the proxy's
 * answer to CONNECT, read by the real proxy_dial_fd on a socketpair whose
 * other end plays the proxy with the input's bytes (in two writes, then
 * end of file).
 *
 * First byte: 0 proxy URL, 1 no_proxy list and a host (split at the first
 * newline), else the answer to CONNECT; bit 7 sets credentials (Basic
 * offered or not changes the message).
 */
#include "fuzz.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "edge/uplink/proxy.h"

struct result {
	bool done;
	int fd;
};

static void
on_done(int fd, int status, bool creds_refused, const char *why, void *arg)
{
	struct result *res = arg;

	(void)status;
	(void)creds_refused;
	if ((fd < 0) != (why != NULL))
		abort();	/* a failure always says why, only a failure */
	res->done = true;
	res->fd = fd;
}

static void
check_url(const char *s)
{
	struct proxy_conf pc;
	struct err e;

	memset(&pc, 0, sizeof(pc));
	if (proxy_parse(s, &pc, &e) == 0) {
		/* The password never shows. */
		if (pc.auth != NULL && strstr(pc.shown, "***") == NULL)
			abort();
		proxy_conf_clear(&pc);
	}
}

static void
check_bypass(char *s)
{
	char *nl = strchr(s, '\n');

	if (nl == NULL)
		(void)proxy_bypassed(s, "cloud.example.com");
	else {
		*nl = '\0';
		(void)proxy_bypassed(s, nl + 1);
	}
}

static void
check_answer(struct event_base *base, const struct proxy_conf *pc,
    const uint8_t *data, size_t size)
{
	struct result res = { false, -1 };
	struct proxy_dial *d = NULL;
	char sink[4096];
	size_t half = size / 2;
	int sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0)
		abort();
	if (proxy_dial_fd(base, sv[0], pc, "cloud.example.com", 7443, 60000,
	    on_done, &res, &d) != 0)
		abort();
	if (half > 0 && write(sv[1], data, half) != (ssize_t)half)
		abort();
	event_base_loop(base, EVLOOP_NONBLOCK);
	/* Once the edge gave up (an answer to the first half), the rest
	 * goes nowhere, as it would from a real proxy. */
	if (!res.done && size > half)
		(void)!write(sv[1], data + half, size - half);
	shutdown(sv[1], SHUT_WR);
	for (i = 0; i < 8 && !res.done; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	if (!res.done)
		proxy_dial_cancel(d);	/* closes sv[0] */
	else if (res.fd >= 0)
		close(res.fd);
	while (read(sv[1], sink, sizeof(sink)) > 0)
		;	/* our CONNECT request */
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	static struct proxy_conf plain, creds;
	struct err e;
	char *s;

	if (size < 1)
		return 0;
	fuzz_quiet();
	if (base == NULL) {
		signal(SIGPIPE, SIG_IGN);	/* as the daemon does */
		if ((base = event_base_new()) == NULL ||
		    proxy_parse("http://proxy.corp.example:3128", &plain,
		    &e) != 0 ||
		    proxy_parse("http://edge%40a:s3cret@proxy.corp.example:"
		    "3128", &creds, &e) != 0)
			abort();
	}
	switch (data[0] & 0x7f) {
	case 0:
		s = fuzz_str(data + 1, size - 1);
		check_url(s);
		free(s);
		break;
	case 1:
		s = fuzz_str(data + 1, size - 1);
		check_bypass(s);
		free(s);
		break;
	default:
		check_answer(base, (data[0] & 0x80) ? &creds : &plain,
		    data + 1, size - 1);
		break;
	}
	return 0;
}
