/* SPDX-License-Identifier: MIT */
/* The on-CPU profile: interned strings, modules, frames and stacks, sample
 * counts per (pid, tid, stack), threads, processes and loss counters. Built
 * live by the CPU collector or loaded from artifacts/cpu.json; everything
 * downstream (folded, summary, analyzers) reads only this.
 *
 * Two kinds of state (docs/ARCHITECTURE.md, "Windows and long-lived
 * tables"): the symbol tables (strings, modules, frames, stacks) are
 * long-lived, and every row that counts something (counts, threads,
 * processes, off-CPU and syscall rows, slow calls, the timelines, counters)
 * belongs to a window. profile__take_window() moves the rows of the live
 * profile into a window that borrows the symbol tables; a one-shot run is
 * one window. */
#ifndef AP_PROFILE_H
#define AP_PROFILE_H

#include <stdbool.h>
#include <stdint.h>
#include "hashmap.h"
#include "shared.h"

#define AP_NONE UINT32_MAX

enum ap_frame_kind {
	AP_FRAME_USER,      /* native user code */
	AP_FRAME_KERNEL,
	AP_FRAME_PYTHON,    /* a CPython frame: name = qualname, module = source file */
	AP_FRAME__COUNT,
};

#define AP_MOD_PY_RUNTIME (1u << 0) /* the file holding a CPython interpreter */

struct ap_module {
	uint32_t path;      /* string ids */
	uint32_t build_id;
	uint32_t flags;     /* AP_MOD_* */
};

struct ap_frame {
	uint32_t name;      /* string id: symbol, or "[unknown]" / "[anon]" */
	uint32_t module;    /* module index or AP_NONE */
	uint32_t kind;      /* enum ap_frame_kind */
	uint32_t line;      /* Python: source line (0 unknown); native: 0 */
	uint64_t addr;      /* symbol start (file vaddr, or kernel address); 0 if unknown */
};

/* what folded stacks and the summary show */
enum ap_view {
	AP_VIEW_MIXED,      /* Python frames spliced in, interpreter internals hidden */
	AP_VIEW_PYTHON,     /* Python frames only (native when a stack has none) */
	AP_VIEW_NATIVE,     /* native and kernel frames only */
	AP_VIEW_FULL,       /* everything, interpreter internals included */
};

struct ap_stack {
	uint32_t off, len;  /* frame ids in profile.stack_frames, root first */
	bool python;        /* has Python frames (set when interned) */
};

#define AP_COUNT_GIL (1u << 0) /* the thread held the GIL in these samples */
#define AP_COUNT_PY_STATE (1u << 1) /* the interpreter's GC/finalizing state was read */
#define AP_COUNT_GC (1u << 2) /* the thread ran the cyclic GC (held the GIL, collecting) */
#define AP_COUNT_FINALIZING (1u << 3) /* the thread was finalizing the runtime (Py_FinalizeEx) */
#define AP_COUNT_GIL_KNOWN (1u << 4) /* the GIL was read: AP_COUNT_GIL says held or not */
#define AP_COUNT_NOGIL (1u << 5) /* a free-threaded interpreter ran with the GIL off: there
				  * was none to hold (AP_COUNT_GIL_KNOWN clear) */

struct ap_count {
	uint32_t pid, tid, stack;
	uint32_t flags;     /* AP_COUNT_*: rows are split by these per-sample flags */
	uint64_t count;
};

struct ap_thread {
	uint32_t pid, tid;
	uint32_t comm;      /* string id */
	uint32_t pyname;    /* string id: threading.Thread.name, 0 ("") if unknown */
	uint64_t samples;
	uint64_t python_samples; /* samples with Python frames (from their stacks) */
	uint64_t gil_samples;    /* samples where the thread held the GIL (AP_COUNT_GIL) */
	uint64_t nogil_samples;  /* samples of a free-threaded interpreter with the GIL off
				  * (AP_COUNT_NOGIL) */
	uint64_t gc_samples;     /* AP_COUNT_GC */
	uint64_t finalizing_samples; /* AP_COUNT_FINALIZING */
	uint32_t proc;           /* index in profile.procs */
	/* scheduler accounting (off-CPU collector); CLOCK_MONOTONIC ns */
	bool accounted;          /* the fields below are set */
	uint64_t start_ns, end_ns;   /* observed span: from start or profiling start, to exit or end */
	uint64_t oncpu_ns;
	uint64_t off_ns[AP_OFF__COUNT];
	uint64_t nr_vol, nr_invol;   /* voluntary / involuntary context switches */
};

