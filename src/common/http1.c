/* The HTTP/1.1 rules both gateways apply at the tunnel's edge (http1.h). */
#include "common/http1.h"

#include <string.h>

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{ 100, "Continue" }, { 101, "Switching Protocols" },
	{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
	{ 203, "Non-Authoritative Information" }, { 204, "No Content" },
	{ 205, "Reset Content" }, { 206, "Partial Content" },
	{ 300, "Multiple Choices" }, { 301, "Moved Permanently" },
	{ 302, "Found" }, { 303, "See Other" }, { 304, "Not Modified" },
	{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" }, { 408, "Request Timeout" },
	{ 409, "Conflict" }, { 410, "Gone" }, { 411, "Length Required" },
	{ 412, "Precondition Failed" }, { 413, "Content Too Large" },
	{ 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
	{ 416, "Range Not Satisfiable" }, { 417, "Expectation Failed" },
	{ 421, "Misdirected Request" }, { 422, "Unprocessable Content" },
	{ 426, "Upgrade Required" }, { 428, "Precondition Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
	{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
};

const char *
http_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

bool
http_hop_by_hop(const struct hdrs *h, const char *lname)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "proxy-connection", "te",
		"transfer-encoding", "upgrade", "trailer",
		"proxy-authorization", "proxy-authenticate",
	};
	size_t i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strcmp(lname, hop[i]) == 0)
			return true;
	return hdrs_has_token(h, "connection", lname);
}

/* Whether lname is want, or starts with it when prefix, reading '_' as
 * '-': CGI and WSGI servers turn both into '_' (HTTP_X_ISTHMUS_TENANT), so
 * a backend of that kind cannot tell X_Isthmus_Tenant from ours. */
static bool
name_matches(const char *lname, const char *want, bool prefix)
{
	size_t i;

	for (i = 0; want[i] != '\0'; i++)
		if ((lname[i] == '_' ? '-' : lname[i]) != want[i])
			return false;
	return prefix || lname[i] == '\0';
}

bool
http_identity_field(const char *lname)
{
	return name_matches(lname, "forwarded", false) ||
	    name_matches(lname, "x-forwarded-", true) ||
	    name_matches(lname, "x-real-ip", false) ||
	    name_matches(lname, "x-isthmus-", true) ||
	    name_matches(lname, HTTP_TUNNEL_PREFIX, true);
}

int
http_error_response(struct evbuffer *out, int status, const char *why)
{
	return evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "content-type: text/plain\r\ncontent-length: %zu\r\n"
	    "connection: close\r\n\r\n%s\n", status, http_reason(status),
	    strlen(why) + 1, why) < 0 ? -1 : 0;
}

bool
http_name_ok(const char *v, size_t len)
{
	size_t i;

	/* tchar (RFC 9110 5.6.2); "Name : v" is refused, not trimmed (RFC
	 * 9112 5.1), as a server or proxy behind us may read it otherwise. */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c != '\0' &&
		    strchr("!#$%&'*+-.^_`|~", c) != NULL)))
			return false;
	}
	return len > 0;
}

bool
http_value_ok(const char *v, size_t len)
{
	size_t i;

	if (len > 0 && (v[0] == ' ' || v[0] == '\t' || v[len - 1] == ' ' ||
	    v[len - 1] == '\t'))
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

bool
http_target_ok(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return len > 0;
}

bool
http_host_ok(const char *v, size_t len)
{
	size_t i;

	/* uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986 3.2.2): reg-name
	 * characters, an IP literal in brackets; nothing that ends a host
	 * ('/', '?', '#', '@', spaces). */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~!$&'()*+,;=%:[]",
		    c) != NULL) || c == '\0')
			return false;
	}
	return len > 0;
}

bool
http_idempotent(const char *method)
{
	/* Safe methods only: a retried PUT or DELETE may still race with
	 * a backend that did run the first one. */
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
	    strcmp(method, "OPTIONS") == 0 || strcmp(method, "TRACE") == 0;
}
