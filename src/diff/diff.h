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
	/* the run-to-run noise of a machine's speed, as a fraction (0.2: the
	 * same work takes +-20% CPU time from one run to the next), added to
	 * the sampling noise of the CPU-seconds tests; 0 sampling noise only */
	double speed_noise;
};
/* --speed-noise's default: the same work's CPU time varied by up to 40%
 * between two runs on the 2-CPU test VM (hypervisor, shared caches) */
#define AP_DIFF_SPEED_NOISE 0.2

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
	/* diff --baseline (diff/baseline.h): the gate's "baseline" part of
	 * diff.json, not owned; NULL otherwise */
	const cJSON *baseline;
	/* exact deltas and findings (src/diff/exact.c, findings.c) */
	struct ap_diff_exact *wall, *sys; /* wall time by reason; syscalls */
	size_t nr_wall, nr_sys;
	bool has_wall, has_sys;           /* both runs carry offcpu.json / syscalls.json */
	struct ap_diff_finding *found;    /* findings that appeared or went away */
	size_t nr_found;
	bool has_findings;                /* both analyses were evaluated */
	struct ap_diff_tree *tree; /* the merged call tree (diff/tree.h); NULL none */
	/* growths that would be regressions in a run that, as a whole, took
	 * less CPU time: not counted */
	size_t nr_waived;
};

/* Exact accounting (scheduler and syscall tracer, not sampled): a change
 * counts when it is at least AP_DIFF_FLOOR_PCT of the base value and at
 * least the quantity's absolute floor, so identical runs stay quiet. */
#define AP_DIFF_FLOOR_PCT 5.0
#define AP_DIFF_FLOOR_S 0.010      /* seconds */
#define AP_DIFF_FLOOR_CALLS 10     /* calls, errors */
#define AP_DIFF_FLOOR_BYTES 65536

/* wall time by reason (AP_DIFF_WALL_*), or a syscall's AP_DIFF_SYS_* */
enum { AP_DIFF_WALL_ONCPU, AP_DIFF_WALL_RUNNABLE, AP_DIFF_WALL_IO, AP_DIFF_WALL_LOCK,
       AP_DIFF_WALL_IDLE, AP_DIFF_WALL_GIL, AP_DIFF_WALL_SLEEP, AP_DIFF_WALL_CHILD,
       AP_DIFF_WALL_OTHER, AP_DIFF_WALL__COUNT };
enum { AP_DIFF_SYS_CALLS, AP_DIFF_SYS_TIME, AP_DIFF_SYS_BYTES, AP_DIFF_SYS_ERRORS,
       AP_DIFF_SYS__COUNT };
#define AP_DIFF_EXACT_MAX AP_DIFF_WALL__COUNT
extern const char *const ap_diff_wall_names[AP_DIFF_WALL__COUNT]; /* "oncpu_s", ... */
extern const char *const ap_diff_sys_names[AP_DIFF_SYS__COUNT];   /* "calls", ... */

/* one subject's exact quantities in both runs. Wall rows: a process (kind
 * "process", name its comm, all processes of that name summed; every
 * reason) or a function (kind python/user/kernel, file and name; its
 * off-CPU time by the reason, on the stacks where it is the innermost
 * Python frame, else the innermost user frame; oncpu_s stays 0: its
 * CPU time is the sampled self_s of "functions"). Syscall rows: kind
 * "syscall", file the process's comm, name the call (pids and fd kinds
 * summed). */
struct ap_diff_exact {
	const char *kind;
	char *name, *file;
	double v[2][AP_DIFF_EXACT_MAX];
	unsigned changed; /* bit q: quantity q moved beyond its floor */
	double score;     /* the largest change past its floor, in floors, for the order */
};

/* a finding (pattern id and subject; pids left out) in one run only */
struct ap_diff_finding {
	const char *pattern, *title, *severity;
	char *subject;
	double impact_s;
	int change; /* +1 appeared in NEW, -1 gone from BASE */
};

