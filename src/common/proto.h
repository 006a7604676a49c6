/*
 * The wire contract between an edge and the cloud, in one place: what a
 * second implementation of either side must say and expect. Everything
 * here is visible on the wire or in a certificate, so a change is a
 * protocol change (ALPN "isthmus/1" names this version of it).
 * docs/protocol.md describes the same contract in prose, with the order
 * of events; keep the two together.
 *
 * Layers, outermost first:
 *   TCP   the edge connects out (directly or through the site's proxy);
 *   TLS   1.3 only, both sides present certificates, ALPN PROTO_ALPN;
 *   HTTP/2 (RFC 9113), the edge the client: only it opens streams;
 *   per stream: a CONNECT to a service (TCP mode), an HTTP request to a
 *         service (HTTP mode), a GET to DIAG_AUTHORITY, or the one
 *         management stream (MANAGE_PATH at DIAG_AUTHORITY).
 */
#ifndef ISTHMUS_PROTO_H
#define ISTHMUS_PROTO_H

/* --- TLS ------------------------------------------------------------ */

/* The ALPN protocol id of the tunnel; a peer that does not select it is
 * not an isthmus cloud (or edge), whatever its certificate says. */
#define TUNNEL_ALPN "isthmus/1"
/* TLS 1.3 suites and key-exchange groups the tunnel offers and takes;
 * nothing older than TLS 1.3 is ever negotiated. */
#define TUNNEL_CIPHERSUITES \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TUNNEL_GROUPS "X25519"

/* --- Identities in certificates (docs/pki.md) ------------------------ */

/* An edge's SAN URI: "isthmus://<tenant>/edge/<name>". */
#define IDENTITY_EDGE_PREFIX "isthmus://"
#define IDENTITY_EDGE_PATH "/edge/"
/* A device's SAN URI (RFC 9039): "urn:dev:mac:<12 lowercase hex>". */
#define IDENTITY_MAC_PREFIX "urn:dev:mac:"

/* --- Request fields the edge sends ----------------------------------- */

/* Every field whose name starts so belongs to the tunnel: neither gateway
 * passes one on to a device or a backend, and one a device sends is
 * dropped. */
#define HTTP_TUNNEL_PREFIX "isthmus-"
/* The device's address, "ip:port" ("[v6]:port"), on every stream: the
 * cloud logs it, hashes on it (balance = hash) and puts it in PROXY. */
#define RELAY_DEVICE_HEADER "isthmus-device"
/* HTTP mode: the device's own Host field (:authority is the service). */
#define HTTP_HOST_HEADER "isthmus-host"
/* HTTP mode: the MAC from the device's certificate (device TLS), as
 * aa:bb:cc:dd:ee:ff; absent when the device presented none. */
#define HTTP_MAC_HEADER "isthmus-device-mac"

/* HTTP mode, a collector's delivery (docs/trust.md, "Collectors"): an
 * answer the edge got from a device's HTTPS API, POSTed to the
 * collector's service with what it came from. isthmus-device is the
 * device's address as the edge connected to it. */
#define HTTP_COLLECTOR_FIELD "isthmus-collector"		/* its name */
#define HTTP_COLLECTOR_URL "isthmus-collector-url"	/* what it polled */
/* sha256:HEX of the device's certificate, as the trust store names it */
#define HTTP_COLLECTOR_FP "isthmus-collector-fingerprint"
#define HTTP_COLLECTOR_STATUS "isthmus-collector-status"	/* device's */
/* when the device's answer was complete, 2026-12-04T19:43:04.123Z */
#define HTTP_COLLECTOR_TIME "isthmus-collector-time"

/* HTTP mode, store and forward (docs/queue.md): a request the edge
 * queued and sends again carries the time it was accepted from the
 * device, 2026-12-04T19:43:04.123Z (UTC, milliseconds); the cloud gives
 * it to the backend as HTTP_ID_ACCEPTED. A request of a store-and-forward
 * service also carries HTTP_IDEMPOTENCY_KEY, on its first attempt and on
 * every replay (the device's own, when it sent one). */
#define HTTP_ACCEPTED_FIELD "isthmus-accepted"
/* draft-ietf-httpapi-idempotency-key-header: a Structured Field string,
 * "8e03978e-40d5-43e8-bc93-6894a57f9324" with its quotes; passed to the
 * backend as it is. */
#define HTTP_IDEMPOTENCY_KEY "idempotency-key"

/* --- Response fields the cloud sends --------------------------------- */

/* The cloud refused the stream itself (not a backend's answer); the
 * value is one of the PROTO_REFUSED_* labels below. */
#define HTTP_REFUSED_FIELD "isthmus-refused"
/* HTTP mode: the service is confidential; the edge stores nothing of the
 * response (the firmware cache never keeps it). */
