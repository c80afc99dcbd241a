// SPDX-License-Identifier: MIT
/* On-CPU sampler: a cpu-clock perf event on every CPU runs on_cpu_sample,
 * which keeps samples of tracked processes and sends their kernel stack,
 * user registers and user stack bytes to userspace for unwinding. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"
#include "stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 ustack_limit = AP_USTACK_DEFAULT; /* --stack-size */
const volatile bool trace_all = false;                  /* every process */
/* Wake the reader only once this much is buffered; it drains on a timer
 * otherwise. A wakeup per sample would put the profiler on a CPU exactly
 * when the (aligned) timers of the other CPUs fire, so it would displace
 * the target at sample instants and bias the profile toward itself. */
const volatile __u64 wakeup_bytes = 4 << 20;

/* one record under construction per CPU; too big for a per-CPU array
 * (32 KiB value limit), so a plain array indexed by CPU: perf_event programs
 * do not nest on one CPU (the kernel's bpf_prog_active guard) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to the number of CPUs before load */
	__type(key, __u32);
	__type(value, struct ap_cpu_sample);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by --ringbuf-mb */
} samples SEC(".maps");

#include "python.bpf.h"
#include "pycalls.bpf.h"

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, key = bpf_get_smp_processor_id();
	struct task_struct *task;
	struct ap_cpu_sample *s;
	struct pt_regs *uregs;
	long n;
	__u64 flags, size;
	__u32 limit;

	if (tgid == 0 || (!trace_all && !is_tracked(tgid)))
		return 0;
	cnt_inc(AP_CNT_SAMPLES);
	s = bpf_map_lookup_elem(&scratch, &key);
	if (!s) /* only if max_entries < nr_cpus */
		return 0;
	s->type = AP_REC_SAMPLE;
	s->tgid = tgid;
	s->tid = (__u32)pid_tgid;
	s->time_ns = bpf_ktime_get_ns();
	s->cpu = key;
	s->flags = 0;
	s->ustack_size = 0;
	s->pad = 0;
	s->nr_py = 0;
	s->py_flags = 0;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	/* user_mode() reads regs.cs, a 2-byte ctx access the verifier refuses;
	 * on x86_64 kernel text lives in the upper half instead */
	if ((long)ctx->regs.ip < 0)
		s->flags |= AP_SF_IN_KERNEL;

	n = bpf_get_stack(ctx, s->kstack, sizeof(s->kstack), 0);
	if (n < 0) {
		cnt_inc(AP_CNT_KSTACK_ERR);
		n = 0;
	}
	s->nr_kframes = n / 8;

	task = bpf_get_current_task_btf();
	if (task->flags & 0x00200000 /* PF_KTHREAD */ || !task->mm) {
		s->flags |= AP_SF_KERNEL_THREAD;
		__builtin_memset(s->regs, 0, sizeof(s->regs));
		cnt_inc(AP_CNT_NO_REGS);
	} else {
		py_sample(s, task);
		uregs = (struct pt_regs *)bpf_task_pt_regs(task);
		regs_to_dwarf(uregs, s->regs);
		limit = ustack_limit;
		s->ustack_size = copy_user_stack(s->ustack, s->regs[7], limit);
		if (s->ustack_size == 0)
			cnt_inc(AP_CNT_USTACK_ERR);
		else if (s->ustack_size >= limit) {
			s->flags |= AP_SF_USTACK_TRUNC;
			cnt_inc(AP_CNT_USTACK_TRUNC);
		}
	}

	flags = bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
		BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	/* 64-bit: a 32-bit size is checked in one register and passed
	 * zero-extended in another, which the verifier sees as unbounded */
	size = AP_CPU_SAMPLE_HDR + (__u64)s->ustack_size;
	if (size > sizeof(*s)) /* never true; bounds size for the verifier */
		return 0;
	if (bpf_ringbuf_output(&samples, s, size, flags))
		cnt_inc(AP_CNT_RINGBUF_FULL);
	return 0;
}

/* attached per process by userspace with --py-calls */
SEC("uprobe")
int BPF_KPROBE(on_py_eval_entry)
{
	return py_on_eval_entry(ctx);
}
