/* The table-driven INI loader on libinih (config.h). */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "version.h"	/* ISTHMUS_RUN_DIR ..., with -Ddefault_paths=fhs */

#include "common/log.h"

#include "common/names.h"
#include "common/tls.h"

#define CONF_FILE_MAX (1u << 20)

struct instance {
	const struct conf_section *sec;
	void *storage;
	char name[2 * NAME_MAX_LEN + 2];
	int line;		/* header line; 0: singleton absent from file */
	uint64_t set;		/* bit i: key i was set by the file */
	int key_line[64];
};

struct parse_state {
	const struct conf_schema *schema;
	void *ctx;
	const char *filename;
	const char *basedir;
	const char *text;
	size_t len, pos;
	int lineno;
	bool indented;		/* current line starts with blanks */
	bool have_key;		/* a key was seen since the last header */
	struct instance *inst;
	size_t ninst;
	struct instance *cur;	/* NULL: outside, or in a rejected section */
	bool in_section;
	struct conf_errors *errs;
	int rc;
	/* conf_file_kind: no schema; the first header naming one of these */
	const char *const *kinds;
	size_t nkinds;
	int kind_found;
};

static void
conf_errors_vadd(struct conf_errors *errs, const char *file, int line,
    const char *what, const char *fmt, va_list ap)
{
	char msg[256];

	errs->total++;
	if (errs->n >= CONF_MAX_ERRORS)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(errs->line[errs->n++], sizeof(errs->line[0]),
		    "%s:%d: %s: %s", file, line, what, msg);
	else
		snprintf(errs->line[errs->n++], sizeof(errs->line[0]),
		    "%s: %s: %s", file, what, msg);
}

void
conf_errors_add(struct conf_errors *errs, const char *file, int line,
    const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_errors_vadd(errs, file, line, what, fmt, ap);
	va_end(ap);
}

