// SPDX-License-Identifier: MIT
/* Memory collector: on_page_fault samples page faults (a software perf
 * event on every CPU, one sample per AP_MEM_FAULT_PERIOD faults) with the
 * faulting thread's mixed stack; about --memory-rate are captured per
 * second per CPU at most, each weighing the samples it stands for. The
 * mapping calls (mmap, munmap, brk, mremap) are memmap.bpf.h's. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "memmap.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* --memory-rate HZ per CPU: a captured sample costs 1e9 / HZ ns of credit,
 * and a second's worth is saved up at most (fault_take) */
const volatile __u64 fault_sample_cost_ns = 5000000;
const volatile __u64 fault_burst_ns = 1000000000;

static __always_inline void mem_cnt_add(enum ap_counter c, __u64 n)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v) /* always true for an in-range key; the check is for the verifier */
		*v += n;
}

/* Per CPU: the mean interval between the wanted tasks' samples (ewma_ns)
 * and a credit of capture time: a captured sample costs
 * fault_sample_cost_ns (1 s / --memory-rate), credit accrues with time up
 * to fault_burst_ns (a second's worth) and may run into debt as far */
struct fault_budget {
	__u64 last_ns;
	__u64 ewma_ns;
	__s64 credit_ns;
	__u64 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fault_budget);
} fault_budget SEC(".maps");

/* The pages this sample stands for if it is to be captured, else 0.
 *
 * A fixed period, not perf's frequency mode: the period of a per-CPU
 * event counts every process's faults, so a busy neighbour (a compiler)
 * drove the tuned period up to where the target got a handful of samples
 * of 100 MB each; a fixed one gives the target a sample per
 * AP_MEM_FAULT_PERIOD of its own faults, whatever else faults.
 *
 * While there is credit every sample is kept (a program's first second
 * of faults, or a burst after a quiet spell, is seen whole); without, a
 * sample is kept with probability q = the mean interval / the cost (about
 * --memory-rate kept per second) and weighs pages / q. q depends on the
 * past only, never on the sample's stack: every stack's bytes are
 * estimated without bias (carrying the skipped samples' weight onto the
 * next kept one gave the first stack after an allocation burst the
 * burst's tail). */
static __always_inline __u64 fault_take(__u64 pages)
{
	__u64 now = bpf_ktime_get_ns(), gap, ewma, cost = fault_sample_cost_ns;
	__s64 credit, burst = fault_burst_ns;
	struct fault_budget *b;
	__u32 zero = 0;

	b = bpf_map_lookup_elem(&fault_budget, &zero);
	if (!b || !cost) /* never: an in-range key of a per-CPU array; cost set by userspace */
		return 0;
	gap = now - b->last_ns;
	b->last_ns = now;
	credit = b->credit_ns + (gap > (__u64)burst ? burst : (__s64)gap);
	if (credit > burst)
		credit = burst;
	/* the mean interval, from at most 4 costs: after a quiet spell it
	 * follows a burst within a few samples */
	ewma = b->ewma_ns;
	if (ewma > 4 * cost)
		ewma = 4 * cost;
	if (gap > 4 * cost)
		gap = 4 * cost;
	ewma = ewma + gap / 8 - ewma / 8;
	b->ewma_ns = ewma;
	if (credit < (__s64)cost && ewma < cost) {
		if (!ewma || bpf_get_prandom_u32() % cost >= ewma) {
			b->credit_ns = credit;
			cnt_inc(AP_CNT_MEM_FAULT_CAPPED);
			return 0;
		}
		pages = pages * cost / ewma;
	}
	credit -= cost;
	b->credit_ns = credit < -burst ? -burst : credit;
	return pages;
}

SEC("perf_event")
int on_page_fault(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ap_cpu_sample *s;
	__u64 pages;
	long n;

	if (tgid == 0)
		return 0;
	if (!task_wanted(bpf_get_current_task_btf(), tgid))
		return 0;
	cnt_inc(AP_CNT_MEM_FAULTS);
	pages = fault_take(ctx->sample_period);
	if (!pages)
		return 0;
	s = scratch_get(AP_SLOT_IRQOFF); /* see AP_SLOT_IRQOFF in shared.h */
	if (!s) /* only if max_entries < nr_cpus */
		return 0;
	capture_head(s, bpf_get_current_task_btf(), AP_REC_MEM_FAULT, AP_SLOT_IRQOFF);
	capture_ustack(s);
	copy_ustack_unhijack(s, bpf_get_current_task_btf());
	/* a fault taken in the kernel (copy_to_user into a new buffer) has
	 * the kernel's frames; one taken in user mode has none */
	if ((long)ctx->regs.ip < 0)
		s->flags |= AP_SF_IN_KERNEL;
	n = bpf_get_stack(ctx, s->kstack, sizeof(s->kstack), 0);
	if (n < 0) {
		cnt_inc(AP_CNT_KSTACK_ERR);
		n = 0;
	}
	s->nr_kframes = n / 8;
	s->aux[0] = pages * AP_PAGE_SIZE;
	s->aux[1] = ctx->addr;
	if (record_send(s, AP_SLOT_IRQOFF)) {
		cnt_inc(AP_CNT_MEM_FAULT_LOST);
		mem_cnt_add(AP_CNT_MEM_FAULT_PAGES_LOST, pages);
	}
	return 0;
}

