/* SPDX-License-Identifier: MIT */
/* One profiling session: options, target, collectors' state and results.
 * Passed explicitly to every stage; there is no global session. */
#ifndef AP_SESSION_H
#define AP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "artifact/selfcost.h"
#include "process/procmaps.h"
#include "filter.h"
#include "hashmap.h"
#include "profile/profile.h"
#include "symbolize/kallsyms.h"

/* exit codes of the tool itself (see README "Exit status") */
#define AP_EXIT_USAGE 2
#define AP_EXIT_FAILED 125  /* autoprof-bpf could not profile */
#define AP_EXIT_NOEXEC 126  /* the command exists but cannot be run */
#define AP_EXIT_NOTFOUND 127

struct ap_options {
	uint32_t *pids;
	int nr_pids;
	char **argv;            /* target command, NULL in attach mode */
	int argc;
	uint64_t duration_ns;   /* 0: until the target exits or Ctrl-C */
	long freq;
	const char *outdir;     /* NULL: ./autoprof-out/<time>-<comm> */
	long stack_size;        /* bytes of user stack copied per sample */
	long ringbuf_mb;
	long py_depth;          /* Python frames walked per sample */
	enum ap_view view;      /* folded stacks and summary */
	bool quiet;
	bool no_children;
	bool py_calls;          /* uprobe on the eval loop: C->Python entry counts */
	bool no_offcpu;         /* no sched_switch collector */
	bool no_syscalls;       /* no syscall statistics */
	uint64_t min_block_ns;  /* off-CPU stacks: shortest block aggregated */
	uint64_t slow_ns;       /* syscalls at least this slow are kept with stacks */
	uint64_t interval_min_ns; /* off-CPU intervals this long are kept one by one (trace.json) */
	unsigned formats;       /* AP_FMT_*: the pictures and interchange files written */
	const char *patterns_dir; /* --patterns: user patterns for the analysis */
	const char *user;       /* --user NAME: run the target as NAME */
	bool as_root;           /* --as-root: run the target as root, keeping today's behaviour */
	bool force;             /* --force: replace the finished run in -o DIR */
	int verbose;
	bool all;               /* --all: every process on the host (system-wide) */
	struct ap_filter filter; /* system-wide: which tasks (src/filter.h) */
	int repeat;             /* --repeat N: N runs in a set (src/run_repeat.h), 0: one */
	bool no_memory;         /* no memory collector (page faults, mapping calls) */
	long memory_rate;       /* --memory-rate: page-fault samples/s per CPU (0: default) */
	bool malloc;            /* --malloc: the allocator probes (src/collect/malloc.c) */
	uint64_t malloc_rate;   /* --malloc-rate: mean bytes per allocation sample, 0 default */
	bool memory_thp;        /* --memory-thp: weigh transparent huge pages (on_rss_stat) */
};

/* what the collector's purges dropped (cpu_collector__purge) */
struct ap_collect_evictions {
	uint64_t py_codes;          /* code objects dropped */
	uint64_t off_stacks;        /* off-CPU stack identities dropped */
	uint64_t cache_entries;     /* frame id cache entries dropped */
	uint64_t exits_missed;      /* processes found gone by the purge (their exit record was lost) */
};

struct cpu_collector;
struct ap_outdir;
struct runner_cred;

struct ap_session {
	struct ap_options opts;
	int nr_cpus;
	char *outdir;
	struct ap_outdir *out;  /* the output tree (outdir.h); its fd once created */
	char *target_desc;      /* the command line or "pid 1,2" for the summary */
	/* who owns the output tree (ap_invoking_user) and who the launched
	 * target runs as (the invoking user, --user NAME, or root with --as-root) */
	unsigned owner_uid, owner_gid;
	unsigned target_uid, target_gid;
	struct runner_cred *cred; /* launch mode: how the child becomes target_uid */
	char *exe;              /* launch mode: the command found as that user */
	/* target */
	pid_t child;            /* launch mode: our child, else 0 */
	int wait_status;
	bool target_exited;
	bool stopped_early;     /* stopped by -d or a second Ctrl-C while the target ran */
	uint64_t start_mono, end_mono, start_real, end_real;
	/* collectors */
	struct cpu_collector *cpu;
	struct procstat *ps;    /* /proc metrics timeline */
	struct procmaps pm;
	struct kallsyms *ks;
	struct hmap tracked;    /* userspace mirror of the BPF tracked set; with
				 * --all the processes discovered by their samples
				 * (value 0: released, not followed any more) */
	struct profile prof;     /* live: long-lived symbol tables + the open window's rows */
	struct ap_self_cost cost; /* the profiler's own, by phase */
	/* engine (src/engine.h): the open window */
	uint64_t win_start_mono, win_start_real;
	uint64_t nr_windows;    /* windows taken so far */
	bool engine_stopped;    /* engine__stop ran */
	uint64_t purge_ns;      /* the slow purge tick (0: none) */
	uint64_t flush_ns;      /* tests: drain the kernel's aggregates this often (0: at the end) */
	struct profile_caps caps; /* of ses->prof's symbol tables (0: AP_PROFILE_*_MAX) */
	struct ap_collect_evictions evicted; /* by the purges of the open window */
};

/* target exit code as a shell reports it (128+N for signal N), or -1 */
int session__target_exit_code(const struct ap_session *ses);
/* is pid one of the processes we profile (tracking descendants)? */
bool session__is_tracked(struct ap_session *ses, uint32_t pid, uint32_t ppid);
void session__track(struct ap_session *ses, uint32_t pid);
/* --all: pid's process was released; the pid stays listed (the report
 * names the process), but is no longer followed, and a later sample of
 * it is a new process to discover */
void session__untrack(struct ap_session *ses, uint32_t pid);
/* drop the untracked pids (value 0) once the windows named their
 * processes, so a long --all run keeps no entry per process gone; how many */
size_t session__prune_untracked(struct ap_session *ses);

#endif
