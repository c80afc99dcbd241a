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

struct node {
	uint32_t name;              /* index into names */
	uint32_t cls;               /* enum ap_frame_class, AP_FC__COUNT for "all" / process */
	uint64_t value;
	uint32_t child, next;       /* first child, next sibling (0: none) */
};

struct tree {
	struct node *n;
	size_t nr, cap;
	struct hmap edges;          /* (parent, name, cls) -> node */
	char **names;
	size_t nr_names, cap_names;
	struct hmap name_ids;
};

static uint32_t name_id(struct tree *t, const char *s)
{
	bool is_new;
	uint64_t *id = hmap_upsert(&t->name_ids, s, strlen(s), t->nr_names, &is_new);

	if (is_new) {
		GROW(t->names, t->cap_names, t->nr_names + 1);
		t->names[t->nr_names++] = xstrdup(s);
	}
	return *id;
}

static uint32_t child(struct tree *t, uint32_t parent, uint32_t name, uint32_t cls)
{
	uint32_t key[3] = { parent, name, cls };
	bool is_new;
	uint64_t *id = hmap_upsert(&t->edges, key, sizeof(key), t->nr, &is_new);

	if (is_new) {
		GROW(t->n, t->cap, t->nr + 1);
		t->n[t->nr] = (struct node){ .name = name, .cls = cls, .next = t->n[parent].child };
		t->n[parent].child = t->nr++;
	}
	return *id;
}

static const struct tree *sort_t;

static int by_name(const void *a, const void *b)
{
	const struct node *x = &sort_t->n[*(const uint32_t *)a], *y = &sort_t->n[*(const uint32_t *)b];
	int c = strcmp(sort_t->names[x->name], sort_t->names[y->name]);

	return c ? c : (int)x->cls - (int)y->cls;
}

