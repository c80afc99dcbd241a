/* SPDX-License-Identifier: MIT */
/* What changed between two runs (issue 17, first slice): per function, the
 * self and total samples of each run, their shares and CPU-seconds, and
 * whether a change is real or noise. Works on two analyses computed by
 * ap_metrics__compute() (the function identity is the reports': kind, file
 * and name), written as diff.json (AP_SCHEMA_DIFF) and a terminal summary. */
#ifndef AP_DIFF_H
#define AP_DIFF_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "analyze/analyze.h"

#define AP_SCHEMA_DIFF "autoprof.diff/1"
/* a function is tested only with at least this many self samples in one run */
#define AP_DIFF_MIN_SAMPLES 20
/* family-wise error rate after the Holm correction */
#define AP_DIFF_ALPHA 0.05

enum ap_diff_class { /* ordered: up to AP_DIFF_NOISE, no change shown */
	AP_DIFF_UNTESTED, /* too few samples in both runs */
	AP_DIFF_NOISE,    /* share moved within noise */
	AP_DIFF_SHARE,    /* share moved, its CPU-seconds did not: another one's time changed */
	AP_DIFF_ABSOLUTE, /* its CPU-seconds grew or shrank beyond noise */
};
extern const char *const ap_diff_class_names[];

struct ap_diff_fn {
	const char *name, *file, *kind; /* point into the analyses */
	uint64_t self[2], total[2];     /* [0] base, [1] new */
	double self_pct[2], total_pct[2], self_s[2], total_s[2];
	double z_share, p_share;        /* two-proportion test of the self share, p Holm-adjusted */
	double z_abs, p_abs;            /* Poisson test of self CPU-seconds, p Holm-corrected */
	enum ap_diff_class cls;
	bool regression;                /* share and CPU-seconds grew, share by >= max_regression */
};

struct ap_diff_opts {
	double max_regression; /* points of self share under which a growth is not a regression */
	const regex_t *focus;  /* only functions whose "file:name" matches; NULL all */
};

struct ap_diff {
	const char *base_dir, *new_dir;
	const char *target[2];
	uint64_t samples[2];
	double hz[2], cpu_s[2], wall_s[2];
	bool same_target;
	/* the runs' CPU-seconds (all samples): Poisson z, two-sided p (one
	 * test, uncorrected), and -1, 0, +1 for shrank, noise, grew */
	double z_cpu, p_cpu;
	int cpu_change;
	/* regressions, other real changes, the rest; each by |change of self share| */
	struct ap_diff_fn *fns;
	size_t nr_fns, nr_tested, nr_regressions;
	struct ap_diff_opts opts;
	struct ap_diff_tree *tree; /* the merged call tree (diff/tree.h); NULL none */
};

/* compare base and new (both kept by the caller, which must outlive d);
 * 0 always (d->fns may be empty) */
int ap_diff__compute(struct ap_diff *d, const struct ap_analysis *base,
		     const struct ap_analysis *new, const struct ap_diff_opts *opts);
/* diff.json's tree; the caller frees it with cJSON_Delete */
cJSON *ap_diff__json(const struct ap_diff *d);
/* the terminal summary: up to top regressions and top improvements */
void ap_diff__print(const struct ap_diff *d, size_t top, FILE *f);
void ap_diff__free(struct ap_diff *d);

/* two-sided p-value of a standard normal z */
double ap_norm_p2(double z);
/* Holm's step-down correction of p[0..n) in place (NAN entries are skipped) */
void ap_holm(double *p, size_t n);

/* the two tests of a count k[0] (base) -> k[1] (new) in all samples of each
 * run, as a function's self samples get them: z and p uncorrected, all NAN
 * when neither count reaches AP_DIFF_MIN_SAMPLES */
void ap_diff__test(const struct ap_diff *d, const uint64_t k[2], double *z_share, double *p_share,
		   double *z_abs, double *p_abs);
/* the class of a change from its Holm-adjusted p-values (NAN: untested) */
enum ap_diff_class ap_diff__class(double p_share, double p_abs);

#include "diff/tree.h"

#endif
