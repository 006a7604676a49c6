/*
 * A [collector NAME] section's cross-checks (config.h): its URL taken
 * apart, its trust and auth lines parsed, its credentials read (0600)
 * and its header lines checked as HTTP fields. Errors name the key.
 */
#include "edge/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/fsutil.h"
#include "common/http1.h"
#include "common/tls.h"

#define SECRET_MAX 4096
#define TIMEOUT_DEFAULT_MS 10000

/* https://HOST[:PORT]/PATH: no user info (credentials come from a file,
 * never from the URL), no fragment. */
static int
parse_url(struct edge_collector_conf *c, struct err *e)
{
	const char *u = c->url, *host, *end, *slash;
	char hp[HOSTPORT_HOST_MAX + 8];
	size_t n;

	if (strncasecmp(u, "https://", 8) != 0)
		return err_set(e, -EINVAL, "'%s': a collector polls "
		    "https://HOST[:PORT]/PATH", u);
	host = u + 8;
	slash = strchr(host, '/');
	end = slash != NULL ? slash : host + strlen(host);
	if (memchr(host, '@', (size_t)(end - host)) != NULL)
		return err_set(e, -EINVAL, "'%s': no credentials in the URL "
		    "(auth = basic FILE or bearer FILE)", u);
	if (strchr(u, '#') != NULL || strpbrk(u, " \t\r\n") != NULL)
		return err_set(e, -EINVAL, "'%s': a fragment or a space in "
		    "the URL", u);
	n = (size_t)(end - host);
	if (n == 0 || n >= sizeof(hp) - 5)
		return err_set(e, -EINVAL, "'%s': no host, or too long", u);
	memcpy(hp, host, n);
	hp[n] = '\0';
	/* No port: 443. "[v6]" alone, or "host" alone. */
	if ((hp[0] == '[' && hp[n - 1] == ']') ||
	    (hp[0] != '[' && strchr(hp, ':') == NULL))
		snprintf(hp + n, sizeof(hp) - n, ":443");
	if (conf_parse_hostport(hp, false, &c->at, e) != 0)
		return -EINVAL;
	hostport_format(&c->at, c->peer, sizeof(c->peer));
	c->path = strdup(slash != NULL ? slash : "/");
	return c->path == NULL ? err_set(e, -ENOMEM, "out of memory") : 0;
}

/* tofu | pin sha256:HEX | ca FILE (relative to the config's dir). */
static int
parse_trust(struct edge_collector_conf *c, const char *dir, struct err *e)
{
	const char *s = c->trust_spec;

	if (strcmp(s, "tofu") == 0) {
		c->trust = CT_TOFU;
		return 0;
	}
	if (strncmp(s, "pin ", 4) == 0) {
		c->trust = CT_PIN;
		s += 4 + strspn(s + 4, " \t");
		return tls_pin_parse(s, c->pin, e);
	}
	if (strncmp(s, "ca ", 3) == 0) {
		X509_STORE *st;
		int rc;

		c->trust = CT_CA;
		s += 3 + strspn(s + 3, " \t");
		if (conf_parse_path(s, dir, &c->ca_file, e) != 0)
			return -EINVAL;
		/* read now, so --check says what the running edge would */
		if ((st = X509_STORE_new()) == NULL)
			return err_set(e, -ENOMEM, "out of memory");
		rc = tls_load_ca_bundle(c->ca_file, st, e);
		X509_STORE_free(st);
		return rc == 0 ? 0 : -EINVAL;
	}
	return err_set(e, -EINVAL, "'%s': tofu, pin sha256:HEX or ca FILE",
	    c->trust_spec);
}

/* basic FILE | bearer FILE: the file's first line, read now. */
static int
parse_auth(struct edge_collector_conf *c, const char *dir, struct err *e)
{
	const char *s = c->auth_spec;
	char *path = NULL, *buf = NULL, *val = NULL;
	size_t len = 0, n;
	struct stat st;
	int rc;

	if (strncmp(s, "basic ", 6) == 0) {
		c->auth = CAUTH_BASIC;
		s += 6;
	} else if (strncmp(s, "bearer ", 7) == 0) {
		c->auth = CAUTH_BEARER;
		s += 7;
	} else {
		return err_set(e, -EINVAL, "'%s': basic FILE or bearer FILE",
		    s);
	}
	s += strspn(s, " \t");
	if ((rc = conf_parse_path(s, dir, &path, e)) != 0)
		return rc;
	/* Said as what it is (fs_read_secret speaks of private keys). */
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
		rc = err_set(e, -EPERM, "credentials file %s can be read by "
		    "others (mode %04o): chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		free(path);
		return rc;
	}
	rc = fs_read_secret(path, SECRET_MAX, &buf, &len, e);
	free(path);
	if (rc != 0)
		return rc;
	n = strcspn(buf, "\r\n");
	if (n == 0 || n > len) {
		rc = err_set(e, -EINVAL, "%s: the file's first line is empty",
		    s);
	} else if (c->auth == CAUTH_BASIC && memchr(buf, ':', n) == NULL) {
		rc = err_set(e, -EINVAL, "%s: basic needs USER:PASSWORD on "
		    "the file's first line", s);
	} else if (c->auth == CAUTH_BASIC) {
		size_t cap = 6 + 4 * ((n + 2) / 3) + 1;

		if ((val = malloc(cap)) == NULL) {
			rc = err_set(e, -ENOMEM, "out of memory");
		} else {
			memcpy(val, "Basic ", 6);
			EVP_EncodeBlock((unsigned char *)val + 6,
			    (const unsigned char *)buf, (int)n);
		}
	} else {
		size_t i;

		for (i = 0; i < n && rc == 0; i++)
			if (!isgraph((unsigned char)buf[i]))
				rc = err_set(e, -EINVAL, "%s: a bearer token "
				    "has no spaces or control characters", s);
		if (rc == 0 && (val = malloc(7 + n + 1)) == NULL)
			rc = err_set(e, -ENOMEM, "out of memory");
		if (rc == 0) {
			memcpy(val, "Bearer ", 7);
			memcpy(val + 7, buf, n);
			val[7 + n] = '\0';
		}
	}
	OPENSSL_cleanse(buf, len);
	free(buf);
	c->authorization = val;
	return rc;
}

