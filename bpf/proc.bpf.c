// SPDX-License-Identifier: MIT
/* Process lifecycle collector. The process tree: descendants of a tracked
 * process are tracked too, so a target that forks (subprocess,
 * multiprocessing, a shell) is profiled whole; the command line of each
 * exec; each thread's final accounting at its exit, and an iterator over
 * the accounting of the threads still alive. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "offcpu.bpf.h"
#include "filter.bpf.h" /* filter_system_wide */

char LICENSE[] SEC("license") = "GPL";

const volatile bool follow_children = true;
/* when an exec record last woke userspace (AP_EXEC_WAKEUP_GAP_NS) */
__u64 last_exec_wakeup;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;

	/* system-wide: the filters decide, nothing to follow */
	if (!follow_children || filter_system_wide || ptgid == ctgid || !is_tracked(ptgid))
		return 0;
	if (bpf_map_update_elem(&tracked, &ctgid, &one, BPF_ANY) == 0)
		cnt_inc(AP_CNT_FORKS_FOLLOWED);
	else
		cnt_inc(AP_CNT_TRACKED_FULL);
	return 0;
}

/* the command line of a tracked process, from its memory, as it execs */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct ap_exec_rec *r;
	struct mm_struct *mm;
	__u64 len;

	/* system-wide too: the tracked set holds the processes userspace
	 * has discovered (by a first sample); an exec of any other is no news */
	if (!is_tracked(p->tgid))
		return 0;
	r = bpf_ringbuf_reserve(&samples, sizeof(*r), 0);
	if (!r)
		return 0;
	r->type = AP_REC_EXEC;
	r->tgid = p->tgid;
	r->time_ns = bpf_ktime_get_ns();
	r->pad = 0;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	mm = p->mm;
	len = mm ? mm->arg_end - mm->arg_start : 0;
	if (len > AP_ARGS_MAX)
		len = AP_ARGS_MAX;
	len &= AP_ARGS_MAX * 2 - 1;
	if (!len || len > AP_ARGS_MAX ||
	    bpf_probe_read_user(r->args, len, (void *)mm->arg_start))
		len = 0;
	r->args_len = len;
	/* wake userspace: the side-band records of the new program's
	 * mappings are there to read, and an interpreter among them must be
	 * configured before it runs Python code. At most one wakeup per
	 * AP_EXEC_WAKEUP_GAP_NS: userspace drains that often after an exec
	 * anyway, and each wakeup is an APIC write (a trap on a VM). Two CPUs
	 * racing on the stamp cost at most one extra wakeup */
	if (r->time_ns - last_exec_wakeup >= AP_EXEC_WAKEUP_GAP_NS) {
		last_exec_wakeup = r->time_ns;
		bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);
	} else {
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	}
	return 0;
}

/* every exiting thread: final accounting to userspace, entry removed */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_thread_exit, struct task_struct *p, bool group_dead)
{
	struct ap_thread_stat *st = bpf_task_storage_get(&threads, p, NULL, 0);
	struct ap_thread_rec *r;
	__u64 now = bpf_ktime_get_ns();

	if (!st)
		return 0;
	if (st->ts_in)
		st->oncpu_ns += now - st->ts_in;
	st->ts_in = 0;
	if (st->pend_block + st->pend_runq) { /* a syscall that never returned */
		off_add(st, 0, st->pend_reason, st->pend_kstack, st->pend_block);
		off_add(st, 0, AP_OFF_RUNQUEUE, st->pend_kstack, st->pend_runq);
		st->pend_block = st->pend_runq = 0;
	}
	st->end_ns = now;
	st->exit_code = p->exit_code;
	st->group_dead = group_dead;
	bpf_probe_read_kernel_str(st->comm, sizeof(st->comm), p->comm);
	r = bpf_ringbuf_reserve(&samples, sizeof(*r), 0);
	if (!r) { /* left with the task, where the iterator may still find it */
		cnt_inc(AP_CNT_THREAD_REC_LOST);
		return 0;
	}
	r->type = AP_REC_THREAD;
	r->pad = 0;
	__builtin_memcpy(&r->st, st, sizeof(*st));
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	bpf_task_storage_delete(&threads, p);
	return 0;
}

/* system-wide: the filters are judged when a thread is first seen and
 * again at its exec (a new name): one they leave out from then on is not
 * accounted any more. Attached only when a --comm filter is in use */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec_refilter, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (filter_system_wide && !filter_pass(p))
		bpf_task_storage_delete(&threads, p);
	return 0;
}

/* userspace reads the threads still alive at the end through this */
SEC("iter/task")
int dump_threads(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct ap_thread_stat *st;

	if (!task)
		return 0;
	st = bpf_task_storage_get(&threads, task, NULL, 0);
	if (st)
		bpf_seq_write(ctx->meta->seq, st, sizeof(*st));
	return 0;
}
