/* The last log lines in memory (logring.h): a byte ring of whole lines,
 * each ended by '\n', under one mutex. */
#include "common/logring.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t ring_mu = PTHREAD_MUTEX_INITIALIZER;
static char *ring;
static size_t ring_cap, ring_head, ring_used;	/* head: the oldest byte */

int
logring_enable(size_t bytes)
{
	char *nr = NULL;

	if (bytes > 0 && (nr = malloc(bytes)) == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&ring_mu);
	free(ring);
	ring = nr;
	ring_cap = bytes;
	ring_head = ring_used = 0;
	pthread_mutex_unlock(&ring_mu);
	return 0;
}

/* Drops the oldest line; called with the lock held and ring_used > 0. */
static void
drop_oldest(void)
{
	while (ring_used > 0) {
		char c = ring[ring_head];

		ring_head = (ring_head + 1) % ring_cap;
		ring_used--;
		if (c == '\n')
			return;
	}
}

void
logring_add(const char *line, size_t len)
{
	size_t tail, first;

	if (len == 0)
		return;
	pthread_mutex_lock(&ring_mu);
	if (ring == NULL || len > ring_cap) {
		pthread_mutex_unlock(&ring_mu);
		return;
	}
	while (ring_cap - ring_used < len)
		drop_oldest();
	tail = (ring_head + ring_used) % ring_cap;
	first = ring_cap - tail < len ? ring_cap - tail : len;
	memcpy(ring + tail, line, first);
	memcpy(ring, line + first, len - first);
	ring_used += len;
	pthread_mutex_unlock(&ring_mu);
}

long
logring_tail(size_t max, char **out, size_t *len)
{
	size_t start, n = 0, i, first;
	long lines = 0;

	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&ring_mu);
	/* Back from the newest byte, counting line ends: the (max+1)th one
	 * from the end closes the line before the ones we want. */
	for (i = ring_used; i > 0 && max > 0; i--) {
		char c = ring[(ring_head + i - 1) % ring_cap];

		if (c == '\n' && i != ring_used) {
			if ((size_t)lines + 1 == max)
				break;
			lines++;
		}
		n++;
	}
	if (n > 0) {
		lines++;
		if ((*out = malloc(n)) == NULL) {
			pthread_mutex_unlock(&ring_mu);
			return -ENOMEM;
		}
		start = (ring_head + ring_used - n) % ring_cap;
		first = ring_cap - start < n ? ring_cap - start : n;
		memcpy(*out, ring + start, first);
		memcpy(*out + first, ring, n - first);
		*len = n;
	}
	pthread_mutex_unlock(&ring_mu);
	return n > 0 ? lines : 0;
}