/* a new string id field here (or in ap_thread) is also renumbered by the
 * purge: keep_row_strs() and remap_row_strs() in profile.c */
struct ap_process {
	uint32_t pid, ppid;
	uint32_t comm, exe, cmdline; /* string ids */
	/* labels (process/labels.h), string ids; 0 ("") when unknown or none */
	uint32_t cgroup, container_id, service, runtime, build_id;
	/* why its Python frames are missing: reason code and one line; 0 ("")
	 * when they were walked or it runs no Python (labels.h py_missing) */
	uint32_t py_missing, py_missing_why;
	uint64_t samples;
	uint64_t nogil_samples;     /* AP_COUNT_NOGIL: free-threaded, the GIL off */
	uint64_t gil_known_samples; /* AP_COUNT_GIL_KNOWN: a GIL was there to hold */
	bool exited;
	int exit_status;    /* wait status (exit code << 8 | signal), -1 unknown */
};

/* off-CPU time of (pid, tid, stack, reason) */
struct ap_off_row {
	uint32_t pid, tid, stack, reason;   /* reason: enum ap_off_reason */
	uint64_t ns, count;                 /* total time and number of intervals */
};

/* Who had the CPU while a followed process's threads waited for one: the
 * runnable time (preempted or woken, waiting in the run queue) of pid's
 * threads, by the process (taker) that ran on the CPU until each wait
 * ended. taker 0 is an idle CPU (wake-up latency, not contention). */
struct ap_taker {
	uint32_t pid, taker;
	char comm[16];          /* the taker's name (its group leader's), NUL-terminated */
	bool followed;          /* the taker is a process this run follows */
	bool kthread;           /* the taker is a kernel thread (kworker, ksoftirqd, ...) */
	uint64_t ns, count;     /* runnable time and the number of waits */
};

/* syscalls of (pid, nr, fd kind) */
struct ap_sys_row {
	uint32_t pid, nr, fd_kind;
	uint64_t count, errors, total_ns, max_ns, bytes;
	uint64_t hist[AP_SYS_HIST];         /* log2 µs buckets */
};

struct ap_sys_err {
	uint32_t pid, nr, err;
	uint64_t count;
};

/* one slow call, an example of its row */
struct ap_slow_example {
	uint64_t start_ns, dur_ns;
	int64_t ret;
	uint32_t tid, pad;
};

#define AP_SLOW_EXAMPLES 4

/* syscalls slower than the threshold, aggregated per (pid, syscall, stack):
 * an idle pool of threads blocked in timed waits makes thousands a second,
 * and what a person reads is where they come from, how many and how long */
struct ap_slow_call {
	uint32_t pid, nr, stack;
	uint32_t nr_examples;
	uint64_t count, errors, total_ns, max_ns;
	struct ap_slow_example ex[AP_SLOW_EXAMPLES]; /* the slowest, longest first */
};

/* one on-CPU sample in time (trace.json); CLOCK_MONOTONIC ns */
struct ap_sample_time {
	uint64_t t_ns;
	uint32_t pid, tid, stack;
};

/* one off-CPU interval of at least --trace-min-block: blocked for block_ns
 * (for reason), then runnable for runq_ns */
struct ap_interval {
	uint64_t start_ns, block_ns, runq_ns;
	uint32_t pid, tid, reason, stack;  /* stack: AP_NONE until known */
};

/* Memory (the memory collector, src/collect/memory.c; --malloc): bytes by
 * (pid, tid, stack, kind). AP_MEM_FAULT and AP_MEM_ALLOC are sampled, each
 * sample weighing the bytes it stands for (bytes is the estimate, count the
 * samples); the mapping kinds are exact (count is calls). */
enum ap_mem_kind {
	AP_MEM_FAULT,       /* page faults: resident memory first touched */
	AP_MEM_MAP,         /* mmap, brk growth, mremap growth: address space mapped */
	AP_MEM_UNMAP,       /* munmap, brk shrink, mremap shrink: unmapped */
	AP_MEM_ALLOC,       /* --malloc: bytes allocated (malloc, calloc, realloc) */
	AP_MEM_LIVE,        /* --malloc: sampled allocations not freed at the end */
	AP_MEM__COUNT,
};