static void xml_text(struct strbuf *sb, const char *s, size_t max)
{
	size_t n;

	for (n = 0; *s && n < max; s++, n++) {
		switch (*s) {
		case '<': sb_puts(sb, "&lt;"); break;
		case '>': sb_puts(sb, "&gt;"); break;
		case '&': sb_puts(sb, "&amp;"); break;
		case '"': sb_puts(sb, "&quot;"); break;
		default: sb_append(sb, s, 1);
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

struct draw {
	struct tree *t;
	struct strbuf *sb;
	double scale;               /* px per sample */
	uint64_t total;
	double height;
};

static const char *const class_words[] = { "Python", "native", "kernel", "interpreter" };

static void draw(struct draw *d, uint32_t id, double x, uint32_t depth)
{
	const struct node *nd = &d->t->n[id];
	const char *name = d->t->names[nd->name];
	double w = nd->value * d->scale, y = d->height - YPAD2 - (depth + 1) * FRAME_H, cx;
	size_t fit, len = strlen(name), nr = 0, i;
	uint32_t *kids;
	int rgb[3];
	uint32_t c;

	if (w < MIN_W)
		return;
	colour(nd->cls, name, rgb);
	sb_puts(d->sb, "<g><title>");
	xml_text(d->sb, name, SIZE_MAX);
	sb_printf(d->sb, " (%llu samples, %.2f%%%s%s)</title>", (unsigned long long)nd->value,
		  100.0 * nd->value / d->total, nd->cls < AP_FC__COUNT ? ", " : "",
		  nd->cls < AP_FC__COUNT ? class_words[nd->cls] : "");
	sb_printf(d->sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		  "fill=\"rgb(%d,%d,%d)\" rx=\"2\" ry=\"2\"/>", x, y, w, FRAME_H - 1, rgb[0], rgb[1],
		  rgb[2]);
	fit = (size_t)(w / (FONT_SIZE * FONT_W));
	if (fit >= 3) {
		sb_printf(d->sb, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + 10.5);
		if (len <= fit) {
			xml_text(d->sb, name, len);
		} else {
			xml_text(d->sb, name, fit - 2);
			sb_puts(d->sb, "..");
		}
		sb_puts(d->sb, "</text>");
	}
	sb_puts(d->sb, "</g>\n");
	/* children, alphabetically, left to right */
	for (c = nd->child; c; c = d->t->n[c].next)
		nr++;
	if (!nr)
		return;
	kids = xmalloc(nr * sizeof(*kids));
	for (c = nd->child, i = 0; c; c = d->t->n[c].next)
		kids[i++] = c;
	sort_t = d->t;
	qsort(kids, nr, sizeof(*kids), by_name);
	cx = x;
	for (i = 0; i < nr; i++) {
		draw(d, kids[i], cx, depth + 1);
		cx += d->t->n[kids[i]].value * d->scale;
	}
	free(kids);
}

static uint32_t max_depth(const struct tree *t, uint32_t id, double scale)
{
	uint32_t c, m = 0, d;

	if (t->n[id].value * scale < MIN_W)
		return 0;
	for (c = t->n[id].child; c; c = t->n[c].next) {
		d = max_depth(t, c, scale) + 1;
		if (d > m)
			m = d;
	}
	return m;
}

void flamesvg_render(const struct ap_pics *x, struct strbuf *sb)
{
	const struct profile *p = x->p;
	struct tree t = { 0 };
	struct draw d = { .t = &t, .sb = sb };
	uint32_t depth, n, j, at, cls;
	size_t i;
	int rgb[3];

	GROW(t.n, t.cap, 1);
	t.n[0] = (struct node){ .name = name_id(&t, "all"), .cls = AP_FC__COUNT };
	t.nr = 1;
	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_count *c = &p->counts[i];
		const struct ap_process *pr = profile__find_process(p, c->pid);
		const char *comm = pr ? profile__s(p, pr->comm) : "";
		const uint32_t *fr = ap_pics_stack(x, c->stack, &n);

		t.n[0].value += c->count;
		at = child(&t, 0, name_id(&t, *comm ? comm : "[unknown]"), AP_FC__COUNT);
		t.n[at].value += c->count;
		for (j = 0; j < n; j++) {
			cls = ap_frame_class(p, fr[j]);
			at = child(&t, at, name_id(&t, x->labels[fr[j]]), cls);
			t.n[at].value += c->count;
		}
	}
	d.total = t.n[0].value ? t.n[0].value : 1;
	d.scale = (IMG_W - 2 * XPAD) / d.total;
	depth = max_depth(&t, 0, d.scale);
	d.height = (depth + 1) * FRAME_H + YPAD1 + YPAD2;
	sb_printf(sb, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		  "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
		  "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
		  "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		  "xmlns=\"http://www.w3.org/2000/svg\">\n", IMG_W, d.height, IMG_W, d.height);
	sb_printf(sb, "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
		  "<stop stop-color=\"#eeeeee\" offset=\"5%%\"/><stop stop-color=\"#eeeeb0\" "
		  "offset=\"95%%\"/></linearGradient></defs>\n"
		  "<style type=\"text/css\">text { font-family: Verdana, sans-serif; font-size: %.0fpx; "
		  "fill: rgb(0,0,0); } #title { text-anchor: middle; font-size: 17px; }</style>\n"
		  "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"url(#background)\"/>\n",
		  FONT_SIZE, IMG_W, d.height);
	sb_puts(sb, "<text id=\"title\" x=\"600\" y=\"24\">Flame Graph: on-CPU, ");
	xml_text(sb, x->in->target, 120);
	sb_printf(sb, "</text>\n<text x=\"%.0f\" y=\"%.0f\">%llu samples at %u Hz; hover for "
		  "details</text>\n", XPAD, d.height - 17, (unsigned long long)t.n[0].value,
		  p->frequency_hz);
	for (j = 0; j < AP_FC__COUNT; j++) { /* legend */
		colour(j, "legend", rgb);
		sb_printf(sb, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" "
			  "fill=\"rgb(%d,%d,%d)\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
			  IMG_W - 400 + j * 100.0, d.height - 27, rgb[0], rgb[1], rgb[2],
			  IMG_W - 384 + j * 100.0, d.height - 17, class_words[j]);
	}
	sb_puts(sb, "<g id=\"frames\">\n");
	if (t.n[0].value)
		draw(&d, 0, XPAD, 0);
	sb_puts(sb, "</g>\n</svg>\n");
	for (i = 0; i < t.nr_names; i++)
		free(t.names[i]);
	free(t.names);
	free(t.n);
	hmap_free(&t.edges);
	hmap_free(&t.name_ids);
}
