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

/* the accounting entry of thread t; created for a tracked process */
static __always_inline struct ap_thread_stat *thread_get(struct task_struct *t)
{
	__u32 tid = t->pid, tgid = t->tgid, zero = 0;
	struct ap_thread_stat *st = bpf_task_storage_get(&threads, t, NULL, 0);

	if (st || !tid || (t->flags & PF_EXITING) || !task_wanted(t, tgid))
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
	bpf_probe_read_kernel_str(st->comm, sizeof(st->comm), t->comm);
	st = bpf_task_storage_get(&threads, t, st, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		cnt_inc(AP_CNT_THREADS_FULL);
	return st;
}

#endif /* AP_THREADS_BPF_H */