struct ap_mem_row {
	uint32_t pid, tid, stack, kind;     /* kind: enum ap_mem_kind */
	uint64_t bytes, count;
};

/* one memory sample or mapping call in time (leak slopes, transient
 * mappings); CLOCK_MONOTONIC ns. addr: the fault address, or the mapping's
 * start; bytes: the sample's weight, or the mapping's length. */
struct ap_mem_time {
	uint64_t t_ns, bytes, addr;
	uint32_t pid, tid, stack, kind;     /* kind: enum ap_mem_kind */
};

#define AP_MEM_TIMES_MAX 250000     /* memory samples and mapping calls on the timeline */

/* Caps of the per-event records: beyond these, entries are counted, not
 * kept (README, "Output size"). The timeline costs 24 bytes a sample in
 * memory, ~25 in cpu.json and 75 or more in trace.json; an interval 40
 * bytes in memory, ~35 in offcpu.json and ~400 in trace.json (its stack as
 * text); a slow-call row 176 bytes, and a few KB in syscalls.json. */
#define AP_TIMELINE_MAX 250000     /* samples: 21 min of 2 busy CPUs at 99 Hz */
#define AP_INTERVALS_MAX 50000     /* off-CPU intervals on the timeline */
#define AP_SLOW_ROWS_MAX 4096      /* (pid, syscall, stack) rows while running */
#define AP_SLOW_ROWS_KEPT 256      /* ... kept at the end, the most total time first */
#define AP_TAKERS_MAX 4096         /* (process, CPU taker) rows; the kernel map's size too */

/* An asyncio task found suspended at the attach (CPython 3.14+: the attach
 * reads each process's task lists, src/collect/pytasks.c): its name and
 * await chain, the task's coroutine first. Plain strings, not string ids:
 * a snapshot of the attach, copied whole by windows, merges and
 * compactions. */
struct ap_async_frame {
	char *func, *file;      /* co_qualname, co_filename */
	uint32_t line;          /* 0 unknown */
};

struct ap_async_task {
	uint32_t pid;
	uint32_t tid;           /* the thread whose task list held it; 0: its thread ended */
	char *name;
	char *waits;            /* what the innermost coroutine awaits: "Future",
				 * "Task NAME", "?" */
	bool cut;               /* the chain went deeper than was read */
	uint32_t nr_chain;
	struct ap_async_frame *chain;
};

struct ap_counter_val {
	char *name;
	uint64_t value;
};

struct profile {
	char **strs;
	size_t nr_strs, cap_strs;
	struct hmap str_ids;

	struct ap_module *modules;
	size_t nr_modules, cap_modules;
	struct hmap module_ids;

	struct ap_frame *frames;
	size_t nr_frames, cap_frames;
	struct hmap frame_ids;

	uint32_t *stack_frames;
	size_t nr_stack_frames, cap_stack_frames;
	struct ap_stack *stacks;
	size_t nr_stacks, cap_stacks;
	struct hmap stack_ids;

	struct ap_count *counts;
	size_t nr_counts, cap_counts;
	struct hmap count_ids;

	struct ap_thread *threads;
	size_t nr_threads, cap_threads;
	struct hmap thread_ids;

	struct ap_process *procs;
	size_t nr_procs, cap_procs;
	struct hmap proc_ids;

	struct ap_off_row *off;
	size_t nr_off, cap_off;
	struct hmap off_ids;
	bool has_offcpu;        /* the off-CPU collector ran */
	uint64_t min_block_ns;
	struct ap_taker *takers;        /* at most AP_TAKERS_MAX rows */
	size_t nr_takers, cap_takers;
	struct hmap taker_ids;          /* (pid, taker) -> row */
	uint64_t takers_dropped;        /* waits not in a row: beyond the cap */
	bool has_takers;                /* the artifacts carry them (offcpu.json "cpu_takers") */

