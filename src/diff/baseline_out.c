// SPDX-License-Identifier: MIT
/* The outputs of `diff --baseline`: the "baseline" part of diff.json (every
 * budget with its verdict) and the terminal summary (each budget: budget,
 * new value, change, verdict; the exceeded ones named at the end). */
#include <math.h>
#include <string.h>
#include "diff/baseline.h"
#include "diff/diff.h"

/* syscalls whose budgets are all printed; of the others only those
 * exceeded or gone */
#define PRINT_TOP_SYSCALLS 10

static double change_pct(const struct ap_budget *x)
{
	return x->budget > 0 ? 100 * (x->value - x->budget) / x->budget : NAN;
}

static cJSON *budget_json(const struct ap_budget *x)
{
	cJSON *j = cJSON_CreateObject(), *s;

	cJSON_AddStringToObject(j, "kind", ap_budget_kind_names[x->kind]);
	if (x->name)
		cJSON_AddStringToObject(j, "name", x->name);
	if (x->file)
		cJSON_AddStringToObject(j, "file", x->file);
	cJSON_AddNumberToObject(j, "budget", x->budget);
	cJSON_AddNumberToObject(j, "value", x->value);
	cJSON_AddItemToObject(j, "change_pct", ap_json_num_or_null(change_pct(x)));
	if (x->kind == AP_BUDGET_CPU || x->kind == AP_BUDGET_FUNCTION) {
		s = cJSON_CreateArray();
		cJSON_AddItemToArray(s, cJSON_CreateNumber(x->samples[0]));
		cJSON_AddItemToArray(s, cJSON_CreateNumber(x->samples[1]));
		cJSON_AddItemToObject(j, "samples", s);
		cJSON_AddItemToObject(j, "z", ap_json_num_or_null(x->z));
		cJSON_AddItemToObject(j, "p", ap_json_num_or_null(x->p));
	}
	cJSON_AddStringToObject(j, "verdict", ap_budget_verdict_names[x->verdict]);
	return j;
}

static cJSON *pair_str(const char *a, const char *b)
{
	cJSON *j = cJSON_CreateArray();

	cJSON_AddItemToArray(j, cJSON_CreateString(a));
	cJSON_AddItemToArray(j, cJSON_CreateString(b));
	return j;
}

cJSON *ap_baseline_gate__json(const struct ap_baseline_gate *g, const struct ap_baseline *b,
			      const char *path)
{
	cJSON *j = cJSON_CreateObject(), *fl = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	size_t i;

	cJSON_AddStringToObject(j, "name", b->name);
	cJSON_AddStringToObject(j, "path", path);
	cJSON_AddStringToObject(j, "created", b->created);
	cJSON_AddStringToObject(j, "source", b->source);
	cJSON_AddItemToObject(j, "target", pair_str(b->target, g->new_target));
	cJSON_AddBoolToObject(j, "same_target", g->same_target);
	cJSON_AddItemToObject(j, "interpreter", pair_str(b->runtime, g->new_runtime));
	cJSON_AddBoolToObject(j, "same_interpreter", g->same_runtime);
	cJSON_AddNumberToObject(j, "tolerance_pct", g->tolerance_pct);
	cJSON_AddStringToObject(j, "test",
				"sampled budgets: one-sided Poisson z-test of the new CPU-seconds "
				"over budget x (1 + tolerance), Holm over the sampled budgets tested; "
				"exact budgets: over budget x (1 + tolerance) and by more than the floor");
	cJSON_AddNumberToObject(j, "alpha", AP_DIFF_ALPHA);
	cJSON_AddNumberToObject(j, "min_samples", AP_DIFF_MIN_SAMPLES);
	cJSON_AddNumberToObject(fl, "wall_s", AP_BASELINE_FLOOR_WALL_S);
	cJSON_AddNumberToObject(fl, "syscall_calls", AP_BASELINE_FLOOR_CALLS);
	cJSON_AddNumberToObject(fl, "syscall_s", AP_BASELINE_FLOOR_SYSCALL_S);
	cJSON_AddNumberToObject(fl, "syscall_bytes", AP_BASELINE_FLOOR_BYTES);
	cJSON_AddItemToObject(j, "floors", fl);
	cJSON_AddNumberToObject(j, "exceeded", g->nr_exceeded);
	for (i = 0; i < g->nr; i++)
		cJSON_AddItemToArray(arr, budget_json(&g->budgets[i]));
	cJSON_AddItemToObject(j, "budgets", arr);
	return j;
}

