// SPDX-License-Identifier: MIT
/* The merged call tree of `diff`: both runs' on-CPU stacks walked into one
 * tree (node = parent and label), tested node by node with diff.c's two
 * tests on the node's total samples, and the changed call paths picked:
 * the real changes that no single callee carries (AP_DIFF_CARRIED), so a
 * grown leaf is named once rather than with each of its callers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/analyze.h"
#include "diff/diff.h"
#include "report/formats.h"

static uint32_t label_id(struct ap_diff_tree *t, const char *text, uint32_t cls)
{
	size_t len = strlen(text);
	char *key = xmalloc(len + 4);
	bool is_new;
	uint64_t *id;

	memcpy(key, &cls, 4);
	memcpy(key + 4, text, len);
	id = hmap_upsert(&t->label_ids, key, len + 4, t->nr_labels, &is_new);
	free(key);
	if (is_new) {
		GROW(t->labels, t->cap_labels, t->nr_labels + 1);
		t->labels[t->nr_labels++] = (struct ap_diff_label){ .text = xstrdup(text),
								    .cls = cls };
	}
	return *id;
}

_Static_assert(sizeof(struct ap_diff_node) == 88, "ap_diff_node grew: see tree.h");

static uint32_t node_new(struct ap_diff_tree *t, uint32_t parent, uint32_t label, uint32_t depth)
{
	/* not GROW: its zeroing would touch the whole doubled array (~70 MB
	 * never used on a 50k-stack pair); every node is written in full here */
	if (t->nr_nodes == t->cap_nodes) {
		t->cap_nodes = t->cap_nodes ? 2 * t->cap_nodes : 1024;
		t->nodes = xrealloc(t->nodes, t->cap_nodes * sizeof(*t->nodes));
	}
	t->nodes[t->nr_nodes] = (struct ap_diff_node){ .parent = parent, .label = label,
						       .depth = depth, .z_share = NAN,
						       .p_share = NAN, .z_abs = NAN, .p_abs = NAN };
	return t->nr_nodes++;
}

static size_t kid_slot(const struct ap_diff_tree *t, uint64_t key)
{
	size_t i = (key * 0x9e3779b97f4a7c15ull) >> 20;

	for (i &= t->kid_cap - 1; t->kid_key[i] && t->kid_key[i] != key;
	     i = (i + 1) & (t->kid_cap - 1))
		;
	return i;
}

/* parent's callee labelled label, made on first use. A table of its own
 * rather than hashmap.h's: a 50k-stack pair has ~700k nodes, and a copied
 * key per node cost ~90 MB and a third of the tree's time */
static uint32_t kid(struct ap_diff_tree *t, uint32_t parent, uint32_t label)
{
	uint64_t key = ((uint64_t)parent << 32 | label) + 1; /* never 0: a process named "all" */
	size_t i, old = t->kid_cap;

	if (2 * (t->nr_nodes + 1) > t->kid_cap) {
		uint64_t *keys = t->kid_key;
		uint32_t *nodes = t->kid_node;

		t->kid_cap = old ? 2 * old : 1024;
		t->kid_key = xcalloc(t->kid_cap, sizeof(*t->kid_key));
		t->kid_node = xcalloc(t->kid_cap, sizeof(*t->kid_node));
		for (i = 0; i < old; i++)
			if (keys[i]) {
				size_t j = kid_slot(t, keys[i]);

				t->kid_key[j] = keys[i], t->kid_node[j] = nodes[i];
			}
		free(keys);
		free(nodes);
	}
	i = kid_slot(t, key);
	if (!t->kid_key[i]) {
		t->kid_key[i] = key;
		t->kid_node[i] = node_new(t, parent, label, t->nodes[parent].depth + 1);
	}
	return t->kid_node[i];
}

/* run i's on-CPU rows into the tree: process name, then the mixed view's
 * frames labelled as in report.html (ap_pics) */
