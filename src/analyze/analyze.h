/* SPDX-License-Identifier: MIT */
/* The analyzer: reads a run's artifacts (never BPF), computes the metrics of
 * metrics.def per scope, evaluates the declarative patterns (patterns/NAME.json,
 * docs/PATTERNS.md) and produces ranked, de-duplicated findings, written as
 * findings.json and report.md (by src/report/findings.c). Identical artifacts
 * give identical output. The artifact loader is artifact/input.h. */
#ifndef AP_ANALYZE_H
#define AP_ANALYZE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "artifact/input.h"
#include "profile/profile.h"

#define AP_SCHEMA_FINDINGS "autoprof.findings/1"
/* how findings are ordered, said once in report.md and the terminal */
#define AP_RANKING_LOWER "risks first (high severity, no time figure), then ranked by the wall time each could save, weighted by confidence"
#define AP_RANKING_NOTE "Risks first (high severity without a time figure: memory about to run out, a crash), then ranked by the wall time each could save, weighted by confidence"
/* findings less sure than this are listed apart, as uncertain */
#define AP_MIN_CONFIDENCE 0.8

enum ap_scope {
	AP_SCOPE_RUN,
	AP_SCOPE_PROCESS,
	AP_SCOPE_THREAD,
	AP_SCOPE_FUNCTION,
	AP_SCOPE_STACK,
	AP_SCOPE_MODULE,
	AP_SCOPE_SYSCALL,
	AP_SCOPE_PYCALL,
	AP_SCOPE_MATCH, /* computed per pattern from its "frames" */
	AP_SCOPE__COUNT,
};
extern const char *const ap_scope_names[AP_SCOPE__COUNT];

enum ap_metric_id {
#define M(id, scope, name, unit, basis, source, meaning) AP_M_##id,
#include "analyze/metrics.def"
#undef M
	AP_M__COUNT,
};

struct ap_metric_def {
	const char *name;       /* "self_pct"; ap_metric_name() gives "function.self_pct" */
	const char *unit;       /* "text" for strings */
	const char *basis;      /* "samples", "exact", "fit" */
	const char *source, *meaning;
	enum ap_scope scope;
};
extern const struct ap_metric_def ap_metrics[AP_M__COUNT];
/* "scope.name" of metric id */
const char *ap_metric_name(int id);
/* id of a full metric name, or -1 */
int ap_metric_find(const char *name);
/* index of metric id among its scope's metrics, and how many a scope has */
uint32_t ap_metric_slot(int id);
uint32_t ap_scope_nr_metrics(enum ap_scope scope);
/* docs/METRICS.md */
void ap_metrics_markdown(FILE *f);

/* a metric's value for one subject: v is NAN when the data is missing; text
 * metrics use s; shares of sampled counts carry k of n for the confidence */
struct ap_value {
	double v;
	const char *s;
	uint64_t k, n;
};

struct ap_subject {
	enum ap_scope scope;
	char *location;                  /* "pid 12 (python3)", "app.py:score:42", ... */
	const struct ap_subject *parent; /* the process of a thread, syscall or pycall */
	uint32_t pid, tid;               /* AP_NONE when not applicable */
	struct ap_value *v;              /* by ap_metric_slot() */
};

struct ap_pattern;

struct ap_finding {
	char id[96];
	const struct ap_pattern *pat;
	const struct ap_subject *subj;
	struct ap_value *match;     /* the pattern's match metrics, or NULL */
	/* impact_raw_s: the pattern's impact metric as measured (thread-seconds
	 * when it sums over threads); impact_s: the wall time at stake, the raw
	 * figure capped at the wall time of the subject (wall_at_stake()) */
	double impact_raw_s, impact_s, confidence;
	char *explanation, *basis, *verify, **suggestions;
	size_t nr_suggestions;
	char *dedup_key;
	char **related;             /* ids of findings merged into this one */
	size_t nr_related;
	bool dropped;               /* over its pattern's cap, or merged into another */
	bool uncertain;             /* confidence under AP_MIN_CONFIDENCE */
};

struct ap_skipped {
	char *pattern, *reason;
};

