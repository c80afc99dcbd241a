/* SPDX-License-Identifier: MIT */
/* Inside the collection (src/collect/ only): the core that owns the BPF
 * skeleton, the shared ring buffer, record dispatch, the procmaps hooks and
 * the unwind/symbolize glue, and the collectors it drives, each one file
 * behind a struct ap_collector_ops. The public face is collect/cpu.h. */
#ifndef AP_COLLECT_H
#define AP_COLLECT_H

#include <stdbool.h>
#include <stdint.h>
#include "shared.h"
#include "autoprof.skel.h"
#include "collect/cpu.h"
#include "process/mmaptrack.h"
#include "hashmap.h"
#include "profile/profile.h"
#include "python/pyproc.h"
#include "unwind/unwind.h"

struct ap_collector;
struct symfile;

/*
 * One collector: one bpf/<name>.bpf.c and one src/collect/<name>.c. Every
 * op but configure may be NULL. The core calls them in the order of
 * collectors[] (core.c), only for enabled collectors, except counters,
 * which every collector reports (zeros when off) so run.json always has
 * the same keys.
 */
struct ap_collector_ops {
	const char *name;
	uint32_t records;       /* (1u << AP_REC_*) of each record type it handles */
	/* before the BPF load: program autoload, rodata, map sizes, and
	 * c->enabled; may allocate c->priv; 0 or -errno */
	int (*configure)(struct ap_collector *c);
	/* after the load: attach its programs (collect_attach_prog()); 0 or -errno */
	int (*attach)(struct ap_collector *c);
	/* one ring buffer record of a type in .records; 0, or -EINVAL for a
	 * malformed one (counted by the core) */
	int (*on_record)(struct ap_collector *c, uint32_t type, const void *data, size_t size);
	/* after each drain of the ring buffer (timers, deferred releases) */
	void (*poll)(struct ap_collector *c);
	/* move what the BPF side aggregated since the last flush into `into`;
	 * threads still alive are accounted up to end_ns. Called at each
	 * window (engine.c) and once more at the end, after detach */
	void (*flush)(struct ap_collector *c, uint64_t end_ns, struct profile *into);
	/* its loss and event counters into `into` */
	void (*counters)(struct ap_collector *c, struct profile *into);
	/* its own artifact file in dirfd; 0 or -errno */
	int (*artifact)(struct ap_collector *c, int dirfd);
	/* pid runs the CPython runtime sf (configured, or about to be exec'd) */
	void (*on_interpreter)(struct ap_collector *c, uint32_t pid, const struct symfile *sf);
	/* pid exited and its records are drained: drop what is kept for it */
	void (*on_release)(struct ap_collector *c, uint32_t pid);
	/* stop: detach what collect_attach_prog() did not attach (the core
	 * destroys c->links itself); safe on a half-attached collector */
	void (*detach)(struct ap_collector *c);
	/* free c->priv */
	void (*free)(struct ap_collector *c);
	/* pid maps the file sf (any mapping with a file), or is about to exec
	 * a program that will (the launched target: its executable and its C
	 * library: before_exec); may come more than once per (pid, file) */
	void (*on_file)(struct ap_collector *c, uint32_t pid, const struct symfile *sf,
			bool before_exec);
};

#define AP_COLLECTOR_LINKS 4

struct ap_collector {
	const struct ap_collector_ops *ops;
	struct cpu_collector *cc;
	void *priv;
	bool enabled;
	struct bpf_link *links[AP_COLLECTOR_LINKS];
	int nr_links;
};

/* the order they attach, flush and report in */
enum ap_collector_id {
	AP_COLL_PROCLIFE,
	AP_COLL_OFFCPU,
	AP_COLL_SYSCALLS,
	AP_COLL_PYCALLS,
	AP_COLL_ONCPU,
	AP_COLL_MEMORY,
	AP_COLL_MALLOC,
	AP_COLL__COUNT,
};

extern const struct ap_collector_ops proclife_ops, offcpu_ops, syscalls_ops, pycalls_ops,
	oncpu_ops, memory_ops;
extern const struct ap_collector_ops malloc_ops;

