/*
 * What every harness shares: the input as a C string (most of our parsers
 * take one, as the config reader hands them), logs written out but not
 * kept (the formatting still runs), and a private scratch directory for
 * the parsers that read files.
 */
#ifndef ISTHMUS_FUZZ_H
#define ISTHMUS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy; a NUL inside the input ends the string early,
 * as it would for a value read from a file or a header. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static inline void
fuzz_quiet(void)
{
	static int done;
	FILE *f;

	if (done)
		return;
	done = 1;
	/* FUZZ_LOG=1: the log on stderr, to see what an input did. */
	if (getenv("FUZZ_LOG") != NULL) {
		log_set_level(LOG_DEBUG);
		return;
	}
	f = fopen("/dev/null", "w");
	if (f != NULL)
		log_set_stream(f);
	log_set_level(LOG_DEBUG);
}

/* A directory of our own under TMPDIR, made once per process. */
const char *fuzz_dir(void);
/* Writes data to dir/name, whole; returns the path (static buffer). */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

#endif
