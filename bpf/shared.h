/* SPDX-License-Identifier: MIT */
/* The contract between the BPF programs and userspace: record layouts,
 * counters and limits. The only header both sides include, so fixed-width
 * types only and an ap_/AP_ prefix on every name. */
#ifndef AP_SHARED_H
#define AP_SHARED_H

#ifdef __bpf__
/* vmlinux.h provides __u8 ... __u64 */
#else
#include <linux/types.h>
#endif

#define AP_COMM_LEN 16
#define AP_KSTACK_MAX 127          /* kernel frames per sample (perf's default max) */
#define AP_USTACK_MAX 65536        /* bytes of user stack copied at most; power of 2 */
#define AP_USTACK_DEFAULT 32768    /* default copy size (--stack-size) */
#define AP_PAGE_SIZE 4096
#define AP_USTACK_SLACK (2 * AP_PAGE_SIZE) /* see copy_user_stack() */
#define AP_NR_REGS 17              /* x86_64 DWARF registers 0..16 (rax..r15, rip) */

/* Scratch slots: BPF programs that may interrupt one another on a CPU use
 * different per-CPU scratch buffers. The sampler runs in hard interrupt and
 * sched_switch with interrupts off, so they never overlap; the syscall exit
 * runs with interrupts on and can be interrupted by the sampler. */
#define AP_SLOT_IRQOFF 0           /* also the page-fault sampler (bpf/memory.bpf.c):
				    * perf_event programs run with preemption off under
				    * bpf_prog_active, so the cpu-clock sampler (held off
				    * by that counter) and sched_switch cannot run inside
				    * it, and no page fault is taken inside those */
#define AP_SLOT_SYSCALL 1          /* tp_btf and uprobe programs: the syscall exits
				    * (on_sys_exit, on_mem_exit, one after the other),
				    * on_rss_stat and the malloc uprobes */
#define AP_NR_SLOTS 2
/* The sleepable snapshot iterator may sleep, and another program then runs
 * on its CPU: it has a Python scratch slot of its own, and its record is
 * in a map of its own (one entry: one iterator runs at a time), so the
 * per-CPU record scratch does not grow by a slot per CPU for it */
#define AP_SLOT_SNAPSHOT 2
#define AP_NR_PY_SLOTS 3

/* Counters kept per CPU by the BPF side. Names live in src/counters.c;
 * adding one means adding its name there (a _Static_assert checks the count). */