/* Each "Name: value" line: a token, a value without control characters;
 * not a field the edge sets itself. */
static int
check_headers(const struct edge_collector_conf *c, struct err *e)
{
	static const char *const ours[] = { "host", "authorization",
		"content-length", "content-type", "transfer-encoding",
		"connection", NULL };
	size_t i, k, n;
	char name[128];

	for (i = 0; i < c->header.n; i++) {
		const char *h = c->header.v[i], *colon = strchr(h, ':');

		n = colon != NULL ? (size_t)(colon - h) : 0;
		if (n == 0 || n >= sizeof(name))
			return err_set(e, -EINVAL, "'%s' is not Name: value",
			    h);
		for (k = 0; k < n; k++)
			name[k] = (char)tolower((unsigned char)h[k]);
		name[n] = '\0';
		if (!http_name_ok(name, n))
			return err_set(e, -EINVAL, "'%s': '%s' is not a field "
			    "name", h, name);
		for (k = 0; ours[k] != NULL; k++)
			if (strcmp(name, ours[k]) == 0)
				return err_set(e, -EINVAL, "'%s': the edge "
				    "sets %s itself (auth, body_type)", h,
				    name);
		colon++;
		colon += strspn(colon, " \t");
		if (!http_value_ok(colon, strlen(colon)))
			return err_set(e, -EINVAL, "'%s': not a field value "
			    "(a control character?)", h);
	}
	return 0;
}

int
edge_collector_check(const struct edge_conf *cf,
    struct edge_collector_conf *c, struct conf_errors *errs)
{
	char *dir, *slash;
	struct err e;
	const char *key = "url";
	int rc;

	if ((dir = strdup(cf->path)) == NULL)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash != NULL)
		slash[1] = '\0';
	rc = parse_url(c, &e);
	if (rc == 0 && !name_valid(c->service)) {
		key = "service";
		rc = err_set(&e, -EINVAL, "invalid service name '%s'",
		    c->service);
	}
	if (rc == 0 && (rc = parse_trust(c, slash != NULL ? dir : NULL,
	    &e)) != 0)
		key = "trust";
	if (rc == 0 && c->auth_spec != NULL && (rc = parse_auth(c,
	    slash != NULL ? dir : NULL, &e)) != 0)
		key = "auth";
	if (rc == 0 && (rc = check_headers(c, &e)) != 0)
		key = "header";
	if (rc == 0 && c->body != NULL && c->method == CM_GET) {
		key = "body";
		rc = err_set(&e, -EINVAL, "a body goes with method = POST or "
		    "PUT");
	}
	if (rc == 0 && c->target != NULL && c->target[0] != '/') {
		key = "target";
		rc = err_set(&e, -EINVAL, "'%s': a path, starting with '/'",
		    c->target);
	}
	if (rc == 0 && c->timeout == 0)
		c->timeout = c->interval < TIMEOUT_DEFAULT_MS ? c->interval :
		    TIMEOUT_DEFAULT_MS;
	if (rc == 0 && c->timeout > c->interval) {
		key = "timeout";
		rc = err_set(&e, -EINVAL, "must not be above interval");
	}
	free(dir);
	/* Every refusal with its sentence: an auth file others can read or
	 * that cannot be opened fails with its own errno. */
	if (rc != 0 && rc != -ENOMEM)
		conf_errors_add(errs, cf->path, c->line, key, "%s", e.msg);
	return rc;
}

void
edge_collector_conf_clear(struct edge_collector_conf *c)
{
	if (c->authorization != NULL) {
		OPENSSL_cleanse(c->authorization, strlen(c->authorization));
		free(c->authorization);
	}
	free(c->path);
	free(c->ca_file);
}
