/* The management channel's words (managewords.h). */
#include "common/managewords.h"

#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

static const char *const kind_names[MK_COUNT] = {
	[MK_STATUS] = MANAGE_K_STATUS,
	[MK_DOCTOR] = MANAGE_K_DOCTOR,
	[MK_PURGE_CACHE] = MANAGE_K_PURGE_CACHE,
	[MK_PREFETCH] = MANAGE_K_PREFETCH,
	[MK_RELOAD] = MANAGE_K_RELOAD,
	[MK_LOGS] = MANAGE_K_LOGS,
	[MK_READINESS] = MANAGE_K_READINESS,
	[MK_TRUST] = MANAGE_K_TRUST,
	[MK_QUEUE] = MANAGE_K_QUEUE,
	[MK_UNKNOWN] = "unknown",
};

static const char *const outcome_names[MO_COUNT] = {
	[MO_OK] = MANAGE_O_OK,
	[MO_ERROR] = MANAGE_O_ERROR,
	[MO_REFUSED] = MANAGE_O_REFUSED,
	[MO_EXPIRED] = MANAGE_O_EXPIRED,
	[MO_TIMEOUT] = MANAGE_O_TIMEOUT,
};

const char *
manage_kind_name(enum manage_kind k)
{
	return (unsigned)k < MK_COUNT ? kind_names[k] : "?";
}

enum manage_kind
manage_kind_parse(const char *name)
{
	int k;

	for (k = 0; k < MK_UNKNOWN; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return (enum manage_kind)k;
	return MK_UNKNOWN;
}

const char *
manage_outcome_name(enum manage_outcome o)
{
	return (unsigned)o < MO_COUNT ? outcome_names[o] : "?";
}

int
manage_outcome_parse(const char *name)
{
	int o;

	for (o = 0; o < MO_COUNT; o++)
		if (strcmp(name, outcome_names[o]) == 0)
			return o;
	return -1;
}

char *
manage_json_line(json_t *o, size_t *len)
{
	char *s, *line;
	size_t n;

	if (o == NULL)
		return NULL;
	s = json_dumps(o, MANAGE_JSON_FLAGS);
	json_decref(o);
	if (s == NULL)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);	/* jansson allocates with malloc */
	if (line == NULL) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}
