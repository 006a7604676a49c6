/* The report's plots, drawn with cairo into PNG bytes (plot.h). */
#include "report/plot.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>

/* The image, CSS pixels at 1:1: wide enough for a week of hourly tests
 * to stay apart, narrow enough for a printed page once scaled. */
#define W 900
#define H_TIME 280
#define M_LEFT 72
#define M_RIGHT 18
#define M_TOP 44
#define M_BOTTOM 50
/* a dot histogram's panel */
#define PANEL_H 150
#define PANEL_GAP 14
#define PANEL_HEAD 20		/* its label line */

#define FONT "DejaVu Sans"	/* fonts-dejavu-core; fontconfig falls back */
#define TEXT_RGB 0x222222
#define AXIS_RGB 0x555555
#define GRID_RGB 0xe4e4e4
#define TICKS_MAX 7
/* Whatever the ranges, no axis draws more ticks than this (a tick loop
 * counts, so a range too wide for its step cannot spin). */
#define TICKS_LIMIT 40

/* Plots are made on several threads (charts.c), each on its own surface,
 * which cairo allows; but its contexts share state behind the scenes
 * (pooled clips, scaled fonts and their glyph caches), and
 * ThreadSanitizer reports races there with cairo 1.16, whether they are
 * real or its atomics unseen. So one plot is drawn at a time, under
 * this lock, and only the PNG encoding, most of the time and touching
 * nothing but the surface's own pixels, runs in parallel. */
static pthread_mutex_t draw_lock = PTHREAD_MUTEX_INITIALIZER;

struct frame {
	double x0, y0, x1, y1;		/* the plot area */
	double lo, hi;			/* x range */
	double ylo, yhi;		/* y range */
};

static void
rgb(cairo_t *cr, uint32_t c)
{
	cairo_set_source_rgb(cr, ((c >> 16) & 0xff) / 255.0,
	    ((c >> 8) & 0xff) / 255.0, (c & 0xff) / 255.0);
}

/* c mixed with white: the line joining a series' markers, never the
 * markers' colour itself. */
static void
tint(cairo_t *cr, uint32_t c)
{
	double f = 0.45;

	cairo_set_source_rgb(cr, 1 - f + f * ((c >> 16) & 0xff) / 255.0,
	    1 - f + f * ((c >> 8) & 0xff) / 255.0,
	    1 - f + f * (c & 0xff) / 255.0);
}

static void
font(cairo_t *cr, double size, bool bold)
{
	cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ?
	    CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
}

/* s at (x, y), its baseline; align 0 left, 0.5 centre, 1 right. */
static void
text(cairo_t *cr, double x, double y, double align, const char *s)
{
	cairo_text_extents_t ext;

	cairo_text_extents(cr, s, &ext);
	cairo_move_to(cr, x - align * ext.x_advance, y);
	cairo_show_text(cr, s);
}

static double
text_width(cairo_t *cr, const char *s)
{
	cairo_text_extents_t ext;

	cairo_text_extents(cr, s, &ext);
	return ext.x_advance;
}

/* A tick step of 1, 2, 2.5 or 5 times a power of ten giving at most
 * TICKS_MAX ticks over span. */
static double
nice_step(double span)
{
	static const double mult[] = { 1, 2, 2.5, 5, 10 };
	double base = pow(10, floor(log10(span / TICKS_MAX)));
	size_t i;

	for (i = 0; i < sizeof(mult) / sizeof(mult[0]); i++)
		if (span / (mult[i] * base) <= TICKS_MAX)
			return mult[i] * base;
	return 10 * base;
}

static double
px_x(const struct frame *f, double v)
{
	return f->x0 + (v - f->lo) / (f->hi - f->lo) * (f->x1 - f->x0);
}

static double
px_y(const struct frame *f, double v)
{
	return f->y1 - (v - f->ylo) / (f->yhi - f->ylo) * (f->y1 - f->y0);
}

