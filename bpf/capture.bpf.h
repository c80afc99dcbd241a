/* SPDX-License-Identifier: MIT */
/* Capture of one sample-shaped record (struct ap_cpu_sample) for the
 * current thread: header, user registers, Python frames, the user stack
 * bytes, and sending it through the shared ring buffer. Used by every
 * collector whose records carry a stack: on-CPU samples (cpu.bpf.c),
 * off-CPU stacks (offcpu.bpf.c) and slow syscalls (syscalls.bpf.c). */
#ifndef AP_CAPTURE_BPF_H
#define AP_CAPTURE_BPF_H

#include "maps.bpf.h"
#include "stack.bpf.h"
#include "python.bpf.h"

const volatile __u32 ustack_limit __weak = AP_USTACK_DEFAULT; /* --stack-size */
/* Wake the reader only once this much is buffered; it drains on a timer
 * otherwise. A wakeup per sample would put the profiler on a CPU exactly
 * when the (aligned) timers of the other CPUs fire, so it would displace
 * the target at sample instants and bias the profile toward itself. */
const volatile __u64 wakeup_bytes __weak = 4 << 20;

const volatile __u32 nr_cpus __weak = 1;

/* one record under construction per CPU and slot (AP_SLOT_*); too big for
 * a per-CPU array (32 KiB value limit), so a plain array indexed by
 * slot * nr_cpus + cpu */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to AP_NR_SLOTS * CPUs before load */
	__type(key, __u32);
	__type(value, struct ap_cpu_sample);
} scratch SEC(".maps") __weak;


static __always_inline struct ap_cpu_sample *scratch_get(__u32 slot)
{
	__u32 key = slot * nr_cpus + bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch, &key);
}

/* The record header for the current thread, its user registers and Python
 * frames; returns the Python frames' hash. capture_ustack() adds the stack. */
static __always_inline __u64 capture_head(struct ap_cpu_sample *s, struct task_struct *task,
					  __u32 type, __u32 slot)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pt_regs *uregs;
	__u64 h = 0;

	s->type = type;
	s->tgid = pid_tgid >> 32;
	s->tid = (__u32)pid_tgid;
	s->time_ns = bpf_ktime_get_ns();
	s->cpu = bpf_get_smp_processor_id();
	s->flags = 0;
	s->nr_kframes = 0;
	s->ustack_size = 0;
	s->kstack_id = -1;
	s->nr_py = 0;
	s->py_flags = 0;
	s->aux[0] = s->aux[1] = s->aux[2] = s->aux[3] = 0;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	/* mm by a probe read: see leader_comm() in offcpu.bpf.h */
	if (task->flags & 0x00200000 /* PF_KTHREAD */ || !BPF_CORE_READ(task, mm)) {
		s->flags |= AP_SF_KERNEL_THREAD;
		__builtin_memset(s->regs, 0, sizeof(s->regs));
		cnt_inc(AP_CNT_NO_REGS);
		return 0;
	}
	h = py_sample(s, task, slot);
	uregs = (struct pt_regs *)bpf_task_pt_regs(task);
	regs_to_dwarf(uregs, s->regs);
	return h;
}

static __always_inline void capture_ustack_task(struct ap_cpu_sample *s, struct task_struct *task)
{
	__u32 limit;

	if (s->flags & AP_SF_KERNEL_THREAD)
		return;
	limit = ustack_limit;
	s->ustack_size = copy_user_stack(s->ustack, s->regs[7], limit, task);
	if (s->ustack_size == 0)
		cnt_inc(AP_CNT_USTACK_ERR);
	else if (s->ustack_size >= limit) {
		s->flags |= AP_SF_USTACK_TRUNC;
		cnt_inc(AP_CNT_USTACK_TRUNC);
	}
}

/* the current thread's user stack */
static __always_inline void capture_ustack(struct ap_cpu_sample *s)
{
	capture_ustack_task(s, (void *)0); /* the task is for AP_READ_OTHER_TASK */
}

/* send the record (only the used part of its stack); 0 or -1 if the ring
 * buffer is full */
static __always_inline int record_send(struct ap_cpu_sample *s, __u32 slot)
{
	__u64 flags, size;

	py_send_codes(s, slot);
	flags = (s->flags & AP_SF_NEW_PROC) ||
		bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
		BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	/* 64-bit: a 32-bit size is checked in one register and passed
	 * zero-extended in another, which the verifier sees as unbounded */
	size = AP_CPU_SAMPLE_HDR + (__u64)s->ustack_size;
	if (size > sizeof(*s)) /* never true; bounds size for the verifier */
		return -1;
	return bpf_ringbuf_output(&samples, s, size, flags) ? -1 : 0;
}

#endif /* AP_CAPTURE_BPF_H */
