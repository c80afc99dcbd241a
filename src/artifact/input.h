/* SPDX-License-Identifier: MIT */
/* The artifact loader: what a run directory holds (run.json, artifacts/),
 * read back into a profile and the side tables the analyzer uses. Below
 * the analyzer and the reports; it knows nothing of either. */
#ifndef AP_ARTIFACT_INPUT_H
#define AP_ARTIFACT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "profile/profile.h"

/* the proc.json timeline of one process */
struct ap_series {
	uint32_t pid;
	size_t n;
	double *t, *rss_kb, *cpu_pct, *threads, *minflt, *majflt, *rchar, *wchar;
};

struct ap_pycall {
	uint32_t pid;
	char *qualname, *file;
	uint64_t entries;
	int minor;
};

/* what analyze reads from a run directory */
struct ap_input {
	struct profile prof;
	double wall_s;
	int nr_cpus;
	uint32_t profiler_pid;   /* tool.pid: autoprof-bpf's own process; 0 unknown */
	double mem_available_mb; /* host.mem_available_kb at the end of the run; NAN unknown */
	char *target;          /* command line or "pid N" */
	bool interrupted;
	bool system_wide;      /* run --all: every process of the host */
	bool has_proc, has_pycalls;
	struct ap_series *series;
	size_t nr_series;
	struct ap_pycall *pycalls;
	size_t nr_pycalls;
	double lost_pct;
};

/* load run.json and artifacts/... of the run directory dirfd (dir names it
 * in messages; files of ours only: no symlinks, regular, at most
 * AP_READ_MAX bytes); 0 or -errno with a message logged */
int ap_input__load(struct ap_input *in, int dirfd, const char *dir);
void ap_input__free(struct ap_input *in);

#endif
