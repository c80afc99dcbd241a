// SPDX-License-Identifier: MIT
/* flame.svg: the on-CPU flame graph as a static SVG, laid out the way
 * flamegraph.pl draws stacks.folded: 1200 px wide, 16 px frames, Verdana
 * 12, root ("all") at the bottom, then the process name, siblings in
 * alphabetical order, frames narrower than 0.1 px left out, names cut
 * with ".." to fit, a <title> tooltip per frame ("name (N samples, P%)").
 * Colours by kind instead of flamegraph.pl's random warm palette: Python
 * green, native red-yellow, kernel orange, interpreter internals grey, each
 * shade fixed by a hash of the name so two runs look alike. */
#include <stdlib.h>
#include <string.h>
#include "analyze/analyze.h"
#include "hashmap.h"
#include "report/formats.h"

#define IMG_W 1200.0
#define FRAME_H 16.0
#define FONT_SIZE 12.0
#define FONT_W 0.59            /* average glyph width, in font sizes */
#define XPAD 10.0
#define YPAD1 (FONT_SIZE * 3)  /* title */
#define YPAD2 (FONT_SIZE * 2 + 10) /* details line and legend */
#define MIN_W 0.1

/* The on-CPU rows as paths of label ids (process name, then the view's
 * frames), sorted by the labels' alphabetical ranks: each frame of the
 * merged flame graph is then a run of consecutive rows sharing a prefix, and
 * one pass lays out the graph without building the tree (a 50k-stack
 * profile has over a million frames, of which a few thousand are drawn). */
struct label {
	char *text;
	uint32_t cls;               /* enum ap_frame_class, AP_FC__COUNT for "all" / process */
	uint32_t rank;              /* alphabetical */
};

struct rows {
	struct label *lab;
	size_t nr_lab, cap_lab;
	struct hmap lab_ids;        /* (cls, text) -> label */
	uint32_t *path;             /* all rows' label ids */
	size_t nr_path, cap_path;
	size_t *off;                /* row i: path[off[i] .. off[i + 1]) */
	uint64_t *w;
	size_t n;
	uint32_t *order;
};

static uint32_t label_id(struct rows *r, const char *text, uint32_t cls)
{
	size_t len = strlen(text);
	char *key = xmalloc(len + 4);
	bool is_new;
	uint64_t *id;

	memcpy(key, &cls, 4);
	memcpy(key + 4, text, len);
	id = hmap_upsert(&r->lab_ids, key, len + 4, r->nr_lab, &is_new);
	free(key);
	if (is_new) {
		GROW(r->lab, r->cap_lab, r->nr_lab + 1);
		r->lab[r->nr_lab++] = (struct label){ .text = xstrdup(text), .cls = cls };
	}
	return *id;
}

static const struct rows *sort_r;

static int by_text(const void *a, const void *b)
{
	const struct label *x = &sort_r->lab[*(const uint32_t *)a], *y = &sort_r->lab[*(const uint32_t *)b];
	int c = strcmp(x->text, y->text);

	return c ? c : (int)x->cls - (int)y->cls;
}

static int by_path(const void *a, const void *b)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	size_t x = sort_r->off[i], y = sort_r->off[j], ex = sort_r->off[i + 1], ey = sort_r->off[j + 1];

	for (; x < ex && y < ey; x++, y++)
		if (sort_r->path[x] != sort_r->path[y])
			return sort_r->lab[sort_r->path[x]].rank < sort_r->lab[sort_r->path[y]].rank ? -1 : 1;
	return (ex - x > ey - y) - (ex - x < ey - y);
}

static void rows_build(struct rows *r, const struct ap_pics *x)
{
	const struct profile *p = x->p;
	uint32_t n, j, *idx;
	size_t i;

	r->off = xcalloc(p->nr_counts + 1, sizeof(*r->off));
	r->w = xcalloc(p->nr_counts + 1, sizeof(*r->w));
	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_count *c = &p->counts[i];
		const struct ap_process *pr = profile__find_process(p, c->pid);
		const char *comm = pr ? profile__s(p, pr->comm) : "";
		const uint32_t *fr = ap_pics_stack(x, c->stack, &n);

		GROW(r->path, r->cap_path, r->nr_path + n + 1);
		r->path[r->nr_path++] = label_id(r, *comm ? comm : "[unknown]", AP_FC__COUNT);
		for (j = 0; j < n; j++)
			r->path[r->nr_path++] = label_id(r, x->labels[fr[j]], ap_frame_class(p, fr[j]));
		r->w[i] = c->count;
		r->off[i + 1] = r->nr_path;
	}
	r->n = p->nr_counts;
	idx = xcalloc(r->nr_lab + 1, sizeof(*idx));
	for (i = 0; i < r->nr_lab; i++)
		idx[i] = i;
	sort_r = r;
	qsort(idx, r->nr_lab, sizeof(*idx), by_text);
	for (i = 0; i < r->nr_lab; i++)
		r->lab[idx[i]].rank = i;
	free(idx);
	r->order = xcalloc(r->n + 1, sizeof(*r->order));
	for (i = 0; i < r->n; i++)
		r->order[i] = i;
	qsort(r->order, r->n, sizeof(*r->order), by_path);
}

