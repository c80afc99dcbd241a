// SPDX-License-Identifier: MIT
/* `diff`'s call paths and diff.html on the synthetic runs of
 * tests/fixtures/diff-html (gen.py): python3 > main > work > a (1000 -> 2000
 * samples), work > b (1000), main > helper > a (500), main > old (300 -> gone),
 * main > fresh (new, 300), main's own 100, at 100 Hz. */
#include <math.h>
#include <stdlib.h>
#include "analyze/analyze.h"
#include "diff/diff.h"
#include "unit.h"

#define FX "tests/fixtures/diff-html/"

/* the node at path "main;work;a" (below the process), or NULL */
static const struct ap_diff_node *node(const struct ap_diff_tree *t, const char *path)
{
	struct strbuf sb = { 0 };
	const struct ap_diff_node *found = NULL;
	char *want = xasprintf("python3;%s", path);
	size_t i;

	for (i = 1; i < t->nr_nodes && !found; i++) {
		const char *p = ap_diff_tree__path(t, i, ";", &sb);
		char *clean = xstrdup(p), *s, *o;

		/* "a (w.py:12)" -> "a" */
		for (s = o = clean; *s; s++) {
			if (*s == ' ' && s[1] == '(')
				while (*s && *s != ')')
					s++;
			else
				*o++ = *s;
		}
		*o = 0;
		if (!strcmp(clean, want))
			found = &t->nodes[i];
		free(clean);
	}
	free(want);
	sb_free(&sb);
	return found;
}

static bool listed_first(const struct ap_diff_tree *t, const struct ap_diff_node *n)
{
	return t->nr_paths && &t->nodes[t->paths[0]] == n;
}

static int load(struct ap_diff *d, struct ap_analysis *b, struct ap_analysis *n, const char *nd)
{
	memset(d, 0, sizeof(*d));
	if (unit_analysis_load(b, FX "base") || unit_analysis_load(n, nd))
		return -1;
	d->base_dir = FX "base", d->new_dir = nd;
	return ap_diff__compute(d, b, n, &(struct ap_diff_opts){ 0 });
}

static void done(struct ap_diff *d, struct ap_analysis *b, struct ap_analysis *n)
{
	ap_diff__free(d);
	ap_analysis__free(b);
	ap_analysis__free(n);
}

TEST(diff_tree_merged)
{
	struct ap_analysis b, n;
	struct ap_diff d;
	const struct ap_diff_tree *t;
	const struct ap_diff_node *wa, *ha, *old, *fresh, *main_, *work, *helper;

	if (!ASSERT_EQ(load(&d, &b, &n, FX "new"), 0, "load") || !ASSERT_TRUE(d.tree, "tree"))
		goto out;
	t = d.tree;
	/* all, python3, main, work, work;a, work;b, helper, helper;a, old, fresh */
	ASSERT_EQ(t->nr_nodes, 10, "nodes of both runs merged");
	wa = node(t, "main;work;a"), ha = node(t, "main;helper;a"), old = node(t, "main;old");
	fresh = node(t, "main;fresh"), main_ = node(t, "main"), work = node(t, "main;work");
	helper = node(t, "main;helper");
	if (!ASSERT_TRUE(wa && ha && old && fresh && main_ && work && helper, "paths found"))
		goto out;
	ASSERT_EQ(wa->total[0], 1000, "work;a base");
	ASSERT_EQ(wa->total[1], 2000, "work;a new");
	ASSERT_EQ(ha->self[1], 500, "helper;a: a path of its own");
	ASSERT_EQ(main_->total[0], 2900, "main: every sample");
	ASSERT_EQ(main_->self[1], 100, "main's own");
	ASSERT_EQ(old->total[1], 0, "old gone");
	ASSERT_EQ(fresh->total[0], 0, "fresh new");
	ASSERT_NEAR(ap_diff_pct(t, wa->total[0], 0), 100.0 * 1000 / 2900, 1e-9, "share of all");
	ASSERT_NEAR(ap_diff_sec(t, wa->total[1], 1), 20.0, 1e-9, "CPU-s at 100 Hz");
	/* widths in NEW's samples: old at its base share of NEW */
	ASSERT_NEAR(old->width, 300.0 * 3900 / 2900, 1e-6, "gone: base share of new");
	ASSERT_NEAR(main_->width, 3900 + 300.0 * 3900 / 2900, 1e-6, "caller: new + gone callees");
	ASSERT_NEAR(t->nodes[0].width, main_->width, 1e-6, "all");
	/* the tests and the listed paths */
	ASSERT_EQ(t->nr_tested, 9, "every node but all tested");
	ASSERT_TRUE(wa->cls == AP_DIFF_ABSOLUTE && wa->z_abs > 0, "work;a grew");
	ASSERT_TRUE(listed_first(t, wa), "work;a first");
	ASSERT_TRUE(old->cls == AP_DIFF_ABSOLUTE && old->z_abs < 0 && old->listed, "old shrank");
	ASSERT_TRUE(fresh->cls == AP_DIFF_ABSOLUTE && fresh->z_abs > 0 && fresh->listed,
		    "fresh grew");
	ASSERT_TRUE(ha->cls == AP_DIFF_SHARE && ha->listed, "helper;a: a share shift");
	ASSERT_TRUE(work->cls == AP_DIFF_ABSOLUTE && !work->listed, "work: carried by work;a");
	ASSERT_TRUE(!helper->listed, "helper: carried by helper;a");
	ASSERT_TRUE(main_->cls == AP_DIFF_ABSOLUTE && !main_->listed,
		    "main: its CPU-seconds carried by work;a");
	ASSERT_EQ(t->nr_paths, 5, "work;a, old, work;b, fresh, helper;a");
out:
	done(&d, &b, &n);
}

