/* The log module: one key=value line per event (log.h). */
#include "common/log.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "common/logring.h"
#include "common/timefmt.h"

#define LOG_LINE_MAX 2048

static enum log_level log_level = LOG_INFO;
static FILE *log_stream;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

void
log_set_stream(FILE *f)
{
	log_stream = f;
}

static void
put_char(char *buf, size_t cap, size_t *len, char c)
{
	if (*len + 1 < cap)
		buf[(*len)++] = c;
	buf[*len < cap ? *len : cap - 1] = '\0';
}

static void
put_str(char *buf, size_t cap, size_t *len, const char *s)
{
	while (*s != '\0')
		put_char(buf, cap, len, *s++);
}

static bool
needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			return true;
	}
	return false;
}

void
log_quote(char *buf, size_t cap, size_t *len, const char *value)
{
	static const char hex[] = "0123456789abcdef";

	if (value == NULL)
		value = "(null)";
	if (!needs_quotes(value)) {
		put_str(buf, cap, len, value);
		return;
	}
	put_char(buf, cap, len, '"');
	for (; *value != '\0'; value++) {
		unsigned char c = (unsigned char)*value;

		if (c == '"' || c == '\\') {
			put_char(buf, cap, len, '\\');
			put_char(buf, cap, len, (char)c);
		} else if (c == '\n') {
			put_str(buf, cap, len, "\\n");
		} else if (c < ' ' || c == 0x7f) {
			put_str(buf, cap, len, "\\x");
			put_char(buf, cap, len, hex[c >> 4]);
			put_char(buf, cap, len, hex[c & 15]);
		} else {
			/* Bytes >= 0x80 pass through: UTF-8 names stay
			 * readable, and they cannot start a new line. */
			put_char(buf, cap, len, (char)c);
		}
	}
	put_char(buf, cap, len, '"');
}

/* Reads one conversion spec at *fmt ("%llu", "%zu", …), advancing past it.
 * Sets *mod to the length modifier ('\0', 'l', 'L' for ll, 'z', 'j') and
 * returns the conversion character, or 0 if it is not one we accept. */
static char
take_spec(const char **fmt, char *mod)
{
	const char *p = *fmt + 1;

	*mod = '\0';
	if (p[0] == 'l' && p[1] == 'l') {
		*mod = 'L';
		p += 2;
	} else if (*p == 'l' || *p == 'z' || *p == 'j') {
		*mod = *p++;
	}
	if (*p == '\0' || strchr("sdiux", *p) == NULL)
		return 0;
	if (*p == 's' && *mod != '\0')
		return 0;
	*fmt = p + 1;
	return *p;
}

static void
format_number(char *buf, size_t cap, size_t *len, char conv, char mod,
    va_list *ap)
{
	char tmp[32];

	if (conv == 'd' || conv == 'i') {
		long long v;

		switch (mod) {
		case 'L': v = va_arg(*ap, long long); break;
		case 'l': v = va_arg(*ap, long); break;
		case 'z': v = (long long)va_arg(*ap, size_t); break;
		case 'j': v = va_arg(*ap, intmax_t); break;
		default: v = va_arg(*ap, int); break;
		}
		snprintf(tmp, sizeof(tmp), "%lld", v);
	} else {
		unsigned long long v;

		switch (mod) {
		case 'L': v = va_arg(*ap, unsigned long long); break;
		case 'l': v = va_arg(*ap, unsigned long); break;
		case 'z': v = va_arg(*ap, size_t); break;
		case 'j': v = va_arg(*ap, uintmax_t); break;
		default: v = va_arg(*ap, unsigned int); break;
		}
		snprintf(tmp, sizeof(tmp), conv == 'x' ? "%llx" : "%llu", v);
	}
	put_str(buf, cap, len, tmp);
}

static void
format_kv(char *buf, size_t cap, size_t *len, const char *fmt, va_list ap)
{
	va_list aq;

	va_copy(aq, ap);
	while (*fmt != '\0') {
		char mod, conv;

		if (*fmt != '%') {
			char c = *fmt++;

			/* The format is ours, but keep lines single anyway. */
			put_char(buf, cap, len, c == '\n' ? ' ' : c);
			continue;
		}
		if (fmt[1] == '%') {
			put_char(buf, cap, len, '%');
			fmt += 2;
			continue;
		}
		conv = take_spec(&fmt, &mod);
		if (conv == 0) {
			put_str(buf, cap, len, "<badfmt>");
			break;
		}
		if (conv == 's')
			log_quote(buf, cap, len, va_arg(aq, const char *));
		else
			format_number(buf, cap, len, conv, mod, &aq);
	}
	va_end(aq);
}

void
log_vemit(enum log_level level, const char *sub, const char *event,
    const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len = 0;
	struct timespec ts;
	char stamp[TIME_TEXT_MAX];

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_format_ms(&ts, stamp, sizeof(stamp));
	line[0] = '\0';
	put_str(line, sizeof(line), &len, "ts=");
	put_str(line, sizeof(line), &len, stamp);
	put_str(line, sizeof(line), &len, " level=");
	put_str(line, sizeof(line), &len, level_names[level]);
	put_str(line, sizeof(line), &len, " sub=");
	log_quote(line, sizeof(line), &len, sub);
	put_str(line, sizeof(line), &len, " event=");
	log_quote(line, sizeof(line), &len, event);
	if (fmt != NULL && fmt[0] != '\0') {
		put_char(line, sizeof(line), &len, ' ');
		format_kv(line, sizeof(line), &len, fmt, ap);
	}
	put_char(line, sizeof(line), &len, '\n');
	if (len == sizeof(line) - 1)
		line[len - 1] = '\n';	/* truncated: still one line */
	logring_add(line, len);
	fputs(line, log_stream != NULL ? log_stream : stderr);
	fflush(log_stream != NULL ? log_stream : stderr);
}

void
log_vplain(const char *prefix, const char *fmt, va_list ap)
{
	FILE *f = log_stream != NULL ? log_stream : stderr;
	char text[LOG_LINE_MAX];
	const char *p;

	vsnprintf(text, sizeof(text), fmt, ap);
	if (prefix != NULL)
		fprintf(f, "%s: ", prefix);
	/* One message, one line, whatever a file name or a peer held. */
	for (p = text; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('\n', f);
	fflush(f);
}

void
log_config_error(const char *sub, bool running, const char *fmt, ...)
{
	char text[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	if (running) {
		vsnprintf(text, sizeof(text), fmt, ap);
		log_error(sub, "config_error", "error=%s", text);
	} else {
		log_vplain(NULL, fmt, ap);
	}
	va_end(ap);
}

void
log_emit(enum log_level level, const char *sub, const char *event,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(level, sub, event, fmt, ap);
	va_end(ap);
}
