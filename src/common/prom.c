#include "common/prom.h"

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

void
prom_sample(FILE *f, const char *name, const char *const *labels,
    uint64_t value)
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
	fprintf(f, " %llu\n", (unsigned long long)value);
}