#define HTTP_CONFIDENTIAL_FIELD "isthmus-confidential"
/* HTTP mode: the service's store_forward ("on" or "always"), on every
 * backend answer of a service that sets it; an edge listener with
 * store_forward = service follows it (docs/queue.md). */
#define HTTP_STORE_FORWARD_FIELD "isthmus-store-forward"

/* Values of HTTP_REFUSED_FIELD, with the status they come with. They are
 * also the reason labels of the refusal metrics at both ends. */
#define PROTO_REFUSED_UNKNOWN_SERVICE "unknown_service"	/* 403 */
#define PROTO_REFUSED_NO_BACKEND "no_backend"		/* 503 */
#define PROTO_REFUSED_BAD_REQUEST "bad_request"	/* 400, 405, 431 */
#define PROTO_REFUSED_INTERNAL "internal"		/* 503 */
/* The tenant's max_streams are open: RST_STREAM(REFUSED_STREAM), no
 * response, so the field is never sent with this label; metrics only. */
#define PROTO_REFUSED_TENANT_STREAMS "tenant_streams"

/* --- Identity fields the cloud gives a backend (HTTP mode) ----------- */

/* Set by the cloud from what it verified, never from the device:
 * docs/cloud.md. A device's own copies are dropped at the edge. */
#define HTTP_ID_TENANT "x-isthmus-tenant"
#define HTTP_ID_EDGE "x-isthmus-edge"
#define HTTP_ID_MAC "x-isthmus-device-mac"
/* A replayed request's HTTP_ACCEPTED_FIELD, whatever identity_headers. */
#define HTTP_ID_ACCEPTED "x-isthmus-accepted"
/* A collector's fields as the backend gets them, whatever the service's
 * identity_headers: each HTTP_COLLECTOR_* with "x-" before it. */
#define HTTP_ID_COLLECTOR_PREFIX "x-"

/* --- Diagnostics (isthmus doctor) ------------------------------------ */

/* The authority of the cloud's own diagnostic answers: a name no service
 * can have (a name never starts with '.'). GET only. */
#define DIAG_AUTHORITY ".isthmus"
/* GET /whoami: who the cloud admitted, from where, and its clock. */
#define DIAG_PATH_WHOAMI "/whoami"
/* GET /service/NAME?mode=tcp|http: NAME is a service of the edge's
 * tenant in that mode, and one of its backends accepts a connection. */
#define DIAG_PATH_SERVICE "/service/"

/* /whoami's answer fields. */
#define DIAG_FIELD_EDGE "isthmus-edge"		/* the edge's name */
#define DIAG_FIELD_TENANT "isthmus-tenant"
#define DIAG_FIELD_SEEN_FROM "isthmus-seen-from"	/* ip:port */
#define DIAG_FIELD_VERSION "isthmus-cloud-version"
#define DIAG_FIELD_TIME "isthmus-time"		/* Unix seconds */
/* /service/NAME's answer fields. */
#define DIAG_FIELD_BACKEND "isthmus-backend"	/* the one that answered */
#define DIAG_FIELD_HEALTHY "isthmus-healthy"	/* "healthy/total" */
#define DIAG_FIELD_CONNECT_MS "isthmus-connect-ms"

/* --- The management channel (docs/protocol.md, section 5) ------------ */

/* Right after admission the edge opens one long-lived stream:
 * POST MANAGE_PATH at DIAG_AUTHORITY, a body that never ends, and the
 * cloud answers 200 with a body that never ends. Each body is a sequence
 * of messages, one JSON object (RFC 8259, UTF-8) per line, each line at
 * most MANAGE_MSG_MAX bytes with its '\n'. The cloud writes instructions,
 * the edge writes its hello and results. A second management stream on
 * one tunnel is answered 409 and ended. */
#define MANAGE_PATH "/manage"
#define MANAGE_CONTENT_TYPE "application/x-ndjson"
#define MANAGE_MSG_MAX (256u * 1024)
/* The "v" of every message; a message of another version is malformed. */
#define MANAGE_VERSION 1

/* Message "type"s. */
#define MANAGE_T_HELLO "hello"		/* edge, first: version, accepts */
#define MANAGE_T_INSTRUCTION "instruction"	/* cloud */
#define MANAGE_T_RESULT "result"	/* edge: one per instruction */
/* cloud, after the hello and on each change: this edge's readiness
 * schedule, {"readiness": {"profile", "every", "next"}} or null */
#define MANAGE_T_SCHEDULE "schedule"
/* edge: a readiness result that could not be sent on the stream its
 * instruction came on, sent on a later one: {"id", "result"} */
#define MANAGE_T_KEPT "kept"

