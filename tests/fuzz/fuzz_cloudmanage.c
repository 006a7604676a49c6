/*
 * The cloud's reading of an edge's management messages (cloud/manage/
 * msg.c, docs/protocol.md section 5): whatever a line holds, it is a valid
 * hello or result within the contract's limits, or refused; a result it
 * takes encodes back to JSON no longer than MANAGE_RESULT_MAX.
 */
#include "fuzz.h"

#include <string.h>

#include "cloud/manage/manage-int.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[128];
	struct mmsg m;

	if (size > MANAGE_MSG_MAX)
		return 0;
	if (mmsg_parse((const char *)data, size, &m, why, sizeof(why)) != 0) {
		if (why[0] == '\0')
			abort();	/* a refusal always says why */
		return 0;
	}
	if (m.hello) {
		if (strlen(m.version) > 31 || strlen(m.accepts) >=
		    sizeof(m.accepts))
			abort();
	} else if (strlen(m.id) == 0 || strlen(m.id) > MANAGE_ID_MAX ||
	    strspn(m.id, "0123456789abcdef") != strlen(m.id) ||
	    (unsigned)m.outcome >= MO_TIMEOUT ||
	    (m.result != NULL && strlen(m.result) > MANAGE_RESULT_MAX) ||
	    strlen(m.error) > MANAGE_ERROR_MAX) {
		abort();
	}
	mmsg_clear(&m);
	return 0;
}
