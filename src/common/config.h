/*
 * Table-driven INI loader on libinih. A schema lists sections; each section
 * lists its keys with type, bounds, default and the offset of the field they
 * fill. Unknown sections and keys, duplicate keys and sections, bad values and
 * missing required keys are all errors of the form "file:line: key: what is
 * wrong". Parsing and validation happen into fresh storage; the caller swaps
 * it in only when conf_parse_text() returned 0 (nginx's reload model).
 *
 * Field types by conf_type: BOOL bool, INT int64_t, DURATION uint64_t (ms),
 * SIZE uint64_t (bytes), HOSTPORT struct hostport, PATH and STRING char *,
 * LIST struct strlist (with choices: only those words, and a "none"
 * among them stands alone), ENUM int (index into choices), PIN uint8_t[32] (a
 * "sha256:<hex>" pin as printed by isthmus pki show), PINS struct conf_pins
 * and CIDRS struct conf_cidrs (comma-separated lists of those, which may
 * continue on indented lines like LIST).
 *
 * Sections are either singletons ("[cloud]") or named ("[tenant A]", which
 * may repeat with different names). A list value may continue on following
 * indented lines; no other value may.
 */
#ifndef ISTHMUS_CONFIG_H
#define ISTHMUS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/confparse.h"

enum conf_type {
	CONF_BOOL,
	CONF_INT,
	CONF_DURATION,
	CONF_SIZE,
	CONF_HOSTPORT,
	CONF_PATH,
	CONF_STRING,
	CONF_LIST,
	CONF_ENUM,
	CONF_PIN,
	CONF_PINS,
	CONF_CIDRS,
	CONF_THRESH,
	CONF_EVERY,
	/* one item per line (the key's, then each indented line), not split
	 * at commas: HTTP header fields, whose values may hold commas */
	CONF_LINES,
};

/* Several pins: an edge's next certificate is pinned beside the current
 * one, so rotating it leaves no gap. */
#define CONF_PINS_MAX 8
struct conf_pins {
	uint8_t v[CONF_PINS_MAX][32];
	size_t n;
};

#define CONF_CIDRS_MAX 32
struct conf_cidrs {
	struct cidr v[CONF_CIDRS_MAX];
	size_t n;
};

/* THRESH: "WARN, FAIL", two figures in the key's unit (min: a
 * conf_thresh_unit); max 1: lower is worse (a rate), so WARN must be
 * above FAIL; else below. */
struct conf_thresh {
	double warn, fail;
};

/* EVERY: "NAME every DURATION", or "off"; max the longest interval, min
 * the shortest (ms). Unset: none. */
struct conf_every {
	bool set;			/* the key was given */
	bool off;
	char name[64];
	uint64_t ms;
};

#define CONF_REQUIRED	0x1u
#define CONF_PORT0	0x2u	/* HOSTPORT: port 0 (kernel picks) allowed */
#define CONF_LOOPBACK	0x4u	/* HOSTPORT: only a loopback address */
#define CONF_AUTO	0x8u	/* INT: also "auto", stored as 0 */
/* PATH: where an installed build keeps it when the file does not say
 * (struct conf_layout): the key's default is then DIR/STEM plus what
 * follows the default's own stem ("edge.sock": DIR/STEM.sock; "state":
 * DIR/STEM), STEM the config file's name without ".conf". */
#define CONF_RUN_DIR	0x10u
#define CONF_STATE_DIR	0x20u
#define CONF_CACHE_DIR	0x40u

/* The directories of the installed layout (meson -Ddefault_paths=fhs: /run/
 * isthmus, /var/lib/isthmus, /var/cache/isthmus), or all NULL (a build
 * run from its tree: defaults beside the config file, as the tables
 * say). conf_set_layout replaces the build's (the unit tests). */
struct conf_layout {
	const char *run_dir, *state_dir, *cache_dir;
};
const struct conf_layout *conf_get_layout(void);
void conf_set_layout(const struct conf_layout *l);

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t offset;
	int64_t min, max;		/* INT, DURATION (ms), SIZE (bytes) */
	const char *const *choices;	/* ENUM, NULL-terminated */
	const char *def;		/* default, in config syntax, or NULL */
	unsigned flags;
};

struct conf_section {
	const char *name;
	bool named;
	bool scoped;		/* named as "SCOPE/NAME", e.g. [service A/web] */
	const struct conf_key *keys;
	size_t nkeys;			/* at most 64 */
	/*
	 * Returns zeroed storage for one occurrence of the section; name is the
	 * section's name ("A" for "[tenant A]", "" for a singleton). Singletons
	 * are opened once before parsing, so their defaults apply even when the
	 * file omits them. line is the header's line (0 for singletons).
	 * Returns NULL when out of memory.
	 */
	void *(*open)(void *ctx, const char *name, int line);
};

struct conf_schema {
	const struct conf_section *sections;
	size_t nsections;
};

#define CONF_MAX_ERRORS 20

struct conf_errors {
	size_t n;		/* lines stored */
	size_t total;		/* errors found, possibly more than stored */
	char line[CONF_MAX_ERRORS][384];
};

/*
 * Parses text (not necessarily NUL-terminated) as the contents of file
 * `filename`; relative paths are resolved against basedir. Returns 0, or
 * -EINVAL with errs filled (-ENOMEM when out of memory). Does no file I/O.
 */
int conf_parse_text(const struct conf_schema *schema, void *ctx,
    const char *filename, const char *text, size_t len, const char *basedir,
    struct conf_errors *errs);

/* Reads path and calls conf_parse_text with the file's directory as
 * basedir. An unreadable file is reported as one error. */
int conf_load_file(const struct conf_schema *schema, void *ctx,
    const char *path, struct conf_errors *errs);

/* Reads path as the loader does (same limits, same line rules) and says
 * which of kinds[0..n) ("cloud", "edge") the first header that names one
 * is: its index. -ENOENT when none does, other -errno when the file cannot
 * be read; errs says why. */
int conf_file_kind(const char *path, const char *const *kinds, size_t n,
    struct conf_errors *errs);

/* Frees what the loader allocated inside one section's storage (strings,
 * lists), not the storage itself. */
void conf_free_fields(const struct conf_section *sec, void *storage);
/* Whether two storages of one section hold the same values, key by key
 * (a reload asks what changed). */
bool conf_fields_equal(const struct conf_section *sec, const void *a,
    const void *b);

/* Each error through log_config_error (sub, running as there), then how
 * many more were found than kept. */
void conf_errors_report(const struct conf_errors *errs, const char *sub,
    bool running);
/* Records "file:line: what: message" (or "file: what: message" for line
 * 0): for checks a program makes after parsing (cross-references). */
void conf_errors_add(struct conf_errors *errs, const char *file, int line,
    const char *what, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
