/*
 * The store's schema as versioned migrations (store-int.h; docs/cloud.md
 * shows the tables). A migration is never edited once released: a change
 * is a new one. The version the store holds is in isthmus_schema; a store
 * newer than the last migration here is refused, never written.
 */
#include "cloud/store/store-int.h"

const struct store_migration store_migrations[] = {
	{ 1,
	    /* One row per edge ever admitted. tunnels counts its tunnels up
	     * now (a reload at the edge briefly holds two). */
	    "CREATE TABLE edges ("
	    " tenant TEXT NOT NULL,"
	    " edge TEXT NOT NULL,"
	    " first_seen BIGINT NOT NULL,"
	    " last_seen BIGINT NOT NULL,"
	    " peer TEXT NOT NULL DEFAULT '',"
	    " serial TEXT NOT NULL DEFAULT '',"
	    " not_after BIGINT NOT NULL DEFAULT 0,"
	    " version TEXT NOT NULL DEFAULT '',"
	    " tunnels INTEGER NOT NULL DEFAULT 0,"
	    " up_since BIGINT NOT NULL DEFAULT 0,"
	    " last_reason TEXT NOT NULL DEFAULT '',"
	    " PRIMARY KEY (tenant, edge));"
	    /* Its connects and disconnects, seq counting per edge; the
	     * oldest go past STORE_HISTORY_MAX. */
	    "CREATE TABLE edge_history ("
	    " tenant TEXT NOT NULL,"
	    " edge TEXT NOT NULL,"
	    " seq BIGINT NOT NULL,"
	    " at BIGINT NOT NULL,"
	    " up INTEGER NOT NULL,"
	    " peer TEXT NOT NULL DEFAULT '',"
	    " reason TEXT NOT NULL DEFAULT '',"
	    " PRIMARY KEY (tenant, edge, seq))" },
};

const size_t store_nmigrations =
    sizeof(store_migrations) / sizeof(store_migrations[0]);