static void rows_free(struct rows *r)
{
	size_t i;

	for (i = 0; i < r->nr_lab; i++)
		free(r->lab[i].text);
	free(r->lab);
	hmap_free(&r->lab_ids);
	free(r->path);
	free(r->off);
	free(r->w);
	free(r->order);
}

/* a frame to draw */
struct item {
	uint32_t label, depth;
	uint64_t x, value;          /* in samples */
};

struct layout {
	struct item *it;
	size_t nr, cap;
	uint32_t max_depth;
};

static void item_add(struct layout *l, uint32_t label, uint32_t depth, uint64_t x, uint64_t value)
{
	GROW(l->it, l->cap, l->nr + 1);
	l->it[l->nr++] = (struct item){ label, depth, x, value };
	if (depth > l->max_depth)
		l->max_depth = depth;
}

/* every frame at least min_w samples wide, "all" at depth 0 */
static void lay_out(const struct rows *r, uint32_t all, uint64_t total, double min_w, struct layout *l)
{
	uint32_t *ol = NULL;
	uint64_t *ox = NULL, x = 0;
	size_t depth = 0, cap = 0, k, c, len, prev = SIZE_MAX;

	item_add(l, all, 0, 0, total);
	for (k = 0; k < r->n; k++) {
		size_t q = r->order[k], b = r->off[q];

		len = r->off[q + 1] - b;
		c = 0;
		if (prev != SIZE_MAX)
			while (c < len && c < r->off[prev + 1] - r->off[prev] &&
			       r->path[b + c] == r->path[r->off[prev] + c])
				c++;
		for (; depth > c; depth--)
			if (x - ox[depth] >= min_w)
				item_add(l, ol[depth], depth, ox[depth], x - ox[depth]);
		GROW(ol, cap, len + 1);
		ox = xrealloc(ox, cap * sizeof(*ox));
		for (depth = c + 1; depth <= len; depth++) {
			ol[depth] = r->path[b + depth - 1];
			ox[depth] = x;
		}
		depth = len;
		x += r->w[q];
		prev = q;
	}
	for (; depth > 0; depth--)
		if (x - ox[depth] >= min_w)
			item_add(l, ol[depth], depth, ox[depth], x - ox[depth]);
	free(ol);
	free(ox);
}

/* bytes of the well-formed UTF-8 character at s that XML 1.0 allows, or 0:
 * no C0 control but tab, no DEL or C1 control, no surrogate, no U+FFFE/F */
static int xml_char_len(const unsigned char *s)
{
	uint32_t c;
	int n, i;

	if (*s < 0x80)
		return (*s >= 0x20 && *s != 0x7f) || *s == '\t' ? 1 : 0;
	if (*s >= 0xc2 && *s <= 0xdf)
		n = 2, c = *s & 0x1f;
	else if (*s >= 0xe0 && *s <= 0xef)
		n = 3, c = *s & 0x0f;
	else if (*s >= 0xf0 && *s <= 0xf4)
		n = 4, c = *s & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0x80 && c <= 0x9f) || (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
		return 0;
	return n;
}

/* at most max characters of s as XML text: names come from the target, so
 * markup is escaped and what XML cannot hold (control characters, broken
 * UTF-8) becomes U+FFFD; a character is never cut in half */
static void xml_text(struct strbuf *sb, const char *s, size_t max)
{
	size_t n;
	int len;

	for (n = 0; *s && n < max; s += len, n++) {
		len = xml_char_len((const unsigned char *)s);
		if (!len) {
			sb_puts(sb, "\xef\xbf\xbd");
			len = 1;
			continue;
		}
		switch (*s) {
		case '<': sb_puts(sb, "&lt;"); break;
		case '>': sb_puts(sb, "&gt;"); break;
		case '&': sb_puts(sb, "&amp;"); break;
		case '"': sb_puts(sb, "&quot;"); break;
		default: sb_append(sb, s, len);
		}
	}
}

