// SPDX-License-Identifier: MIT
/* diff.html: report.html's page (the same template, zoom, search and
 * tooltip) in its diff mode. The merged call tree (diff/tree.h) goes in as
 * the page's usual data: one "process" per process name, one stack and row
 * per node with width of its own, weighed in NEW's samples, so the page's
 * layout rebuilds the tree; "diff" adds each node's counts and verdict for
 * the colours and the tooltip, and the changed call paths. At most
 * ap_diff_html_nodes nodes, the widest: a cut node's width stays in its
 * caller's own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diff/diff.h"
#include "report/formats.h"

size_t ap_diff_html_nodes = 100000;

/* a node's width and number: the order of keep_nodes, widest first, ties by
 * number (a strict order, so the kept set is the same however it is found) */
struct wnode {
	double w;
	uint32_t i;
};

static inline bool before(const struct wnode *a, const struct wnode *b)
{
	return a->w != b->w ? a->w > b->w : a->i < b->i;
}

static void wswap(struct wnode *a, struct wnode *b)
{
	struct wnode x = *a;

	*a = *b, *b = x;
}

/* reorder v[0..n) so that its first k are the k first in before()'s
 * order (quickselect, median-of-three pivots): O(n) rather than qsort's
 * O(n log n) over the 1.4M nodes of a 50k-stack pair (0.3 s) */
static void select_first(struct wnode *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n, i, j;
	struct wnode p;

	while (hi - lo > 16) {
		struct wnode *a = &v[lo], *b = &v[lo + (hi - lo) / 2], *c = &v[hi - 1];

		/* the median of three distinct keys: neither the least nor the
		 * greatest, so both scans stop inside [lo, hi) */
		if (before(b, a))
			wswap(a, b);
		if (before(c, b))
			wswap(b, c);
		if (before(b, a))
			wswap(a, b);
		p = *b;
		i = lo - 1, j = hi;
		for (;;) { /* Hoare: v[lo..j] before or p, v[j+1..hi) p or after */
			do
				i++;
			while (before(&v[i], &p));
			do
				j--;
			while (before(&p, &v[j]));
			if (i >= j)
				break;
			wswap(&v[i], &v[j]);
		}
		if (k <= j + 1)
			hi = j + 1;
		else
			lo = j + 1;
	}
	for (i = lo + 1; i < hi; i++) /* insertion sort of the last few */
		for (j = i; j > lo && before(&v[j], &v[j - 1]); j--)
			wswap(&v[j], &v[j - 1]);
}

/* emap[node]: its number in the page (callers before callees), or -1 when
 * cut; the number kept */
static uint32_t keep_nodes(const struct ap_diff_tree *t, int32_t *emap)
{
	uint32_t n = 0, i;
	struct wnode *v;

	if (t->nr_nodes <= ap_diff_html_nodes) {
		for (i = 0; i < t->nr_nodes; i++)
			emap[i] = n++;
		return n;
	}
	/* a caller is at least as wide as a callee and numbered before it:
	 * the widest nodes form a tree */
	v = xcalloc(t->nr_nodes, sizeof(*v));
	for (i = 0; i < t->nr_nodes; i++)
		v[i] = (struct wnode){ .w = t->nodes[i].width, .i = i }, emap[i] = -1;
	select_first(v, t->nr_nodes, ap_diff_html_nodes);
	for (i = 0; i < ap_diff_html_nodes; i++)
		emap[v[i].i] = 0;
	for (i = 0; i < t->nr_nodes; i++)
		if (!emap[i])
			emap[i] = n++;
	free(v);
	return n;
}

/* sep, then v in decimal: what sb_printf("%s%llu") writes, without
 * printf's cost (millions of numbers on a 50k-stack pair) */
static void put_u(struct strbuf *sb, const char *sep, uint64_t v)
{
	char buf[24], *e = buf + sizeof(buf), *c = e;

	do
		*--c = '0' + v % 10;
	while (v /= 10);
	if (*sep)
		sb_append(sb, sep, strlen(sep));
	sb_append(sb, c, e - c);
}

