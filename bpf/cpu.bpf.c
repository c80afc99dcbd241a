// SPDX-License-Identifier: MIT
/* On-CPU sampler: a cpu-clock perf event on every CPU runs on_cpu_sample,
 * which keeps samples of tracked processes and sends their kernel stack,
 * user registers and user stack bytes to userspace for unwinding. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "capture.bpf.h"
#include "filter.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* system-wide: when the first sample of a process not found yet last woke
 * userspace (at most one wakeup per AP_EXEC_WAKEUP_GAP_NS) */
__u64 last_new_wakeup;

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
