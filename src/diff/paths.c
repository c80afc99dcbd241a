// SPDX-License-Identifier: MIT
/* The changed call paths of `diff` (diff/tree.h) in diff.json, in the
 * terminal summary (one line each) and as a Markdown section for diff.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diff/diff.h"
#include "report/report.h"

/* node n's self or total samples in run k as a share (points) or seconds */
#define PCT(what, k) ap_diff_pct(t, n->what[k], k)
#define SEC(what, k) ap_diff_sec(t, n->what[k], k)

static cJSON *path_json(const struct ap_diff_tree *t, uint32_t id)
{
	const struct ap_diff_node *n = &t->nodes[id];
	cJSON *j = cJSON_CreateObject(), *path = cJSON_CreateArray();
	uint32_t *up = xcalloc(n->depth + 1, sizeof(*up)), k = 0, i;

	for (i = id; i; i = t->nodes[i].parent)
		up[k++] = i;
	while (k-- > 0)
		cJSON_AddItemToArray(path,
				     cJSON_CreateString(t->labels[t->nodes[up[k]].label].text));
	free(up);
	cJSON_AddItemToObject(j, "path", path);
	cJSON_AddItemToObject(j, "self_samples", ap_json_pair(n->self[0], n->self[1]));
	cJSON_AddItemToObject(j, "total_samples", ap_json_pair(n->total[0], n->total[1]));
	cJSON_AddItemToObject(j, "self_pct", ap_json_pair(PCT(self, 0), PCT(self, 1)));
	cJSON_AddItemToObject(j, "total_pct", ap_json_pair(PCT(total, 0), PCT(total, 1)));
	cJSON_AddItemToObject(j, "self_s", ap_json_pair(SEC(self, 0), SEC(self, 1)));
	cJSON_AddItemToObject(j, "total_s", ap_json_pair(SEC(total, 0), SEC(total, 1)));
	cJSON_AddNumberToObject(j, "self_pct_delta", PCT(self, 1) - PCT(self, 0));
	cJSON_AddNumberToObject(j, "total_pct_delta", PCT(total, 1) - PCT(total, 0));
	cJSON_AddNumberToObject(j, "total_s_delta", SEC(total, 1) - SEC(total, 0));
	cJSON_AddItemToObject(j, "z_share", ap_json_num_or_null(n->z_share));
	cJSON_AddItemToObject(j, "p_share", ap_json_num_or_null(n->p_share));
	cJSON_AddItemToObject(j, "z_abs", ap_json_num_or_null(n->z_abs));
	cJSON_AddItemToObject(j, "p_abs", ap_json_num_or_null(n->p_abs));
	cJSON_AddStringToObject(j, "class", ap_diff_class_names[n->cls]);
	return j;
}

void ap_diff_paths__json(const struct ap_diff *d, cJSON *j)
{
	const struct ap_diff_tree *t = d->tree;
	cJSON *a = cJSON_CreateArray();
	size_t i, n = t ? t->nr_paths : 0;

	cJSON_AddStringToObject(j, "call_paths_tests",
				"the functions' two tests on each call path's total samples, "
				"Holm over the paths tested; listed: the real changes that no "
				"callee carries half of, the slower first");
	cJSON_AddNumberToObject(j, "call_paths_tested", t ? t->nr_tested : 0);
	for (i = 0; i < n && i < AP_DIFF_MAX_PATHS; i++)
		cJSON_AddItemToArray(a, path_json(t, t->paths[i]));
	cJSON_AddItemToObject(j, "call_paths", a);
	cJSON_AddNumberToObject(j, "call_paths_cut",
				n > AP_DIFF_MAX_PATHS ? n - AP_DIFF_MAX_PATHS : 0);
}

static const char *verdict(const struct ap_diff_node *n)
{
	if (n->cls == AP_DIFF_ABSOLUTE)
		return n->z_abs > 0 ? "real: its CPU time grew" : "real: its CPU time shrank";
	return "share shift only: its CPU time did not change";
}

/* the path's last labels that fit in width columns (at least the leaf),
 * "... > " before them when cut */
static const char *short_path(const struct ap_diff_tree *t, uint32_t id, size_t width,
			      struct strbuf *sb)
{
	const char *s = ap_diff_tree__path(t, id, " > ", sb), *cut;

	if (strlen(s) <= width)
		return s;
	cut = strstr(s + strlen(s) - width + 3, " > ");
	if (!cut) /* a long leaf: whole, never cut inside a character */
		for (cut = s; strstr(cut + 1, " > "); cut = strstr(cut + 1, " > "))
			;
	return cut;
}

void ap_diff_paths__print(const struct ap_diff *d, size_t top, FILE *out)
{
	const struct ap_diff_tree *t = d->tree;
	struct strbuf sb = { 0 };
	size_t i;

	if (!t || !top)
		return;
	fprintf(out, "\nCall paths that changed, slower first (total share, points; %zu tested):\n",
		t->nr_tested);
	if (!t->nr_paths)
		fprintf(out, "  none\n");
	for (i = 0; i < t->nr_paths && i < top; i++) {
		const struct ap_diff_node *n = &t->nodes[t->paths[i]];
		const char *p = short_path(t, t->paths[i], 60, &sb);
		char *clean = tty_dup(p); /* the target's names: no escape to the terminal */

		fprintf(out, "  %+6.1f pts  %s%s; %s\n", PCT(total, 1) - PCT(total, 0),
			p == sb.buf ? "" : "...", clean, verdict(n));
		free(clean);
	}
	if (t->nr_paths > top)
		fprintf(out, "  (%zu more in diff.json)\n", t->nr_paths - top);
	sb_free(&sb);
}

void ap_diff_paths__md(const struct ap_diff *d, size_t top, FILE *f)
{
	const struct ap_diff_tree *t = d->tree;
	size_t i;
	uint32_t k, *up;

	if (!t)
		return;
	fprintf(f, "\n## Call paths that changed\n\n");
	fprintf(f, "Each call path's total samples tested as the functions' self samples are "
		   "(%zu paths tested, Holm-corrected); a path is listed when its change is real "
		   "and no callee carries half of it, the paths that got slower first.\n\n",
		t->nr_tested);
	if (!t->nr_paths) {
		fprintf(f, "No call path changed beyond noise.\n\n");
		return;
	}
	fprintf(f, "| change | call path | base | new | verdict |\n|---:|---|---:|---:|---|\n");
	for (i = 0; i < t->nr_paths && i < top; i++) {
		const struct ap_diff_node *n = &t->nodes[t->paths[i]];

		fprintf(f, "| %+.1f pts | ", PCT(total, 1) - PCT(total, 0));
		up = xcalloc(n->depth + 1, sizeof(*up));
		for (k = 0, up[0] = t->paths[i]; up[k]; k++)
			up[k + 1] = t->nodes[up[k]].parent;
		while (k-- > 0) {
			ap_diff_md_cell(t->labels[t->nodes[up[k]].label].text, f);
			fputs(k ? " → " : "", f);
		}
		free(up);
		fprintf(f, " | %.1f%% (%.2f s) | %.1f%% (%.2f s) | %s, p %.2g |\n", PCT(total, 0),
			SEC(total, 0), PCT(total, 1), SEC(total, 1), verdict(n),
			n->cls == AP_DIFF_ABSOLUTE ? n->p_abs : n->p_share);
	}
	if (t->nr_paths > top)
		fprintf(f, "\n%zu more call paths in diff.json.\n", t->nr_paths - top);
	fputc('\n', f);
}