static void add_run(struct ap_diff_tree *t, int i, const struct ap_analysis *an)
{
	const struct profile *p = &an->in.prof;
	/* each frame's label id, looked up on its first use (so ids are
	 * numbered in the order the walk meets them) rather than per use */
	uint32_t *fl = xmalloc((p->nr_frames + 1) * sizeof(*fl));
	const char *last_comm = NULL;
	struct ap_pics x;
	uint32_t n, j, node, last = 0;
	size_t r;

	memset(fl, 0xff, (p->nr_frames + 1) * sizeof(*fl));
	ap_pics_init(&x, &an->in, AP_VIEW_MIXED, -1);
	for (r = 0; r < p->nr_counts; r++) {
		const struct ap_count *c = &p->counts[r];
		const struct ap_process *pr = profile__find_process(p, c->pid);
		const char *comm = pr ? profile__s(p, pr->comm) : "";
		const uint32_t *fr = ap_pics_stack(&x, c->stack, &n);

		t->nodes[0].total[i] += c->count;
		if (!r || comm != last_comm)
			last = label_id(t, *comm ? comm : "[unknown]", AP_FC__COUNT);
		last_comm = comm;
		node = kid(t, 0, last);
		t->nodes[node].total[i] += c->count;
		for (j = 0; j < n; j++) {
			if (fl[fr[j]] == UINT32_MAX)
				fl[fr[j]] = label_id(t, x.labels[fr[j]], ap_frame_class(p, fr[j]));
			node = kid(t, node, fl[fr[j]]);
			t->nodes[node].total[i] += c->count;
		}
		t->nodes[node].self[i] += c->count;
	}
	ap_pics_free(&x);
	free(fl);
}

/* shares, CPU-seconds and both tests of every node but "all", Holm over
 * the nodes tested in each family */
static void test_nodes(struct ap_diff_tree *t, const struct ap_diff *d)
{
	double *p = xcalloc(t->nr_nodes + 1, sizeof(*p));
	size_t i;
	int k;

	for (k = 0; k < 2; k++) {
		t->pct_per[k] = d->samples[k] ? 100.0 / d->samples[k] : 0;
		t->s_per[k] = 1 / d->hz[k];
	}
	for (i = 0; i < t->nr_nodes; i++) {
		struct ap_diff_node *n = &t->nodes[i];

		if (i)
			ap_diff__test(d, n->total, &n->z_share, &n->p_share, &n->z_abs, &n->p_abs);
		p[i] = n->p_share;
	}
	ap_holm(p, t->nr_nodes);
	for (i = 0; i < t->nr_nodes; i++)
		t->nodes[i].p_share = p[i], p[i] = t->nodes[i].p_abs;
	ap_holm(p, t->nr_nodes);
	for (i = 0; i < t->nr_nodes; i++) {
		struct ap_diff_node *n = &t->nodes[i];

		n->p_abs = p[i];
		n->cls = ap_diff_verdict(n->p_share, n->p_abs, 0, 0, 0, 0, NULL);
		t->nr_tested += !isnan(n->p_share);
	}
	free(p);
}

/* widths for diff.html: callees come after their callers, so one pass
 * from the last node settles each callee before its caller reads it */
static void widths(struct ap_diff_tree *t)
{
	double *extra = xcalloc(t->nr_nodes + 1, sizeof(*extra));
	const uint64_t *all = t->nodes[0].total;
	double scale = all[0] ? (double)all[1] / all[0] : 1;
	size_t i;

	for (i = t->nr_nodes; i-- > 0;) {
		struct ap_diff_node *n = &t->nodes[i];

		n->width = n->total[1] ? n->total[1] + extra[i] : n->total[0] * scale;
		if (i)
			extra[n->parent] += n->total[1] ? extra[i] : n->width;
	}
	free(extra);
}

static const struct ap_diff_tree *sort_t;

/* the change of total share (points) and of CPU-seconds */
static double delta(const struct ap_diff_node *n)
{
	return ap_diff_pct(sort_t, n->total[1], 1) - ap_diff_pct(sort_t, n->total[0], 0);
}