static void add_error(struct parse_state *st, int line, const char *what,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
add_error(struct parse_state *st, int line, const char *what,
    const char *fmt, ...)
{
	va_list ap;

	if (st->rc == 0)
		st->rc = -EINVAL;
	va_start(ap, fmt);
	conf_errors_vadd(st->errs, st->filename, line, what, fmt, ap);
	va_end(ap);
}

static const struct conf_section *
find_section(const struct conf_schema *schema, const char *name)
{
	size_t i;

	for (i = 0; i < schema->nsections; i++)
		if (strcmp(schema->sections[i].name, name) == 0)
			return &schema->sections[i];
	return NULL;
}

static struct instance *
find_instance(struct parse_state *st, const struct conf_section *sec,
    const char *name)
{
	size_t i;

	for (i = 0; i < st->ninst; i++)
		if (st->inst[i].sec == sec && strcmp(st->inst[i].name, name) == 0)
			return &st->inst[i];
	return NULL;
}

/* A PINS or CIDRS field: every item must parse, or the field keeps what
 * it had. append: the value continues the list on an indented line. */
static int
set_set(const struct conf_key *key, char *field, const char *value,
    bool append, struct err *e)
{
	struct strlist items = { 0 };
	struct conf_pins pins = { .n = 0 };
	struct conf_cidrs cidrs = { .n = 0 };
	size_t i, *n, max;
	int rc;

	if (key->type == CONF_PINS) {
		if (append)
			pins = *(struct conf_pins *)field;
		n = &pins.n;
		max = CONF_PINS_MAX;
	} else {
		if (append)
			cidrs = *(struct conf_cidrs *)field;
		n = &cidrs.n;
		max = CONF_CIDRS_MAX;
	}
	rc = conf_parse_list(value, &items, e);
	for (i = 0; rc == 0 && i < items.n; i++) {
		if (*n == max)
			rc = err_set(e, -EINVAL, "more than %zu values", max);
		else if (key->type == CONF_PINS)
			rc = tls_pin_parse(items.v[i], pins.v[pins.n++], e);
		else
			rc = conf_parse_cidr(items.v[i], &cidrs.v[cidrs.n++],
			    e);
	}
	strlist_free(&items);
	if (rc != 0)
		return rc;
	if (key->type == CONF_PINS)
		*(struct conf_pins *)field = pins;
	else
		*(struct conf_cidrs *)field = cidrs;
	return 0;
}

/* Parses value into the field of storage that key describes. append: the
 * value continues a list on an indented line. */
/* A LIST with choices takes only those words, and "none", when it is
 * one of them, stands alone (it says the list is empty on purpose). */
static int
list_choices(const struct conf_key *key, const struct strlist *l,
    bool append, const struct strlist *add, struct err *e)
{
	size_t i, n = add->n + (append ? l->n : 0);
	int k;

	for (i = 0; i < add->n; i++) {
		if (conf_parse_enum(add->v[i], key->choices, &k, e) != 0)
			return -EINVAL;
		if (strcmp(add->v[i], "none") == 0 && n > 1)
			return err_set(e, -EINVAL, "'none' stands alone");
	}
	for (i = 0; append && i < l->n; i++)
		if (strcmp(l->v[i], "none") == 0)
			return err_set(e, -EINVAL, "'none' stands alone");
	return 0;
}

static int
set_field(struct parse_state *st, const struct conf_key *key, void *storage,
    const char *value, bool append, struct err *e)
{
	char *field = (char *)storage + key->offset;
	int rc;

	switch (key->type) {
	case CONF_BOOL:
		return conf_parse_bool(value, (bool *)field, e);
	case CONF_INT:
		if ((key->flags & CONF_AUTO) && strcmp(value, "auto") == 0) {
			*(int64_t *)field = 0;
			return 0;
		}
		rc = conf_parse_int(value, key->min, key->max,
		    (int64_t *)field, e);
		if (rc != 0 && (key->flags & CONF_AUTO))
			return err_set(e, -EINVAL, "'%s' is not 'auto' or an "
			    "integer between %lld and %lld", value,
			    (long long)key->min, (long long)key->max);
		return rc;
	case CONF_DURATION:
		return conf_parse_duration(value, (uint64_t)key->min,
		    (uint64_t)key->max, (uint64_t *)field, e);
	case CONF_SIZE:
		return conf_parse_size(value, (uint64_t)key->min,
		    (uint64_t)key->max, (uint64_t *)field, e);
	case CONF_HOSTPORT:
		rc = conf_parse_hostport(value, key->flags & CONF_PORT0,
		    (struct hostport *)field, e);
		if (rc == 0 && (key->flags & CONF_LOOPBACK) &&
		    !hostport_is_loopback((struct hostport *)field))
			return err_set(e, -EINVAL, "'%s' is not a loopback "
			    "address (use 127.0.0.1, [::1] or localhost)",
			    value);
		return rc;
	case CONF_ENUM:
		return conf_parse_enum(value, key->choices, (int *)field, e);
	case CONF_PIN:
		return tls_pin_parse(value, (uint8_t *)field, e);
	case CONF_PINS:
	case CONF_CIDRS:
		return set_set(key, field, value, append, e);
	case CONF_THRESH: {
		struct conf_thresh *t = (struct conf_thresh *)field;

		return conf_parse_thresh(value, (enum conf_thresh_unit)key->min,
		    key->max == 1, &t->warn, &t->fail, e);
	}
	case CONF_EVERY: {
		struct conf_every *ev = (struct conf_every *)field;

		rc = conf_parse_every(value, (uint64_t)key->min,
		    (uint64_t)key->max, &ev->off, ev->name, sizeof(ev->name),
		    &ev->ms, e);
		ev->set = rc == 0;
		return rc;
	}
	case CONF_PATH:
	case CONF_STRING: {
		char **slot = (char **)field, *s = NULL;

		if (key->type == CONF_PATH) {
			rc = conf_parse_path(value, st->basedir, &s, e);
		} else if (value[0] == '\0') {
			rc = err_set(e, -EINVAL, "empty value");
		} else {
			s = strdup(value);
			rc = s == NULL ? err_set(e, -ENOMEM, "out of memory") : 0;
		}
		if (rc != 0)
			return rc;
		free(*slot);
		*slot = s;
		return 0;
	}
	case CONF_LIST: {
		struct strlist *l = (struct strlist *)field, tmp = { 0 };
		size_t i;

		rc = conf_parse_list(value, &tmp, e);
		if (rc == 0 && key->choices != NULL)
			rc = list_choices(key, l, append, &tmp, e);
		if (rc == 0 && !append)
			strlist_free(l);
		for (i = 0; rc == 0 && i < tmp.n; i++)
			if (strlist_append(l, tmp.v[i], strlen(tmp.v[i])) != 0)
				rc = err_set(e, -ENOMEM, "out of memory");
		strlist_free(&tmp);
		return rc;
	}
	case CONF_LINES: {
		struct strlist *l = (struct strlist *)field;
		size_t n = strlen(value);

		while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
			n--;
		if (n == 0)
			return err_set(e, -EINVAL, "an empty line");
		if (!append)
			strlist_free(l);
		if (strlist_append(l, value, n) != 0)
			return err_set(e, -ENOMEM, "out of memory");
		return 0;
	}
	}
	return err_set(e, -EINVAL, "unsupported key type");
}

#ifdef ISTHMUS_RUN_DIR
static struct conf_layout layout = { ISTHMUS_RUN_DIR, ISTHMUS_STATE_DIR,
	ISTHMUS_CACHE_DIR };
#else
static struct conf_layout layout;
#endif

const struct conf_layout *
conf_get_layout(void)
{
	return &layout;
}

void
conf_set_layout(const struct conf_layout *l)
{
	layout = *l;
}

/* k's default in the installed layout for the file filename (CONF_RUN_DIR
 * and friends), or NULL: the table's. */
static char *
layout_default(const struct conf_key *k, const char *filename)
{
	const char *dir = (k->flags & CONF_RUN_DIR) ? layout.run_dir :
	    (k->flags & CONF_STATE_DIR) ? layout.state_dir :
	    (k->flags & CONF_CACHE_DIR) ? layout.cache_dir : NULL;
	const char *base, *ext, *tail;
	char *out;
	size_t stem;

	if (dir == NULL || filename == NULL || k->def == NULL)
		return NULL;
	base = strrchr(filename, '/');
	base = base != NULL ? base + 1 : filename;
	ext = strrchr(base, '.');
	stem = ext != NULL && strcmp(ext, ".conf") == 0 ?
	    (size_t)(ext - base) : strlen(base);
	tail = strchr(k->def, '.');	/* "edge.sock": ".sock" */
	if (asprintf(&out, "%s/%.*s%s", dir, (int)stem, base,
	    tail != NULL ? tail : "") < 0)
		return NULL;
	return out;
}

static struct instance *
open_instance(struct parse_state *st, const struct conf_section *sec,
    const char *name, int line)
{
	struct instance *ni, *in;
	struct err e;
	size_t i;

	ni = realloc(st->inst, (st->ninst + 1) * sizeof(*ni));
	if (ni == NULL) {
		st->rc = -ENOMEM;
		return NULL;
	}
	st->inst = ni;
	in = &ni[st->ninst];
	memset(in, 0, sizeof(*in));
	in->sec = sec;
	in->line = line;
	snprintf(in->name, sizeof(in->name), "%s", name);
	in->storage = sec->open(st->ctx, name, line);
	if (in->storage == NULL) {
		st->rc = -ENOMEM;
		return NULL;
	}
	st->ninst++;
	for (i = 0; i < sec->nkeys; i++) {
		const struct conf_key *k = &sec->keys[i];

		char *installed = layout_default(k, st->filename);

		if (k->def != NULL && set_field(st, k, in->storage,
		    installed != NULL ? installed : k->def, false, &e) != 0)
			add_error(st, 0, k->name, "bad built-in default: %s",
			    e.msg);
		free(installed);
	}
	return in;
}

static bool
section_name_valid(const struct conf_section *sec, const char *name)
{
	char scope[NAME_MAX_LEN + 2];
	const char *slash = strchr(name, '/');
	size_t n;

	if (!sec->scoped)
		return name_valid(name);
	if (slash == NULL || (n = (size_t)(slash - name)) >= sizeof(scope))
		return false;
	memcpy(scope, name, n);
	scope[n] = '\0';
	return name_valid(scope) && name_valid(slash + 1);
}

/* conf_file_kind's probe: the first header that names one of its kinds. */
static void
note_kind(struct parse_state *st, const char *kind)
{
	size_t i;

	for (i = 0; st->kind_found < 0 && i < st->nkinds; i++)
		if (strcmp(kind, st->kinds[i]) == 0)
			st->kind_found = (int)i;
}

/* Called by the reader for each "[...]" line, before libinih sees it. */
static void
begin_section(struct parse_state *st, const char *inner, size_t len)
{
	char kind[64] = "", name[256] = "", what[128];
	const struct conf_section *sec;
	struct instance *in;
	char buf[320];
	int n;

	st->cur = NULL;
	st->in_section = true;
	st->have_key = false;
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, inner, len);
	buf[len] = '\0';
	n = sscanf(buf, "%63s %255s %127s", kind, name, what);
	snprintf(what, sizeof(what), "[%.*s]", (int)len, inner);
	if (st->schema == NULL) {
		note_kind(st, n >= 1 ? kind : "");
		return;
	}
	if (n < 1 || n > 2) {
		add_error(st, st->lineno, what, "malformed section header "
		    "(expected [kind] or [kind name])");
		return;
	}
	sec = find_section(st->schema, kind);
	if (sec == NULL) {
		add_error(st, st->lineno, what, "unknown section");
		return;
	}
	if (!sec->named) {
		if (n == 2) {
			add_error(st, st->lineno, what, "[%s] takes no name",
			    kind);
			return;
		}
		in = find_instance(st, sec, "");
		if (in->line != 0) {
			add_error(st, st->lineno, what, "duplicate section "
			    "(first on line %d)", in->line);
			return;
		}
		in->line = st->lineno;
		st->cur = in;
		return;
	}
	if (n == 1) {
		add_error(st, st->lineno, what, "section needs a name, as in "
		    "[%s NAME]", kind);
		return;
	}
	if (!section_name_valid(sec, name)) {
		add_error(st, st->lineno, what, "invalid name '%s' (%sletters, "
		    "digits, '.', '_', '-'; at most %d)", name, sec->scoped ?
		    "TENANT/NAME, each " : "", NAME_MAX_LEN);
		return;
	}
	in = find_instance(st, sec, name);
	if (in != NULL) {
		add_error(st, st->lineno, what, "duplicate section (first on "
		    "line %d)", in->line);
		return;
	}
	st->cur = open_instance(st, sec, name, st->lineno);
}