static void
marker(cairo_t *cr, enum plot_marker m, double x, double y, double r)
{
	/* a fresh path: cairo_arc would join the text's end point to it */
	cairo_new_path(cr);
	switch (m) {
	case PLOT_SQUARE:
		cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r);
		cairo_fill(cr);
		break;
	case PLOT_DIAMOND:
		cairo_move_to(cr, x, y - r - 1);
		cairo_line_to(cr, x + r + 1, y);
		cairo_line_to(cr, x, y + r + 1);
		cairo_line_to(cr, x - r - 1, y);
		cairo_close_path(cr);
		cairo_fill(cr);
		break;
	case PLOT_CROSS:
		cairo_set_line_width(cr, 2.5);
		cairo_move_to(cr, x - r, y - r);
		cairo_line_to(cr, x + r, y + r);
		cairo_move_to(cr, x - r, y + r);
		cairo_line_to(cr, x + r, y - r);
		cairo_stroke(cr);
		break;
	case PLOT_CIRCLE:
	default:
		cairo_arc(cr, x, y, r, 0, 2 * M_PI);
		cairo_fill(cr);
		break;
	}
}

/* Markers shrink as points crowd, so a month of hourly tests stays a
 * line of points rather than a smear. */
static double
marker_radius(size_t n)
{
	return n <= 100 ? 4 : n <= 400 ? 3 : 2;
}

/* The legend, right-aligned on the title's line: each series' marker
 * once, then its label. */
static void
legend(cairo_t *cr, const struct plot_series *s, size_t ns, double y)
{
	double x = W - M_RIGHT, w;
	size_t i;

	font(cr, 12, false);
	for (i = ns; i-- > 0;) {
		w = text_width(cr, s[i].label);
		x -= w;
		rgb(cr, TEXT_RGB);
		text(cr, x, y, 0, s[i].label);
		x -= 12;
		rgb(cr, s[i].rgb);
		marker(cr, s[i].marker, x, y - 4, 4);
		x -= 20;
	}
}

static void
title(cairo_t *cr, const char *s)
{
	font(cr, 14, true);
	rgb(cr, TEXT_RGB);
	text(cr, M_LEFT, 20, 0, s);
}

/* Horizontal grid, y ticks and their labels over [ylo, yhi]. */
static void
y_axis(cairo_t *cr, const struct frame *f, double step, const char *label)
{
	char buf[32];
	double v, y;
	int k;

	font(cr, 11, false);
	cairo_set_line_width(cr, 1);
	for (k = 0; k < TICKS_LIMIT; k++) {
		v = f->ylo + k * step;
		if (v > f->yhi + step / 1000)
			break;
		y = floor(px_y(f, v)) + 0.5;
		rgb(cr, GRID_RGB);
		cairo_move_to(cr, f->x0, y);
		cairo_line_to(cr, f->x1, y);
		cairo_stroke(cr);
		rgb(cr, AXIS_RGB);
		cairo_move_to(cr, f->x0 - 5, y);
		cairo_line_to(cr, f->x0, y);
		cairo_stroke(cr);
		snprintf(buf, sizeof(buf), "%g", fabs(v) < step / 1000 ? 0 : v);
		text(cr, f->x0 - 8, y + 4, 1, buf);
	}
	if (label == NULL)
		return;
	cairo_save(cr);
	cairo_translate(cr, 16, (f->y0 + f->y1) / 2);
	cairo_rotate(cr, -M_PI / 2);
	font(cr, 12, false);
	rgb(cr, TEXT_RGB);
	text(cr, 0, 0, 0.5, label);
	cairo_restore(cr);
}

static void
frame_box(cairo_t *cr, const struct frame *f)
{
	rgb(cr, AXIS_RGB);
	cairo_set_line_width(cr, 1);
	cairo_rectangle(cr, floor(f->x0) + 0.5, floor(f->y0) + 0.5,
	    floor(f->x1) - floor(f->x0), floor(f->y1) - floor(f->y0));
	cairo_stroke(cr);
}

