// SPDX-License-Identifier: MIT
/* Off-CPU collector: sched_switch closes a thread's on-CPU time and opens
 * an off-CPU interval, classified by why it left (enum ap_off_reason);
 * sched_wakeup splits the interval into blocked and waiting for a CPU.
 * The logic is in offcpu.bpf.h. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "offcpu.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	struct ap_thread_stat *st;

	st = thread_get(prev);
	waiters_charge(prev, st != NULL, now);
	if (st) {
		switch_out(ctx, st, prev, preempt, prev_state, now);
		/* preempted: it waits in this CPU's run queue */
		if (st->ts_out && st->out_reason == AP_OFF_PREEMPTED)
			waiter_add(st, bpf_get_smp_processor_id(), now);
	}
	st = thread_get(next);
	if (st) {
		waiter_del(st);
		switch_in(st, now);
	}
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	struct ap_thread_stat *st = bpf_task_storage_get(&threads, p, NULL, 0);

	if (st && st->ts_out && !st->ts_wake) {
		st->ts_wake = bpf_ktime_get_ns();
		/* queued on its CPU: it waits there from now */
		waiter_del(st);
		waiter_add(st, p->thread_info.cpu, st->ts_wake);
	}
	return 0;
}
