/* SPDX-License-Identifier: MIT */
/* A pattern as loaded from a patterns/NAME.json file (docs/PATTERNS.md). */
#ifndef AP_PATTERN_H
#define AP_PATTERN_H

#include "analyze/analyze.h"

enum ap_op { AP_OP_GT, AP_OP_GE, AP_OP_LT, AP_OP_LE, AP_OP_EQ, AP_OP_NE, AP_OP_IN, AP_OP_NOT_IN,
	     AP_OP_MATCHES, AP_OP_NOT_MATCHES };

enum ap_cond_kind { AP_COND_METRIC, AP_COND_ALL, AP_COND_ANY };

struct ap_cond {
	enum ap_cond_kind kind;
	/* AP_COND_METRIC */
	int metric;
	enum ap_op op;
	double value;
	char *str;                  /* string value (==, !=, matches) */
	char **list;                /* in / not_in */
	size_t nr_list;
	int rhs_metric;             /* value is rhs_metric * times when >= 0 */
	double times;
	/* AP_COND_ALL / AP_COND_ANY */
	struct ap_cond *kids;
	size_t nr_kids;
};

/* one rule of a frames matcher: every field given must match */
struct ap_frame_rule {
	int kind;                   /* enum ap_frame_kind, or -1 */
	char *module, *function;    /* fnmatch globs, or NULL */
};

struct ap_matcher {
	bool present;
	bool innermost_python;      /* test only the innermost Python frame */
	struct ap_frame_rule *any, *none;
	size_t nr_any, nr_none;
};

enum ap_severity { AP_SEV_INFO, AP_SEV_LOW, AP_SEV_MEDIUM, AP_SEV_HIGH };
extern const char *const ap_severity_names[4];

struct ap_pattern {
	char *id, *title, *file, *description;
	enum ap_scope scope;
	enum ap_severity severity;
	struct ap_cond when;
	int samples_metric;         /* -1: no minimum */
	double min_samples;
	int impact_metric;          /* seconds at stake, or -1 */
	char *explanation, *verify, *dedup;
	char **suggestions;
	size_t nr_suggestions;
	struct ap_matcher frames;
	int *cited;                 /* metrics named in conditions and texts, in order */
	size_t nr_cited;
	size_t max_findings;
	bool builtin;
};

/* render a template ("{function.name} ... {function.self_pct:.1f}%") */
char *ap_template_render(const struct ap_analysis *an, const char *tpl, const struct ap_subject *s,
			 const struct ap_value *match, double confidence);
/* does a frame match a rule? Native and kernel function names also match
 * without their compiler suffixes (see ap_symbol_base_len) */
bool ap_rule_match(const struct profile *p, const struct ap_frame_rule *r, uint32_t frame);
/* length of a symbol without the suffixes GCC and clang append to clones
 * and split parts (.lto_priv.N, .cold, .isra.N, .part.N, .constprop.N,
 * .llvm.N, .localalias, in any combination); strlen(name) if none */
size_t ap_symbol_base_len(const char *name);
/* fnmatch(glob, name) on the whole symbol, else on its base */
bool ap_symbol_match(const char *glob, const char *name);

#endif
