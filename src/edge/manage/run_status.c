/* status: the edge's status document, as `isthmus status --json`. */
#include "edge/manage/manage-int.h"

#include <stdio.h>
#include <stdlib.h>

void
run_status(struct manage_job *j)
{
	char *text = NULL;
	size_t len = 0;
	json_error_t je;
	json_t *doc;
	FILE *f;

	if (j->in.nargs > 0) {
		mjob_fail(j, "status takes no arguments");
		return;
	}
	if ((f = open_memstream(&text, &len)) == NULL) {
		mjob_fail(j, "out of memory");
		return;
	}
	j->env->ops->status(j->env->e, f);
	if (fclose(f) != 0) {
		free(text);
		mjob_fail(j, "out of memory");
		return;
	}
	doc = json_loadb(text, len, 0, &je);
	free(text);
	if (doc == NULL) {
		mjob_fail(j, "the status document is not JSON: %s", je.text);
		return;
	}
	mjob_answer(j, MO_OK, doc, NULL);
}
