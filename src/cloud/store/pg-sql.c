/*
 * The state store's statements on PostgreSQL (store-int.h): for each
 * operation of pg.c, the statements it sends in pipeline mode (they run
 * as one implicit transaction up to pg.c's sync), and the rows that come
 * back, taken into the job that asked. Parameters go as text, cast where
 * PostgreSQL could not infer their type. The statements with parameters
 * are prepared once a connection (pgsql_send_prepare), so a batch of
 * registry events is not parsed again for each one.
 */
#include "cloud/store/store-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/proto.h"

/* pg_advisory_xact_lock keys: migrating, adding an instruction (its
 * seq is MAX + 1 and its edge's bound is counted: one at a time across
 * replicas). */
#define LOCK_SCHEMA "7304001"
#define LOCK_ADD "7304002"

#define INSTR_COLS "seq, id, tenant, edge, kind, issuer, args, issued, " \
	"expires, sent, answer_by, done, state, result, error"

/* Every statement with parameters, prepared once a connection (by
 * name: "isthmus" and its index). */
enum stmt {
	S_EDGE_UP,
	S_EDGE_DOWN,
	S_EDGE_VERSION,
	S_HISTORY_ADD,
	S_HISTORY_TRIM,
	S_SENT,
	S_DONE,
	S_EDGES,
	S_HISTORY,
	S_ADD,
	S_EXPIRE_EDGE,
	S_WAITING,
	S_SWEEP_EXPIRE,
	S_SWEEP_TIMEOUT,
	S_WAITING_COUNT,
	S_AUDIT,
	S_READY_ADD,
	S_COUNT
};

static const char *const stmts[S_COUNT] = {
	[S_EDGE_UP] =
	    "INSERT INTO edges (tenant, edge, first_seen, "
	    "last_seen, peer, serial, not_after, version, tunnels, "
	    "up_since) VALUES ($1, $2, $3, $3, $4, $5, $6, $7, 1, $3) "
	    "ON CONFLICT (tenant, edge) DO UPDATE SET last_seen = $3, "
	    "peer = $4, serial = $5, not_after = $6, "
	    "version = CASE WHEN $7 = '' THEN edges.version ELSE $7 END, "
	    "up_since = CASE WHEN edges.tunnels = 0 THEN $3 ELSE "
	    "edges.up_since END, tunnels = edges.tunnels + 1",
	[S_EDGE_DOWN] =
	    "INSERT INTO edges (tenant, edge, first_seen, "
	    "last_seen, peer, last_reason) VALUES ($1, $2, $3, $3, $4, "
	    "$5) ON CONFLICT (tenant, edge) DO UPDATE SET "
	    "last_seen = $3, last_reason = $5, "
	    "tunnels = GREATEST(edges.tunnels - 1, 0), "
	    "up_since = CASE WHEN edges.tunnels <= 1 THEN 0 ELSE "
	    "edges.up_since END",
	[S_EDGE_VERSION] =
	    "UPDATE edges SET version = $3 WHERE tenant = $1 AND edge = $2",
	[S_HISTORY_ADD] =
	    "INSERT INTO edge_history (tenant, edge, seq, at, up, "
	    "peer, reason) SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, "
	    "$3::bigint, $4::integer, $5::text, $6::text FROM edge_history "
	    "WHERE tenant = $1 AND edge = $2",
	[S_HISTORY_TRIM] =
	    "DELETE FROM edge_history WHERE tenant = $1 AND "
	    "edge = $2 AND seq <= (SELECT MAX(seq) FROM edge_history WHERE "
	    "tenant = $1 AND edge = $2) - $3::bigint",
	[S_SENT] =
	    "UPDATE instructions SET state = 'sent', "
	    "sent = $2::bigint, answer_by = $3::bigint WHERE id = $1 "
	    "AND state = 'waiting'",
	[S_DONE] =
	    "UPDATE instructions SET state = $2::text, "
	    "result = $3::text, error = $4::text, done = $5::bigint "
	    "WHERE id = $1 AND state IN ('waiting', 'sent')",
	[S_EDGES] =
	    "SELECT tenant, edge, first_seen, last_seen, "
	    "peer, serial, not_after, version, tunnels, up_since, "
	    "last_reason FROM edges WHERE $1::boolean OR tenant = $2 "
	    "ORDER BY tenant COLLATE \"C\", edge COLLATE \"C\"",
	[S_HISTORY] =
	    "SELECT at, up, peer, reason FROM edge_history "
	    "WHERE tenant = $1 AND edge = $2 ORDER BY seq DESC",
	[S_ADD] =
	    "INSERT INTO instructions (seq, id, tenant, "
	    "edge, kind, issuer, args, issued, expires, state, error) "
	    "SELECT COALESCE(MAX(seq), 0) + 1, $1::text, $2::text, "
	    "$3::text, $4::text, $5::text, $6::text, $7::bigint, "
	    "$8::bigint, 'waiting', '' FROM instructions HAVING "
	    "(SELECT COUNT(*) FROM instructions WHERE tenant = $2 AND "
	    "edge = $3 AND state = 'waiting' AND expires > $7) < "
	    "$9::bigint RETURNING seq",
	[S_EXPIRE_EDGE] =
	    "UPDATE instructions SET state = 'expired', "
	    "done = $3::bigint, error = 'not delivered before it "
	    "expired' WHERE tenant = $1 AND edge = $2 AND "
	    "state = 'waiting' AND expires <= $3::bigint",
	[S_WAITING] =
	    "SELECT " INSTR_COLS " FROM "
	    "instructions WHERE tenant = $1 AND edge = $2 AND "
	    "state = 'waiting' ORDER BY seq",
	[S_SWEEP_EXPIRE] =
	    "UPDATE instructions SET state = 'expired', "
	    "done = $1::bigint, error = 'not delivered before it "
	    "expired' WHERE state = 'waiting' AND expires <= $1::bigint "
	    "RETURNING " INSTR_COLS,
	[S_SWEEP_TIMEOUT] =
	    "UPDATE instructions SET "
	    "state = 'timeout', done = $1::bigint, error = 'no result "
	    "by its answer deadline' WHERE state = 'sent' AND "
	    "answer_by <= $1::bigint RETURNING " INSTR_COLS,
	[S_WAITING_COUNT] =
	    "SELECT COUNT(*) FROM instructions WHERE state = 'waiting'",
	[S_AUDIT] =
	    "SELECT " INSTR_COLS " FROM instructions WHERE "
	    "($1::text = '' OR tenant = $1) AND ($2::text = '' OR "
	    "edge = $2) AND ($3::text = '' OR id = $3) AND "
	    "issued >= $4::bigint ORDER BY seq DESC LIMIT $5::bigint",
	[S_READY_ADD] =
	    "INSERT INTO readiness (id, tenant, edge, profile, issuer, at, "
	    "received, verdict, late, result) SELECT id, tenant, edge, "
	    "$4::text, issuer, $5::bigint, $6::bigint, $7::text, "
	    "$8::integer, $9::text FROM instructions WHERE id = $1 AND "
	    "tenant = $2 AND edge = $3 AND kind = '" MANAGE_K_READINESS "' "
	    "ON CONFLICT DO NOTHING",
};