/* "hot (w.py)", "CPU time", "write calls" */
static void budget_label(const struct ap_budget *x, char *buf, size_t len)
{
	const char *file = x->file ? strrchr(x->file, '/') : NULL;

	switch (x->kind) {
	case AP_BUDGET_WALL:
		snprintf(buf, len, "wall time");
		break;
	case AP_BUDGET_CPU:
		snprintf(buf, len, "CPU time");
		break;
	case AP_BUDGET_FUNCTION:
		snprintf(buf, len, "%s (%s)", x->name,
			 file ? file + 1 : x->file && *x->file ? x->file : "?");
		break;
	case AP_BUDGET_CALLS:
		snprintf(buf, len, "%s calls", x->name);
		break;
	case AP_BUDGET_SYSCALL_S:
		snprintf(buf, len, "%s time", x->name);
		break;
	case AP_BUDGET_BYTES:
		snprintf(buf, len, "%s bytes", x->name);
		break;
	}
}

static void fmt_value(const struct ap_budget *x, double v, char *buf, size_t len)
{
	if (x->kind == AP_BUDGET_CALLS)
		snprintf(buf, len, "%.0f", v);
	else if (x->kind == AP_BUDGET_BYTES)
		snprintf(buf, len, v >= 1 << 20 ? "%.1f MiB" : "%.1f KiB", v / (v >= 1 << 20 ? 1 << 20 : 1024));
	else if (v < 1)
		snprintf(buf, len, "%.1f ms", v * 1e3);
	else
		snprintf(buf, len, "%.3f s", v);
}

static void print_budget(const struct ap_budget *x, FILE *out)
{
	char label[48], b[32], v[32], ch[16], why[64] = "";
	double c = change_pct(x);

	budget_label(x, label, sizeof(label));
	fmt_value(x, x->budget, b, sizeof(b));
	fmt_value(x, x->value, v, sizeof(v));
	if (isnan(c))
		snprintf(ch, sizeof(ch), "%s", x->value > 0 ? "new" : "-");
	else
		snprintf(ch, sizeof(ch), "%+.1f%%", c);
	if (!isnan(x->p))
		snprintf(why, sizeof(why), " (%llu -> %llu samples, p %.2g)",
			 (unsigned long long)x->samples[0], (unsigned long long)x->samples[1], x->p);
	fprintf(out, "  %-36.36s %12s %12s %9s  %s%s\n", label, b, v, ch,
		x->verdict == AP_BUDGET_EXCEEDED ? "EXCEEDED" :
		x->verdict != AP_BUDGET_NOISE	 ? ap_budget_verdict_names[x->verdict] :
		isnan(x->p)			 ? "over, under the floor" :
						   "over, within noise",
		why);
}

void ap_baseline_gate__print(const struct ap_baseline_gate *g, const struct ap_baseline *b,
			     const char *path, const char *new_dir, FILE *out)
{
	size_t i, shown_sc = 0, hidden = 0, n = 0;
	const char *last = NULL;
	char label[48];

	fprintf(out, "baseline %s (%s, saved %s) -> %s\n", b->name, path, b->created, new_dir);
	fprintf(out, "  over budget by more than %g%% (--max-regression) and beyond noise: Poisson test of\n"
		"  sampled CPU-seconds, Holm-corrected; floors %g s wall, %d calls, %g s, %d KiB per syscall\n",
		g->tolerance_pct, AP_BASELINE_FLOOR_WALL_S, AP_BASELINE_FLOOR_CALLS,
		AP_BASELINE_FLOOR_SYSCALL_S, AP_BASELINE_FLOOR_BYTES / 1024);
	fprintf(out, "\n  %-36s %12s %12s %9s  %s\n", "budget", "baseline", "new", "change", "verdict");
	for (i = 0; i < g->nr; i++) {
		const struct ap_budget *x = &g->budgets[i];
		bool sc = x->kind >= AP_BUDGET_CALLS;

		if (sc && (!last || strcmp(last, x->name)))
			last = x->name, shown_sc++;
		if (sc && shown_sc > PRINT_TOP_SYSCALLS && x->verdict != AP_BUDGET_EXCEEDED &&
		    x->verdict != AP_BUDGET_GONE) {
			hidden++;
			continue;
		}
		print_budget(x, out);
	}
	if (hidden)
		fprintf(out, "  ... %zu more syscall budgets not exceeded (diff.json lists every budget)\n",
			hidden);
	if (!g->nr_exceeded) {
		fprintf(out, "\nno budget exceeded (%zu budgets)\n", g->nr);
		return;
	}
	fprintf(out, "\n%zu budget%s exceeded:", g->nr_exceeded, g->nr_exceeded == 1 ? "" : "s");
	for (i = 0; i < g->nr; i++) {
		if (g->budgets[i].verdict != AP_BUDGET_EXCEEDED)
			continue;
		budget_label(&g->budgets[i], label, sizeof(label));
		fprintf(out, "%s %s", n++ ? "," : "", label);
	}
	fputc('\n', out);
}