static void num_array(struct strbuf *sb, const char *key, const struct ap_diff_tree *t,
		      const int32_t *emap, int what)
{
	const char *sep = "";
	size_t i;

	sb_printf(sb, ",\"%s\":[", key);
	for (i = 0; i < t->nr_nodes; i++) {
		const struct ap_diff_node *n = &t->nodes[i];
		double v = what < 2 ? n->total[what] : what < 4 ? n->self[what - 2] :
			   what == 4 ? n->cls : what == 5 ? n->p_share : n->p_abs;

		if (emap[i] < 0)
			continue;
		if (what < 5 && v >= 0 && v < 0x1p53 && v == (uint64_t)v)
			put_u(sb, sep, (uint64_t)v); /* "%.0f" of a whole number */
		else
			sb_printf(sb, isnan(v) ? "%snull" : what < 5 ? "%s%.0f" : "%s%.3g", sep, v);
		sep = ",";
	}
	sb_puts(sb, "]");
}

/* the page's rows: frames, stacks, processes, threads, rows, and the
 * nodes along each stack (spath) */
static void rows(struct strbuf *sb, const struct ap_diff_tree *t, const int32_t *emap)
{
	double *own = xcalloc(t->nr_nodes + 1, sizeof(*own));
	uint32_t *up = NULL, *thread = xcalloc(t->nr_nodes + 1, sizeof(*thread)), nt = 0, k, j;
	struct strbuf st = { 0 }, on = { 0 }, sp = { 0 }, pr = { 0 }, th = { 0 };
	size_t i, cap = 0, ns = 0;

	for (i = 0; i < t->nr_nodes; i++)
		own[i] = t->nodes[i].width;
	for (i = 1; i < t->nr_nodes; i++)
		if (emap[i] >= 0)
			own[t->nodes[i].parent] -= t->nodes[i].width;
	for (i = 1; i < t->nr_nodes; i++) {
		const struct ap_diff_node *n = &t->nodes[i];

		if (emap[i] < 0)
			continue;
		if (n->depth == 1) {
			thread[i] = nt;
			sb_printf(&pr, "%s[%u,", nt ? "," : "", emap[i]);
			html_json_str(&pr, t->labels[n->label].text);
			sb_puts(&pr, ",\"\"]");
			sb_printf(&th, "%s[%u,%u,", nt ? "," : "", emap[i], emap[i]);
			html_json_str(&th, t->labels[n->label].text);
			sb_puts(&th, "]");
			nt++;
		}
		if (own[i] < 1e-6)
			continue;
		GROW(up, cap, n->depth + 1);
		for (k = 0, j = i; j; j = t->nodes[j].parent)
			up[k++] = j;
		/* up[k - 1] is the process */
		sb_printf(&st, "%s[", ns ? "," : "");
		sb_printf(&sp, "%s[", ns ? "," : "");
		for (j = k; j-- > 0;) {
			if (j < k - 1)
				put_u(&st, j < k - 2 ? "," : "", t->nodes[up[j]].label);
			put_u(&sp, j < k - 1 ? "," : "", emap[up[j]]); /* kept: >= 0 */
		}
		sb_puts(&st, "]");
		sb_puts(&sp, "]");
		sb_printf(&on, "%s%u,%zu,%.3f", ns ? "," : "", thread[up[k - 1]], ns, own[i]);
		ns++;
	}
	sb_puts(sb, ",\"frames\":[");
	for (i = 0; i < t->nr_labels; i++) {
		sb_puts(sb, i ? "," : "");
		html_json_str(sb, t->labels[i].text);
	}
	sb_puts(sb, "],\"fcls\":[");
	for (i = 0; i < t->nr_labels; i++)
		sb_printf(sb, "%s%u", i ? "," : "", t->labels[i].cls);
	sb_printf(sb, "],\"stacks\":[%s],\"procs\":[%s],\"threads\":[%s],\"on\":[%s]",
		  st.buf ? st.buf : "", pr.buf ? pr.buf : "", th.buf ? th.buf : "",
		  on.buf ? on.buf : "");
	sb_printf(sb, ",\"diff\":{\"spath\":[%s]", sp.buf ? sp.buf : "");
	sb_free(&st);
	sb_free(&on);
	sb_free(&sp);
	sb_free(&pr);
	sb_free(&th);
	free(up);
	free(thread);
	free(own);
}