TEST(diff_tree_identical)
{
	struct ap_analysis b, n;
	struct ap_diff d;
	size_t i;

	if (ASSERT_EQ(load(&d, &b, &n, FX "base"), 0, "load") && ASSERT_TRUE(d.tree, "tree")) {
		ASSERT_EQ(d.tree->nr_paths, 0, "identical: no path changed");
		for (i = 1; i < d.tree->nr_nodes; i++)
			ASSERT_TRUE(d.tree->nodes[i].cls <= AP_DIFF_NOISE, "identical: noise");
	}
	done(&d, &b, &n);
}

/* text written by fn into a string (free it) */
static char *capture(void (*fn)(const struct ap_diff *, size_t, FILE *), const struct ap_diff *d,
		     size_t top)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fn(d, top, f);
	fclose(f);
	return buf;
}

TEST(diff_paths_outputs)
{
	struct ap_analysis b, n;
	struct ap_diff d;
	cJSON *j, *paths;
	size_t i;
	char *s;

	if (!ASSERT_EQ(load(&d, &b, &n, FX "new"), 0, "load"))
		goto out;
	j = ap_diff__json(&d);
	paths = cJSON_GetObjectItem(j, "call_paths");
	ASSERT_EQ(cJSON_GetArraySize(paths), 5, "diff.json: five paths");
	ASSERT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "call_paths_cut")), 0, "none cut");
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(
			     cJSON_GetArrayItem(paths, 0), "path"), 3)), "a (w.py:12)",
		     "first path's leaf");
	cJSON_Delete(j);
	s = capture(ap_diff_paths__print, &d, 3);
	ASSERT_TRUE(strstr(s, "+16.8 pts  python3 > main (w.py:10) > work (w.py:11) > a (w.py:12)"),
		    "summary: work;a first");
	ASSERT_TRUE(strstr(s, "(2 more in diff.json)"), "summary: three of five");
	free(s);
	/* a name from the target with an escape sequence: cleaned on a terminal */
	for (i = 0; i < d.tree->nr_labels; i++)
		if (!strcmp(d.tree->labels[i].text, "a (w.py:12)")) {
			free(d.tree->labels[i].text);
			d.tree->labels[i].text = xstrdup("a\x1b]0;owned\x07 (w.py:12)");
		}
	s = capture(ap_diff_paths__print, &d, 3);
	ASSERT_TRUE(!strchr(s, '\x1b') && !strchr(s, '\x07') && strstr(s, "a?]0;owned? (w.py:12)"),
		    "summary: control characters as ?");
	free(s);
	s = capture(ap_diff_paths__md, &d, 10);
	ASSERT_TRUE(strstr(s, "## Call paths that changed"), "md: heading");
	ASSERT_TRUE(strstr(s, "| +16.8 pts | python3 → main (w.py:10) → work (w.py:11) → "
			      "a?]0;owned? (w.py:12) |"),
		    "md: work;a row");
	free(s);
out:
	done(&d, &b, &n);
}

TEST(diff_html_data_and_cap)
{
	struct ap_analysis b, n;
	struct ap_diff d;
	struct strbuf sb = { 0 };
	size_t saved = ap_diff_html_nodes;

	if (!ASSERT_EQ(load(&d, &b, &n, FX "new"), 0, "load"))
		goto out;
	ap_diff_html__render(&d, &sb);
	ASSERT_TRUE(sb.buf && strstr(sb.buf, "\"nodes\":10,\"kept\":10,\"cut_w\":0.000"),
		    "all ten nodes");
	ASSERT_TRUE(!strstr(sb.buf, "@@AP_DATA@@") && strstr(sb.buf, "</html>"), "whole page");
	ASSERT_TRUE(strstr(sb.buf, "\"b\":[2900,2900,2900,2000,1000,1000,500,500,300,0]"),
		    "base totals per node, callers first");
	sb_free(&sb);
	/* the widest 5: all, python3, main, work, work;a; b, helper, old and fresh
	 * cut below kept callers, helper;a below a cut one */
	ap_diff_html_nodes = 5;
	ap_diff_html__render(&d, &sb);
	ASSERT_TRUE(sb.buf && strstr(sb.buf, "\"nodes\":10,\"kept\":5,\"cut_w\":2203.448"),
		    "cut five");
	ASSERT_TRUE(strstr(sb.buf, "\"spath\":[[1,2],[1,2,3],[1,2,3,4]]"),
		    "rows: main and work (their own with the cut width), work;a");
	sb_free(&sb);
out:
	ap_diff_html_nodes = saved;
	done(&d, &b, &n);
}
