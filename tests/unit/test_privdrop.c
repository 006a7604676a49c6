/* What a daemon started as root does about `user` (privdrop.h): the
 * plan for each case, and a directory made for the user it becomes.
 * privdrop_apply itself ends root for the whole process: the system test
 * (test_privdrop.py) runs it in real daemons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/privdrop.h"

static void
test_root_needs_a_user(void **state)
{
	struct privdrop p;
	struct err e;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(privdrop_plan(NULL, "edge", "edge", &p, &e), -EPERM);
	assert_non_null(strstr(e.msg, "started as root without a user to "
	    "become: set user = NAME in [edge]"));
	assert_false(p.drop);
}

static void
test_root_becomes_the_user_named(void **state)
{
	struct passwd *nobody = getpwnam("nobody");
	struct privdrop p;
	struct err e;

	(void)state;
	if (geteuid() != 0 || nobody == NULL)
		skip();
	assert_int_equal(privdrop_plan("nobody", "cloud", "cloud", &p, &e), 0);
	assert_true(p.drop);
	assert_false(p.stays_root);
	assert_int_equal(p.uid, nobody->pw_uid);
	assert_int_equal(p.gid, nobody->pw_gid);
	assert_string_equal(p.name, "nobody");
	/* root, said: no drop, and logged by the daemon */
	assert_int_equal(privdrop_plan("root", "cloud", "cloud", &p, &e), 0);
	assert_false(p.drop);
	assert_true(p.stays_root);
}

static void
test_unknown_user(void **state)
{
	struct privdrop p;
	struct err e;

	(void)state;
	assert_int_equal(privdrop_known("no-such-isthmus-user", &e), -ENOENT);
	assert_non_null(strstr(e.msg, "user 'no-such-isthmus-user': no such "
	    "user on this system"));
	if (geteuid() == 0)
		assert_int_not_equal(privdrop_plan("no-such-isthmus-user",
		    "edge", "edge", &p, &e), 0);
}

static void
test_another_user_cannot_become_someone_else(void **state)
{
	struct passwd *me = getpwuid(geteuid());
	struct privdrop p;
	struct err e;

	(void)state;
	if (geteuid() == 0)
		skip();
	assert_int_equal(privdrop_plan(NULL, "edge", "edge", &p, &e), 0);
	assert_false(p.drop);
	assert_int_equal(privdrop_plan(me->pw_name, "edge", "edge", &p, &e),
	    0);
	assert_int_equal(privdrop_plan("root", "edge", "edge", &p, &e),
	    -EPERM);
	assert_non_null(strstr(e.msg, "cannot become user root"));
}

/* A missing directory is made 0700 and given to the user; one that
 * exists is left as it is. */
static void
test_own_dir(void **state)
{
	char base[64], dir[128];
	struct privdrop p;
	struct stat st;
	struct err e;

	(void)state;
	if (geteuid() != 0 || getpwnam("nobody") == NULL)
		skip();
	assert_int_equal(privdrop_plan("nobody", "edge", "edge", &p, &e), 0);
	snprintf(base, sizeof(base), "/tmp/isthmus-pd-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/a/state", base);
	assert_int_equal(privdrop_own_dir(&p, dir, &e), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_uid, p.uid);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(base, &st), 0);
	assert_int_equal(st.st_uid, 0);		/* not made: left as it is */
	assert_int_equal(privdrop_own_dir(&p, base, &e), 0);
	assert_int_equal(stat(base, &st), 0);
	assert_int_equal(st.st_uid, 0);
	rmdir(dir);
	snprintf(dir, sizeof(dir), "%s/a", base);
	rmdir(dir);
	rmdir(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_needs_a_user),
		cmocka_unit_test(test_root_becomes_the_user_named),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_another_user_cannot_become_someone_else),
		cmocka_unit_test(test_own_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
