/* placeholder, replaced by the PostgreSQL backend */
#include "cloud/store/store-int.h"

#include <errno.h>

int
store_pg_open(struct event_base *base, const char *conninfo,
    struct store **out, struct err *e)
{
	(void)base;
	(void)conninfo;
	(void)out;
	return err_set(e, -ENOTSUP, "PostgreSQL is not built yet");
}