enum ap_counter {
	AP_CNT_SAMPLES,            /* perf events of tracked processes seen */
	AP_CNT_RINGBUF_FULL,       /* samples dropped: ring buffer full */
	AP_CNT_KSTACK_ERR,         /* bpf_get_stack failed for the kernel stack */
	AP_CNT_USTACK_ERR,         /* the user stack could not be read at all */
	AP_CNT_USTACK_TRUNC,       /* user stack copy hit the size limit */
	AP_CNT_NO_REGS,            /* no user registers (kernel thread or exiting) */
	AP_CNT_FORKS_FOLLOWED,     /* child processes added to the tracked set */
	AP_CNT_TRACKED_FULL,       /* children not followed: the tracked map is full */
	AP_CNT_PY_SAMPLES,         /* samples of a Python process */
	AP_CNT_PY_NO_TSTATE,       /* ... whose thread had no thread state (not a Python thread) */
	AP_CNT_PY_BAD_TSTATE,      /* ... whose thread state belongs to another thread (racy read) */
	AP_CNT_PY_READ_ERR,        /* a frame or code object could not be read */
	AP_CNT_PY_BAD_CODE,        /* a frame's code object failed validation (racy read) */
	AP_CNT_PY_TRUNCATED,       /* stacks deeper than the frame limit */
	AP_CNT_PY_CODE_SENT,       /* code objects copied to userspace */
	AP_CNT_PY_CODE_DEFERRED,   /* new code objects left for a later sample (per-sample cap) */
	AP_CNT_THREADS_FULL,       /* threads not accounted: the thread map is full */
	AP_CNT_OFF_KSTACK_ERR,     /* off-CPU kernel stacks lost (stack map full or collision) */
	AP_CNT_OFF_AGG_FULL,       /* off-CPU intervals not aggregated: the map is full */
	AP_CNT_OFF_RECORD_LOST,    /* off-CPU stack records lost (ring buffer full) */
	AP_CNT_SYS_AGG_FULL,       /* syscalls not counted: the map is full */
	AP_CNT_SYS_SLOW_LOST,      /* slow-syscall records lost (ring buffer full) */
	AP_CNT_THREAD_REC_LOST,    /* thread exit records lost (ring buffer full) */
	AP_CNT_OFF_INTERVAL_LOST,  /* off-CPU interval records lost (ring buffer full) */
	AP_CNT_OFF_INTERVAL_CAPPED, /* ... not sent: userspace holds its cap (intervals_full) */
	AP_CNT_FILTERED_OUT,       /* system-wide: on-CPU samples of tasks the filters leave out */
	AP_CNT_OFF_TAKERS_FULL,    /* waits for a CPU not attributed: the cpu_takers map is full,
				    * or a fifth thread waits on one CPU (cpu_waiting has 4 slots) */
	AP_CNT_OFF_WAIT_EXPIRED,   /* run-queue entries dropped after 5 s (a thread that left unseen) */
	/* memory (bpf/memory.bpf.c) */
	AP_CNT_MEM_FAULTS,         /* page-fault samples of wanted tasks */
	AP_CNT_MEM_FAULT_LOST,     /* ... lost: ring buffer full */
	AP_CNT_MEM_MAP_CAPPED,     /* large mapping calls counted without a stack (rate cap) */
	AP_CNT_MEM_MAP_LOST,       /* ... whose record was lost (ring buffer full; counted) */
	AP_CNT_MEM_AGG_FULL,       /* mapping calls not counted: the mem_maps map is full */
	AP_CNT_MEM_FAULT_CAPPED,   /* page-fault samples over --memory-rate not captured (the
				    * captured ones weigh them: see fault_take()) */
	AP_CNT_MEM_FAULT_PAGES_LOST, /* pages of the fault records lost (ring buffer full) */
	AP_CNT_MEM_THP_FAULTS,     /* transparent huge pages allocated on wanted tasks' faults */
	AP_CNT__COUNT,
};

/* System-wide filters (bpf/filter.bpf.h, src/filter.c): caps per kind,
 * includes and exclusions together */
#define AP_FILTER_MAX_PIDS 64
#define AP_FILTER_MAX_COMMS 64
#define AP_FILTER_MAX_CGROUPS 16
#define AP_FILT_INCLUDE 1          /* map values */
#define AP_FILT_EXCLUDE 2
#define AP_FILT_K_PID (1u << 0)    /* filter_incl / filter_excl: the kinds in use */
#define AP_FILT_K_COMM (1u << 1)
#define AP_FILT_K_CGROUP (1u << 2)

struct ap_filter_comm {
	char name[AP_COMM_LEN];    /* NUL-padded */
};

/* record types: the first __u32 of every ring buffer record */
enum ap_rec_type {
	AP_REC_SAMPLE = 1,
	AP_REC_PY_CODE = 2,
	AP_REC_OFF_STACK = 3,      /* struct ap_cpu_sample: first sight of an off-CPU stack */
	AP_REC_SLOW_SYSCALL = 4,   /* struct ap_cpu_sample: a syscall over the threshold */
	AP_REC_THREAD = 5,         /* struct ap_thread_rec: a thread exited */
	AP_REC_EXEC = 6,           /* struct ap_exec_rec: a tracked process exec'd */
	AP_REC_OFF_INTERVAL = 7,   /* struct ap_off_interval: one long off-CPU interval */
	AP_REC_OFF_LINK = 8,       /* struct ap_off_link: the stack of a syscall's intervals */
	AP_REC_SLOW_KNOWN = 9,     /* struct ap_slow_rec: a slow syscall whose stack was sent */
	AP_REC_SNAPSHOT = 10,      /* struct ap_cpu_sample: a thread's stack at attach (snapshot.bpf.c) */
	/* memory (issue 18): page-fault samples and large mapping calls
	 * (bpf/memory.bpf.c), the allocator probes of --malloc (bpf/malloc.bpf.c) */
	AP_REC_MEM_FAULT = 11,
	AP_REC_MEM_MAP = 12,
	AP_REC_MALLOC_SAMPLE = 13,
	AP_REC_MALLOC_FREE = 14,
	AP_REC_MALLOC_SPARE = 15,
};