/* An instruction's fields, and their limits. */
#define MANAGE_ID_MAX 32		/* lowercase hex */
#define MANAGE_KIND_MAX 32
#define MANAGE_ISSUER_MAX 64
#define MANAGE_ARGS_MAX 8		/* strings in "args" */
#define MANAGE_ARG_MAX 2048		/* bytes of one */
/* A result's "result" (any JSON value), encoded, at most; an edge whose
 * answer is longer says so in "error" with outcome "error", or (logs)
 * sends what fits and "truncated": true. */
#define MANAGE_RESULT_MAX (192u * 1024)
#define MANAGE_ERROR_MAX 512
/* An instruction's "params" (an object: kinds that need more than
 * strings, readiness), encoded, at most. */
#define MANAGE_PARAMS_MAX (16u * 1024)

/* Instruction kinds. */
#define MANAGE_K_STATUS "status"
#define MANAGE_K_DOCTOR "doctor"
#define MANAGE_K_PURGE_CACHE "purge-cache"
#define MANAGE_K_PREFETCH "prefetch"
#define MANAGE_K_RELOAD "reload"
#define MANAGE_K_LOGS "logs"
#define MANAGE_K_READINESS "readiness"	/* section 6 */
/* The edge's trust store (docs/trust.md): args "list" ["pending"],
 * "show" ID, "approve" ID "sha256:HEX", "reject" ID, "forget" ID. */
#define MANAGE_K_TRUST "trust"
/* The edge's store-and-forward queue (docs/queue.md): args "list"
 * ["dead"], "show" ID, "retry" ID|"dead", "drop" ID|"dead". */
#define MANAGE_K_QUEUE "queue"

/* Outcomes: the edge answers the first four; the cloud decides the
 * last two (no answer by the answer deadline; never delivered before the
 * instruction's expiry). */
#define MANAGE_O_OK "ok"
#define MANAGE_O_ERROR "error"
#define MANAGE_O_REFUSED "refused"	/* the site's `manage` policy */
#define MANAGE_O_EXPIRED "expired"
#define MANAGE_O_TIMEOUT "timeout"

/* --- Readiness tests (docs/protocol.md, section 6) -------------------- */

/* Throughput: streams at DIAG_AUTHORITY on the edge's tunnel, for the test
 * the instruction id names (READY_FIELD_TEST), of exactly READY_FIELD_BYTES
 * body bytes: GET READY_PATH_DOWN (the cloud sends them), POST
 * READY_PATH_UP (the edge sends them; the cloud answers once the body
 * ended, with what it counted: READY_FIELD_BYTES, READY_FIELD_USEC from
 * the first body byte to the last). Refused: 404 no such test (or over,
 * or another edge's), 413 over what the test may still move, 400 a bad
 * field, 409 a direction already run. */
#define READY_PATH_DOWN "/readiness/down"
#define READY_PATH_UP "/readiness/up"
#define READY_FIELD_TEST "isthmus-test"
#define READY_FIELD_BYTES "isthmus-bytes"
#define READY_FIELD_USEC "isthmus-usec"

/* UDP probes (the profile's udp = on) to the cloud's readiness_udp port;
 * every number in network byte order. The cloud answers a probe with an
 * echo of the same length, and nothing else: not a probe whose test is
 * unknown or over, whose MAC is wrong, whose seq was seen or is past the
 * test's count. */
#define READY_UDP_MAGIC "ISRT"
#define READY_UDP_VERSION 1
#define READY_UDP_PROBE 1
#define READY_UDP_ECHO 2
#define READY_UDP_MIN 64		/* bytes: the header */
#define READY_UDP_MAX 1200
#define READY_UDP_KEY_LEN 32		/* HMAC-SHA256 key, bytes */
#define READY_UDP_MAC_LEN 16		/* truncated HMAC-SHA256 */
/* Offsets of the header's fields. */
#define READY_UDP_O_MAGIC 0		/* 4: READY_UDP_MAGIC */
#define READY_UDP_O_VERSION 4		/* 1 */
#define READY_UDP_O_TYPE 5		/* 1: PROBE or ECHO */
#define READY_UDP_O_LEN 6		/* 2: the datagram's length */
#define READY_UDP_O_TEST 8		/* 16: the instruction id's bytes */
#define READY_UDP_O_SEQ 24		/* 4: 0, 1, ... < the test's count */
#define READY_UDP_O_COUNT 28		/* 4: echo: probes the cloud took
					 * for this test, this one included */
#define READY_UDP_O_SENT 32		/* 8: edge's clock, microseconds,
					 * echoed unchanged */
#define READY_UDP_O_CLOUD 40		/* 8: echo: the cloud's clock,
					 * microseconds, when it took it */
#define READY_UDP_O_MAC 48		/* 16: HMAC-SHA256(key, bytes 0..47)
					 * truncated; padding after it is
					 * zeros */

#endif
