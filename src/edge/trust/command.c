/*
 * The command set `isthmus trust` and the `trust` instruction share
 * (tstore.h, docs/trust.md "JSON"): the arguments checked, the store
 * asked or changed, the answer as JSON. Printing it for a person is the
 * caller's business.
 */
#include "edge/trust/tstore.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/tls.h"

static json_t *
int_or_null(int64_t v)
{
	return v != 0 ? json_integer(v) : json_null();
}

static json_t *
text_or_null(const char *s)
{
	return s[0] != '\0' ? json_string(s) : json_null();
}

json_t *
trust_entry_json(const struct trust_entry *ent, int64_t now)
{
	char cert[TLS_FP_LEN], spki[TLS_FP_LEN];
	bool expired = now > ent->not_after || now < ent->not_before;

	tls_fp_format(ent->cert_sha256, cert);
	tls_fp_format(ent->spki_sha256, spki);
	/* json_pack fails (NULL) on any allocation that fails, and on a
	 * string that is not UTF-8: a subject from a certificate is
	 * escaped by tls_name_line, so it is. */
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:I, s:I, s:b, s:I, s:I, s:o, s:o, s:o}",
	    "id", (json_int_t)ent->id,
	    "kind", trust_kind_name(ent->kind),
	    "peer", ent->peer,
	    "address", ent->address,
	    "mac", text_or_null(ent->mac),
	    "scope", ent->scope,
	    "state", trust_state_name(ent->state),
	    "cert_sha256", cert,
	    "spki_sha256", spki,
	    "subject", ent->subject,
	    "issuer", ent->issuer,
	    "not_before", (json_int_t)ent->not_before,
	    "not_after", (json_int_t)ent->not_after,
	    "expired", expired,
	    "first_seen", (json_int_t)ent->first_seen,
	    "last_seen", (json_int_t)ent->last_seen,
	    "replaces", int_or_null(ent->replaces),
	    "decided_by", text_or_null(ent->decided_by),
	    "decided_at", int_or_null(ent->decided_at));
}

static int
nomem(struct err *e)
{
	return err_set(e, -ENOMEM, "out of memory");
}

/* An entry id as given: a positive decimal number. */
static int
parse_id(const char *s, int64_t *id, struct err *e)
{
	char *end;
	long long v;

	errno = 0;
	v = s != NULL && *s >= '0' && *s <= '9' ? strtoll(s, &end, 10) : 0;
	if (v <= 0 || errno != 0 || *end != '\0')
		return err_set(e, -EINVAL, "'%.40s' is not an entry id (a "
		    "number, as isthmus trust list shows)", s != NULL ? s : "");
	*id = v;
	return 0;
}

static int
cmd_list(struct tstore *s, bool pending, size_t max, json_t **out,
    struct err *e)
{
	uint64_t counts[TS_COUNT] = { 0 };
	struct trust_entry *v;
	json_t *res, *arr, *cnt;
	int64_t now = time(NULL);
	size_t n, i, total = 0, shown = 0;
	int rc, k;

	if ((rc = tstore_load(s, &v, &n, e)) != 0)
		return rc;
	res = json_object();
	arr = json_array();
	cnt = json_object();
	rc = res != NULL && arr != NULL && cnt != NULL ? 0 : nomem(e);
	for (i = n; rc == 0 && i-- > 0;) {	/* newest first */
		if ((unsigned)v[i].state < TS_COUNT)
			counts[v[i].state]++;
		if (pending && v[i].state != TS_PENDING &&
		    v[i].state != TS_CHANGED)
			continue;
		total++;
		if (shown >= max)
			continue;
		shown++;
		if (json_array_append_new(arr, trust_entry_json(&v[i], now)) !=
		    0)
			rc = nomem(e);
	}
	for (k = 0; rc == 0 && k < TS_COUNT; k++)
		if (json_object_set_new(cnt, trust_state_name(k),
		    json_integer((json_int_t)counts[k])) != 0)
			rc = nomem(e);
	free(v);
	if (rc == 0 && (json_object_set(res, "entries", arr) != 0 ||
	    json_object_set(res, "counts", cnt) != 0 || (shown < total &&
	    (json_object_set_new(res, "truncated", json_true()) != 0 ||
	    json_object_set_new(res, "total", json_integer(
	    (json_int_t)total)) != 0))))
		rc = nomem(e);
	json_decref(arr);
	json_decref(cnt);
	if (rc != 0) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}