/* Memory (bpf/memory.bpf.c, src/collect/memory.c). A page-fault sample is
 * an AP_REC_MEM_FAULT struct ap_cpu_sample with aux[0] its weight in bytes
 * (the faults it stands for x page size: AP_MEM_FAULT_PERIOD, divided by
 * its chance of capture over the rate; see fault_take()), aux[1]
 * the fault address. A mapping call of at least map_stack_min bytes, under the
 * stack rate cap, is an AP_REC_MEM_MAP record with aux[0] its bytes,
 * aux[1] the mapping's start, aux[2] enum ap_map_dir, aux[3] enum
 * ap_map_call; every other call is counted in the mem_maps map by
 * (process, direction). */
#define AP_MEM_FAULT_PERIOD 256    /* page faults per sample: 1 MiB of 4 KiB pages */
#define AP_MEM_RATE_DEFAULT 1000   /* page-fault samples captured per second per CPU at most */
enum ap_map_dir {
	AP_MAP_GROW,               /* mmap, brk up, mremap larger (AP_MEM_MAP) */
	AP_MAP_SHRINK,             /* munmap, brk down, mremap smaller (AP_MEM_UNMAP) */
};
enum ap_map_call {
	AP_MAPC_MMAP,
	AP_MAPC_MUNMAP,
	AP_MAPC_BRK,
	AP_MAPC_MREMAP,
};
struct ap_mem_key {
	__u32 tgid;
	__u32 dir;                 /* enum ap_map_dir */
};
struct ap_mem_val {
	__u64 bytes, count;
};

/* The attach snapshot (bpf/snapshot.bpf.c, src/collect/snapshot.c): every
 * thread of an attached process, once, as an AP_REC_SNAPSHOT record
 * (aux[0]: enum ap_off_reason of its wait, aux[1]: the syscall it is in or
 * -1, aux[2]: its task state). The iterator writes one ap_snap_status per
 * thread to its seq file, so userspace reading one at a time can drain the
 * ring buffer in between. */
#define AP_SNAP_MAX_THREADS 4096   /* threads per snapshot */
enum ap_snap_result {
	AP_SNAP_SENT,              /* its record is in the ring buffer */
	AP_SNAP_LOST,              /* ring buffer full */
	AP_SNAP_CUT,               /* over AP_SNAP_MAX_THREADS */
	AP_SNAP_ERROR,             /* no scratch (never) */
};
struct ap_snap_status {
	__u32 tid;
	__u32 result;              /* enum ap_snap_result */
};

/* A slow syscall whose stack identity (sid) userspace already has from an
 * AP_REC_OFF_STACK or AP_REC_SLOW_SYSCALL record: no user stack copy, so a
 * pool of threads in timed waits costs ~50 bytes a call, not ~10 KB */
struct ap_slow_rec {
	__u32 type;                /* AP_REC_SLOW_KNOWN */
	__u32 tgid, tid;
	__u32 nr;                  /* syscall number */
	__u64 start_ns, dur_ns;
	__s64 ret;
	__u64 sid;
};
_Static_assert(sizeof(struct ap_slow_rec) == 48, "ap_slow_rec layout changed");

/* One off-CPU interval of at least --trace-min-block, for the timeline
 * (trace.json). sid names its stack; 0 when the stack is taken at the exit
 * of the syscall the thread is in: an ap_off_link then names it for the
 * thread's such intervals since that syscall's entry. */
struct ap_off_interval {
	__u32 type;                /* AP_REC_OFF_INTERVAL */
	__u32 tgid, tid;
	__u32 reason;              /* enum ap_off_reason of the blocked part */
	__u64 start_ns;            /* switch-out, CLOCK_MONOTONIC */
	__u64 block_ns, runq_ns;   /* blocked, then runnable until switch-in */
	__u64 sid;
};

struct ap_off_link {
	__u32 type;                /* AP_REC_OFF_LINK */
	__u32 tgid, tid, pad;
	__u64 sid;
	__u64 since_ns;            /* the syscall's entry: older pending intervals are not its */
};

#define AP_ARGS_MAX 4096           /* command line bytes sent per exec; a power of 2 */
/* Exec records wake userspace at most once per this interval, and userspace
 * drains at least that often while execs arrive: a forced wakeup is an APIC
 * write (self-IPI), which traps on a VM; one per exec made a shell loop of
 * short commands ~30% slower (3000 /bin/true: 4.96 s against 3.57 s bare) */
