/*
 * The report's plots, drawn with cairo into PNG bytes in memory: figures
 * over time (one marker per test), and a dot histogram (one square per
 * sample, stacked in its bin, so the plot can be counted as well as
 * read). Knows nothing of reports: it draws series it is given.
 *
 * Every series is drawn in the one colour its caller gives, markers in
 * that colour exactly and nothing else in it (joining lines take a paler
 * tint); the legend shows each series' marker once. So a test can count
 * a series' points in the image (docs/readiness.md, "Reports").
 */
#ifndef ISTHMUS_PLOT_H
#define ISTHMUS_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum plot_marker { PLOT_CIRCLE, PLOT_SQUARE, PLOT_DIAMOND, PLOT_CROSS };

struct plot_series {
	const char *label;
	uint32_t rgb;			/* 0xRRGGBB */
	enum plot_marker marker;
	const double *x;		/* seconds since the epoch (over time) */
	const double *y;		/* NULL: events, drawn along the top */
	size_t n;
};

/* Figures over time: y from 0, x in UTC. */
struct plot_time {
	const char *title;
	const char *ylabel;		/* with its unit: "round trip (ms)" */
	const struct plot_series *s;
	size_t ns;
};

/* A dot histogram per series, one panel each over a shared x axis; the
 * series' samples are in x (y unused). */
struct plot_dots {
	const char *title;
	const char *xlabel;
	const struct plot_series *s;
	size_t ns;
};

struct plot_png {
	unsigned char *buf;
	size_t len, cap;
	int width, height;
	bool bars;	/* a dot histogram's panel drew bars: more samples
			 * alike than it can stack, so not one square each */
};

int plot_time_png(const struct plot_time *p, struct plot_png *out,
    struct err *e);
int plot_dots_png(const struct plot_dots *p, struct plot_png *out,
    struct err *e);
void plot_png_free(struct plot_png *p);
/* Gives back what cairo and fontconfig keep for the process (their font
 * caches), so a leak checker sees only real leaks. Once no plot is being
 * drawn; the next plot loads them again. */
void plot_cleanup(void);

#endif