static double delta_s(const struct ap_diff_node *n)
{
	return ap_diff_sec(sort_t, n->total[1], 1) - ap_diff_sec(sort_t, n->total[0], 0);
}

static bool real(const struct ap_diff_node *n)
{
	return n->cls == AP_DIFF_ABSOLUTE || n->cls == AP_DIFF_SHARE;
}

/* does a callee's change dc carry its caller's dp (share points or
 * CPU-seconds)? */
static bool carries(double dc, double dp)
{
	return dc * dp > 0 && fabs(dc) >= AP_DIFF_CARRIED * fabs(dp);
}

/* 1 when its CPU time and its share both grew (a path that got slower), as
 * the functions' regressions come first */
static int grew(const struct ap_diff_node *n)
{
	return n->cls == AP_DIFF_ABSOLUTE && n->z_abs > 0 && delta(n) > 0;
}

/* the paths that got slower first, then the other changes, each by the
 * size of the change of total share */
static int path_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	double dx = fabs(delta(&sort_t->nodes[x])), dy = fabs(delta(&sort_t->nodes[y]));
	int c = grew(&sort_t->nodes[y]) - grew(&sort_t->nodes[x]);

	if (c)
		return c;
	if (dx != dy)
		return dx < dy ? 1 : -1;
	return x < y ? -1 : x > y;
}

/* the real changes that no callee carries, in share points or in
 * CPU-seconds (a caller whose share held while the run's time grew with
 * one callee is that callee's change) */
static void pick_paths(struct ap_diff_tree *t)
{
	bool *carried = xcalloc(t->nr_nodes + 1, sizeof(*carried));
	size_t i;

	sort_t = t;
	for (i = 1; i < t->nr_nodes; i++) {
		const struct ap_diff_node *c = &t->nodes[i], *p = &t->nodes[c->parent];

		if (c->parent && real(c) && real(p) && (carries(delta(c), delta(p)) ||
		    carries(delta_s(c), delta_s(p))))
			carried[c->parent] = true;
	}
	t->paths = xcalloc(t->nr_nodes + 1, sizeof(*t->paths));
	for (i = 1; i < t->nr_nodes; i++)
		if (real(&t->nodes[i]) && !carried[i]) {
			t->nodes[i].listed = true;
			t->paths[t->nr_paths++] = i;
		}
	free(carried);
	qsort(t->paths, t->nr_paths, sizeof(*t->paths), path_cmp);
}

struct ap_diff_tree *ap_diff_tree__build(const struct ap_diff *d, const struct ap_analysis *base,
					 const struct ap_analysis *new)
{
	struct ap_diff_tree *t = xcalloc(1, sizeof(*t));

	node_new(t, AP_NONE, label_id(t, "all", AP_FC__COUNT), 0);
	add_run(t, 0, base);
	add_run(t, 1, new);
	/* the lookups are done: their ~50 MB go before the writers' */
	hmap_free(&t->label_ids);
	free(t->kid_key);
	free(t->kid_node);
	t->kid_key = NULL, t->kid_node = NULL, t->kid_cap = 0;
	test_nodes(t, d);
	widths(t);
	pick_paths(t);
	return t;
}

void ap_diff_tree__free(struct ap_diff_tree *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nr_labels; i++)
		free(t->labels[i].text);
	free(t->labels);
	hmap_free(&t->label_ids);
	free(t->kid_key);
	free(t->kid_node);
	free(t->nodes);
	free(t->paths);
	free(t);
}

const char *ap_diff_tree__path(const struct ap_diff_tree *t, uint32_t node, const char *sep,
			       struct strbuf *sb)
{
	uint32_t *up = xcalloc(t->nodes[node].depth + 1, sizeof(*up)), n = 0, i;

	for (; node && node != AP_NONE; node = t->nodes[node].parent)
		up[n++] = node;
	sb->len = 0;
	sb_puts(sb, "");
	for (i = n; i-- > 0;)
		sb_printf(sb, "%s%s", i + 1 < n ? sep : "", t->labels[t->nodes[up[i]].label].text);
	free(up);
	return sb->buf;
}