/* an analysis subject's text metric ("" when unset) and count (0 when unset) */
const char *ap_subject_str(const struct ap_subject *s, int id);
uint64_t ap_subject_count(const struct ap_subject *s, int id);
/* diff.json's numbers: null for NaN or infinity; an array [a, b] */
cJSON *ap_json_num_or_null(double v);
cJSON *ap_json_pair(double a, double b);

/* the file of a function of kind ("python", "user", "kernel") as runs of
 * other versions, environments and checkouts share it (diff/ident.c):
 * json/encoder.py, app.py, libpython.so; interned, never freed */
const char *ap_diff_file_key(const char *kind, const char *file);

/* a change NEW against BASE as "+29%" (per thread, until the next call) */
const char *ap_diff_pct_text(double base, double new);

/* the analysis of run directory dir (opened as uid may), with the built-in
 * patterns evaluated when findings; NULL with a line printed. Free with
 * ap_analysis__free() and free() */
struct ap_analysis *ap_diff_load_run(const char *dir, unsigned uid, bool findings);

/* s in a Markdown table cell, escaped and without control characters */
void ap_diff_md_cell(const char *s, FILE *f);

/* did a -> b move beyond AP_DIFF_FLOOR_PCT and floor? */
bool ap_diff_beyond(double a, double b, double floor);

/* compare base and new (both kept by the caller, which must outlive d);
 * 0 always (d->fns may be empty) */
int ap_diff__compute(struct ap_diff *d, const struct ap_analysis *base,
		     const struct ap_analysis *new, const struct ap_diff_opts *opts);
/* diff.json's tree; the caller frees it with cJSON_Delete */
cJSON *ap_diff__json(const struct ap_diff *d);
/* the terminal summary: up to top regressions and top improvements */
void ap_diff__print(const struct ap_diff *d, size_t top, FILE *f);
void ap_diff__free(struct ap_diff *d);
/* the exact deltas and the findings' changes of d (called by
 * ap_diff__compute; findings only where both analyses were evaluated) */
void ap_diff__compute_exact(struct ap_diff *d, const struct ap_analysis *base,
			    const struct ap_analysis *new);
void ap_diff__compute_findings(struct ap_diff *d, const struct ap_analysis *base,
			       const struct ap_analysis *new);
void ap_diff__exact_free(struct ap_diff *d);
/* diff.json's "wall", "syscalls" and "findings" parts, added to j */
void ap_diff__exact_json(const struct ap_diff *d, cJSON *j);
/* the terminal's blocks of the same (changes beyond the floors only) */
void ap_diff__exact_print(const struct ap_diff *d, size_t top, FILE *f);
/* a row's subject as text ("process NAME", "NAME (FILE)", "COMM: CALL") and
 * one changed quantity ("io_s 0.200 s -> 0.510 s (+0.310 s, +155%)") */
const char *ap_diff_exact_label(const struct ap_diff_exact *e, char *buf, size_t len);
const char *ap_diff_exact_change(const struct ap_diff_exact *e, int q, char *buf, size_t len);
/* diff.md: one section function after another (src/diff/markdown.c) */
void ap_diff__markdown(const struct ap_diff *d, size_t top, FILE *f);

/* two-sided p-value of a standard normal z */
double ap_norm_p2(double z);
/* Holm's step-down correction of p[0..n) in place (NAN entries are skipped) */
void ap_holm(double *p, size_t n);

/* the two tests of a count k[0] (base) -> k[1] (new) in all samples of each
 * run, as a function's self samples get them: z and p uncorrected, all NAN
 * when neither count reaches AP_DIFF_MIN_SAMPLES */
void ap_diff__test(const struct ap_diff *d, const uint64_t k[2], double *z_share, double *p_share,
		   double *z_abs, double *p_abs);
/* the class of a change from its Holm-adjusted p-values (share test,
 * CPU-seconds test; NaN: untested) and, when regression is not NULL,
 * whether it is a regression: CPU-seconds and share both grew beyond noise,
 * the share by share_delta >= max_regression points */
enum ap_diff_class ap_diff_verdict(double p_share, double p_abs, double z_share, double z_abs,
				   double share_delta, double max_regression, bool *regression);

#include "diff/tree.h"

#endif
