/*
 * The management channel's messages as the edge reads and writes them
 * (msg.c; docs/protocol.md, 5 and 6): an instruction or a readiness
 * schedule from the cloud, checked field by field against the limits of
 * common/proto.h, and the edge's hello, results and kept results, each
 * one line ended by '\n'.
 */
#ifndef ISTHMUS_EDGE_MANAGE_MSG_H
#define ISTHMUS_EDGE_MANAGE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "common/names.h"
#include "common/proto.h"
#include "edge/manage/policy.h"

struct manage_instr {
	char id[MANAGE_ID_MAX + 1];
	char kind[MANAGE_KIND_MAX + 1];
	char issuer[MANAGE_ISSUER_MAX + 1];	/* "-" when not given */
	char *args[MANAGE_ARGS_MAX];
	size_t nargs;
	int64_t issued, deadline;		/* 0 when not given */
	json_t *params;		/* an object (readiness), or NULL; owned */
};

/* The cloud's readiness schedule for this edge (docs/protocol.md, 6). */
struct manage_schedule {
	bool set;			/* false: "readiness": null */
	char profile[NAME_MAX_LEN + 1];
	int64_t every;			/* seconds */
	int64_t next;			/* Unix seconds */
};

enum manage_msg_type {
	MM_INSTRUCTION,
	MM_SCHEDULE,
};

struct manage_msg {
	enum manage_msg_type type;
	struct manage_instr in;		/* MM_INSTRUCTION */
	struct manage_schedule sched;	/* MM_SCHEDULE */
};

/*
 * One line from the cloud (without its '\n') as an instruction or a
 * schedule: 0, or -EPROTO with the sentence in e when it is malformed:
 * not a JSON object, another "v", a "type" the cloud does not send, a
 * field of the wrong type or over its limit ("params" not an object or
 * over MANAGE_PARAMS_MAX encoded). An unknown kind is not malformed (it
 * is answered "error"). Fields the edge does not know are ignored.
 * -ENOMEM when out of memory. An instruction's args and params are
 * out's: manage_instr_clear.
 */
int manage_msg_parse(const char *line, size_t len, struct manage_msg *out,
    struct err *e);
void manage_instr_clear(struct manage_instr *in);

/* The hello line: version and the kinds of policy p. Returns a malloc'ed
 * line ending with '\n' (its length in *len), or NULL. */
char *manage_msg_hello(const char *version, manage_policy p, size_t *len);

/*
 * A result line for id: result (any JSON value, or NULL; its reference
 * is taken) for outcome ok, error (or NULL) otherwise. A result over
 * MANAGE_RESULT_MAX encoded becomes outcome error "result too large"; an
 * error is cut to fit MANAGE_ERROR_MAX. *final says the outcome sent.
 * Returns a malloc'ed line ending with '\n' (its length in *len), or
 * NULL when out of memory.
 */
char *manage_msg_result(const char *id, enum manage_outcome o,
    json_t *result, const char *error, enum manage_outcome *final,
    size_t *len);

/* A kept line for id (docs/protocol.md, 6): result (its reference is
 * taken). Returns a malloc'ed line ending with '\n' (its length in
 * *len), or NULL when out of memory or the result is over
 * MANAGE_RESULT_MAX encoded. */
char *manage_msg_kept(const char *id, json_t *result, size_t *len);

#endif