#define AP_EXEC_WAKEUP_GAP_NS 5000000ull

/* A tracked process's new command line, read from its own memory at exec
 * (mm->arg_start..arg_end: /proc/PID/cmdline read from userspace races
 * with the exec and the exit) */
struct ap_exec_rec {
	__u32 type;                /* AP_REC_EXEC */
	__u32 tgid;
	__u64 time_ns;
	__u32 args_len;            /* bytes in args (NUL-separated) */
	__u32 pad;
	char comm[AP_COMM_LEN];
	char args[AP_ARGS_MAX];
};

/* Why a thread was off CPU (bpf/offcpu.bpf.h classifies; names in
 * src/collect/offcpu.c) */
enum ap_off_reason {
	AP_OFF_PREEMPTED,          /* involuntary: runnable, the CPU was taken away */
	AP_OFF_RUNQUEUE,           /* woken up, waiting for a CPU */
	AP_OFF_GIL,                /* a CPython thread waiting to take the GIL */
	AP_OFF_LOCK,               /* futex wait (mutex, condition, semaphore) */
	AP_OFF_SLEEP,              /* nanosleep family; select/poll with no fds */
	AP_OFF_IO_DISK,            /* file I/O, fsync, page faults (uninterruptible) */
	AP_OFF_IO_NET,             /* socket I/O */
	AP_OFF_IO_PIPE,            /* pipe, FIFO or terminal I/O */
	AP_OFF_POLL,               /* epoll/poll/select waiting on fds */
	AP_OFF_CHILD,              /* wait4/waitid: waiting for a child process */
	AP_OFF_OTHER,              /* any other blocking */
	AP_OFF_UNKNOWN,            /* blocked since before profiling started */
	AP_OFF__COUNT,
};

/* fd kinds, from the inode mode of the fd's file */
enum ap_fd_kind {
	AP_FD_NONE,                /* the syscall takes no fd */
	AP_FD_FILE,                /* regular file or block device */
	AP_FD_SOCKET,
	AP_FD_PIPE,                /* pipe or FIFO */
	AP_FD_TTY,                 /* terminal: tty or pty (char majors 4, 5, 136-143) */
	AP_FD_OTHER,               /* eventfd, epoll, timerfd, ... */
	AP_FD_BAD,                 /* not an open fd */
	AP_FD_CHARDEV,             /* any other character device (/dev/null, /dev/urandom, ...) */
	AP_FD__COUNT,              /* names: ap_fd_kind_names in src/counters.c, docs/ARTIFACTS.md */
};

/* Per thread: time on and off CPU, kept by bpf/offcpu.bpf.h from
 * sched_switch/sched_wakeup. Sent as AP_REC_THREAD when the thread exits;
 * live threads are read from the map at the end. */
struct ap_thread_stat {
	__u32 tgid, tid;
	__u64 start_ns;            /* task start (CLOCK_MONOTONIC) */
	__u64 end_ns;              /* exit, 0 while alive */
	__u64 oncpu_ns;
	__u64 off_ns[AP_OFF__COUNT];
	__u64 nr_vol, nr_invol;    /* voluntary / involuntary switches */
	__s32 exit_code;           /* wait status of the exit (thread records) */
	__u32 group_dead;          /* the last thread of its process */
	char comm[AP_COMM_LEN];
	/* live state */
	__u64 ts_in;               /* last switch-in, 0 when off CPU */
	__u64 ts_out;              /* last switch-out, 0 when on CPU */
	__u64 ts_wake;             /* wakeup after ts_out, 0 if none yet */
	__u64 out_sid;             /* stack of the current off interval (0: deferred) */
	__s64 out_nr;              /* the syscall it is in, or -1 */
	__u32 out_reason;          /* enum ap_off_reason of it */
	__s32 out_kstack;          /* kernel stack id of it (-1 none) */
	__u64 pend_block, pend_runq; /* off time inside the current syscall */
	__u32 pend_reason;
	__s32 pend_kstack;
	__u64 kc_ip, kc_sp;        /* kernel stack cache: the call site of the last */
	__s32 kc_nr;               /* switch-out (user pc and sp, syscall or -1, */
	__u32 kc_reason;           /* reason) and its kernel stack id */
	__s32 kc_kstack;
	__u32 kc_pad;
	__u64 sys_ts;              /* current syscall's entry, 0 outside */
	__u32 sys_nr;
	__u32 sys_fd;              /* enum ap_fd_kind of its fd argument */
	__u32 tl_pending;          /* intervals sent with sid 0 in the current syscall */
	__u32 wait_cpu;            /* 1 + the CPU whose cpu_waiting lists it (runnable, not running); 0 none */
	__u64 filt_cgid;           /* system-wide: the cgroup id the filters were judged with
				    * (and comm, the name): judged again when either changes */
};