static void
x_label(cairo_t *cr, const struct frame *f, int height, const char *s)
{
	font(cr, 12, false);
	rgb(cr, TEXT_RGB);
	text(cr, (f->x0 + f->x1) / 2, height - 10, 0.5, s);
}

/* --- over time -------------------------------------------------------- */

/* Steps a time axis may take, seconds: on the clock's and calendar's
 * own marks, so labels read 06:00, 12:00 rather than 05:43. */
static const double time_steps[] = {
	60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400,
	2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 91 * 86400,
	364 * 86400,
};

static void
time_axis(cairo_t *cr, const struct frame *f)
{
	double step = time_steps[0], t, x;
	char buf[32];
	struct tm tm;
	time_t tt;
	size_t i;
	int k;

	for (i = 0; i < sizeof(time_steps) / sizeof(time_steps[0]); i++) {
		step = time_steps[i];
		if ((f->hi - f->lo) / step <= TICKS_MAX)
			break;
	}
	font(cr, 11, false);
	cairo_set_line_width(cr, 1);
	for (k = 0; k < TICKS_LIMIT; k++) {
		t = (ceil(f->lo / step) + k) * step;
		if (t > f->hi)
			break;
		x = floor(px_x(f, t)) + 0.5;
		rgb(cr, GRID_RGB);
		cairo_move_to(cr, x, f->y0);
		cairo_line_to(cr, x, f->y1);
		cairo_stroke(cr);
		rgb(cr, AXIS_RGB);
		cairo_move_to(cr, x, f->y1);
		cairo_line_to(cr, x, f->y1 + 5);
		cairo_stroke(cr);
		tt = (time_t)t;
		if (gmtime_r(&tt, &tm) == NULL)
			continue;
		strftime(buf, sizeof(buf), step >= 86400 ? "%Y-%m-%d" :
		    "%m-%d %H:%M", &tm);
		text(cr, x, f->y1 + 18, 0.5, buf);
	}
}

/* The x and y ranges of every point; false when there is none. */
static bool
time_ranges(const struct plot_time *p, struct frame *f, double *ystep)
{
	double tmin = INFINITY, tmax = -INFINITY, ymax = 0, pad;
	size_t i, k;

	for (i = 0; i < p->ns; i++) {
		for (k = 0; k < p->s[i].n; k++) {
			tmin = fmin(tmin, p->s[i].x[k]);
			tmax = fmax(tmax, p->s[i].x[k]);
			if (p->s[i].y != NULL)
				ymax = fmax(ymax, p->s[i].y[k]);
		}
	}
	if (tmin > tmax)
		return false;
	/* a little room either side, and at least a minute: one test sits
	 * in the middle, and two run by hand a few seconds apart stay
	 * apart */
	pad = fmax((tmax - tmin) * 0.03, 60);
	f->lo = tmin - pad;
	f->hi = tmax + pad;
	/* from 0: a delay or a loss reads against none; room above the
	 * highest point, and for the events drawn along the top */
	*ystep = nice_step(ymax > 0 ? ymax * 1.12 : 1);
	f->ylo = 0;
	f->yhi = ceil((ymax > 0 ? ymax * 1.12 : 1) / *ystep) * *ystep;
	return true;
}

static void
draw_series(cairo_t *cr, const struct frame *f, const struct plot_series *s)
{
	double r = marker_radius(s->n), top = f->y0 + 8;
	size_t k;

	if (s->y != NULL && s->n > 1) {
		cairo_new_path(cr);
		tint(cr, s->rgb);
		cairo_set_line_width(cr, 1.2);
		for (k = 0; k < s->n; k++)
			cairo_line_to(cr, px_x(f, s->x[k]), px_y(f, s->y[k]));
		cairo_stroke(cr);
	}
	rgb(cr, s->rgb);
	for (k = 0; k < s->n; k++)
		marker(cr, s->marker, px_x(f, s->x[k]), s->y != NULL ?
		    px_y(f, s->y[k]) : top, s->marker == PLOT_CROSS ? 4 : r);
}