/* key of cc->off_stacks: an off-CPU stack identity of the BPF side */
struct off_key {
	uint32_t tgid, pad;
	uint64_t sid;
};

struct cpu_collector {
	struct ap_session *ses;
	struct autoprof_bpf *skel;
	struct ring_buffer *rb;
	struct mmaptrack *mt;
	int epfd;
	uint64_t t0_ns;             /* when tracking began (BPF's t0_ns) */
	struct ap_collector coll[AP_COLL__COUNT];
	/* the unwind/symbolize glue (stacks.c) */
	struct hmap off_stacks;     /* (tgid, sid) -> stack id of an AP_REC_OFF_STACK */
	struct hmap ucache;         /* (symcache id, vaddr) -> frame id */
	struct hmap kcache;         /* kernel pc -> frame id */
	uint64_t bad_records;
	uint64_t unwind_frames;
	uint64_t no_image;          /* samples of a process whose mappings we never saw */
	uint64_t py_unknown_code;   /* Python frames whose code object never arrived */
	uint64_t py_splice_addr;    /* samples spliced by the shims' stack addresses (3.12+) */
	uint64_t py_splice_name;    /* ... by the eval loop's symbol name */
	uint64_t py_splice_fallback; /* ... by neither: Python frames at the leaf */
	uint64_t discovered;        /* --all: processes found by a first record */
	uint64_t discover_untracked; /* ... not added to the BPF tracked set (full) */
	uint32_t *frames;           /* scratch: one stack */
	struct pycode_cache pyc;
	struct hmap pyframes;       /* (tgid, sig, code, instr) -> frame id */
	struct py_pending {         /* placeholder frames awaiting their code record */
		uint32_t frame;
		uint32_t tgid, sig;
		uint64_t code;
		int32_t instr;
	} *pending;
	size_t nr_pending, cap_pending;
	/* Python runtimes (core.c: the procmaps hooks) */
	struct hmap py_warned;      /* paths already warned about */
	struct hmap needs_libpython; /* symcache id -> 1 + (it loads libpython3*) */
	uint64_t exec_seen_ns;      /* the last exec record: drain every AP_EXEC_WAKEUP_GAP_NS */
	uint32_t py_wait_pid;       /* exec'd a program that loads libpython: poll */
	uint32_t py_prepared_pid;   /* the launched target, until its exec: py_pending set */
	bool py_before_exec;        /* interpreter_found() for a target not yet running */
	uint64_t py_wait_until;     /* every ms until it is configured, or this time */
	bool stopped;               /* cpu_collector__stop ran: the next flush is the last */
	/* Python thread names (pynames.c) */
	struct hmap pynames;        /* (pid, tid) -> xstrdup'd name, or 1 pending / 0 tried */
	struct hmap pynames_read;   /* pid -> when its names may be read again */
	struct py_thread_name *pynames_buf; /* AP_PYTHREADS_MAX, for one read */
	struct hmap pynames_nthr;   /* pid -> its thread count (+2) at its last read */
	uint64_t pynames_scan_next; /* when thread counts are looked at next */
	uint64_t pynames_tick_next; /* when pending threads are looked at next */
	bool pynames_want;          /* some (pid, tid) is pending */
	uint64_t pynames_reads, pynames_failed, pynames_dropped;
	uint64_t pynames_pid_reads; /* processes read (pythreads__read calls) */
	uint64_t pynames_deferred;
	uint64_t pynames_timeouts;  /* reads of a process's memory that did not answer in time */  /* flush reads left for later: over the flush's budget */
	size_t pynames_flush_from;  /* the process a flush starts with (round robin) */
	struct hmap pyarg0_reads;   /* tgid -> generated-code argument reads (stacks.c) */
	uint64_t pyarg0_total, pyarg0_capped;
	/* asyncio task names, 3.14+ (pytasks.c) */
	struct hmap pytasks;        /* (task, tgid) -> frame id of "[task NAME]" */
	struct hmap pytask_code;    /* (task, tgid) -> its coroutine's code object, 0 unknown */
	struct hmap pytask_reads;   /* tgid -> task name reads this window */
	struct hmap pytask_fails;   /* (task, tgid, ident) -> failed reads (AP_PYTASK_TRIES) */
	uint64_t pytask_window_end; /* when the read budgets start over */
	uint64_t pytask_spent_ns;   /* task name read time this window, all processes */
	uint64_t pytask_reads_total, pytask_failed, pytasks_capped;
	uint64_t pytask_deferred;   /* reads left for a later sample: over a budget */
	/* suspended tasks read at the attach (pytasks.c): listed; left out
	 * over a cap or unreadable; chains cut; processes whose lists were
	 * read in part or not at all (budget, timeout) */
	struct {
		uint64_t listed, capped, failed, cut, incomplete, skipped;
	} atasks;
	bool task_on;               /* the sample being built has a task: */
	uint32_t task_frame;        /* ... its task frame */
	uint64_t task_code;         /* ... the task's coroutine's code object */
	bool task_placed;           /* ... the task frame is in the stack */
	struct snapshot *snap;      /* the attach snapshot (snapshot.c), NULL when not taken */
	bool mem_refused;           /* the kernel refused the memory programs: loaded without */
};

