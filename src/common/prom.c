/* The Prometheus text format writer (prom.h). */
#include "common/prom.h"

#include "version.h"

void
prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
label_value(FILE *f, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
series(FILE *f, const char *name, const char *const *labels)
{
	size_t i;

	fputs(name, f);
	if (labels != NULL && labels[0] != NULL) {
		fputc('{', f);
		for (i = 0; labels[i] != NULL && labels[i + 1] != NULL;
		    i += 2) {
			fprintf(f, "%s%s=\"", i > 0 ? "," : "", labels[i]);
			label_value(f, labels[i + 1]);
			fputc('"', f);
		}
		fputc('}', f);
	}
}

void
prom_sample(FILE *f, const char *name, const char *const *labels,
    uint64_t value)
{
	series(f, name, labels);
	fprintf(f, " %llu\n", (unsigned long long)value);
}

void
prom_sample_us(FILE *f, const char *name, const char *const *labels,
    uint64_t us)
{
	series(f, name, labels);
	fprintf(f, " %llu.%06llu\n", (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000));
}

void
prom_sample_f(FILE *f, const char *name, const char *const *labels,
    double value)
{
	series(f, name, labels);
	fprintf(f, " %.9g\n", value);
}

void
prom_identity(FILE *f, const char *role, time_t started)
{
	prom_family(f, "isthmus_build_info", "gauge",
	    "The running isthmus: always 1.");
	prom_sample(f, "isthmus_build_info", (const char *[]){ "role", role,
	    "version", ISTHMUS_VERSION, NULL }, 1);
	prom_family(f, "isthmus_start_time_seconds", "gauge",
	    "When the gateway started, in seconds since the epoch.");
	prom_sample(f, "isthmus_start_time_seconds", NULL, (uint64_t)started);
}