static void colour(uint32_t cls, const char *name, int rgb[3])
{
	uint64_t h = hash_bytes(name, strlen(name));
	double v1 = (h & 0xffff) / 65536.0, v2 = ((h >> 16) & 0xffff) / 65536.0;

	switch (cls) {
	case AP_FC_PYTHON:
		rgb[0] = 60 + 60 * v1, rgb[1] = 180 + 55 * v2, rgb[2] = 60 + 50 * v1;
		break;
	case AP_FC_KERNEL:
		rgb[0] = 230 + 25 * v1, rgb[1] = 130 + 50 * v2, rgb[2] = 20 + 30 * v1;
		break;
	case AP_FC_INTERP:
		rgb[0] = rgb[1] = 170 + 40 * v1, rgb[2] = 160 + 40 * v1;
		break;
	case AP_FC_NATIVE:
		rgb[0] = 205 + 50 * v2, rgb[1] = 40 + 170 * v1, rgb[2] = 40 * v2;
		break;
	default: /* all, process names */
		rgb[0] = rgb[1] = rgb[2] = 215 + 20 * v1;
	}
}

static const char *const class_words[] = { "Python", "native", "kernel", "interpreter" };

static void draw(struct strbuf *sb, const struct label *lab, const struct item *it, double scale,
		 uint64_t total, double height)
{
	double w = it->value * scale, x = XPAD + it->x * scale;
	double y = height - YPAD2 - (it->depth + 1) * FRAME_H;
	size_t fit, len = strlen(lab->text);
	int rgb[3];

	colour(lab->cls, lab->text, rgb);
	sb_puts(sb, "<g><title>");
	xml_text(sb, lab->text, SIZE_MAX);
	sb_printf(sb, " (%llu samples, %.2f%%%s%s)</title>", (unsigned long long)it->value,
		  100.0 * it->value / total, lab->cls < AP_FC__COUNT ? ", " : "",
		  lab->cls < AP_FC__COUNT ? class_words[lab->cls] : "");
	sb_printf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		  "fill=\"rgb(%d,%d,%d)\" rx=\"2\" ry=\"2\"/>", x, y, w, FRAME_H - 1, rgb[0], rgb[1],
		  rgb[2]);
	fit = (size_t)(w / (FONT_SIZE * FONT_W));
	if (fit >= 3) {
		sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + 10.5);
		if (len <= fit) {
			xml_text(sb, lab->text, len);
		} else {
			xml_text(sb, lab->text, fit - 2);
			sb_puts(sb, "..");
		}
		sb_puts(sb, "</text>");
	}
	sb_puts(sb, "</g>\n");
}

void flamesvg_render(const struct ap_pics *x, struct strbuf *sb)
{
	const struct profile *p = x->p;
	struct rows r = { 0 };
	struct layout l = { 0 };
	uint64_t total = 0;
	double scale, height;
	uint32_t all, j;
	size_t i;
	int rgb[3];

	all = label_id(&r, "all", AP_FC__COUNT);
	rows_build(&r, x);
	for (i = 0; i < r.n; i++)
		total += r.w[i];
	scale = total ? (IMG_W - 2 * XPAD) / total : 0;
	lay_out(&r, all, total, scale ? MIN_W / scale : 1, &l);
	height = (l.max_depth + 1) * FRAME_H + YPAD1 + YPAD2;
	sb_printf(sb, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		  "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
		  "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
		  "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		  "xmlns=\"http://www.w3.org/2000/svg\">\n", IMG_W, height, IMG_W, height);
	sb_printf(sb, "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
		  "<stop stop-color=\"#eeeeee\" offset=\"5%%\"/><stop stop-color=\"#eeeeb0\" "
		  "offset=\"95%%\"/></linearGradient></defs>\n"
		  "<style type=\"text/css\">text { font-family: Verdana, sans-serif; font-size: %.0fpx; "
		  "fill: rgb(0,0,0); } #title { text-anchor: middle; font-size: 17px; }</style>\n"
		  "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"url(#background)\"/>\n",
		  FONT_SIZE, IMG_W, height);
	sb_puts(sb, "<text id=\"title\" x=\"600\" y=\"24\">Flame Graph: on-CPU, ");
	xml_text(sb, x->in->target, 120);
	sb_printf(sb, "</text>\n<text x=\"%.0f\" y=\"%.0f\">%llu samples at %u Hz; hover for "
		  "details</text>\n", XPAD, height - 17, (unsigned long long)total, p->frequency_hz);
	for (j = 0; j < AP_FC__COUNT; j++) { /* legend */
		colour(j, "legend", rgb);
		sb_printf(sb, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" "
			  "fill=\"rgb(%d,%d,%d)\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
			  IMG_W - 400 + j * 100.0, height - 27, rgb[0], rgb[1], rgb[2],
			  IMG_W - 384 + j * 100.0, height - 17, class_words[j]);
	}
	sb_puts(sb, "<g id=\"frames\">\n");
	/* root first, then in the order the pass closed them */
	for (i = 0; total && i < l.nr; i++)
		draw(sb, &r.lab[l.it[i].label], &l.it[i], scale, total, height);
	sb_puts(sb, "</g>\n</svg>\n");
	free(l.it);
	rows_free(&r);
}