/* --- PNG in memory ---------------------------------------------------- */

static cairo_status_t
png_write(void *closure, const unsigned char *data, unsigned int len)
{
	struct plot_png *p = closure;
	unsigned char *nb;
	size_t cap;

	if (p->len + len > p->cap) {
		cap = p->cap > 0 ? p->cap : 32768;
		while (cap < p->len + len)
			cap *= 2;
		nb = realloc(p->buf, cap);
		if (nb == NULL)
			return CAIRO_STATUS_NO_MEMORY;
		p->buf = nb;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, len);
	p->len += len;
	return CAIRO_STATUS_SUCCESS;
}

/* A white canvas of w x h, with draw_lock held until finish(); NULL
 * with e set (and the lock not held). */
static cairo_t *
canvas(int w, int h, struct err *e)
{
	cairo_surface_t *s;
	cairo_t *cr;

	pthread_mutex_lock(&draw_lock);
	/* RGB24: no alpha channel to store, a smaller and faster PNG */
	s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
	cr = cairo_create(s);
	cairo_surface_destroy(s);	/* cr holds it */
	if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
		err_set(e, -ENOMEM, "cannot draw: %s", cairo_status_to_string(
		    cairo_status(cr)));
		cairo_destroy(cr);
		pthread_mutex_unlock(&draw_lock);
		return NULL;
	}
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	return cr;
}

/* Ends the drawing on cr (and draw_lock), then writes its image to out
 * as PNG. */
static int
finish(cairo_t *cr, struct plot_png *out, struct err *e)
{
	cairo_surface_t *s = cairo_surface_reference(cairo_get_target(cr));
	cairo_status_t st = cairo_status(cr);

	memset(out, 0, sizeof(*out));
	out->width = cairo_image_surface_get_width(s);
	out->height = cairo_image_surface_get_height(s);
	cairo_surface_flush(s);
	cairo_destroy(cr);
	pthread_mutex_unlock(&draw_lock);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_write_to_png_stream(s, png_write, out);
	pthread_mutex_lock(&draw_lock);
	cairo_surface_destroy(s);
	pthread_mutex_unlock(&draw_lock);
	if (st != CAIRO_STATUS_SUCCESS) {
		plot_png_free(out);
		return err_set(e, -ENOMEM, "cannot draw: %s",
		    cairo_status_to_string(st));
	}
	return 0;
}

int
plot_time_png(const struct plot_time *p, struct plot_png *out,
    struct err *e)
{
	struct frame f = { M_LEFT, M_TOP, W - M_RIGHT, H_TIME - M_BOTTOM,
	    0, 1, 0, 1 };
	double ystep = 1;
	cairo_t *cr;
	size_t i;

	if (!time_ranges(p, &f, &ystep))
		return err_set(e, -EINVAL, "%s: no point to plot", p->title);
	cr = canvas(W, H_TIME, e);
	if (cr == NULL)
		return -ENOMEM;
	title(cr, p->title);
	y_axis(cr, &f, ystep, p->ylabel);
	time_axis(cr, &f);
	frame_box(cr, &f);
	x_label(cr, &f, H_TIME, "time (UTC)");
	/* not clipped: every point is inside the ranges, and a marker on
	 * the axis (a loss of 0) stays whole, over the frame's line */
	for (i = 0; i < p->ns; i++)
		draw_series(cr, &f, &p->s[i]);
	legend(cr, p->s, p->ns, 20);
	return finish(cr, out, e);
}

/* --- dot histogram ---------------------------------------------------- */

/* Each sample is a square of cell - 1 pixels with a pixel of white on
 * its right and above it: squares never touch, so each can be counted.
 * The largest cell whose tallest stack still fits the panel; when none
 * does, the widest, and a panel whose stacks do not fit draws bars. */
static const int cells[] = { 6, 5, 4, 3, 2 };

struct dots {
	struct frame f;
	int cell, cols, rows;
	unsigned *bins;		/* per series, cols each */
};