/* Parameters of one statement, as text. */
struct params {
	const char *v[10];
	char num[10][24];
	int n;
};

static void
p_text(struct params *p, const char *v)
{
	p->v[p->n++] = v;
}

static void
p_int(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

/* A statement, parsed (and planned for its parameters) each time. */
static int
send_qp(PGconn *c, const char *sql, const struct params *p)
{
	return PQsendQueryParams(c, sql, p->n, NULL, p->v, NULL, NULL, 0) ?
	    0 : -EIO;
}

static int
send_q(PGconn *c, const char *sql)
{
	struct params p = { .n = 0 };

	return send_qp(c, sql, &p);
}

static void
stmt_name(enum stmt i, char *buf, size_t cap)
{
	snprintf(buf, cap, "isthmus%d", (int)i);
}

/* Statement i, prepared on this connection (pgsql_send_prepare). */
static int
send_s(PGconn *c, enum stmt i, const struct params *p)
{
	char name[16];

	stmt_name(i, name, sizeof(name));
	return PQsendQueryPrepared(c, name, p->n, p->v, NULL, NULL, 0) ? 0 :
	    -EIO;
}

int
pgsql_send_prepare(PGconn *c)
{
	char name[16];
	int i;

	for (i = 0; i < S_COUNT; i++) {
		stmt_name(i, name, sizeof(name));
		if (!PQsendPrepare(c, name, stmts[i], 0, NULL))
			return -EIO;
	}
	return 0;
}

/* --- Statements -------------------------------------------------- */

static int
send_event(PGconn *c, const struct store_edge_event *ev)
{
	struct params p = { .n = 0 };
	int rc;

	p_text(&p, ev->tenant);
	p_text(&p, ev->edge);
	if (ev->hello) {
		p_text(&p, ev->version != NULL ? ev->version : "");
		return send_s(c, S_EDGE_VERSION, &p);
	}
	p_int(&p, ev->at);
	p_text(&p, ev->peer != NULL ? ev->peer : "");
	if (ev->up) {
		p_text(&p, ev->serial != NULL ? ev->serial : "");
		p_int(&p, ev->not_after);
		p_text(&p, ev->version != NULL ? ev->version : "");
		rc = send_s(c, S_EDGE_UP, &p);
	} else {
		p_text(&p, ev->reason != NULL ? ev->reason : "");
		rc = send_s(c, S_EDGE_DOWN, &p);
	}
	if (rc != 0)
		return rc;
	p.n = 0;
	p_text(&p, ev->tenant);
	p_text(&p, ev->edge);
	p_int(&p, ev->at);
	p_int(&p, ev->up);
	p_text(&p, ev->peer != NULL ? ev->peer : "");
	p_text(&p, ev->reason != NULL ? ev->reason : "");
	/* seq is MAX + 1: two replicas writing the same edge's history at
	 * once (rare: an edge holds one tunnel, to one replica, but for a
	 * reload) collide on the key, and the loser's batch is tried again
	 * a second later. */
	if (send_s(c, S_HISTORY_ADD, &p) != 0)
		return -EIO;
	p.n = 0;
	p_text(&p, ev->tenant);
	p_text(&p, ev->edge);
	p_int(&p, STORE_HISTORY_MAX);
	return send_s(c, S_HISTORY_TRIM, &p);
}

/* A result: for a readiness instruction of that edge only, and once;
 * its issuer is the instruction's. */
static int
send_readiness(PGconn *c, const struct store_readiness *r)
{
	struct params p = { .n = 0 };

	p_text(&p, r->id);
	p_text(&p, r->tenant);
	p_text(&p, r->edge);
	p_text(&p, r->profile);
	p_int(&p, r->at);
	p_int(&p, r->received);
	p_text(&p, r->verdict);
	p_int(&p, r->late);
	p_text(&p, r->result);
	return send_s(c, S_READY_ADD, &p);
}

/* The newest rf.limit results, oldest first. The server counts their
 * results' bytes, newest first, and sends only those within
 * STORE_READINESS_BYTES_MAX (the others NULL), so neither libpq nor the
 * job holds more. The innermost query picks the rows without carrying
 * their results, so its sort never holds thousands of them. Not
 * prepared: the text names only the filters given, and is planned for
 * them (a report is rare, and the indexes matter more than a parse). */
static int
send_readiness_list(PGconn *c, const struct store_readiness_filter *f)
{
	struct params p = { .n = 0 };
	char tenant[32] = "", edge[32] = "", sql[1024];

	p_int(&p, f->since);
	p_int(&p, f->limit);
	p_int(&p, STORE_READINESS_BYTES_MAX);
	if (f->tenant[0] != '\0') {
		p_text(&p, f->tenant);
		snprintf(tenant, sizeof(tenant), " AND tenant = $%d", p.n);
	}
	if (f->edge[0] != '\0') {
		p_text(&p, f->edge);
		snprintf(edge, sizeof(edge), " AND edge = $%d", p.n);
	}
	snprintf(sql, sizeof(sql), "SELECT r.id, r.tenant, r.edge, "
	    "r.profile, r.issuer, r.at, r.received, r.verdict, r.late, "
	    "CASE WHEN n.total <= $3::bigint THEN r.result END FROM (SELECT "
	    "id, SUM(size) OVER (ORDER BY at DESC, id COLLATE \"C\" DESC "
	    "ROWS UNBOUNDED PRECEDING) AS total FROM (SELECT id, at, "
	    "OCTET_LENGTH(result) AS size FROM readiness WHERE "
	    "at >= $1::bigint%s%s ORDER BY at DESC, id COLLATE \"C\" DESC "
	    "LIMIT $2::bigint) AS newest) AS n JOIN readiness AS r ON "
	    "r.id = n.id ORDER BY r.at, r.id COLLATE \"C\"", tenant, edge);
	return send_qp(c, sql, &p);
}

int
pgsql_send_write(PGconn *c, const struct job *j)
{
	struct params p = { .n = 0 };

	if (j->kind == JOB_EVENT)
		return send_event(c, &j->ev);
	if (j->kind == JOB_READINESS)
		return send_readiness(c, &j->rd);
	p_text(&p, j->in.id);
	if (j->kind == JOB_SENT) {
		p_int(&p, j->at);
		p_int(&p, j->in.answer_by);
		return send_s(c, S_SENT, &p);
	}
	p_text(&p, j->in.state);
	p_text(&p, j->in.result);
	p_text(&p, j->in.error);
	p_int(&p, j->at);
	return send_s(c, S_DONE, &p);
}

int
pgsql_send_question(PGconn *c, const struct job *j)
{
	struct params p = { .n = 0 };
	int rc;

	switch (j->kind) {
	case JOB_EDGES:
		p_text(&p, j->all ? "true" : "false");
		p_text(&p, j->tenant);
		return send_s(c, S_EDGES, &p);
	case JOB_HISTORY:
		p_text(&p, j->tenant);
		p_text(&p, j->edge);
		return send_s(c, S_HISTORY, &p);
	case JOB_ADD:
		if (send_q(c, "SELECT pg_advisory_xact_lock(" LOCK_ADD ")") !=
		    0)
			return -EIO;
		p_text(&p, j->in.id);
		p_text(&p, j->in.tenant);
		p_text(&p, j->in.edge);
		p_text(&p, j->in.kind);
		p_text(&p, j->in.issuer);
		p_text(&p, j->in.args);
		p_int(&p, j->in.issued);
		p_int(&p, j->in.expires);
		p_int(&p, STORE_WAITING_MAX);
		return send_s(c, S_ADD, &p);
	case JOB_WAITING:
		p_text(&p, j->tenant);
		p_text(&p, j->edge);
		p_int(&p, j->now);
		rc = send_s(c, S_EXPIRE_EDGE, &p);
		p.n = 2;
		return rc != 0 ? rc : send_s(c, S_WAITING, &p);
	case JOB_SWEEP:
		p_int(&p, j->now);
		rc = send_s(c, S_SWEEP_EXPIRE, &p);
		if (rc == 0)
			rc = send_s(c, S_SWEEP_TIMEOUT, &p);
		p.n = 0;
		return rc != 0 ? rc : send_s(c, S_WAITING_COUNT, &p);
	case JOB_AUDIT:
		p_text(&p, j->f.tenant);
		p_text(&p, j->f.edge);
		p_text(&p, j->f.id);
		p_int(&p, j->f.since);
		p_int(&p, j->f.limit);
		return send_s(c, S_AUDIT, &p);
	case JOB_READINESS_LIST:
		return send_readiness_list(c, &j->rf);
	default:
		return -EINVAL;
	}
}

/* The schema's version, created empty if it is not there (a newer
 * database already has it: nothing is written to it). */
int
pgsql_send_schema(PGconn *c)
{
	if (send_q(c, "SELECT pg_advisory_xact_lock(" LOCK_SCHEMA ")") != 0 ||
	    send_q(c, "CREATE TABLE IF NOT EXISTS "
	    "isthmus_schema (version INTEGER NOT NULL)") != 0)
		return -EIO;
	return send_q(c, "SELECT COALESCE(MAX(version), 0) FROM "
	    "isthmus_schema");
}

/* The migrations past version v, in the pipeline's one transaction;
 * the first statement fails (division by zero) if another replica
 * migrated meanwhile, and the next connection checks again. */
int
pgsql_send_migrate(PGconn *c, int v)
{
	char sql[96], *text, *stmt, *next;
	size_t i;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT 1 / (COALESCE(MAX(version), 0) = "
	    "%d)::integer FROM isthmus_schema", v);
	if (send_q(c, "SELECT pg_advisory_xact_lock(" LOCK_SCHEMA ")") != 0 ||
	    send_q(c, sql) != 0)
		return -EIO;
	for (i = 0; i < store_nmigrations; i++) {
		if (store_migrations[i].version <= v)
			continue;
		if ((text = strdup(store_migrations[i].sql)) == NULL)
			return -ENOMEM;
		rc = 0;
		for (stmt = text; rc == 0 && stmt != NULL; stmt = next) {
			next = strchr(stmt, ';');
			if (next != NULL)
				*next++ = '\0';
			rc = send_q(c, stmt);
		}
		free(text);
		if (rc != 0)
			return rc;
	}
	snprintf(sql, sizeof(sql), "INSERT INTO isthmus_schema VALUES (%d)",
	    store_migrations[store_nmigrations - 1].version);
	if (send_q(c, "DELETE FROM isthmus_schema") != 0)
		return -EIO;
	return send_q(c, sql);
}

/* --- Results ------------------------------------------------------ */

static void
col(const PGresult *r, int row, int c, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", PQgetvalue(r, row, c));
}

static int64_t
num(const PGresult *r, int row, int c)
{
	return strtoll(PQgetvalue(r, row, c), NULL, 10);
}

static int
take_edges(struct job *j, const PGresult *r)
{
	struct store_edge *v;
	size_t cap = j->nrows;
	int i;

	for (i = 0; i < PQntuples(r); i++) {
		if (job_grow(j, &cap, sizeof(*v)) != 0)
			return -ENOMEM;
		v = (struct store_edge *)j->rows + j->nrows++;
		col(r, i, 0, v->tenant, sizeof(v->tenant));
		col(r, i, 1, v->edge, sizeof(v->edge));
		v->first_seen = num(r, i, 2);
		v->last_seen = num(r, i, 3);
		col(r, i, 4, v->peer, sizeof(v->peer));
		col(r, i, 5, v->serial, sizeof(v->serial));
		v->not_after = num(r, i, 6);
		col(r, i, 7, v->version, sizeof(v->version));
		v->up = num(r, i, 8) > 0;
		v->up_since = num(r, i, 9);
		col(r, i, 10, v->last_reason, sizeof(v->last_reason));
	}
	return 0;
}

static int
take_history(struct job *j, const PGresult *r)
{
	struct store_history *v;
	size_t cap = j->nrows;
	int i;

	for (i = 0; i < PQntuples(r); i++) {
		if (job_grow(j, &cap, sizeof(*v)) != 0)
			return -ENOMEM;
		v = (struct store_history *)j->rows + j->nrows++;
		v->at = num(r, i, 0);
		v->up = num(r, i, 1) != 0;
		col(r, i, 2, v->peer, sizeof(v->peer));
		col(r, i, 3, v->reason, sizeof(v->reason));
	}
	return 0;
}

static int
take_instrs(struct job *j, const PGresult *r)
{
	struct store_instruction *v;
	size_t cap = j->nrows;
	int i;

	for (i = 0; i < PQntuples(r); i++) {
		if (job_grow(j, &cap, sizeof(*v)) != 0)
			return -ENOMEM;
		v = (struct store_instruction *)j->rows + j->nrows++;
		v->seq = num(r, i, 0);
		col(r, i, 1, v->id, sizeof(v->id));
		col(r, i, 2, v->tenant, sizeof(v->tenant));
		col(r, i, 3, v->edge, sizeof(v->edge));
		col(r, i, 4, v->kind, sizeof(v->kind));
		col(r, i, 5, v->issuer, sizeof(v->issuer));
		v->args = strdup(PQgetvalue(r, i, 6));
		v->issued = num(r, i, 7);
		v->expires = num(r, i, 8);
		v->sent = num(r, i, 9);
		v->answer_by = num(r, i, 10);
		v->done = num(r, i, 11);
		col(r, i, 12, v->state, sizeof(v->state));
		if (!PQgetisnull(r, i, 13) &&
		    (v->result = strdup(PQgetvalue(r, i, 13))) == NULL)
			return -ENOMEM;
		col(r, i, 14, v->error, sizeof(v->error));
		if (v->args == NULL)
			return -ENOMEM;
	}
	return 0;
}

static int
take_results(struct job *j, const PGresult *r)
{
	struct store_readiness *v;
	size_t cap = j->nrows;
	int i;

	for (i = 0; i < PQntuples(r); i++) {
		if (job_grow(j, &cap, sizeof(*v)) != 0)
			return -ENOMEM;
		v = (struct store_readiness *)j->rows + j->nrows++;
		col(r, i, 0, v->id, sizeof(v->id));
		col(r, i, 1, v->tenant, sizeof(v->tenant));
		col(r, i, 2, v->edge, sizeof(v->edge));
		col(r, i, 3, v->profile, sizeof(v->profile));
		col(r, i, 4, v->issuer, sizeof(v->issuer));
		v->at = num(r, i, 5);
		v->received = num(r, i, 6);
		col(r, i, 7, v->verdict, sizeof(v->verdict));
		v->late = num(r, i, 8) != 0;
		if (!PQgetisnull(r, i, 9) &&
		    (v->result = strdup(PQgetvalue(r, i, 9))) == NULL)
			return -ENOMEM;
	}
	return 0;
}

int
pgsql_take(struct job *j, int qi, const PGresult *r)
{
	switch (j->kind) {
	case JOB_EDGES:
		return take_edges(j, r);
	case JOB_HISTORY:
		return take_history(j, r);
	case JOB_WAITING:
		return qi == 1 ? take_instrs(j, r) : 0;
	case JOB_SWEEP:
		if (qi == 2) {	/* the count after the two updates */
			j->waiting = PQntuples(r) == 1 ?
			    strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
			return 0;
		}
		return take_instrs(j, r);
	case JOB_AUDIT:
		return take_instrs(j, r);
	case JOB_READINESS_LIST:
		return take_results(j, r);
	default:
		return 0;
	}
}