struct ap_thread_rec {
	__u32 type;                /* AP_REC_THREAD */
	__u32 pad;
	struct ap_thread_stat st;
};

/* off-CPU time aggregated in the kernel per (thread, stack, reason) */
struct ap_off_key {
	__u32 tgid, tid;
	__u64 sid;                 /* stack identity; its AP_REC_OFF_STACK record names it */
	__u32 reason;
	__s32 kstack;              /* kernel stack id (for intervals never captured in user) */
};

struct ap_off_val {
	__u64 ns;
	__u64 count;
};

/* Who had the CPU a followed thread waited for: while it is runnable
 * (woken or preempted, until it runs), the time each task runs on the CPU
 * it waits on, by that task's process (bpf/offcpu.bpf.h, cpu_waiting). */
struct ap_taker_key {
	__u32 tgid;                /* the process that waited */
	__u32 taker;               /* tgid of the task that ran; 0: the CPU was idle */
};
/* taker of a process that a system-wide run's filters leave out */
#define AP_TAKER_FILTERED 0xffffffffu

struct ap_taker_val {
	__u64 ns;
	__u64 count;
	char comm[AP_COMM_LEN];    /* the taker's group leader's name, when first seen */
	__u32 followed;            /* the taker is followed by this run */
	__u32 kthread;             /* the taker is a kernel thread (PF_KTHREAD) */
};

#define AP_SYS_HIST 32             /* log2 µs buckets: [0] < 1 µs, [i] < 2^i µs (a power of 2) */

struct ap_sys_key {
	__u32 tgid;
	__u16 nr;
	__u8 fd_kind;              /* enum ap_fd_kind */
	__u8 pad;
};

struct ap_sys_val {
	__u64 count, errors, total_ns, max_ns, bytes;
	__u64 hist[AP_SYS_HIST];
};

struct ap_sys_err_key {
	__u32 tgid;
	__u16 nr;
	__u16 err;                 /* errno */
};

#define AP_MAX_PY_FRAMES 128       /* compile-time cap; --py-depth sets the real limit */

/* how a CPython version lays out its frames (src/python/offsets.c) */
enum ap_py_model {
	AP_PY_FRAMEOBJ = 1,        /* 3.8-3.10: PyFrameObject chain from tstate->frame */
	AP_PY_CFRAME = 2,          /* 3.11-3.12: tstate->cframe->current_frame */
	AP_PY_CURFRAME = 3,        /* 3.13+: tstate->current_frame */
};

#define AP_PY_OFF_NONE 0xffff

/* Offsets the BPF walker needs for one interpreter, filled by userspace
 * from the per-version table or _Py_DebugOffsets (3.13+). Every field names
 * its CPython struct and field in src/python/offsets.c. */
