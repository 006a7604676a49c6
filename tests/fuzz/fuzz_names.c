/*
 * Names (common/names.c): a stream's service name (its :authority, as the
 * cloud reads it before looking the service up), edge, tenant and CA
 * names, and labels. A valid name is also safe in a log line and a metric
 * label, which is why they are restricted: the harness checks the charset
 * holds for everything name_valid accepts.
 */
#include "fuzz.h"

#include <ctype.h>

#include "common/names.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	size_t i, n = strlen(s);

	fuzz_quiet();
	if (name_valid(s)) {
		if (n == 0 || n > NAME_MAX_LEN)
			abort();
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)s[i]) && strchr("._-",
			    s[i]) == NULL)
				abort();
	}
	if (label_valid(s))
		for (i = 0; i < n; i++)
			if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '\n')
				abort();
	free(s);
	return 0;
}
