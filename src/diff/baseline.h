/* SPDX-License-Identifier: MIT */
/* Baselines a CI job can gate on (issue 17, item 3): a run's budgets (wall
 * time, CPU-seconds, the top functions' self CPU-seconds with their sample
 * counts, syscall calls, time and bytes) kept as JSON (AP_SCHEMA_BASELINE),
 * and the gate `diff --baseline` applies to a new run: a budget is exceeded
 * when the new value is over it by more than a tolerance and beyond noise. */
#ifndef AP_BASELINE_H
#define AP_BASELINE_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "analyze/analyze.h"

#define AP_SCHEMA_BASELINE "autoprof.baseline/1"
#define AP_BASELINE_DEFAULT_DIR ".autoprof-baselines" /* else --dir, $AUTOPROF_BASELINES */
#define AP_BASELINE_TOP_FNS 20          /* functions kept, by self samples */
#define AP_BASELINE_MAX_SYSCALLS 64     /* syscalls kept, by calls (the rest counted) */
#define AP_BASELINE_TOLERANCE_PCT 25.0  /* default --max-regression of a gate: the same work moved CPU time by 20-40% between runs on the test VM */
/* exact budgets: a growth under these is never a failure, whatever its share */
#define AP_BASELINE_FLOOR_WALL_S 0.05
#define AP_BASELINE_FLOOR_CALLS 20
#define AP_BASELINE_FLOOR_SYSCALL_S 0.05
#define AP_BASELINE_FLOOR_BYTES 65536
#define AP_BASELINE_NAME_MAX 200        /* NAME.json and its temp name fit NAME_MAX */

struct ap_baseline_fn {
	const char *name, *file, *kind;
	uint64_t samples;               /* self samples */
};

struct ap_baseline_sc {
	const char *name;
	uint64_t calls, bytes;
	double time_s;
};

/* a baseline read back; the strings point into root */
struct ap_baseline {
	cJSON *root;
	const char *name, *created, *source, *target, *runtime, *exe;
	double hz, wall_s;
	uint64_t samples;
	bool has_syscalls;              /* the run measured syscalls */
	struct ap_baseline_fn *fns;
	size_t nr_fns;
	struct ap_baseline_sc *scs;
	size_t nr_scs;
};

/* is name a baseline name: [A-Za-z0-9._-], 1 to AP_BASELINE_NAME_MAX
 * characters, not starting with "." or "-", not ending in ".json" */
bool ap_baseline_name_ok(const char *name);
/* the budgets of the analysed run an as a baseline's JSON tree (the caller
 * cJSON_Deletes it); source names the run directory */
cJSON *ap_baseline__build(const struct ap_analysis *an, const char *name, const char *source);
/* read a baseline's text (what names it in messages); 0, or -EINVAL with
 * one line logged. b owns the parsed tree: ap_baseline__free() */
int ap_baseline__parse(struct ap_baseline *b, const char *text, size_t len, const char *what);
void ap_baseline__free(struct ap_baseline *b);

enum ap_budget_kind {
	AP_BUDGET_WALL,         /* wall_s, exact */
	AP_BUDGET_CPU,          /* all samples, CPU-seconds */
	AP_BUDGET_FUNCTION,     /* one function's self samples, CPU-seconds */
	AP_BUDGET_CALLS,        /* one syscall's calls, exact */
	AP_BUDGET_SYSCALL_S,    /* ... its time, exact */
	AP_BUDGET_BYTES,        /* ... its bytes, exact */
};
extern const char *const ap_budget_kind_names[];

enum ap_budget_verdict {
	AP_BUDGET_OK,           /* within budget and tolerance */
	AP_BUDGET_NOISE,        /* over by more than the tolerance, but within noise or the floor */
	AP_BUDGET_UNTESTED,     /* too few samples in both, or NEW did not measure it */
	AP_BUDGET_GONE,         /* the function or syscall is not in NEW */
	AP_BUDGET_EXCEEDED,
};
extern const char *const ap_budget_verdict_names[];

struct ap_budget {
	enum ap_budget_kind kind;
	const char *name, *file;        /* function or syscall (point into the inputs); else NULL */
	double budget, value;           /* seconds, calls or bytes */
	uint64_t samples[2];            /* sampled budgets: baseline, NEW */
	double z, p;                    /* sampled: one-sided Poisson test of NEW over
					 * budget x (1 + tolerance); p Holm-corrected. NAN else */
	enum ap_budget_verdict verdict;
};

struct ap_baseline_gate {
	double tolerance_pct;
	const char *new_target, *new_runtime;
	bool same_target, same_runtime;
	struct ap_budget *budgets;      /* wall, CPU, functions, syscalls */
	size_t nr, nr_exceeded;
};

/* gate the analysed run new on b's budgets (focus: only the function
 * budgets whose "file:name" matches; NULL all). g points into b and new,
 * which must outlive it. 0 always. */
int ap_baseline__gate(struct ap_baseline_gate *g, const struct ap_baseline *b,
		      const struct ap_analysis *new, double tolerance_pct, const regex_t *focus);
/* the gate's part of diff.json ("baseline"); the caller frees it */
cJSON *ap_baseline_gate__json(const struct ap_baseline_gate *g, const struct ap_baseline *b,
			      const char *path);
/* the terminal summary: each budget (the syscall ones within budget only
 * for the top syscalls), then the exceeded ones named */
void ap_baseline_gate__print(const struct ap_baseline_gate *g, const struct ap_baseline *b,
			     const char *path, const char *new_dir, FILE *out);
void ap_baseline_gate__free(struct ap_baseline_gate *g);

#endif