/* libinih reader over the in-memory text: one line per call. It counts
 * lines (Debian's libinih is built without line numbers in the handler),
 * refuses over-long lines instead of letting libinih split them, and notes
 * section headers so that empty sections and repeated headers are seen. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	const char *line, *nl, *p;
	size_t n, content;

	if (st->pos >= st->len)
		return NULL;
	line = st->text + st->pos;
	nl = memchr(line, '\n', st->len - st->pos);
	n = nl != NULL ? (size_t)(nl - line) + 1 : st->len - st->pos;
	st->pos += n;
	st->lineno++;
	content = n;
	while (content > 0 && (line[content - 1] == '\n' ||
	    line[content - 1] == '\r'))
		content--;
	if (memchr(line, '\0', content) != NULL) {
		add_error(st, st->lineno, "line", "contains a NUL byte");
		content = 0;
	} else if (content + 2 > (size_t)num) {
		add_error(st, st->lineno, "line", "too long (at most %d "
		    "characters)", num - 2);
		content = 0;
	}
	memcpy(str, line, content);
	str[content] = '\n';
	str[content + 1] = '\0';
	st->indented = content > 0 && (line[0] == ' ' || line[0] == '\t');
	for (p = str; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == ';' || *p == '#' || *p == '\n')
		st->indented = false;
	/* An indented line after a key continues its value, as libinih
	 * reads it, even when it starts with '[' (an IPv6 address). */
	if (*p == '[' && !(st->indented && st->have_key)) {
		const char *close = strchr(p, ']');

		if (close != NULL)
			begin_section(st, p + 1, (size_t)(close - p - 1));
	}
	return str;
}