/* Transparent huge pages: a fault that maps one adds 2 MiB to the
 * process's anonymous RSS, but the fault sampler above counts it as one
 * fault (4 KiB) and samples one fault in AP_MEM_FAULT_PERIOD. The mm's
 * counter moves on each change (the rss_stat tracepoint, called by
 * add_mm_counter() with the mm and the counter): its global value is
 * exact to the per-CPU batch (under 64 pages here), and a huge page is
 * added in one call of AP_THP_PAGES, so a rise of at least half a huge
 * page since the process's previous change is that many huge pages.
 * Each is a candidate sample of its own, weighing the other
 * AP_THP_PAGES - 1 pages (the sampler counts its fault), under the same
 * budget (fault_take) as the sampler. (This kernel has no kprobes and
 * refuses fentry/fexit, so vma_alloc_anon_folio_pmd() cannot be watched.)
 *
 * tp_btf: preemption off, but the cpu-clock sampler may interrupt it, so
 * it captures in the syscall exit's slot: no syscall exit nests in a page
 * fault, and neither it nor the malloc uprobe (which shares it) takes one.
 * Only the process's own changes (current->mm) count; a change another
 * task makes (reclaim, khugepaged) between two of them only hides huge
 * pages, never adds one. */
#define AP_THP_PAGES 512 /* x86_64: a PMD maps 2 MiB */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);        /* tgid */
	__type(value, __s64);      /* anonymous RSS pages at its last change */
} mem_anon_rss SEC(".maps");

SEC("tp_btf/rss_stat")
int BPF_PROG(on_rss_stat, struct mm_struct *mm, int member)
{
	struct task_struct *task;
	struct ap_cpu_sample *s;
	__s64 now, *prev, rise;
	__u64 n, pages;
	__u32 tgid;

	if (member != MM_ANONPAGES)
		return 0;
	task = bpf_get_current_task_btf();
	if (task->mm != mm)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (!task_wanted(task, tgid))
		return 0;
	now = BPF_CORE_READ(mm, rss_stat[MM_ANONPAGES].count);
	prev = bpf_map_lookup_elem(&mem_anon_rss, &tgid);
	if (!prev) {
		bpf_map_update_elem(&mem_anon_rss, &tgid, &now, BPF_ANY);
		return 0;
	}
	rise = now - *prev;
	*prev = now;
	if (rise < AP_THP_PAGES / 2)
		return 0;
	n = ((__u64)rise + AP_THP_PAGES / 2) / AP_THP_PAGES;
	mem_cnt_add(AP_CNT_MEM_THP_FAULTS, n);
	pages = fault_take(n * (AP_THP_PAGES - 1));
	if (!pages)
		return 0;
	s = scratch_get(AP_SLOT_SYSCALL);
	if (!s)
		return 0;
	capture_head(s, task, AP_REC_MEM_FAULT, AP_SLOT_SYSCALL);
	capture_ustack(s);
	copy_ustack_unhijack(s, task);
	/* no kernel frames: the fault handler's would split the stack from
	 * the same stack's small-page faults (a huge page mapped by a fault
	 * inside a syscall keeps the syscall's caller) */
	s->aux[0] = pages * AP_PAGE_SIZE;
	if (record_send(s, AP_SLOT_SYSCALL)) {
		cnt_inc(AP_CNT_MEM_FAULT_LOST);
		mem_cnt_add(AP_CNT_MEM_FAULT_PAGES_LOST, pages);
	}
	return 0;
}

/* The mapping calls (memmap.bpf.h) when the syscall collector's programs
 * are not loaded (--no-syscalls --no-offcpu) */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_mem_enter, struct pt_regs *regs, long id)
{
	if (id == AP_NR_BRK && !mem_maps_off)
		mem_brk_enter(bpf_get_current_task_btf());
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_mem_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;

	if (mem_call_nr(nr) && !mem_maps_off)
		mem_sys_exit(nr, ret, regs->di, regs->si, regs->dx);
	return 0;
}
