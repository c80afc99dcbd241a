/* SPDX-License-Identifier: MIT */
/* The process filters of the system-wide modes (run --all, agent, top):
 * -p PID, --comm NAME, --cgroup PATH and their exclusions, parsed here once
 * for every command and applied in BPF (bpf/filter.bpf.h), so that a task
 * the filters leave out never reaches userspace. Semantics (also in the
 * README): within one kind the entries are alternatives, the kinds given
 * combine with AND, and any exclusion wins; the profiler's own process is
 * always excluded. */
#ifndef AP_FILTER_H
#define AP_FILTER_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

struct autoprof_bpf;

/* getopt_long codes of the filter options (-p is each command's own: run
 * attaches with it, except with --all) */
enum {
	AP_OPT_FILTER_COMM = 0x400,
	AP_OPT_FILTER_CGROUP,
	AP_OPT_FILTER_EXCL_PID,
	AP_OPT_FILTER_EXCL_COMM,
	AP_OPT_FILTER_EXCL_CGROUP,
};

/* to put in a command's struct option array */
#define AP_FILTER_LONGOPTS                                                                \
	{ "comm", required_argument, NULL, AP_OPT_FILTER_COMM },                          \
	{ "cgroup", required_argument, NULL, AP_OPT_FILTER_CGROUP },                      \
	{ "exclude-pid", required_argument, NULL, AP_OPT_FILTER_EXCL_PID },               \
	{ "exclude-comm", required_argument, NULL, AP_OPT_FILTER_EXCL_COMM },             \
	{ "exclude-cgroup", required_argument, NULL, AP_OPT_FILTER_EXCL_CGROUP }

/* the options' lines for a command's --help */
extern const char ap_filter_usage[];

enum ap_filter_kind { AP_FILTER_PID, AP_FILTER_COMM, AP_FILTER_CGROUP };

struct ap_filter_rule {
	enum ap_filter_kind kind;
	bool exclude;
	uint32_t pid;           /* AP_FILTER_PID: a process id (a thread's id is its process's) */
	char comm[16];          /* AP_FILTER_COMM: NUL-padded */
	uint64_t cgroup_id;     /* AP_FILTER_CGROUP: the directory's cgroup id */
	char *cgroup_path;      /* ... as found */
	uint32_t cgroup_level;  /* ... its depth below the cgroup2 mount's root (0: the root) */
};

struct ap_filter {
	struct ap_filter_rule *rules;
	size_t nr, cap;
	unsigned nr_kind[3][2]; /* [kind][exclude] */
};

/* Handle one getopt_long result. 0 if it was a filter option and is
 * valid, 1 if opt is not a filter option, or -2 (the usage exit code,
 * negated) after one line on stderr naming the option and the value. */
int ap_filter__option(struct ap_filter *f, int opt, const char *arg);
/* -p PID[,PID...] (or --exclude-pid) as a filter: same return values */
int ap_filter__add_pids(struct ap_filter *f, const char *arg, bool exclude);
bool ap_filter__empty(const struct ap_filter *f);
/* Before the skeleton is loaded: profile system-wide with these filters
 * (instead of the tracked set of a launch or attach run). */
void ap_filter__configure(const struct ap_filter *f, struct autoprof_bpf *skel);
/* After the load: the filter maps, with the profiler's own pid excluded;
 * 0 or -errno (message logged). */
int ap_filter__load(const struct ap_filter *f, struct autoprof_bpf *skel, uint32_t self_pid);
/* "comm=python3 exclude-pid=42" (malloc'ed; "" when empty), for run.json
 * and the summary */
char *ap_filter__describe(const struct ap_filter *f);
void ap_filter__free(struct ap_filter *f);

#endif