/* the listed paths the page's table shows */
static void paths(struct strbuf *sb, const struct ap_diff_tree *t)
{
	struct strbuf p = { 0 };
	size_t i;

	sb_puts(sb, ",\"paths\":[");
	for (i = 0; i < t->nr_paths && i < AP_DIFF_MAX_PATHS; i++) {
		const struct ap_diff_node *n = &t->nodes[t->paths[i]];

		sb_puts(sb, i ? ",[" : "[");
		html_json_str(sb, ap_diff_tree__path(t, t->paths[i], " > ", &p));
		sb_printf(sb, ",%.4f,%.4f,%.4f,%.4f,%d,%.3g]", ap_diff_pct(t, n->total[0], 0),
			  ap_diff_pct(t, n->total[1], 1), ap_diff_sec(t, n->total[0], 0),
			  ap_diff_sec(t, n->total[1], 1), n->cls,
			  n->cls == AP_DIFF_ABSOLUTE ? n->p_abs : n->p_share);
	}
	sb_puts(sb, "]");
	sb_free(&p);
}

static void data(struct strbuf *sb, const struct ap_diff *d)
{
	const struct ap_diff_tree *t = d->tree;
	int32_t *emap = xcalloc(t->nr_nodes + 1, sizeof(*emap));
	uint32_t kept = keep_nodes(t, emap);
	double cut_w = 0;
	size_t i, j;

	for (i = 1; i < t->nr_nodes; i++)
		if (emap[i] < 0 && emap[t->nodes[i].parent] >= 0)
			cut_w += t->nodes[i].width;
	sb_puts(sb, "{\"target\":");
	html_json_str(sb, d->target[1]);
	sb_printf(sb, ",\"tool\":\"autoprof-bpf %s\",\"wall_s\":%.3f,\"freq\":%.0f,"
		  "\"samples\":%llu,\"view\":\"%s\",\"offcpu\":false,\"notes\":[],\"reasons\":[",
		  AP_VERSION, d->wall_s[1], d->hz[1], (unsigned long long)d->samples[1],
		  ap_view_names[AP_VIEW_MIXED]);
	for (j = 0; j < AP_OFF__COUNT; j++)
		sb_printf(sb, "%s\"%s\"", j ? "," : "", ap_off_reason_names[j]);
	sb_puts(sb, "],\"off\":[],\"findings\":null,\"series\":[]");
	rows(sb, t, emap);
	num_array(sb, "b", t, emap, 0);
	num_array(sb, "n", t, emap, 1);
	num_array(sb, "bs", t, emap, 2);
	num_array(sb, "ns", t, emap, 3);
	num_array(sb, "c", t, emap, 4);
	num_array(sb, "ps", t, emap, 5);
	num_array(sb, "pa", t, emap, 6);
	sb_puts(sb, ",\"dirs\":[");
	html_json_str(sb, d->base_dir);
	sb_puts(sb, ",");
	html_json_str(sb, d->new_dir);
	sb_puts(sb, "],\"targets\":[");
	html_json_str(sb, d->target[0]);
	sb_puts(sb, ",");
	html_json_str(sb, d->target[1]);
	sb_printf(sb, "],\"samples\":[%llu,%llu],\"hz\":[%g,%g],\"wall\":[%.3f,%.3f],"
		  "\"tested\":%zu,\"alpha\":%g,\"min\":%d,\"nodes\":%zu,\"kept\":%u,\"cut_w\":%.3f",
		  (unsigned long long)d->samples[0], (unsigned long long)d->samples[1], d->hz[0],
		  d->hz[1], d->wall_s[0], d->wall_s[1], t->nr_tested, AP_DIFF_ALPHA,
		  AP_DIFF_MIN_SAMPLES, t->nr_nodes, kept, cut_w);
	paths(sb, t);
	sb_printf(sb, ",\"paths_cut\":%zu}}",
		  t->nr_paths > AP_DIFF_MAX_PATHS ? t->nr_paths - AP_DIFF_MAX_PATHS : 0);
	free(emap);
}

void ap_diff_html__render(const struct ap_diff *d, struct strbuf *out)
{
	const char *mark = "@@AP_DATA@@", *at = strstr(ap_report_html, mark);

	if (!at || !d->tree) { /* the template is part of the build: cannot happen */
		sb_puts(out, ap_report_html);
		return;
	}
	sb_append(out, ap_report_html, at - ap_report_html);
	data(out, d);
	sb_puts(out, at + strlen(mark));
}