struct ap_py_offsets {
	__u16 model;               /* enum ap_py_model */
	__u16 minor;               /* 8 for 3.8 ... 14 for 3.14 */
	__u16 runtime_tss;         /* _PyRuntime: Py_tss_t autoTSSkey (key at +4) */
	__u16 runtime_gil;         /* _PyRuntime: embedded gil struct (<=3.11) or NONE */
	__u16 tstate_interp;       /* PyThreadState.interp */
	__u16 tstate_frame;        /* .frame / .cframe / .current_frame */
	__u16 cframe_current;      /* _PyCFrame.current_frame (3.11/3.12) */
	__u16 interp_gil_ptr;      /* PyInterpreterState.ceval.gil (3.12+) or NONE */
	__u16 frame_back;          /* f_back / previous */
	__u16 frame_code;          /* f_code / f_executable */
	__u16 frame_instr;         /* f_lasti (int) / prev_instr / instr_ptr */
	__u16 frame_owner;         /* owner (3.12+), is_entry (3.11), NONE before */
	__u16 code_firstlineno;    /* PyCodeObject.co_firstlineno (int) */
	__u16 code_filename;
	__u16 code_name;
	__u16 code_qualname;       /* NONE before 3.11 */
	__u16 code_linetable;      /* co_lnotab (<=3.9) / co_linetable */
	__u16 code_adaptive;       /* co_code_adaptive (3.11+) */
	__u16 str_ascii_data;      /* sizeof(PyASCIIObject) */
	__u16 str_compact_data;    /* sizeof(PyCompactUnicodeObject) */
	__u16 tsd_base;            /* glibc struct pthread specific_1stblock (0x310) */
	__u16 tstate_thread_id;    /* PyThreadState.thread_id (pthread_self = fsbase) */
	__u16 gc_collecting;       /* struct _gc_runtime_state.collecting (int), from
				    * PyInterpreterState (3.9+) or _PyRuntime (3.8:
				    * minor 8); NONE when unknown */
	__u16 runtime_finalizing;  /* _PyRuntimeState._finalizing (PyThreadState *,
				    * "finalizing" on 3.8); NONE when unknown */
	__u16 tstate_holds_gil;    /* PyThreadState.holds_gil (int; 3.15+, from the debug
				    * offsets): the GIL flag without the gil struct; NONE
				    * before 3.15 */
	/* free-threaded builds (3.13t+) differ in these; pyoffsets__for_version()
	 * fills in the GIL builds' values */
	__u16 obj_head;            /* sizeof(PyObject): 16, 32 free-threaded (ob_tid, ob_ref_*
				    * first). ob_type is at obj_head - 8; a str's length at
				    * obj_head and state at +16; a bytes' ob_size at obj_head
				    * and ob_sval at +16 */
	__u16 frame_tlbc;          /* _PyInterpreterFrame.tlbc_index (int32, 3.14t+): which
				    * thread-local bytecode copy instr_ptr points into; NONE */
	__u16 code_tlbc;           /* PyCodeObject.co_tlbc (_PyCodeArray *: size, then
				    * entries[], entries[0] = co_code_adaptive; 3.14t+); NONE */
	__u16 gil_holder;          /* struct _gil_runtime_state.last_holder: 8, 16 free-threaded */
	__u16 gil_locked;          /* .locked (int): 16, 24 free-threaded */
	__u16 gil_enabled;         /* .enabled (int, free-threaded only: 0 while the GIL is
				    * off, PYTHON_GIL=1 or an extension turns it on); NONE */
	__u16 str_kind_shift;      /* PyASCIIObject.state: the bit where kind:3 starts, then
				    * compact and ascii: 2; 8 on 3.14t+, whose `interned` is
				    * an unsigned char (atomic), not a 2-bit field */
};
_Static_assert(sizeof(struct ap_py_offsets) == 64, "ap_py_offsets layout changed");

/* per Python process: where its runtime is and how to read it */
struct ap_py_proc {
	__u64 runtime;             /* address of _PyRuntime in the process */
	__u64 code_type;           /* address of PyCode_Type, to validate code objects */
	struct ap_py_offsets off;
	__s64 tls_gilstate;        /* 3.15+ (no autoTSSkey): the thread's PyThreadState *
				    * is at fsbase + this (static executable), or at this
				    * offset into libpython's TLS block (tls_index set);
				    * 0 and no tls_index = use off.runtime_tss */
	__u64 tls_index;           /* 3.15+ shared libpython: address of its GOT tls_index
				    * {module, offset} (what __tls_get_addr takes): the
				    * block is the thread's dtv[module] + offset; 0 = none */
	__u32 tstate_task;         /* 3.14+: _PyThreadStateImpl.asyncio_running_task (the
				    * running asyncio Task, sent in on-CPU samples' aux[0]);
				    * 0 = not read */
	__u16 task_name;           /* 3.14+: TaskObj.task_name: the word at this offset of
				    * the running Task is sent in aux[1], its identity
				    * beside its address (reused by the next Task); 0 = none */
	__u16 pad;
};
_Static_assert(sizeof(struct ap_py_proc) == 104, "ap_py_proc layout changed");