/* inih's line callback: non-zero goes on, 0 is an error (we keep our
 * own errors, so 0 only when out of memory). */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	struct instance *in = st->cur;
	bool continuation = st->indented && st->have_key;
	const struct conf_key *key = NULL;
	struct err e;
	size_t i;

	(void)section;
	if (st->schema == NULL) {
		/* conf_file_kind reads headers only, but a header-like line
		 * after a key is that key's continuation, as below */
		st->have_key = true;
		return 1;
	}
	if (st->rc == -ENOMEM)
		return 0;
	if (in == NULL) {
		if (!st->in_section)
			add_error(st, st->lineno, name, "key outside of any "
			    "section");
		return 1;	/* a rejected section: reported once */
	}
	st->have_key = true;
	for (i = 0; i < in->sec->nkeys; i++) {
		if (strcmp(in->sec->keys[i].name, name) == 0) {
			key = &in->sec->keys[i];
			break;
		}
	}
	if (key == NULL) {
		add_error(st, st->lineno, name, "unknown key in [%s]",
		    in->sec->name);
		return 1;
	}
	if (continuation && key->type != CONF_LIST &&
	    key->type != CONF_LINES && key->type != CONF_PINS && key->type != CONF_CIDRS) {
		add_error(st, st->lineno, name, "indented line continues the "
		    "value; only lists may span lines (do not indent keys)");
		return 1;
	}
	if (!continuation && (in->set & (1ull << i))) {
		add_error(st, st->lineno, name, "duplicate key (first set on "
		    "line %d)", in->key_line[i]);
		return 1;
	}
	if (set_field(st, key, in->storage, value, continuation, &e) != 0) {
		if (st->rc == 0 || st->rc == -EINVAL)
			add_error(st, st->lineno, name, "%s", e.msg);
		return 1;
	}
	if (!continuation) {
		in->set |= 1ull << i;
		in->key_line[i] = st->lineno;
	}
	return 1;
}

