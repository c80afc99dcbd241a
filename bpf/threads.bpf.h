/* SPDX-License-Identifier: MIT */
/* Per-thread scheduler accounting (struct ap_thread_stat), kept in the
 * task itself: created on the first switch or syscall of a tracked thread,
 * updated by the off-CPU and syscall collectors, sent to userspace at the
 * thread's exit and read for the live ones by the dump_threads iterator
 * (both in proc.bpf.c). */
#ifndef AP_THREADS_BPF_H
#define AP_THREADS_BPF_H

#include "maps.bpf.h"
#include "filter.bpf.h"

#define PF_EXITING 0x4

__u64 t0_ns __weak = 0;                   /* when tracking began (set by userspace) */

/* per-thread accounting in the task itself: found from the task pointer
 * without hashing, on the path of every syscall and switch; userspace
 * reads the live ones through the dump_threads iterator */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ap_thread_stat);
} threads SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ap_thread_stat);
} thread_tmpl SEC(".maps") __weak;

/* off the run-queue list of the CPU st waits on (offcpu.bpf.h) */
static __always_inline void waiter_del(struct ap_thread_stat *st);

/* the cgroup id the filters see for t (0 when no cgroup filter is used) */
static __always_inline __u64 thread_filt_cgid(struct task_struct *t)
{
	if (!((filter_incl | filter_excl) & AP_FILT_K_CGROUP))
		return 0;
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/* system-wide: a thread whose name or cgroup changed since the filters
 * judged it (prctl(PR_SET_NAME), exec, a move to another cgroup) is judged
 * again; one they now leave out loses its accounting entry. Two compares
 * when nothing changed, nothing at all without a comm or cgroup filter */
static __always_inline struct ap_thread_stat *thread_refilter(struct task_struct *t,
							      struct ap_thread_stat *st)
{
	__u64 comm[AP_COMM_LEN / 8] = {}, cgid;
	__u64 *was = (__u64 *)st->comm;

	if (!filter_system_wide ||
	    !((filter_incl | filter_excl) & (AP_FILT_K_COMM | AP_FILT_K_CGROUP)))
		return st;
	cgid = thread_filt_cgid(t);
	if ((filter_incl | filter_excl) & AP_FILT_K_COMM)
		bpf_probe_read_kernel(comm, sizeof(comm), t->comm);
	else
		__builtin_memcpy(comm, st->comm, sizeof(comm));
	if (comm[0] == was[0] && comm[1] == was[1] && cgid == st->filt_cgid)
		return st;
	if (!filter_pass(t)) {
		/* a thread renamed or moved while runnable (a write to
		 * /proc/PID/task/TID/comm or cgroup.procs) is still listed on
		 * its CPU: left there, it would be charged every later slice */
		waiter_del(st);
		bpf_task_storage_delete(&threads, t);
		return NULL;
	}
	__builtin_memcpy(st->comm, comm, sizeof(comm));
	st->filt_cgid = cgid;
	return st;
}

/* the accounting entry of thread t; created for a tracked process */
static __always_inline struct ap_thread_stat *thread_get(struct task_struct *t)
{
	__u32 tid = t->pid, tgid = t->tgid, zero = 0;
	struct ap_thread_stat *st = bpf_task_storage_get(&threads, t, NULL, 0);

	if (st)
		return thread_refilter(t, st);
	if (!tid || (t->flags & PF_EXITING) || !task_wanted(t, tgid))
		return st;
	/* system-wide: kernel threads' time off CPU is their idle time (their
	 * on-CPU samples are kept) */
	if (filter_system_wide && (t->flags & 0x00200000 /* PF_KTHREAD */))
		return NULL;
	st = bpf_map_lookup_elem(&thread_tmpl, &zero);
	if (!st)
		return NULL;
	__builtin_memset(st, 0, sizeof(*st));
	st->tgid = tgid;
	st->tid = tid;
	st->start_ns = t->start_time;
	st->out_kstack = -1;
	st->pend_kstack = -1;
	st->kc_kstack = -1;
	bpf_probe_read_kernel(st->comm, sizeof(st->comm), t->comm); /* as thread_refilter reads it */
	if (filter_system_wide)
		st->filt_cgid = thread_filt_cgid(t);
	st = bpf_task_storage_get(&threads, t, st, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		cnt_inc(AP_CNT_THREADS_FULL);
	return st;
}

#endif /* AP_THREADS_BPF_H */
