/*
 * The management channel's instructions as the edge reads them
 * (edge/manage/msg.c): any bytes as one line from the cloud. What is
 * accepted must keep the limits of common/proto.h, and the edge's result
 * for it must be one line of JSON that names the same id.
 */
#include "fuzz.h"

#include <jansson.h>

#include "edge/manage/msg.h"

static void
check(const struct manage_instr *in)
{
	enum manage_outcome o;
	json_error_t je;
	json_t *back;
	size_t i, len;
	char *line;

	if (strlen(in->id) == 0 || strlen(in->id) > MANAGE_ID_MAX ||
	    strspn(in->id, "0123456789abcdef") != strlen(in->id) ||
	    strlen(in->kind) == 0 || in->nargs > MANAGE_ARGS_MAX)
		abort();
	for (i = 0; i < in->nargs; i++)
		if (strlen(in->args[i]) > MANAGE_ARG_MAX)
			abort();
	line = manage_msg_result(in->id, MO_ERROR, NULL, in->kind, &o, &len);
	if (line == NULL)
		return;
	if (len == 0 || line[len - 1] != '\n' ||
	    memchr(line, '\n', len - 1) != NULL)
		abort();
	back = json_loadb(line, len - 1, 0, &je);
	if (back == NULL || strcmp(json_string_value(json_object_get(back,
	    "id")), in->id) != 0)
		abort();
	json_decref(back);
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manage_msg m;
	struct err e;

	fuzz_quiet();
	if (manage_msg_parse((const char *)data, size, &m, &e) == 0 &&
	    m.type == MM_INSTRUCTION) {
		check(&m.in);
		manage_instr_clear(&m.in);
	}
	return 0;
}