static int
dot_col(const struct dots *d, double v)
{
	int c = (int)floor((v - d->f.lo) / (d->f.hi - d->f.lo) * d->cols);

	return c < 0 ? 0 : c >= d->cols ? d->cols - 1 : c;
}

/* Bins every series' samples into d->cols columns; the tallest stack. */
static unsigned
dot_bin(const struct plot_dots *p, struct dots *d)
{
	unsigned most = 0, *b;
	size_t i, k;

	memset(d->bins, 0, p->ns * (size_t)d->cols * sizeof(*d->bins));
	for (i = 0; i < p->ns; i++) {
		b = d->bins + i * (size_t)d->cols;
		for (k = 0; k < p->s[i].n; k++) {
			int c = dot_col(d, p->s[i].x[k]);

			if (++b[c] > most)
				most = b[c];
		}
	}
	return most;
}

static int
dots_layout(const struct plot_dots *p, struct dots *d, double *xstep)
{
	double lo = INFINITY, hi = -INFINITY;
	size_t i, k;

	for (i = 0; i < p->ns; i++)
		for (k = 0; k < p->s[i].n; k++) {
			lo = fmin(lo, p->s[i].x[k]);
			hi = fmax(hi, p->s[i].x[k]);
		}
	if (lo > hi)
		return -EINVAL;
	if (hi - lo < 1e-3) {
		lo -= 1;
		hi += 1;
	}
	*xstep = nice_step(hi - lo);
	d->f.lo = fmax(0, floor(lo / *xstep) * *xstep);
	d->f.hi = ceil(hi / *xstep) * *xstep;
	if (d->f.hi <= hi)
		d->f.hi += *xstep;	/* the top sample has its own column */
	d->bins = calloc(p->ns * (size_t)(W + 1), sizeof(*d->bins));
	if (d->bins == NULL)
		return -ENOMEM;
	for (i = 0; i <= sizeof(cells) / sizeof(cells[0]); i++) {
		/* past the last: back to the first, for bars */
		d->cell = cells[i % (sizeof(cells) / sizeof(cells[0]))];
		d->cols = (int)(d->f.x1 - d->f.x0) / d->cell;
		d->rows = (PANEL_H - PANEL_HEAD) / d->cell;
		if (dot_bin(p, d) <= (unsigned)d->rows)
			break;
	}
	/* the axis spans the columns exactly, so a tick sits on its bin */
	d->f.x1 = d->f.x0 + d->cols * d->cell;
	return 0;
}

static unsigned
tallest(const struct dots *d, const unsigned *bins)
{
	unsigned most = 0;
	int c;

	for (c = 0; c < d->cols; c++)
		most = bins[c] > most ? bins[c] : most;
	return most;
}

/* One series' panel: its label, then its samples as stacked squares,
 * or as bars up to its tallest stack (most) when they do not fit. */
static void
dots_panel(cairo_t *cr, const struct dots *d, const struct plot_series *s,
    const unsigned *bins, unsigned most, double top)
{
	double bottom = top + PANEL_H, sq = d->cell - 1;
	bool bars = most > (unsigned)d->rows;
	int c;
	unsigned k;

	cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
	rgb(cr, s->rgb);
	cairo_rectangle(cr, d->f.x0 + 6, top + 5, 9, 9);
	cairo_fill(cr);
	font(cr, 12, false);
	rgb(cr, TEXT_RGB);
	text(cr, d->f.x0 + 22, top + 14, 0, s->label);
	if (bars)
		text(cr, d->f.x1 - 6, top + 14, 1, "bars: more alike than "
		    "fit one square each");
	rgb(cr, s->rgb);
	for (c = 0; c < d->cols; c++) {
		double x = d->f.x0 + c * d->cell + 1;

		if (bars && bins[c] > 0) {
			double h = (double)bins[c] / most *
			    (PANEL_H - PANEL_HEAD);

			cairo_rectangle(cr, x, bottom - h, sq, h);
			cairo_fill(cr);
			continue;
		}
		for (k = 0; k < bins[c]; k++) {
			cairo_rectangle(cr, x, bottom - (k + 1) * d->cell,
			    sq, sq);
			cairo_fill(cr);
		}
	}
	cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
}