	struct ap_sys_row *sys;
	size_t nr_sys, cap_sys;
	struct ap_sys_err *sys_errs;
	size_t nr_sys_errs, cap_sys_errs;
	struct hmap sys_ids, sys_err_ids; /* (pid, nr, fd_kind) / (pid, nr, err) -> row */
	struct ap_slow_call *slow;      /* aggregated; see AP_SLOW_ROWS_* */
	size_t nr_slow, cap_slow;
	struct hmap slow_ids;
	uint64_t slow_dropped;          /* slow calls whose row did not fit (counter at the end) */
	bool has_syscalls;      /* the syscall collector ran */
	uint64_t slow_ns;

	struct ap_mem_row *mem;         /* memory bytes by (pid, tid, stack, kind) */
	size_t nr_mem, cap_mem;
	struct hmap mem_ids;
	struct ap_mem_time *mem_times;  /* in arrival order, capped (AP_MEM_TIMES_MAX) */
	size_t nr_mem_times, cap_mem_times;
	uint64_t mem_times_dropped;
	bool has_memory;        /* the memory collector ran (page faults, mappings) */
	bool has_malloc;        /* ... and --malloc's allocator probes */
	uint64_t mem_period;    /* page faults: 0 frequency mode (the weight is each
				 * sample's period), else faults per sample */

	struct ap_sample_time *times;   /* every sample, in arrival order */
	size_t nr_times, cap_times;
	bool has_timeline;      /* the artifacts carry one (cpu.json "timeline") */
	uint64_t times_dropped, ivals_dropped; /* beyond the caps (counters at the end) */
	struct ap_interval *ivals;      /* off-CPU intervals of >= interval_min_ns */
	size_t nr_ivals, cap_ivals;
	uint64_t interval_min_ns;       /* 0: none recorded */

	struct ap_counter_val *counters;
	size_t nr_counters, cap_counters;

	struct ap_async_task *atasks;   /* suspended at the attach, per process in pid order */
	size_t nr_atasks, cap_atasks;
	bool has_atasks;                /* the attach read task lists (offcpu.json
					 * "asyncio_tasks") */

	uint64_t start_mono_ns; /* profiling (window) start (CLOCK_MONOTONIC) */
	uint64_t total_samples;
	uint32_t frequency_hz;
	double duration_s;

	/* windows (profile__take_window) */
	bool borrowed;          /* a window: the symbol tables are another profile's */
	bool lent;              /* live: a window borrows the symbol tables */
	void **retired;         /* symbol arrays replaced while lent, freed at purge */
	size_t nr_retired, cap_retired;
	/* the live profile's eviction (profile__purge): the window each stack
	 * was last used in (interned, or counted in a row), and what went */
	uint32_t epoch;         /* windows taken */
	uint32_t *stack_seen;   /* per stack */
	size_t cap_stack_seen;
	struct profile_evictions {
		uint64_t purges;        /* compactions done */
		uint64_t stacks, frames, modules, strs;
	} evicted;              /* since the start */
};

/* Caps of the long-lived symbol tables of a live profile (README "Bounded
 * caches"): past one of them, profile__purge() evicts the stacks used
 * longest ago, then the frames, modules and strings nothing kept uses,
 * down to 3/4 of each cap. */
struct profile_caps {
	size_t stacks, frames, strs;
};
#define AP_PROFILE_STACKS_MAX 65536   /* ~12 MB with their frames and index */
#define AP_PROFILE_FRAMES_MAX 65536   /* ~8 MB with names and index */
#define AP_PROFILE_STRS_MAX 131072

/* old id -> new id (AP_NONE: evicted) after a compaction, for the caches
 * that hold ids (the collectors'); valid until the next profile__purge */
struct profile_remap {
	bool moved;             /* false: ids unchanged, the arrays are NULL */
	uint32_t *strs, *modules, *frames, *stacks;
	size_t nr_strs, nr_modules, nr_frames, nr_stacks;
};
static inline uint32_t profile_remap__id(const uint32_t *map, size_t n, uint32_t id)
{
	return id < n ? map[id] : AP_NONE;
}
void profile_remap__free(struct profile_remap *rm);


/* names of enum ap_frame_kind, ap_off_reason, ap_fd_kind and ap_view ("python", "lock",
 * "socket", "mixed") */
