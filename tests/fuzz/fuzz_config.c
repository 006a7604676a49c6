/*
 * The config reader (common/config.c with inih) and the two schemas and
 * their cross-checks (cloud/config.c, edge/config.c), from a file as the
 * daemons and --check read it. The first byte picks the schema (bit 0)
 * and how the errors are reported (bit 1: as a reload logs them).
 *
 * Backends are resolved with getaddrinfo at load; the harness resolves
 * numeric addresses only (names fail as "cannot resolve"), so a run never
 * waits on DNS.
 */
#include "fuzz.h"

#include <dlfcn.h>
#include <netdb.h>

#include "cloud/config.h"
#include "common/config.h"
#include "common/log.h"
#include "edge/config.h"

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
    struct addrinfo **);

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	static gai_fn real;
	struct addrinfo h = { 0 };

	if (real == NULL && (real = (gai_fn)dlsym(RTLD_NEXT,
	    "getaddrinfo")) == NULL)
		abort();
	if (hints != NULL)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf_errors errs;
	static FILE *devnull;
	struct cloud_conf *cc;
	struct edge_conf *ec;
	const char *path;

	if (size < 1)
		return 0;
	fuzz_quiet();
	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	/* Neither the site's proxy variables nor ours change a run. */
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	if (data[0] & 1) {
		path = fuzz_write("edge.conf", data + 1, size - 1);
		if (edge_conf_load(path, &ec, &errs) == 0)
			edge_conf_free(ec);
	} else {
		path = fuzz_write("cloud.conf", data + 1, size - 1);
		if (cloud_conf_load(path, &cc, &errs) == 0)
			cloud_conf_unref(cc);
	}
	/* The errors as a person sees them before the daemon runs, or as
	 * the log events of a reload: either way one line each. */
	log_set_stream(devnull);
	conf_errors_report(&errs, "fuzz", (data[0] & 2) != 0);
	log_set_stream(NULL);
	return 0;
}