#define CC_MAX_FRAMES (AP_KSTACK_MAX + AP_MAX_UFRAMES + AP_MAX_PY_FRAMES + 2) /* + [truncated], [task] */

/* core.c */
/* attach prog and keep its link in c->links; 0 or -errno (logged) */
int collect_attach_prog(struct ap_collector *c, struct bpf_program *prog);
/* an exec record: wait for the interpreter the new program may load */
void collect_watch_exec(struct cpu_collector *cc, uint32_t pid);
/* pid exited and its in-flight records are handled: every collector's
 * on_release, then its mappings and unwinder go */
void collect_release(struct cpu_collector *cc, uint32_t pid);
/* --all: the process of a record's pid, found by its first record (lazy
 * discovery), or a reused pid's new process */
void collect_discover(struct cpu_collector *cc, uint32_t pid);
/* sum over CPUs of a BPF counter */
uint64_t collect_bpf_counter(struct cpu_collector *cc, enum ap_counter c);
/* runs the kernel skipped for prog (another BPF program was running) */
uint64_t collect_prog_misses(const struct bpf_program *prog);

/* pytasks.c: the task of on-CPU sample s (aux[0]) for the stack built
 * next (cc->task_*), its name read if new; _before: does the task frame go
 * before Python frame f (placed then); _end: place it before the first
 * Python frame if not placed, returns the stack's new length */
void collect_pytask_begin(struct cpu_collector *cc, const struct ap_cpu_sample *s);
bool collect_pytask_before(struct cpu_collector *cc, const struct ap_py_frame *f);
uint32_t collect_pytask_end(struct cpu_collector *cc, uint32_t *out, uint32_t n);
void collect_pytasks_free(struct cpu_collector *cc);
/* at the attach (-p): each 3.14+ process's suspended asyncio tasks and
 * their await chains into the profile (profile.atasks), bounded
 * (AP_PYASYNC_* caps, AP_PYASYNC_ATTACH_NS in all); counters */
void collect_pytasks_attach(struct cpu_collector *cc);
void collect_pytasks_counters(struct cpu_collector *cc, struct profile *into);
/* may tgid's task name be read at now (monotonic ns)? 0, or -EAGAIN (the
 * window's time budget spent) / -EDQUOT (tgid's reads this window) */
int collect_pytask_admit(struct cpu_collector *cc, uint32_t tgid, uint64_t now);
void collect_pytask_spent(struct cpu_collector *cc, uint64_t ns);
void collect_pytask_result(struct cpu_collector *cc, const struct ap_cpu_sample *s,
			   const char *name, uint64_t code, bool failed);
/* pid exec'd: its Tasks' names go */
void collect_pytasks_exec(struct cpu_collector *cc, uint32_t pid);

/* pynames.c: a sample of (pid, tid): name it at the next tick if new */
void collect_pynames_seen(struct cpu_collector *cc, uint32_t pid, uint32_t tid);
/* after a drain: read the processes with new threads (rate-limited) */
void collect_pynames_tick(struct cpu_collector *cc);
/* read the live Python processes, then name into's threads */
void collect_pynames_flush(struct cpu_collector *cc, struct profile *into);
/* a read of pid's memory timed out (warned once, counted): it is not
 * read again; _hung: has one? */
