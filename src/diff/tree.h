/* SPDX-License-Identifier: MIT */
/* Call paths of `diff` (issue 17): the merged call tree of both runs, built
 * from their on-CPU stacks as report.html and flame.svg see them (process
 * name, then the frames of the mixed view, frames merged by label), each
 * node with both runs' self and total samples, shares and CPU-seconds, and
 * the two tests of diff.c on its total samples, Holm-corrected over the
 * nodes tested. diff.json's "call_paths", the summary's top paths, a
 * Markdown section and diff.html (diff/html.c) are written from it. */
#ifndef AP_DIFF_TREE_H
#define AP_DIFF_TREE_H

#include <stdint.h>
#include <stdio.h>
#include "diff/diff.h"
#include "hashmap.h"
#include "util.h"

/* call paths written to diff.json at most (the rest counted in
 * "call_paths_cut") */
#define AP_DIFF_MAX_PATHS 50
/* nodes diff.html carries at most (100000): the widest, the rest counted
 * and their width left to their callers' own; a variable so that tests can
 * lower it */
extern size_t ap_diff_html_nodes;
/* a changed path is left out of the list when one of its callees changed
 * the same way by at least this fraction of its change: the change lies
 * below it */
#define AP_DIFF_CARRIED 0.5

struct ap_diff_label {
	char *text;
	uint32_t cls; /* enum ap_frame_class; AP_FC__COUNT for "all" and process names */
};

struct ap_diff_node { /* 88 bytes: a 50k-stack pair has ~1.4M of them */
	uint32_t parent; /* AP_NONE for node 0, "all"; depth 1 is the process name */
	uint32_t label;
	uint32_t depth : 31;
	uint32_t listed : 1; /* one of the call paths (possibly cut from diff.json) */
	enum ap_diff_class cls;
	uint64_t self[2], total[2]; /* [0] base, [1] new; shares and seconds: below */
	/* diff.c's two tests of the total samples (share; CPU-seconds), p
	 * Holm-adjusted over the nodes tested; NAN untested */
	double z_share, p_share, z_abs, p_abs;
	/* width in diff.html, in NEW's samples: its NEW total plus, for every
	 * callee gone in NEW, that callee's base total scaled to NEW's samples */
	double width;
};

struct ap_diff_tree {
	struct ap_diff_label *labels;
	size_t nr_labels, cap_labels;
	struct hmap label_ids; /* (cls, text) -> label */
	uint64_t *kid_key;     /* (parent, label) -> node: open addressing, */
	uint32_t *kid_node;    /* key ((parent << 32) | label) + 1, 0 empty */
	size_t kid_cap;        /* a power of 2, at most half full */
	/* (label_ids and the kid table are freed once the tree is built) */
	double pct_per[2], s_per[2]; /* a sample's share (points) and seconds in each run */
	struct ap_diff_node *nodes;
	size_t nr_nodes, cap_nodes;
	size_t nr_tested;
	uint32_t *paths;       /* the changed paths, by |change of total share| */
	size_t nr_paths;
};

/* count samples of run (0 base, 1 new) as points of its share and as
 * CPU-seconds */
static inline double ap_diff_pct(const struct ap_diff_tree *t, uint64_t count, int run)
{
	return count * t->pct_per[run];
}

static inline double ap_diff_sec(const struct ap_diff_tree *t, uint64_t count, int run)
{
	return count * t->s_per[run];
}

struct ap_diff;
struct ap_analysis;

/* the merged tree of base and new, tested (d has the runs' facts); never
 * NULL; free with ap_diff_tree__free() (NULL is fine) */
struct ap_diff_tree *ap_diff_tree__build(const struct ap_diff *d, const struct ap_analysis *base,
					 const struct ap_analysis *new);
void ap_diff_tree__free(struct ap_diff_tree *t);
/* node's labels from the process name down, joined by sep, into sb (emptied
 * first); the text */
const char *ap_diff_tree__path(const struct ap_diff_tree *t, uint32_t node, const char *sep,
			       struct strbuf *sb);

/* diff.json's "call_paths_tested", "call_paths" (at most AP_DIFF_MAX_PATHS)
 * and "call_paths_cut", added to j */
void ap_diff_paths__json(const struct ap_diff *d, cJSON *j);
/* the terminal's "Call paths that changed most" block: top paths, one line
 * each */
void ap_diff_paths__print(const struct ap_diff *d, size_t top, FILE *f);
/* the same as a Markdown section ("## Call paths that changed", a table of
 * up to top paths), for diff.md */
void ap_diff_paths__md(const struct ap_diff *d, size_t top, FILE *f);

/* diff.html: report.html's page in its diff mode, a differential flame
 * graph of the tree (diff/html.c) */
void ap_diff_html__render(const struct ap_diff *d, struct strbuf *out);

#endif