extern const char *const ap_frame_kind_names[AP_FRAME__COUNT];
extern const char *const ap_view_names[4];
extern const char *const ap_off_reason_names[AP_OFF__COUNT];
extern const char *const ap_fd_kind_names[AP_FD__COUNT];
/* summary category of a reason: "io", "lock", "gil", "sleep", "child", "runnable", "other" */
const char *ap_off_category(uint32_t reason);
/* x86_64 syscall name, or NULL */
const char *ap_syscall_name(uint32_t nr);

void profile__init(struct profile *p);
/* frees everything p owns: a window's rows only (its borrowed symbol tables
 * stay with the live profile), so profile__free() on a window is
 * profile__window_free() */
void profile__free(struct profile *p);

/* Windows. Move live's per-window rows (counts, threads, processes,
 * off-CPU rows, syscall rows and errors, slow calls, the sample timeline and
 * intervals with their dropped counts, counters, total_samples) into win,
 * which is initialized here (its previous content is not freed). live keeps
 * its symbol tables and starts the next window empty; its scalars
 * (frequency, has_offcpu, thresholds, start_mono_ns, duration_s) are copied.
 * win borrows live's symbol tables read-only until the next
 * profile__purge(live): live may go on interning (arrays it outgrows are
 * kept until then), but win must not intern; a window that must outlive the
 * purge, or intern, calls profile__window_own() first. The caps of the
 * timeline and the intervals (AP_TIMELINE_MAX, AP_INTERVALS_MAX) hold per
 * window. */
void profile__take_window(struct profile *live, struct profile *win);
/* give win its own copy of the symbol tables it borrows (and their indexes),
 * so it outlives a purge of the live profile and may intern; no-op on a
 * profile that owns its tables */
void profile__window_own(struct profile *win);
/* free a window's rows (and its tables if it owns them); accepts NULL */
void profile__window_free(struct profile *win);
/* Live profile, between windows (the slow purge tick): the windows taken
 * so far stop borrowing (each must have been freed or owned); arrays
 * replaced while lent are freed. Then, past a cap of caps (NULL: the
 * AP_PROFILE_*_MAX), the tables are compacted: the stacks used longest ago
 * go (never those of live's rows or marked with profile__keep_stack since
 * the last window), then what no kept stack, row or module uses. Ids
 * change: live's rows are remapped here, and rm (NULL: not wanted) says
 * how, for the caches that hold ids. Evictions are counted in
 * live->evicted. Returns the number of stacks evicted. */
size_t profile__purge(struct profile *live, const struct profile_caps *caps,
		      struct profile_remap *rm);
/* a stack a cache still refers to: kept by the next purge as if used now */
void profile__keep_stack(struct profile *live, uint32_t stack);

uint32_t profile__str(struct profile *p, const char *s);
static inline const char *profile__s(const struct profile *p, uint32_t id)
{
	return id < p->nr_strs ? p->strs[id] : "";
}
uint32_t profile__module(struct profile *p, const char *path, const char *build_id);
uint32_t profile__frame(struct profile *p, enum ap_frame_kind kind, const char *name,
			uint32_t module, uint64_t addr);
uint32_t profile__py_frame(struct profile *p, const char *qualname, uint32_t module, uint32_t line);
/* frames root first */
uint32_t profile__stack(struct profile *p, const uint32_t *frames, uint32_t n);
/* count samples of (pid, tid, stack) with AP_COUNT_* flags; per-thread and
 * per-process totals, Python and GIL counts follow from the arguments */
void profile__add(struct profile *p, uint32_t pid, uint32_t tid, const char *comm,
		  uint32_t stack, uint32_t flags, uint64_t count);
/* the thread entry of (pid, tid), created if absent; comm updates its name */
struct ap_thread *profile__thread(struct profile *p, uint32_t pid, uint32_t tid, const char *comm);
/* the name to show for t: its Python thread name, else its comm */
static inline const char *profile__thread_name(const struct profile *p, const struct ap_thread *t)
{
	return t->pyname ? profile__s(p, t->pyname) : profile__s(p, t->comm);
}
/* the thread entry of (pid, tid), or NULL */
const struct ap_thread *profile__find_thread(const struct profile *p, uint32_t pid, uint32_t tid);
/* the span a thread was observed (end - start), 0 if unknown */
uint64_t profile__thread_wall_ns(const struct ap_thread *t);
/* add t's runnable time to the row of (t->pid, t->taker), made with t's
 * comm and followed flag when new; counted in takers_dropped beyond the cap */
