/*
 * The cache's metadata loader (edge/cache/file.c), which reads ID.meta
 * files from cache_dir at start and for every hit: a file another program
 * (or a full disk) may have damaged. With the first byte odd, the harness
 * appends the "end SHA-256" line a writer would, so the fuzzer reaches the
 * line parser behind the digest check. A file that loads must write back
 * and load again to the same entry.
 */
#include "fuzz.h"

#include <openssl/sha.h>

#include "edge/cache/file.h"

static const char id[CACHE_ID_LEN + 1] = "0123456789abcdef0123456789abcdef";

static void
same_or_abort(const struct cache_meta *a, const struct cache_meta *b)
{
	size_t i;

	if (strcmp(a->service, b->service) != 0 || strcmp(a->url,
	    b->url) != 0 || a->status != b->status || a->request_time !=
	    b->request_time || a->response_time != b->response_time ||
	    a->length != b->length || memcmp(a->sha256, b->sha256, 32) != 0 ||
	    a->resp.n != b->resp.n || a->vary.n != b->vary.n)
		abort();
	for (i = 0; i < a->resp.n; i++)
		if (strcmp(a->resp.v[i].name, b->resp.v[i].name) != 0 ||
		    strcmp(a->resp.v[i].value, b->resp.v[i].value) != 0)
			abort();
	for (i = 0; i < a->vary.n; i++)
		if (strcmp(a->vary.v[i].name, b->vary.v[i].name) != 0 ||
		    strcmp(a->vary.v[i].value, b->vary.v[i].value) != 0)
			abort();
}

static void
round_trip(const struct cache_meta *m)
{
	struct cache_meta back;
	struct err e;
	uint64_t bytes;
	char *path;

	if (cachefile_write_meta(fuzz_dir(), id, m, &bytes, &e) != 0) {
		fprintf(stderr, "cannot write back: %s\n", e.msg);
		abort();
	}
	path = cachefile_path(fuzz_dir(), id, "meta");
	cache_meta_init(&back);
	if (path == NULL || cachefile_read_meta(path, &back, &bytes,
	    &e) != 0) {
		fprintf(stderr, "written back, not read back: %s\n", e.msg);
		abort();
	}
	same_or_abort(m, &back);
	cache_meta_free(&back);
	free(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cache_meta m;
	struct err e;
	uint64_t bytes;
	const char *path;
	uint8_t md[SHA256_DIGEST_LENGTH];
	uint8_t *buf;
	size_t n, i;
	char id2[CACHE_ID_LEN + 1];
	char *name;

	if (size < 1)
		return 0;
	fuzz_quiet();
	n = size - 1;
	buf = malloc(n + 70);
	if (buf == NULL)
		abort();
	memcpy(buf, data + 1, n);
	if (data[0] & 1) {
		SHA256(buf, n, md);
		memcpy(buf + n, "end ", 4);
		for (i = 0; i < sizeof(md); i++)
			snprintf((char *)buf + n + 4 + 2 * i, 3, "%02x", md[i]);
		buf[n + 68] = '\n';
		n += 69;
	}
	path = fuzz_write("in.meta", buf, n);
	cache_meta_init(&m);
	if (cachefile_read_meta(path, &m, &bytes, &e) == 0) {
		round_trip(&m);
		cache_meta_free(&m);
	}
	/* The same bytes as a directory entry's name (any length, as
	 * readdir gives it). */
	name = fuzz_str(data + 1, size - 1);
	(void)cachefile_kind(name, id2);
	free(name);
	free(buf);
	return 0;
}