static void
check_required(struct parse_state *st)
{
	size_t i, k;

	for (i = 0; i < st->ninst; i++) {
		const struct instance *in = &st->inst[i];
		char what[2 * NAME_MAX_LEN + 80];

		for (k = 0; k < in->sec->nkeys; k++) {
			const struct conf_key *key = &in->sec->keys[k];

			if (!(key->flags & CONF_REQUIRED) ||
			    (in->set & (1ull << k)))
				continue;
			if (in->line == 0) {
				snprintf(what, sizeof(what), "[%s]",
				    in->sec->name);
				add_error(st, 0, what, "missing section "
				    "(it must set '%s')", key->name);
				break;
			}
			snprintf(what, sizeof(what), "[%s%s%s]", in->sec->name,
			    in->name[0] ? " " : "", in->name);
			add_error(st, in->line, key->name, "required in %s",
			    what);
		}
	}
}

int
conf_parse_text(const struct conf_schema *schema, void *ctx,
    const char *filename, const char *text, size_t len, const char *basedir,
    struct conf_errors *errs)
{
	struct parse_state st = {
		.schema = schema, .ctx = ctx, .filename = filename,
		.basedir = basedir, .text = text, .len = len, .errs = errs,
	};
	size_t i;
	int rc;

	memset(errs, 0, sizeof(*errs));
	for (i = 0; i < schema->nsections && st.rc != -ENOMEM; i++)
		if (!schema->sections[i].named)
			open_instance(&st, &schema->sections[i], "", 0);
	if (st.rc != -ENOMEM) {
		rc = ini_parse_stream(reader, &st, handler, &st);
		if (rc > 0)
			add_error(&st, rc, "syntax", "expected 'key = value' "
			    "or '[section]'");
		else if (rc < 0 && st.rc == 0)
			st.rc = -ENOMEM;
	}
	if (st.rc == 0)
		check_required(&st);
	free(st.inst);
	if (st.rc == -ENOMEM) {
		errs->total++;
		if (errs->n < CONF_MAX_ERRORS)
			snprintf(errs->line[errs->n++], sizeof(errs->line[0]),
			    "%s: out of memory", filename);
	}
	return st.rc;
}

