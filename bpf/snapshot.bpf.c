// SPDX-License-Identifier: MIT
/* The attach snapshot: every thread of a process attached to (-p), once,
 * with its whole stack: kernel (bpf_get_task_stack), user registers and
 * user stack, and Python frames. A thread blocked since before the attach
 * that stays blocked has no scheduler event while we watch, so this is the
 * only stack it gets (what py-spy dump shows of a hung process).
 *
 * A sleepable task iterator, filtered to the process by the link's pid
 * option: sleepable so user memory of another process can be read
 * (bpf_copy_from_user_task, which faults pages in); the stack copy and the
 * Python walker are the samplers' own, compiled here to read the task's mm
 * (AP_READ_OTHER_TASK, stack.bpf.h). Records go through the shared ring
 * buffer in the sample format, so userspace unwinds, symbolizes and
 * splices them like off-CPU stacks. */
#define AP_READ_OTHER_TASK 1
#define PY_CODE_SEND_MAX AP_MAX_PY_FRAMES /* once per thread: all of its code objects */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "offcpu.bpf.h" /* off_reason() */

char LICENSE[] SEC("license") = "GPL";

__u32 snap_taken; /* threads sent by this snapshot; userspace zeroes it */
/* tests (AP_TEST_SNAPSHOT_REJECT): a program the verifier refuses, as a
 * kernel that passed the probe might; 0: the branch is dead and not checked */
const volatile __u64 snap_test_reject = 0;

/* the record under construction (AP_SLOT_SNAPSHOT in shared.h) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ap_cpu_sample);
} snap_buf SEC(".maps");

/* what off_reason() writes beside its result (out_nr) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ap_thread_stat);
} snap_stat SEC(".maps");

SEC("iter.s/task")
int snap_threads(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct ap_snap_status out = { 0 };
	struct ap_thread_stat *st;
	struct ap_cpu_sample *s;
	struct pt_regs *uregs;
	__u32 zero = 0, state;
	__u64 size;
	long n;

	if (snap_test_reject)
		return *(volatile int *)snap_test_reject; /* a scalar dereferenced */
	if (!task)
		return 0;
	out.tid = task->pid;
	if (snap_taken >= AP_SNAP_MAX_THREADS) {
		out.result = AP_SNAP_CUT;
		goto out;
	}
	s = bpf_map_lookup_elem(&snap_buf, &zero);
	st = bpf_map_lookup_elem(&snap_stat, &zero);
	if (!s || !st) { /* never: the checks are for the verifier */
		out.result = AP_SNAP_ERROR;
		goto out;
	}
	s->type = AP_REC_SNAPSHOT;
	s->tgid = task->tgid;
	s->tid = task->pid;
	s->time_ns = bpf_ktime_get_ns();
	s->cpu = bpf_get_smp_processor_id();
	s->flags = 0;
	s->ustack_size = 0;
	s->kstack_id = -1;
	s->nr_py = 0;
	s->py_flags = 0;
	bpf_probe_read_kernel(s->comm, sizeof(s->comm), task->comm);
	n = bpf_get_task_stack(task, s->kstack, sizeof(s->kstack), 0);
	s->nr_kframes = n > 0 ? (__u64)n / 8 : 0;
	if (n <= 0)
		cnt_inc(AP_CNT_KSTACK_ERR);
	if (task->flags & 0x00200000 /* PF_KTHREAD */ || !task->mm) {
		s->flags |= AP_SF_KERNEL_THREAD;
		__builtin_memset(s->regs, 0, sizeof(s->regs));
	} else {
		py_sample(s, task, AP_SLOT_SNAPSHOT);
		uregs = (struct pt_regs *)bpf_task_pt_regs(task);
		regs_to_dwarf(uregs, s->regs);
		capture_ustack_task(s, task);
	}
	state = task->__state;
	st->out_nr = -1;
	s->aux[0] = off_reason(task, false, state, st);
	s->aux[1] = st->out_nr;
	s->aux[2] = state;
	s->aux[3] = 0;
	py_send_codes_task(s, AP_SLOT_SNAPSHOT, task);
	/* 64-bit, and bounded for the verifier (see record_send()) */
	size = AP_CPU_SAMPLE_HDR + (__u64)s->ustack_size;
	if (size > sizeof(*s) || bpf_ringbuf_output(&samples, s, size, 0)) {
		out.result = AP_SNAP_LOST;
		goto out;
	}
	snap_taken++;
	out.result = AP_SNAP_SENT;
out:
	bpf_seq_write(ctx->meta->seq, &out, sizeof(out));
	return 0;
}
