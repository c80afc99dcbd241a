/* SPDX-License-Identifier: MIT */
/* The profiler's own cost, whole and by phase: getrusage(RUSAGE_SELF) at
 * the end of each phase of a run. run.json's "self" is written with the
 * artifacts and rewritten once the analysis and the pictures are done,
 * since the whole cost is known only then. */
#ifndef AP_SELFCOST_H
#define AP_SELFCOST_H

#include <stdio.h>
#include <cjson/cJSON.h>

enum ap_phase {
	AP_PHASE_START,    /* options, kallsyms, BPF load and attach, target started */
	AP_PHASE_COLLECT,  /* until the target exits, then the drain */
	AP_PHASE_WRITE,    /* artifacts, folded stacks, run.json */
	AP_PHASE_ANALYZE,  /* findings.json, report.md */
	AP_PHASE_PICTURES, /* report.html, flame.svg, pprof, speedscope, trace */
	AP_PHASE__COUNT,
};

struct ap_self_cost {
	double cpu_s[AP_PHASE__COUNT];   /* user + sys CPU seconds at the end of each phase */
	double user_s, sys_s;            /* at the last mark */
	long max_rss_kb[AP_PHASE__COUNT]; /* peak RSS so far at the end of each phase */
	int done;                        /* phases marked */
};

/* the end of phase ph (phases are marked in order) */
void self_cost__mark(struct ap_self_cost *sc, enum ap_phase ph);
/* "self": whole process so far, and per phase */
void self_cost__add_json(const struct ap_self_cost *sc, cJSON *root);
/* replace "self" in the run directory's run.json (atomically) with sc; 0 or -errno */
int self_cost__update_run_json(const struct ap_self_cost *sc, int dirfd);
/* one line for the terminal summary */
void self_cost__print(const struct ap_self_cost *sc, FILE *f);

#endif
