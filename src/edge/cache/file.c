/*
 * The cache's files on disk (file.h): an entry's paths and new ids, and
 * its metadata file written whole and read back with its own digest.
 */
#include "edge/cache/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/fsutil.h"
#include "common/hex.h"

#define META_MAGIC "isthmus-cache 1"
#define META_MAX (256u * 1024)

void
cache_meta_init(struct cache_meta *m)
{
	memset(m, 0, sizeof(*m));
	hdrs_init(&m->resp);
	hdrs_init(&m->vary);
}

void
cache_meta_free(struct cache_meta *m)
{
	free(m->service);
	free(m->url);
	hdrs_free(&m->resp);
	hdrs_free(&m->vary);
	m->service = m->url = NULL;
}

char *
cachefile_path(const char *dir, const char *id, const char *suffix)
{
	char name[CACHE_ID_LEN + 16];

	snprintf(name, sizeof(name), "%s.%s", id, suffix);
	return fs_join(dir, name);
}

int
cachefile_new_id(char id[CACHE_ID_LEN + 1])
{
	uint8_t b[CACHE_ID_LEN / 2];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	hex_encode(b, sizeof(b), id);
	return 0;
}

static void
digest_hex(const char *data, size_t len, char out[65])
{
	uint8_t md[32];
	unsigned mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	hex_encode(md, sizeof(md), out);
}

int
cachefile_write_meta(const char *dir, const char *id,
    const struct cache_meta *m, uint64_t *bytes, struct err *e)
{
	char *buf = NULL, *path, sum[65];
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	hex_encode(m->sha256, sizeof(m->sha256), sum);
	fprintf(f, META_MAGIC "\nservice %s\nurl %s\nstatus %d\n"
	    "request-time %lld\nresponse-time %lld\nlength %llu\n"
	    "sha256 %s\n", m->service, m->url, m->status,
	    (long long)m->request_time, (long long)m->response_time,
	    (unsigned long long)m->length, sum);
	for (i = 0; i < m->vary.n; i++)
		fprintf(f, "vary %s: %s\n", m->vary.v[i].name,
		    m->vary.v[i].value);
	for (i = 0; i < m->resp.n; i++)
		fprintf(f, "field %s: %s\n", m->resp.v[i].name,
		    m->resp.v[i].value);
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		return err_set(e, -ENOMEM, "out of memory");
	}
	digest_hex(buf, len, sum);
	path = cachefile_path(dir, id, "meta");
	rc = -ENOMEM;
	if (path != NULL) {
		size_t n = len + 4 + 64 + 2;
		char *all = malloc(n);

		if (all != NULL) {
			memcpy(all, buf, len);
			snprintf(all + len, n - len, "end %s\n", sum);
			rc = fs_write_atomic(path, all, strlen(all), 0600, true,
			    e);
			*bytes = strlen(all);
			free(all);
		}
	}
	free(path);
	free(buf);
	if (rc == -ENOMEM)
		err_set(e, rc, "out of memory");
	return rc;
}

/* "name: value" into h. */
static int
add_field(struct hdrs *h, const char *s)
{
	const char *colon = strstr(s, ": ");

	if (colon == NULL || colon == s)
		return -EINVAL;
	return hdrs_add(h, s, (size_t)(colon - s), colon + 2,
	    strlen(colon + 2));
}

static int
parse_line(struct cache_meta *m, char *line)
{
	char *sp = strchr(line, ' ');
	const char *v;
	char *end;

	if (sp == NULL)
		return -EINVAL;
	*sp = '\0';
	v = sp + 1;
#define NUM(field) do { \
		errno = 0; \
		field = strtoll(v, &end, 10); \
		if (errno != 0 || *end != '\0' || end == v) \
			return -EINVAL; \
	} while (0)
	/* Our writer puts each once; a second one is a damaged file (and
	 * would leak the first). */
	if (strcmp(line, "service") == 0)
		return m->service != NULL ? -EINVAL :
		    (m->service = strdup(v)) != NULL ? 0 : -ENOMEM;
	if (strcmp(line, "url") == 0)
		return m->url != NULL ? -EINVAL :
		    (m->url = strdup(v)) != NULL ? 0 : -ENOMEM;
	if (strcmp(line, "status") == 0) {
		long long s;

		NUM(s);
		m->status = (int)s;
		return s >= 100 && s <= 599 ? 0 : -EINVAL;
	}
	if (strcmp(line, "request-time") == 0) {
		NUM(m->request_time);
		return 0;
	}
	if (strcmp(line, "response-time") == 0) {
		NUM(m->response_time);
		return 0;
	}
	if (strcmp(line, "length") == 0) {
		long long l;

		NUM(l);
		m->length = (uint64_t)l;
		return l >= 0 ? 0 : -EINVAL;
	}
#undef NUM
	if (strcmp(line, "sha256") == 0)
		return hex_decode(v, strlen(v), m->sha256, sizeof(m->sha256)) == 0 ? 0 :
		    -EINVAL;
	if (strcmp(line, "vary") == 0)
		return add_field(&m->vary, v);
	if (strcmp(line, "field") == 0)
		return add_field(&m->resp, v);
	return -EINVAL;
}

int
cachefile_read_meta(const char *path, struct cache_meta *m, uint64_t *bytes,
    struct err *e)
{
	char *buf = NULL, *p, *nl, *endline, sum[65];
	size_t len = 0;
	int rc;

	rc = fs_read_file(path, META_MAX, &buf, &len, e);
	if (rc != 0)
		return rc;
	*bytes = len;
	/* The last line is "end " and the digest of everything before. */
	endline = len >= 69 ? buf + len - 69 : NULL;
	if (endline == NULL || (endline != buf && endline[-1] != '\n') ||
	    strncmp(endline, "end ", 4) != 0 || buf[len - 1] != '\n') {
		free(buf);
		return err_set(e, -EINVAL, "%s: truncated", path);
	}
	digest_hex(buf, (size_t)(endline - buf), sum);
	if (strncmp(endline + 4, sum, 64) != 0) {
		free(buf);
		return err_set(e, -EINVAL, "%s: damaged (digest mismatch)",
		    path);
	}
	*endline = '\0';
	p = buf;
	nl = strchr(p, '\n');
	if (nl == NULL || (size_t)(nl - p) != strlen(META_MAGIC) ||
	    strncmp(p, META_MAGIC, strlen(META_MAGIC)) != 0) {
		free(buf);
		return err_set(e, -EINVAL, "%s: not a cache entry", path);
	}
	for (p = nl + 1; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		rc = parse_line(m, p);
		if (rc != 0) {
			/* The message quotes the line: made before buf goes. */
			err_set(e, rc, "%s: bad line '%.40s'", path, p);
			free(buf);
			cache_meta_free(m);
			return rc;
		}
	}
	free(buf);
	if (m->service == NULL || m->url == NULL || m->status == 0) {
		cache_meta_free(m);
		return err_set(e, -EINVAL, "%s: incomplete", path);
	}
	return 0;
}

int
cachefile_kind(const char *name, char id[CACHE_ID_LEN + 1])
{
	size_t i;
	const char *s = name + CACHE_ID_LEN;

	for (i = 0; i < CACHE_ID_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	memcpy(id, name, CACHE_ID_LEN);
	id[CACHE_ID_LEN] = '\0';
	if (strcmp(s, ".body") == 0)
		return 'b';
	if (strcmp(s, ".meta") == 0)
		return 'm';
	if (strcmp(s, ".part") == 0)
		return 'p';
	if (strncmp(s, ".meta.tmp-", 10) == 0)
		return 't';
	return 0;
}