/* --py-calls on a launched target whose interpreter is known before it is
 * mapped (collect/core.c, cpu_collector__prepare_exec): its configuration
 * with link-time addresses, and its eval loop's link-time address. The
 * eval-loop uprobe's first hit takes the load bias from its own address
 * and configures py_procs itself (bpf/pycalls.bpf.h), so the first call is
 * counted however late userspace reads the mapping */
struct ap_py_pending {
	struct ap_py_proc pp;      /* runtime and code_type at link-time addresses */
	__u64 eval_vaddr;          /* _PyEval_EvalFrameDefault's link-time address */
};

/* frame flags */
#define AP_PYF_ENTRY (1u << 0)     /* 3.11: first frame run by a C-level eval activation */
#define AP_PYF_SHIM  (1u << 1)     /* 3.12+: entry shim (owner CSTACK/INTERPRETER): ends a group */

struct ap_py_frame {
	__u64 code;                /* PyCodeObject *; for a shim (AP_PYF_SHIM) the shim's own
				    * address, where its C-level activation runs (3.12+: a
				    * local of _PyEval_EvalFrameDefault) */
	__u32 sig;                 /* guards against a freed and reused address */
	__s32 instr;               /* byte offset (<=3.9), code units (3.10+); -1 unknown */
	__u32 flags;               /* AP_PYF_* */
	__u32 pad;
};

/* sample-level Python flags */
#define AP_SPY_PYTHON   (1u << 0)  /* the process runs a known CPython */
#define AP_SPY_GIL      (1u << 1)  /* the thread held the GIL */
#define AP_SPY_TRUNC    (1u << 2)  /* more frames than the limit */
#define AP_SPY_ERROR    (1u << 3)  /* the walk stopped on a read or validation error */
#define AP_SPY_STATE    (1u << 4)  /* the interpreter's GC and finalizing state was read */
#define AP_SPY_GC       (1u << 5)  /* the thread held the GIL while the cyclic GC collected */
#define AP_SPY_FINALIZING (1u << 6) /* the thread is finalizing the runtime (Py_FinalizeEx
				     * after the atexit handlers) */
#define AP_SPY_GIL_KNOWN (1u << 7) /* the GIL was read: AP_SPY_GIL says held or not */
#define AP_SPY_NOGIL    (1u << 8)  /* free-threaded, running with the GIL off: no thread
				    * holds it (AP_SPY_GIL_KNOWN is clear) */

#define AP_PY_NAME_MAX 128
#define AP_PY_FILE_MAX 256
#define AP_PY_LINETABLE_MAX 4096

/* A code object seen for the first time (per process, address and sig):
 * names and line table copied while the process lives. Strings are raw
 * CPython data: kind 1 (latin-1/ascii), 2 (UCS-2) or 4 (UCS-4). */
struct ap_py_code {
	__u32 type;                /* AP_REC_PY_CODE */
	__u32 tgid;
	__u64 code;
	__u32 sig;
	__s32 firstlineno;
	__u16 name_len, qualname_len, filename_len, linetable_len;  /* bytes copied */
	__u32 linetable_size;      /* full size; > linetable_len when cut */
	__u8 name_kind, qualname_kind, filename_kind, pad;
	char name[AP_PY_NAME_MAX];
	char qualname[AP_PY_NAME_MAX];
	char filename[AP_PY_FILE_MAX];
	__u8 linetable[AP_PY_LINETABLE_MAX];
};

/* sample flags */
#define AP_SF_KERNEL_THREAD (1u << 0) /* no user context */
#define AP_SF_USTACK_TRUNC  (1u << 1) /* user stack copy was cut at the limit */
#define AP_SF_IN_KERNEL     (1u << 2) /* the sample interrupted kernel mode */
#define AP_SF_NEW_PROC      (1u << 3) /* system-wide: a process userspace has not found
				       * yet; wakes it to read the maps while it lives */

/* One on-CPU sample as written to the ring buffer: a fixed header, the
 * kernel stack, then ustack_size bytes of user stack starting at regs[7]
 * (rsp). Only the used part of ustack is sent. Changing this layout means
 * changing src/collect/stacks.c (sample parsing). */
