#include "fuzz.h"

#include <fcntl.h>
#include <unistd.h>

static char dir[256];

static void
fuzz_rmdir(void)
{
	char cmd[300];

	/* Only our own mkdtemp directory; a harness never leaves files. */
	if (dir[0] != '\0' && snprintf(cmd, sizeof(cmd), "rm -rf '%s'",
	    dir) < (int)sizeof(cmd) && system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", dir);
}

const char *
fuzz_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (dir[0] != '\0')
		return dir;
	snprintf(dir, sizeof(dir), "%s/isthmus-fuzz.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(fuzz_rmdir);
	return dir;
}

const char *
fuzz_write(const char *name, const uint8_t *data, size_t size)
{
	static char path[512];
	size_t off = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("fuzz: open");
		abort();
	}
	while (off < size) {
		n = write(fd, data + off, size - off);
		if (n <= 0) {
			perror("fuzz: write");
			abort();
		}
		off += (size_t)n;
	}
	close(fd);
	return path;
}