static int
load_error(struct conf_errors *errs, const char *path, const char *why)
{
	snprintf(errs->line[0], sizeof(errs->line[0]),
	    "%s: cannot read config: %s", path, why);
	errs->n = errs->total = 1;
	return -EINVAL;
}

/* Reads the file at path whole (at most CONF_FILE_MAX) into *buf and, when
 * dir is not NULL, its directory into *dir, for the parser. */
static int
read_conf_file(const char *path, char **buf, size_t *len, char **dir,
    struct conf_errors *errs)
{
	char *slash;
	struct stat sb;
	size_t got = 0;
	ssize_t r;
	int fd, rc;

	memset(errs, 0, sizeof(*errs));
	*buf = NULL;
	if (dir != NULL)
		*dir = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return load_error(errs, path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		rc = load_error(errs, path, "not a regular file");
	else if (sb.st_size > (off_t)CONF_FILE_MAX)
		rc = load_error(errs, path, "larger than 1 MiB");
	else if ((*buf = malloc((size_t)sb.st_size + 1)) == NULL ||
	    (dir != NULL && (*dir = strdup(path)) == NULL))
		rc = load_error(errs, path, "out of memory");
	else
		rc = 0;
	while (rc == 0 && got < (size_t)sb.st_size) {
		r = read(fd, *buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = load_error(errs, path, strerror(errno));
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (rc == 0 && dir != NULL) {
		slash = strrchr(*dir, '/');
		if (slash == NULL)
			(*dir)[0] = '\0';
		else
			slash[slash == *dir ? 1 : 0] = '\0';
	}
	if (rc == 0) {
		*len = got;
	} else {
		free(*buf);
		*buf = NULL;
		if (dir != NULL) {
			free(*dir);
			*dir = NULL;
		}
	}
	return rc;
}

int
conf_load_file(const struct conf_schema *schema, void *ctx, const char *path,
    struct conf_errors *errs)
{
	char *buf, *dir;
	size_t len;
	int rc;

	rc = read_conf_file(path, &buf, &len, &dir, errs);
	if (rc == 0)
		rc = conf_parse_text(schema, ctx, path, buf, len, dir, errs);
	free(buf);
	free(dir);
	return rc;
}

int
conf_file_kind(const char *path, const char *const *kinds, size_t n,
    struct conf_errors *errs)
{
	struct parse_state st = {
		.filename = path, .errs = errs, .kinds = kinds, .nkinds = n,
		.kind_found = -1,
	};
	char *buf;
	int rc;

	rc = read_conf_file(path, &buf, &st.len, NULL, errs);
	if (rc != 0)
		return rc;
	st.text = buf;
	if (ini_parse_stream(reader, &st, handler, &st) < 0)
		rc = -ENOMEM;
	free(buf);
	if (rc == 0 && st.kind_found < 0)
		conf_errors_add(errs, path, 0, "sections", "none of its section "
		    "headers says which daemon it is for");
	return rc != 0 ? rc : st.kind_found >= 0 ? st.kind_found : -ENOENT;
}

void
conf_free_fields(const struct conf_section *sec, void *storage)
{
	size_t i;

	if (storage == NULL)
		return;
	for (i = 0; i < sec->nkeys; i++) {
		char *field = (char *)storage + sec->keys[i].offset;

		switch (sec->keys[i].type) {
		case CONF_PATH:
		case CONF_STRING:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case CONF_LIST:
		case CONF_LINES:
			strlist_free((struct strlist *)field);
			break;
		default:
			break;
		}
	}
}

static bool
conf_str_equal(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
conf_list_equal(const struct strlist *a, const struct strlist *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static bool
conf_pins_equal(const struct conf_pins *a, const struct conf_pins *b)
{
	return a->n == b->n && memcmp(a->v, b->v, a->n * sizeof(a->v[0])) == 0;
}

static bool
conf_cidrs_equal(const struct conf_cidrs *a, const struct conf_cidrs *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (a->v[i].family != b->v[i].family ||
		    a->v[i].bits != b->v[i].bits ||
		    memcmp(a->v[i].addr, b->v[i].addr, 16) != 0)
			return false;
	return true;
}

static bool
conf_field_equal(const struct conf_key *k, const char *a, const char *b)
{
	const struct hostport *ha = (const void *)a, *hb = (const void *)b;

	switch (k->type) {
	case CONF_BOOL:
		return *(const bool *)a == *(const bool *)b;
	case CONF_INT:
		return *(const int64_t *)a == *(const int64_t *)b;
	case CONF_DURATION:
	case CONF_SIZE:
		return *(const uint64_t *)a == *(const uint64_t *)b;
	case CONF_ENUM:
		return *(const int *)a == *(const int *)b;
	case CONF_HOSTPORT:
		return ha->port == hb->port && strcmp(ha->host, hb->host) == 0;
	case CONF_PATH:
	case CONF_STRING:
		return conf_str_equal(*(char *const *)a, *(char *const *)b);
	case CONF_LIST:
	case CONF_LINES:
		return conf_list_equal((const void *)a, (const void *)b);
	case CONF_PIN:
		return memcmp(a, b, 32) == 0;
	case CONF_PINS:
		return conf_pins_equal((const void *)a, (const void *)b);
	case CONF_CIDRS:
		return conf_cidrs_equal((const void *)a, (const void *)b);
	case CONF_THRESH:
		return ((const struct conf_thresh *)(const void *)a)->warn ==
		    ((const struct conf_thresh *)(const void *)b)->warn &&
		    ((const struct conf_thresh *)(const void *)a)->fail ==
		    ((const struct conf_thresh *)(const void *)b)->fail;
	case CONF_EVERY: {
		const struct conf_every *ea = (const void *)a,
		    *eb = (const void *)b;

		return ea->set == eb->set && ea->off == eb->off &&
		    ea->ms == eb->ms && strcmp(ea->name, eb->name) == 0;
	}
	}
	return false;
}

bool
conf_fields_equal(const struct conf_section *sec, const void *a,
    const void *b)
{
	size_t i;

	for (i = 0; i < sec->nkeys; i++)
		if (!conf_field_equal(&sec->keys[i],
		    (const char *)a + sec->keys[i].offset,
		    (const char *)b + sec->keys[i].offset))
			return false;
	return true;
}

void
conf_errors_report(const struct conf_errors *errs, const char *sub,
    bool running)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		log_config_error(sub, running, "%s", errs->line[i]);
	if (errs->total > errs->n)
		log_config_error(sub, running, "(%zu more errors not shown)",
		    errs->total - errs->n);
}