struct ap_cpu_sample {
	__u32 type;                /* AP_REC_SAMPLE */
	__u32 tgid;
	__u32 tid;
	__u32 cpu;
	__u64 time_ns;             /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u16 nr_kframes;
	__u16 flags;               /* AP_SF_* */
	__u32 ustack_size;         /* bytes valid in ustack[] */
	__u16 nr_py;               /* Python frames, innermost first */
	__u16 py_flags;            /* AP_SPY_* */
	__s32 kstack_id;           /* off-CPU/slow syscall: kernel stack id of the block, or -1 */
	__u64 regs[AP_NR_REGS];    /* user registers in DWARF order */
	char comm[AP_COMM_LEN];    /* thread name */
	__u64 aux[4];              /* slow syscall: nr, duration ns, return value; [3]: the
	                            * off-CPU stack identity (sid) this record names, or 0;
	                            * on-CPU sample: [0] the thread's running asyncio Task
	                            * (PyObject *, 3.14+; ap_py_proc.tstate_task) or 0,
	                            * [1] its task_name pointer (ap_py_proc.task_name) or 0 */
	__u64 kstack[AP_KSTACK_MAX];
	struct ap_py_frame py[AP_MAX_PY_FRAMES];
	__u8 ustack[AP_USTACK_MAX + AP_USTACK_SLACK];
};
#define AP_CPU_SAMPLE_HDR (40 + 8 * AP_NR_REGS + AP_COMM_LEN + 32 + 8 * AP_KSTACK_MAX + \
			   24 * AP_MAX_PY_FRAMES)
_Static_assert(AP_CPU_SAMPLE_HDR == 4312, "ap_cpu_sample header layout changed");
_Static_assert(__builtin_offsetof(struct ap_cpu_sample, ustack) == AP_CPU_SAMPLE_HDR,
	       "ap_cpu_sample: ustack must follow the header");

/* --malloc (bpf/malloc.bpf.c, src/collect/malloc.c): the allocator
 * functions probed, one bpf cookie each; every call counted per (process,
 * function) in malloc_stats; allocations sampled by bytes arrive as
 * AP_REC_MALLOC_SAMPLE records (struct ap_cpu_sample; aux[0] the size
 * asked, aux[1] the weight in bytes, aux[2] the sample id, aux[3] the
 * function); sampled allocations not yet freed stay in malloc_live.
 * Adding a function means adding its name in src/collect/malloc.c. */
enum ap_malloc_fn {
	AP_MALLOC_MALLOC,
	AP_MALLOC_CALLOC,
	AP_MALLOC_REALLOC,
	AP_MALLOC_FREE,
	AP_MALLOC_POSIX_MEMALIGN,
	AP_MALLOC_ALIGNED_ALLOC,
	AP_MALLOC_MEMALIGN,
	AP_MALLOC__COUNT,
};

struct ap_malloc_key {
	__u32 tgid;
	__u32 fn;                  /* enum ap_malloc_fn */
};

struct ap_malloc_val {
	__u64 calls;
	__u64 bytes;               /* bytes asked for (0 for free) */
};

struct ap_malloc_live_key {
	__u32 tgid;
	__u32 pad;
	__u64 ptr;
};

struct ap_malloc_live {
	__u64 sample_id;           /* its AP_REC_MALLOC_SAMPLE record's aux[2] */
	__u64 weight;              /* bytes it stands for */
	__u64 size;                /* bytes asked for */
};

/* the collector's own loss and event counters (malloc_cnt, per CPU) */
enum ap_malloc_counter {
	AP_MCNT_SAMPLES,           /* allocations sampled */
	AP_MCNT_SAMPLE_LOST,       /* ... whose record was lost (ring buffer full) */
	AP_MCNT_STATS_FULL,        /* calls not counted: malloc_stats is full */
	AP_MCNT_LIVE_FULL,         /* sampled allocations not tracked live: malloc_live is full */
	AP_MCNT_LIVE_FREED,        /* sampled allocations freed (free or realloc) */
	AP_MCNT_NO_THREAD,         /* calls not sampled: no thread state (storage full) */
	AP_MCNT_NESTED,            /* calls inside another probed call (glibc's realloc(NULL, n)
				    * calls malloc, realloc(p, 0) free): not counted again */
	AP_MCNT_BEFORE_EXEC,       /* calls of a launched target before its exec (the
				    * profiler's own code in the child): not counted */
	AP_MCNT__COUNT,
};

#endif /* AP_SHARED_H */