void profile__add_taker(struct profile *p, const struct ap_taker *t);
/* add off-CPU time to (pid, tid, stack, reason) */
void profile__add_off(struct profile *p, uint32_t pid, uint32_t tid, uint32_t stack,
		      uint32_t reason, uint64_t ns, uint64_t count);
/* add a syscall row (an error count) to the row of its key, made if
 * absent: a collector that drains the kernel's map several times in one
 * window adds each drain */
void profile__add_sys(struct profile *p, const struct ap_sys_row *row);
void profile__add_sys_err(struct profile *p, uint32_t pid, uint32_t nr, uint32_t err,
			  uint64_t count);
/* the sample and interval timelines (capped; the excess is counted in
 * times_dropped / ivals_dropped, which the collector reports as the
 * timeline_samples_dropped / offcpu_intervals_dropped counters) */
void profile__add_time(struct profile *p, uint32_t pid, uint32_t tid, uint32_t stack, uint64_t t_ns);
struct ap_interval *profile__add_interval(struct profile *p, const struct ap_interval *iv);
/* add bytes and count to the memory row of (pid, tid, stack, kind) */
void profile__add_mem(struct profile *p, uint32_t pid, uint32_t tid, uint32_t stack,
		      uint32_t kind, uint64_t bytes, uint64_t count);
/* one memory sample or mapping call on the memory timeline (capped; the
 * excess is counted in mem_times_dropped) */
void profile__add_mem_time(struct profile *p, const struct ap_mem_time *t);
extern const char *const ap_mem_kind_names[AP_MEM__COUNT];
/* count one slow call of (pid, nr, stack) in its row; false if the row
 * table is full (counted in slow_dropped) */
bool profile__add_slow(struct profile *p, uint32_t pid, uint32_t nr, uint32_t stack,
		       const struct ap_slow_example *ex);
/* add a row's counts and examples to the row of its (pid, nr, stack) */
bool profile__merge_slow(struct profile *p, const struct ap_slow_call *row);
/* keep the keep rows with the most total time, in that order; the calls of
 * the others are added to slow_dropped */
void profile__trim_slow(struct profile *p, size_t keep);
/* slow calls counted in rows */
uint64_t profile__slow_calls(const struct profile *p);
/* a deep copy of t appended to p's suspended asyncio tasks */
void profile__add_async_task(struct profile *p, const struct ap_async_task *t);

/* the process entry of pid, created if absent */
struct ap_process *profile__process(struct profile *p, uint32_t pid);
/* the process entry of pid, or NULL */
const struct ap_process *profile__find_process(const struct profile *p, uint32_t pid);
void profile__set_counter(struct profile *p, const char *name, uint64_t value);
uint64_t profile__counter(const struct profile *p, const char *name);

/* Text of a frame as shown in folded stacks and summaries: the symbol,
 * "[module]" for an unsymbolized address inside a known file, "[unknown]",
 * "[anon]"; Python frames as "qualname (file.py:LINE)"; kernel frames get
 * "_[k]" when annotate is set. buf >= 512. */
const char *profile__frame_label(const struct profile *p, uint32_t frame, bool annotate,
				 char *buf, size_t len);

/* The frames of stack s that view shows, root first, into out (>= s->len);
 * returns how many. */
uint32_t profile__view(const struct profile *p, const struct ap_stack *s, enum ap_view view,
		       uint32_t *out);

/* The asyncio task a stack ran (CPython 3.14+): the name inside its
 * "[task NAME]" frame (src/collect/pytasks.c) into buf, or NULL if none */
const char *profile__stack_task(const struct profile *p, uint32_t stack, char *buf, size_t len);

/* is this frame a thread's first user frame (_start, clone, ...)? */
bool profile__is_entry_frame(const struct profile *p, uint32_t frame);

struct ap_completeness {
	uint64_t user_samples;      /* samples with at least one user frame */
	uint64_t complete;          /* ... whose outermost user frame is an entry */
	uint64_t kernel_only;       /* samples of kernel threads / no user context */
};
void profile__completeness(const struct profile *p, struct ap_completeness *c);

#endif
