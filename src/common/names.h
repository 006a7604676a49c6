/*
 * Names of edges, tenants, services and CAs. They appear in certificates,
 * URIs, config section headers, log lines and metric labels, so they are
 * restricted to a charset that is safe in all of them.
 */
#ifndef ISTHMUS_NAMES_H
#define ISTHMUS_NAMES_H

#include <stdbool.h>

#define NAME_MAX_LEN 63

/* [A-Za-z0-9][A-Za-z0-9._-]{0,62} */
bool name_valid(const char *s);
/* Free text for human-facing fields (a CA's common name, a vendor):
 * printable ASCII, 1 to 64 characters, no leading or trailing blank. */
bool label_valid(const char *s);

#endif
