/* SPDX-License-Identifier: MIT */
/* The collection, as the run command sees it: loads the BPF object, drives
 * every collector (on-CPU samples, off-CPU, syscalls, process lifecycle,
 * --py-calls; see collect/collect.h and core.c) and turns their records
 * into unwound, symbolized stacks in ses->prof. A facade over the
 * collectors' ops: each function below runs the matching op of each. */
#ifndef AP_CPU_H
#define AP_CPU_H

#include "session.h"

/* open, size and load the BPF programs; NULL with errno set (message logged) */
struct cpu_collector *cpu_collector__open(struct ap_session *ses);
/* start following pid: BPF filter, and its current mappings; 0 or -errno */
int cpu_collector__track(struct cpu_collector *cc, uint32_t pid);
/* Launch mode, before the gate opens: read the symbols of the interpreter
 * the command will run (exe itself, or its DT_NEEDED libpython), so it is
 * configured the moment it is mapped; with --py-calls also attach the
 * uprobe now, since registering one takes the kernel ~20 ms */
void cpu_collector__prepare_exec(struct cpu_collector *cc, uint32_t pid, const char *exe);
/* perf events on every CPU and the fork tracepoint; 0 or -errno */
int cpu_collector__attach(struct cpu_collector *cc);
/* when cpu_collector__attach() began accounting (CLOCK_MONOTONIC): samples
 * and per-thread time count from here, before the attach snapshot */
uint64_t cpu_collector__t0(const struct cpu_collector *cc);
/* handle what arrived within timeout_ms; 0 or -errno */
int cpu_collector__poll(struct cpu_collector *cc, int timeout_ms);
/* for an event loop (src/loop.h): the fd that becomes readable when records
 * wait (an epoll fd over the ring buffer and the side band), and the
 * longest the loop may sleep before cpu_collector__poll(cc, 0) should run
 * again (ms) */
int cpu_collector__fd(const struct cpu_collector *cc);
int cpu_collector__timeout_ms(struct cpu_collector *cc);
/* after profile__purge() compacted ses->prof: renumber the ids the
 * collector caches (frames per pc, stacks per off-CPU stack id), dropping
 * the evicted ones */
void cpu_collector__remap(struct cpu_collector *cc, const struct profile_remap *rm);
/* Caps of the collector's caches (docs/ARCHITECTURE.md, "Windows and
 * long-lived tables"); past one, cpu_collector__purge() starts that cache
 * over */
#define AP_PYCODE_MAX 65536        /* Python code objects (names, line tables) */
#define AP_OFF_STACKS_MAX 65536    /* off-CPU stack identities -> stack */
#define AP_ID_CACHE_MAX 524288     /* frame ids per pc and per Python code position */
#define AP_PYNAMES_MAX 65536       /* Python thread names, (pid, tid) seen */
#define AP_PYNAMES_GAP_NS 250000000ull /* a process's thread names read at most this often */
#define AP_PYNAMES_SCAN_NS 100000000ull /* Python processes' thread counts looked at */
#define AP_PYNAMES_RETRIES 3ull /* reads again of a count with threads unnamed */
#define AP_PYNAMES_TICK_NS 20000000ull  /* new sampled threads looked at */
#define AP_PY_ARG0_READS_MAX 256   /* generated-code argument reads per process */
#define AP_PY_ARG0_PIDS_MAX 4096   /* processes they are counted for */
#define AP_PYTASKS_MAX 65536       /* asyncio task names, (pid, Task address) seen */
#define AP_PYTASK_READS_MAX 64     /* task name reads per process per window */
#define AP_PYTASK_WINDOW_NS 1000000000ull /* task name read budgets start over */
#define AP_PYTASK_BUDGET_NS 50000000ull /* task name read time per window, all processes */
#define AP_PYTASK_TRIES 3          /* failed reads of a Task before "[task ?]" is kept */
#define AP_PYNAMES_WAIT_NS 100000000ull /* one read of a process's memory, on a helper thread */
#define AP_PYASYNC_ALL 1024        /* suspended asyncio tasks kept at the attach, all processes */
#define AP_PYASYNC_ATTACH_NS 1000000000ull /* reading them: no process begun after it */
#define AP_PYNAMES_FLUSH_NS 50000000ull /* name reads of one flush, all processes together */
#define AP_PYNAMES_LAST_FLUSH_NS 500000000ull /* ... of the last flush */

/* The slow tick, after engine__purge's compaction: drop what belonged to
 * processes gone (off-CPU stack identities, code objects, Python frame
 * ids), and start a cache over past its cap; what went is added to ev.
 * Returns the entries of the frame id caches before. */
size_t cpu_collector__purge(struct cpu_collector *cc, struct ap_collect_evictions *ev);
/* stop sampling and handle everything still buffered */
void cpu_collector__stop(struct cpu_collector *cc);
/* Every collector's flush into ses->prof: what the kernel aggregated since
 * the last drain (off-CPU time per stack, syscall statistics, read with
 * lookup-and-delete), the per-thread on/off-CPU totals as deltas since the
 * last drain (threads alive counted up to end_ns), and off-CPU intervals
 * still waiting for their stack let go (they are rows of this window).
 * Called for each window while running, and once after stop, when a block
 * still in progress is also counted under its stack ("[still blocked at
 * the end]") and, in attach mode, threads never seen running are added. */
void cpu_collector__drain(struct cpu_collector *cc, uint64_t end_ns);
/* copy BPF and userspace loss counters into ses->prof */
void cpu_collector__counters(struct cpu_collector *cc);
uint64_t cpu_collector__samples(const struct cpu_collector *cc);
uint64_t cpu_collector__drops(struct cpu_collector *cc);
void cpu_collector__free(struct cpu_collector *cc);
/* artifacts/python_calls.json from the --py-calls uprobe counts; 0 or -errno */
int cpu_collector__write_py_calls(struct cpu_collector *cc, int dirfd);

extern const char *const ap_counter_names[];

#endif