static char *
der_to_pem(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL, *data;
	long n;

	if (x != NULL && b != NULL && PEM_write_bio_X509(b, x) == 1 &&
	    (n = BIO_get_mem_data(b, &data)) > 0 &&
	    (pem = malloc((size_t)n + 1)) != NULL) {
		memcpy(pem, data, (size_t)n);
		pem[n] = '\0';
	}
	BIO_free(b);
	X509_free(x);
	return pem;
}

static int
cmd_show(struct tstore *s, int64_t id, json_t **out, struct err *e)
{
	struct trust_entry ent;
	uint8_t *der = NULL;
	size_t len = 0;
	json_t *j;
	char *pem;
	int rc;

	if ((rc = tstore_get(s, id, &ent, &der, &len, e)) != 0)
		return rc;
	pem = der != NULL ? der_to_pem(der, len) : NULL;
	free(der);
	if (pem == NULL)
		return err_set(e, -EIO, "entry %lld's certificate cannot be "
		    "read", (long long)id);
	j = trust_entry_json(&ent, time(NULL));
	if (j == NULL || json_object_set_new(j, "pem", json_string(pem)) != 0 ||
	    (*out = json_pack("{s:o}", "entry", j)) == NULL) {
		free(pem);
		return nomem(e);
	}
	free(pem);
	return 0;
}

/* approve, reject, forget: the decision and its answer. */
static int
cmd_decide(struct tstore *s, const char *action, int64_t id,
    const char *fp, const char *who, json_t **out, struct err *e)
{
	struct trust_entry ent;
	uint8_t digest[32];
	int64_t removed = 0, now = time(NULL);
	json_t *j;
	int rc;

	if (strcmp(action, "approve") == 0) {
		if (tls_pin_parse(fp, digest, e) != 0)
			return err_set(e, -EINVAL, "'%.80s' is not a certificate "
			    "fingerprint (sha256: and 64 hex digits, as isthmus "
			    "trust show prints it)", fp);
		rc = tstore_approve(s, id, digest, who, now, &removed, e);
	} else if (strcmp(action, "reject") == 0) {
		rc = tstore_reject(s, id, who, now, e);
	} else {
		/* what is forgotten is shown as it was */
		if ((rc = tstore_get(s, id, &ent, NULL, NULL, e)) == 0)
			rc = tstore_forget(s, id, e);
	}
	if (rc == 0 && strcmp(action, "forget") != 0)
		rc = tstore_get(s, id, &ent, NULL, NULL, e);
	if (rc != 0)
		return rc;
	j = trust_entry_json(&ent, now);
	if (j == NULL || (*out = json_pack("{s:s, s:o, s:o}", "action", action,
	    "entry", j, "removed", removed != 0 ? json_integer(removed) :
	    json_null())) == NULL)
		return nomem(e);
	return 0;
}

int
trust_command(struct tstore *s, const char *const *args, size_t nargs,
    const char *who, size_t max_list, json_t **result, struct err *e)
{
	const char *cmd = nargs > 0 ? args[0] : "";
	int64_t id = 0;
	int rc;

	*result = NULL;
	if (strcmp(cmd, "list") == 0) {
		if (nargs > 2 || (nargs == 2 && strcmp(args[1], "pending") != 0))
			return err_set(e, -EINVAL, "list takes only "
			    "\"pending\"");
		return cmd_list(s, nargs == 2, max_list, result, e);
	}
	if (strcmp(cmd, "show") != 0 && strcmp(cmd, "approve") != 0 &&
	    strcmp(cmd, "reject") != 0 && strcmp(cmd, "forget") != 0)
		return err_set(e, -EINVAL, "'%.40s' is not a trust command "
		    "(list, show, approve, reject, forget)", cmd);
	if (strcmp(cmd, "approve") == 0 && nargs != 3)
		return err_set(e, -EINVAL, "approve takes an entry id and the "
		    "certificate's fingerprint (sha256:HEX)");
	if (strcmp(cmd, "approve") != 0 && nargs != 2)
		return err_set(e, -EINVAL, "%s takes one entry id", cmd);
	if ((rc = parse_id(args[1], &id, e)) != 0)
		return rc;
	if (strcmp(cmd, "show") == 0)
		return cmd_show(s, id, result, e);
	if ((who == NULL || who[0] == '\0' ||
	    strlen(who) >= TRUST_BY_MAX))
		return err_set(e, -EINVAL, "a decision needs who makes it");
	return cmd_decide(s, cmd, id, nargs == 3 ? args[2] : NULL, who,
	    result, e);
}
