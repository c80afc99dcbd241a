// SPDX-License-Identifier: MIT
/* On-CPU sampler: a cpu-clock perf event on every CPU runs on_cpu_sample,
 * which keeps samples of tracked processes and sends their kernel stack,
 * user registers and user stack bytes to userspace for unwinding. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"
#include "filter.bpf.h"
#include "stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 ustack_limit = AP_USTACK_DEFAULT; /* --stack-size */
/* Wake the reader only once this much is buffered; it drains on a timer
 * otherwise. A wakeup per sample would put the profiler on a CPU exactly
 * when the (aligned) timers of the other CPUs fire, so it would displace
 * the target at sample instants and bias the profile toward itself. */
const volatile __u64 wakeup_bytes = 4 << 20;

const volatile __u32 nr_cpus = 1;
/* system-wide: when the first sample of a process not found yet last woke
 * userspace (at most one wakeup per AP_EXEC_WAKEUP_GAP_NS) */
__u64 last_new_wakeup;

/* one record under construction per CPU and slot (AP_SLOT_*); too big for
 * a per-CPU array (32 KiB value limit), so a plain array indexed by
 * slot * nr_cpus + cpu */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to AP_NR_SLOTS * CPUs before load */
	__type(key, __u32);
	__type(value, struct ap_cpu_sample);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by --ringbuf-mb */
} samples SEC(".maps");

#include "python.bpf.h"
#include "pycalls.bpf.h"

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
	if (task->flags & 0x00200000 /* PF_KTHREAD */ || !task->mm) {
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

static __always_inline void capture_ustack(struct ap_cpu_sample *s)
{
	__u32 limit;

	if (s->flags & AP_SF_KERNEL_THREAD)
		return;
	limit = ustack_limit;
	s->ustack_size = copy_user_stack(s->ustack, s->regs[7], limit);
	if (s->ustack_size == 0)
		cnt_inc(AP_CNT_USTACK_ERR);
	else if (s->ustack_size >= limit) {
		s->flags |= AP_SF_USTACK_TRUNC;
		cnt_inc(AP_CNT_USTACK_TRUNC);
	}
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

#include "offcpu.bpf.h"
#include "syscalls.bpf.h"

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ap_cpu_sample *s;
	long n;

	if (tgid == 0) /* the idle task */
		return 0;
	if (!task_wanted(bpf_get_current_task_btf(), tgid)) {
		if (filter_system_wide)
			cnt_inc(AP_CNT_FILTERED_OUT);
		return 0;
	}
	cnt_inc(AP_CNT_SAMPLES);
	s = scratch_get(AP_SLOT_IRQOFF);
	if (!s) /* only if max_entries < nr_cpus */
		return 0;
	capture_head(s, bpf_get_current_task_btf(), AP_REC_SAMPLE, AP_SLOT_IRQOFF);
	capture_ustack(s);
	/* user_mode() reads regs.cs, a 2-byte ctx access the verifier refuses;
	 * on x86_64 kernel text lives in the upper half instead */
	if ((long)ctx->regs.ip < 0)
		s->flags |= AP_SF_IN_KERNEL;
	/* a process userspace has not found yet (the tracked set holds those
	 * it has): wake it now, so that it reads the maps of a short-lived
	 * process before the process is gone, rather than at the next drain */
	if (filter_system_wide && !is_tracked(tgid) &&
	    s->time_ns - last_new_wakeup >= AP_EXEC_WAKEUP_GAP_NS) {
		last_new_wakeup = s->time_ns;
		s->flags |= AP_SF_NEW_PROC;
	}
	n = bpf_get_stack(ctx, s->kstack, sizeof(s->kstack), 0);
	if (n < 0) {
		cnt_inc(AP_CNT_KSTACK_ERR);
		n = 0;
	}
	s->nr_kframes = n / 8;
	if (record_send(s, AP_SLOT_IRQOFF))
		cnt_inc(AP_CNT_RINGBUF_FULL);
	return 0;
}

/* attached per process by userspace with --py-calls */
SEC("uprobe")
int BPF_KPROBE(on_py_eval_entry)
{
	return py_on_eval_entry(ctx);
}
