/* Atomic writes: all-or-nothing pairs, no overwrite without asking, no
 * temporary files left behind, modes as asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fsutil.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/isthmus-fs-XXXXXX");
	return mkdtemp(dir) == NULL;
}

static int
teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	(void)state;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
	return 0;
}

static int
count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static char *
path(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void
test_write_modes(void **state)
{
	struct stat sb;
	struct err e;
	char *data;
	size_t len;

	(void)state;
	assert_int_equal(fs_write_atomic(path("k"), "secret", 6, 0600, false,
	    &e), 0);
	assert_int_equal(stat(path("k"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(fs_write_atomic(path("c"), "public", 6, 0644, false,
	    &e), 0);
	assert_int_equal(stat(path("c"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(fs_read_file(path("c"), 100, &data, &len, &e), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "public");
	free(data);
	assert_int_equal(count_entries(), 2);
}

static void
test_no_overwrite(void **state)
{
	struct err e;
	char *data;

	(void)state;
	assert_int_equal(fs_write_atomic(path("f"), "one", 3, 0644, false,
	    &e), 0);
	assert_int_equal(fs_write_atomic(path("f"), "two", 3, 0644, false,
	    &e), -EEXIST);
	assert_non_null(strstr(e.msg, "already exists"));
	assert_int_equal(fs_read_file(path("f"), 100, &data, NULL, &e), 0);
	assert_string_equal(data, "one");
	free(data);
	assert_int_equal(fs_write_atomic(path("f"), "two", 3, 0644, true,
	    &e), 0);
	assert_int_equal(fs_read_file(path("f"), 100, &data, NULL, &e), 0);
	assert_string_equal(data, "two");
	free(data);
	assert_int_equal(count_entries(), 1);	/* no temporary files */
}

static void
test_pair_all_or_nothing(void **state)
{
	struct fs_pending p[2];
	struct err e;
	char *data;

	(void)state;
	/* the second target exists: the first must not appear either */
	assert_int_equal(fs_write_atomic(path("b.crt"), "old", 3, 0644, false,
	    &e), 0);
	assert_int_equal(fs_stage(&p[0], path("b.key"), "k", 1, 0600, &e), 0);
	assert_int_equal(fs_stage(&p[1], path("b.crt"), "c", 1, 0644, &e), 0);
	assert_int_equal(fs_commit(p, 2, false, &e), -EEXIST);
	assert_false(fs_exists(path("b.key")));
	assert_int_equal(fs_read_file(path("b.crt"), 100, &data, NULL, &e), 0);
	assert_string_equal(data, "old");
	free(data);
	assert_int_equal(count_entries(), 1);
}

static void
test_unwritable(void **state)
{
	struct err e;

	(void)state;
	assert_int_equal(fs_write_atomic(path("x"), "1", 1, 0644, false, &e),
	    0);
	/* a path through a regular file: ENOTDIR even for root */
	assert_int_equal(fs_write_atomic(path("x/y"), "1", 1, 0644, false,
	    &e), -ENOTDIR);
	assert_non_null(strstr(e.msg, "cannot write"));
	assert_int_equal(fs_mkdir_p(path("x/z"), 0700, &e), -ENOTDIR);
	assert_int_equal(fs_mkdir_p(path("d1/d2"), 0700, &e), 0);
	assert_int_equal(fs_mkdir_p(path("d1/d2"), 0700, &e), 0);
	rmdir(path("d1/d2"));
	assert_int_equal(fs_mkdir_p("", 0700, &e), -EINVAL);
}

static void
test_read_limits(void **state)
{
	struct err e;
	char *data;

	(void)state;
	assert_int_equal(fs_write_atomic(path("big"), "0123456789", 10, 0644,
	    false, &e), 0);
	assert_int_equal(fs_read_file(path("big"), 9, &data, NULL, &e),
	    -EFBIG);
	assert_int_equal(fs_read_file(dir, 9, &data, NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_int_equal(fs_read_file(path("nope"), 9, &data, NULL, &e),
	    -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_modes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_overwrite, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pair_all_or_nothing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unwritable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_limits, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