struct ap_analysis {
	struct ap_input in;
	struct ap_subject *subj[AP_SCOPE__COUNT];
	size_t nr_subj[AP_SCOPE__COUNT];
	struct ap_pattern *pats;
	size_t nr_pats;
	struct ap_finding *findings;
	size_t nr_findings;
	struct ap_skipped *skipped;
	size_t nr_skipped;
	char **owned;               /* strings the values point into */
	size_t nr_owned, cap_owned;
	/* per-stack facts shared by the metric builders */
	uint8_t *stack_idle;        /* the stack is an idle wait (see process.idle_s) */
	bool rejected_patterns;     /* a --patterns file was rejected */
};

/* metrics of every scope from in (moved into an) */
void ap_metrics__compute(struct ap_analysis *an);
/* the memory metrics of the processes (src/analyze/memory.c), after their
 * resident-set metrics; nothing without the memory collector's data */
void ap_metrics__memory(struct ap_analysis *an);
/* a resident-set point of a series is known and above 0 (0: the last sample
 * of an exiting process); the index after the last point of the program's
 * own timeline, the exit's teardown (falling points in its last 0.5 s) left
 * out (metrics.c) */
bool ap_rss_point(const struct ap_series *sr, size_t i);
size_t ap_rss_before_teardown(const struct ap_series *sr);
/* Python code that is not the application's (metrics.c): the standard
 * library, installed packages, frozen modules */
bool ap_py_library_file(const char *file);
/* the value of metric id for s (its process or the run for outer scopes), or NULL */
const struct ap_value *ap_analysis__value(const struct ap_analysis *an, const struct ap_subject *s,
					  const struct ap_value *match, int id);

/* Patterns. ap_patterns__load_builtin() reads the ones compiled in;
 * ap_patterns__load_dir() adds every *.json of dir (a pattern with the id of
 * an earlier one replaces it). 0, or -EINVAL with "file:line:col: reason" /
 * "file: pattern X: field: reason" logged for each bad file; the good
 * files of dir are kept. */
int ap_patterns__load_builtin(struct ap_analysis *an);
int ap_patterns__load_dir(struct ap_analysis *an, const char *dir);
/* read dir's pattern files now, for a later ap_patterns__load_dir(dir):
 * `run` does so before the target runs as the invoking user, who could
 * otherwise plant links "of the user" there meanwhile. Problems are
 * reported by the load; the directory's -errno is returned */
int ap_patterns__pin_dir(const char *dir);
void ap_patterns__unpin(void);
/* parse one file's text into an (for tests); 0 or -EINVAL, err filled */
int ap_patterns__load_text(struct ap_analysis *an, const char *text, size_t len, const char *name,
			   char *err, size_t errlen);
void ap_patterns__free(struct ap_analysis *an);

/* evaluate every pattern over every subject, rank and de-duplicate:
 * risks first, then by impact_s x confidence (docs/PATTERNS.md, "Ranking") */
void ap_analysis__evaluate(struct ap_analysis *an);
/* a high-severity finding without a time figure (no impact metric):
 * memory_exhaustion, killed_by_signal; ranked before every other */
bool ap_finding__is_risk(const struct ap_finding *f);
void ap_analysis__free(struct ap_analysis *an);

/* one-sided score-test confidence that a share of k in n lies beyond
 * threshold (a fraction); above: the condition is "greater than" */
double ap_binomial_confidence(uint64_t k, uint64_t n, double threshold, bool above);
/* 95% Wilson score interval of k in n, as fractions */
void ap_wilson95(uint64_t k, uint64_t n, double *lo, double *hi);

/* everything `analyze DIR` does (src/report/findings.c): load, compute,
 * evaluate with the built-in
 * patterns and those of patterns_dir (may be NULL), write findings.json and
 * report.md into the run directory dirfd (named dir in messages). Returns 0 or -errno; *out (if not NULL) keeps the
 * analysis for the caller to print from and free. */
int ap_analyze_dir(int dirfd, const char *dir, const char *patterns_dir, struct ap_analysis **out);

#endif