/* The x ticks under the last panel, and the grid through all. */
static void
dots_axis(cairo_t *cr, const struct frame *f, double step)
{
	char buf[32];
	double v, x;
	int k;

	font(cr, 11, false);
	cairo_set_line_width(cr, 1);
	for (k = 0; k < TICKS_LIMIT; k++) {
		v = f->lo + k * step;
		if (v > f->hi + step / 1000)
			break;
		x = floor(px_x(f, v)) + 0.5;
		rgb(cr, GRID_RGB);
		cairo_move_to(cr, x, f->y0);
		cairo_line_to(cr, x, f->y1);
		cairo_stroke(cr);
		rgb(cr, AXIS_RGB);
		cairo_move_to(cr, x, f->y1);
		cairo_line_to(cr, x, f->y1 + 5);
		cairo_stroke(cr);
		snprintf(buf, sizeof(buf), "%g", v);
		text(cr, x, f->y1 + 18, 0.5, buf);
	}
}

int
plot_dots_png(const struct plot_dots *p, struct plot_png *out,
    struct err *e)
{
	struct dots d;
	double xstep = 1, top;
	int h = M_TOP + (int)p->ns * (PANEL_H + PANEL_GAP) - PANEL_GAP +
	    M_BOTTOM, rc;
	bool bars;
	cairo_t *cr;
	size_t i;

	memset(&d, 0, sizeof(d));
	d.f.x0 = M_LEFT;
	d.f.x1 = W - M_RIGHT;
	d.f.y0 = M_TOP;
	d.f.y1 = h - M_BOTTOM;
	rc = p->ns > 0 ? dots_layout(p, &d, &xstep) : -EINVAL;
	if (rc != 0) {
		free(d.bins);
		return err_set(e, rc, "%s: %s", p->title, rc == -ENOMEM ?
		    "out of memory" : "no sample to plot");
	}
	cr = canvas(W, h, e);
	if (cr == NULL) {
		free(d.bins);
		return -ENOMEM;
	}
	title(cr, p->title);
	dots_axis(cr, &d.f, xstep);
	for (i = 0; i < p->ns; i++) {
		const unsigned *bins = d.bins + i * (size_t)d.cols;
		unsigned most = tallest(&d, bins);
		struct frame pf = d.f;

		top = M_TOP + (double)i * (PANEL_H + PANEL_GAP);
		pf.y0 = top + PANEL_HEAD;
		pf.y1 = top + PANEL_H;
		/* in samples: a cell each, or the bars' full height the
		 * tallest */
		pf.ylo = 0;
		pf.yhi = most <= (unsigned)d.rows ?
		    (double)(PANEL_H - PANEL_HEAD) / d.cell : most;
		y_axis(cr, &pf, ceil(nice_step(most <= (unsigned)d.rows ?
		    (double)d.rows : (double)most)), NULL);
		pf.y0 = top;
		frame_box(cr, &pf);
		dots_panel(cr, &d, &p->s[i], bins, most, top);
	}
	x_label(cr, &d.f, h, p->xlabel);
	bars = false;
	for (i = 0; i < p->ns; i++)
		bars |= tallest(&d, d.bins + i * (size_t)d.cols) >
		    (unsigned)d.rows;
	font(cr, 12, false);
	rgb(cr, TEXT_RGB);
	cairo_save(cr);
	cairo_translate(cr, 16, (d.f.y0 + d.f.y1) / 2);
	cairo_rotate(cr, -M_PI / 2);
	text(cr, 0, 0, 0.5, "samples per bin");
	cairo_restore(cr);
	free(d.bins);
	rc = finish(cr, out, e);
	out->bars = bars;
	return rc;
}

void
plot_png_free(struct plot_png *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

void
plot_cleanup(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}
