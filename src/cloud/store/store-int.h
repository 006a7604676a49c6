/*
 * What the store's files share (private to src/cloud/store/): the
 * schema's migrations, in order, each taking the store from the version
 * before it to its own.
 */
#ifndef ISTHMUS_CLOUD_STORE_INT_H
#define ISTHMUS_CLOUD_STORE_INT_H

#include <stddef.h>

struct store_migration {
	int version;
	const char *sql;	/* statements separated by ';' */
};

/* The migrations, version 1 first; the last one's version is the
 * schema this isthmus writes. */
extern const struct store_migration store_migrations[];
extern const size_t store_nmigrations;

#endif
