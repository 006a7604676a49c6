/*
 * The store's schema as versioned migrations (store-int.h; docs/cloud.md
 * shows the tables). A migration is never edited once released: a change
 * is a new one. The version the store holds is in isthmus_schema; a store
 * newer than the last migration here is refused, never written.
 *
 * One text for both backends, SQLite and PostgreSQL: plain types (TEXT,
 * BIGINT, INTEGER), no AUTOINCREMENT/SERIAL, no dialect's functions. A
 * number the store assigns (a seq) is MAX(seq) + 1 in the inserting
 * transaction.
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
	{ 2,
	    /* Instructions for edges, and so the audit log: one row each,
	     * from when it is issued to its one outcome. seq is the
	     * store's order (MAX + 1 when added, under a lock on
	     * PostgreSQL); id is the wire's (common/proto.h). state:
	     * waiting, sent, or an outcome (MANAGE_O_*). */
	    "CREATE TABLE instructions ("
	    " seq BIGINT NOT NULL PRIMARY KEY,"
	    " id TEXT NOT NULL UNIQUE,"
	    " tenant TEXT NOT NULL,"
	    " edge TEXT NOT NULL,"
	    " kind TEXT NOT NULL,"
	    " issuer TEXT NOT NULL DEFAULT '',"
	    " args TEXT NOT NULL DEFAULT '[]',"
	    " issued BIGINT NOT NULL,"
	    " expires BIGINT NOT NULL,"
	    " sent BIGINT NOT NULL DEFAULT 0,"
	    " answer_by BIGINT NOT NULL DEFAULT 0,"
	    " done BIGINT NOT NULL DEFAULT 0,"
	    " state TEXT NOT NULL,"
	    " result TEXT,"
	    " error TEXT NOT NULL DEFAULT '');"
	    /* an edge's waiting ones (its stream opens, the bound) */
	    "CREATE INDEX instructions_edge_state ON instructions "
	    "(tenant, edge, state);"
	    /* the audit log by time */
	    "CREATE INDEX instructions_issued ON instructions (issued);"
	    /* the sweep: the few waiting or sent among many done */
	    "CREATE INDEX instructions_state ON instructions (state)" },
	{ 3,
	    /* Readiness results (docs/readiness.md), one row per test: id
	     * is its instruction's, so an edge's second delivery of a kept
	     * result adds nothing; issuer is copied from that row. at is
	     * the test's start, received when the cloud stored it (Unix
	     * seconds); late 1 for a result kept at the edge and sent on a
	     * later stream; result the JSON document. */
	    "CREATE TABLE readiness ("
	    " id TEXT NOT NULL PRIMARY KEY,"
	    " tenant TEXT NOT NULL,"
	    " edge TEXT NOT NULL,"
	    " profile TEXT NOT NULL DEFAULT '',"
	    " issuer TEXT NOT NULL DEFAULT '',"
	    " at BIGINT NOT NULL,"
	    " received BIGINT NOT NULL,"
	    " verdict TEXT NOT NULL DEFAULT '',"
	    " late INTEGER NOT NULL DEFAULT 0,"
	    " result TEXT NOT NULL);"
	    /* the report for an edge, newest first */
	    "CREATE INDEX readiness_edge_at ON readiness (tenant, edge, at);"
	    /* for a tenant's edges */
	    "CREATE INDEX readiness_tenant_at ON readiness (tenant, at);"
	    /* the report for the whole fleet by time */
	    "CREATE INDEX readiness_at ON readiness (at)" },
};

const size_t store_nmigrations =
    sizeof(store_migrations) / sizeof(store_migrations[0]);
