/* SPDX-License-Identifier: MIT */
/* Repeated runs (issue 17 item 2): the runs of `run --repeat N` as one set,
 * their run-to-run variance (wall-time spread, per-function share intervals)
 * and the findings when it is abnormal (a bimodal wall time, a function
 * whose share swings beyond its sampling noise), written as repeat.json
 * (AP_SCHEMA_REPEAT), repeat.md and a terminal summary; and `diff` of two
 * such sets from the between-run variance (Welch t-tests, Holm-corrected),
 * written as diff.json (AP_SCHEMA_DIFF_REPEAT). */
#ifndef AP_DIFF_REPEAT_H
#define AP_DIFF_REPEAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "analyze/analyze.h"
#include "diff/diff.h"

#define AP_SCHEMA_REPEAT "autoprof.repeat/1"
#define AP_SCHEMA_DIFF_REPEAT "autoprof.diff-repeat/1"
/* --repeat N: N from 2 (a variance needs two runs) to this */
#define AP_REPEAT_MAX 100
/* the target sees its run's number (1..N) in this variable */
#define AP_REPEAT_ENV "AUTOPROF_REPEAT_RUN"
/* bimodal wall time: two clusters of >= 2 runs each whose gap is more than
 * this many times the larger cluster's range, and at least
 * AP_REPEAT_GAP_MIN of the median wall time (see variance.c) */
#define AP_REPEAT_GAP_SPREADS 3.0
#define AP_REPEAT_GAP_MIN 0.10
/* a swing: chi-square homogeneity p (Holm over the functions) under this,
 * and the shares' spread at least this many times what sampling predicts */
#define AP_REPEAT_SWING_P 0.001
#define AP_REPEAT_SWING_RATIO 2.0

/* one run of a set */
struct ap_repeat_run {
	char *name;             /* its directory in the set: "run-3" */
	bool included;          /* in the statistics (complete, not cut short) */
	char *excluded;         /* why not, NULL when included */
	int exit_status;        /* the target's, as a shell says it; -1 unknown */
	double wall_s, hz;
	uint64_t samples;
};

/* one function across the included runs of a set */
struct ap_repeat_fn {
	char *name, *file, *kind;
	uint64_t *self;         /* self samples per included run (0 when absent) */
	double *share;          /* self share per included run, percent */
	double *self_s;         /* self CPU-seconds per included run */
	uint64_t self_sum;
	bool tested;            /* mean self samples >= AP_DIFF_MIN_SAMPLES */
	double mean, sd, ci95;  /* of share: mean, sd across runs, 95% t interval half-width */
	double chi2, p_swing, ratio; /* homogeneity test; sd observed / sd from sampling */
	int df;
	bool swing;
};

struct ap_repeat_wall {
	double min, median, max, mean, sd, cv;
	/* bimodal: the largest gap between two clusters of >= 2 runs */
	bool bimodal;
	double gap, lo_max, hi_min, lo_range, hi_range;
	int lo_n, hi_n;
};

struct ap_repeat_set {
	char *dir;
	char *target;           /* of the first included run */
	bool interrupted;       /* the repeats were cut short by a signal */
	int requested;          /* N */
	struct ap_repeat_run *runs;
	size_t nr_runs, nr_included;
	struct ap_repeat_wall wall;
	struct ap_repeat_fn *fns; /* tested first, by mean share */
	size_t nr_fns, nr_tested, nr_swings;
};

/* Load the included runs of s (s->dir/NAME for each) as uid, then compute
 * the statistics and findings. 0, or -errno with a line printed. */
int ap_repeat__load(struct ap_repeat_set *s, unsigned uid);
/* Read dir/repeat.json into s (runs, included or not) and ap_repeat__load
 * it. 0, -ENOENT when dir has no repeat.json, or -errno with a line. */
int ap_repeat__read(struct ap_repeat_set *s, const char *dir, unsigned uid);
/* repeat.json's text (what names it in messages) into s, zeroed or set up
 * by the caller: requested, interrupted and the runs, not loaded. 0, or
 * -EINVAL with a line (s then holds the runs read so far: ap_repeat__free) */
int ap_repeat__parse(struct ap_repeat_set *s, const char *text, size_t len, const char *what);
/* statistics and findings of the loaded runs (ap_repeat__load does it) */
void ap_repeat__compute(struct ap_repeat_set *s);
/* repeat.json's tree; the caller frees it with cJSON_Delete */
cJSON *ap_repeat__json(const struct ap_repeat_set *s);
/* the summary: wall spread, findings, top functions' intervals; md true
 * writes it as repeat.md's Markdown */
void ap_repeat__print(const struct ap_repeat_set *s, bool md, FILE *f);
void ap_repeat__free(struct ap_repeat_set *s);

/* diff of two sets: per function, Welch t-tests of the per-run self share
 * and self CPU-seconds, Holm-corrected over the functions tested */
struct ap_rdiff_fn {
	const char *name, *file, *kind;
	double share[2], share_sd[2], self_s[2], self_s_sd[2]; /* means and sds, [0] base */
	double t_share, df_share, p_share, t_abs, df_abs, p_abs;
	enum ap_diff_class cls;
	bool regression;
};

struct ap_rdiff {
	const struct ap_repeat_set *set[2];
	bool same_target;
	/* the runs' CPU-seconds and wall time: Welch t, df, p (uncorrected) */
	double cpu_s[2], cpu_sd[2], t_cpu, p_cpu, wall_t, wall_p;
	struct ap_rdiff_fn *fns; /* regressions, other real changes, the rest */
	size_t nr_fns, nr_tested, nr_regressions;
	struct ap_diff_opts opts;
};

/* compare the sets (both loaded, with >= 2 included runs; kept by the
 * caller); 0, or -EINVAL when a set has fewer than 2 included runs */
int ap_rdiff__compute(struct ap_rdiff *d, const struct ap_repeat_set *base,
		      const struct ap_repeat_set *new, const struct ap_diff_opts *opts);
cJSON *ap_rdiff__json(const struct ap_rdiff *d);
void ap_rdiff__print(const struct ap_rdiff *d, size_t top, FILE *f);
void ap_rdiff__free(struct ap_rdiff *d);
/* `diff BASE NEW` when both are sets (they hold repeat.json): compute,
 * write diff.json into outdir (NEW when NULL), print unless quiet. The exit
 * status (0, 1 a regression, 2, 125), or -1 when neither is a set. */
int ap_rdiff__cmd(const char *base, const char *new, const struct ap_diff_opts *opts,
		  const char *outdir, size_t top, bool quiet, unsigned uid);

/* statistics (variance.c) */
double ap_mean(const double *v, size_t n);
double ap_sd(const double *v, size_t n); /* sample sd (n - 1); 0 when n < 2 */
/* two-sided p of Student's t with df degrees of freedom */
double ap_t_p2(double t, double df);
/* the t with two-sided p = 0.05 (the 97.5% quantile) for df */
double ap_t_975(double df);
/* P(X >= x) for a chi-square X with df degrees of freedom */
double ap_chi2_sf(double x, double df);
/* Welch's t-test of two samples: t, its df, two-sided p (p 1 when both
 * are constant and equal, 0 when constant and different) */
void ap_welch(const double *a, size_t na, const double *b, size_t nb, double *t, double *df,
	      double *p);

#endif