void collect_pynames_timed_out(struct cpu_collector *cc, uint32_t pid);
bool collect_pynames_hung(struct cpu_collector *cc, uint32_t pid);
/* pid exec'd: its names were the old program's */
void collect_pynames_exec(struct cpu_collector *cc, uint32_t pid);
/* drop the names of released processes; returns how many went */
size_t collect_pynames_purge(struct cpu_collector *cc);
void collect_pynames_free(struct cpu_collector *cc);

/* proclife.c: pid's process ended (its exit record, or with --all the side
 * band's): released once its in-flight records are handled */
void collect_proclife_exited(struct cpu_collector *cc, uint32_t pid);

/* stacks.c: unwind, symbolize and intern, into ses->prof */
/* the stack of a sample-shaped record; kernel frames kf[0..nk) innermost
 * first; AP_NONE for a malformed record (counted) */
uint32_t collect_record_stack(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size,
			      const uint64_t *kf, int nk);
/* the splice by address alone (tests): s's Python frame groups, innermost
 * first, each paired with the native frame (index into sps, the frames'
 * stack pointers leaf first) holding its entry shim: at[g]; outer_eval: the
 * outermost frame (nu - 1, no known end) may hold one; the number of
 * groups, or -1 when they do not pair (before 3.12, an address in no frame) */
int collect_py_pair_by_address(const struct ap_cpu_sample *s, int minor, const uint64_t *sps,
			       int nu, bool outer_eval, int16_t *at);
/* an off-CPU or slow-syscall record's stack, remembered under its stack
 * identity (aux[3]) for the kernel's aggregates; AP_NONE if malformed */
uint32_t collect_blocked_stack(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size);
/* the stack of an off-CPU identity, or kernel frames under a marker */
uint32_t collect_off_stack_of(struct cpu_collector *cc, uint32_t tgid, uint64_t sid, int32_t kstack);
/* kernel frames of an off-CPU stack id under a frame saying why */
uint32_t collect_kernel_only_stack(struct cpu_collector *cc, int32_t kstack, const char *why);
/* name the placeholder Python frames whose code record has arrived;
 * final: name the rest "[unknown code]" */
void collect_py_fixup(struct cpu_collector *cc, bool final);
/* an AP_REC_PY_CODE record */
void collect_py_code(struct cpu_collector *cc, const struct ap_py_code *r);

/* memory.c: is prog (a name libbpf gave) one of the memory collector's,
 * or one that carries its mapping calls? */
bool collect_memory_prog(const struct cpu_collector *cc, const char *prog);

/* snapshot.c: every thread's stack once at attach (bpf/snapshot.bpf.c) */
/* the kernel has what it needs (BTF probe) */
bool collect_snapshot_supported(void);
/* before the load: on (cc->snap set) in attach mode with off-CPU, if
 * supported and not refused (by a load before) */
void collect_snapshot_configure(struct cpu_collector *cc, bool refused);
/* after attaching: take it for each attached pid (records through the ring buffer) */
void collect_snapshot_take(struct cpu_collector *cc);
/* an AP_REC_SNAPSHOT record; 0 or -EINVAL */
int collect_snapshot_record(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size);
/* thread tid's snapshot stack under a root frame named root, with the
 * reason and syscall of its wait; AP_NONE if it has none */
uint32_t collect_snapshot_stack(struct cpu_collector *cc, uint32_t tgid, uint32_t tid,
				const char *root, uint32_t *reason, int32_t *nr);
/* st (a thread's accounting since the last flush): its time off CPU from
 * the start to its first switch-in, if the snapshot saw that wait, moved
 * from unknown to the snapshot's reason and stack */
void collect_snapshot_first_wait(struct cpu_collector *cc, struct ap_thread_stat *st);
void collect_snapshot_counters(struct cpu_collector *cc, struct profile *into);
void collect_snapshot_free(struct cpu_collector *cc);

#endif
