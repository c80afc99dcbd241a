/* SPDX-License-Identifier: MIT */
/* The memory collector's mapping calls: mmap, munmap, mremap and brk
 * counted per process exactly (bytes and calls), the stack of a large call
 * (at least map_stack_min bytes) sent under a rate cap. Taken from the raw
 * syscall tracepoints: by the syscall collector's on_sys_enter and
 * on_sys_exit when they are loaded (mem_in_sys; no program run more per
 * syscall), else by the memory collector's own on_mem_enter and
 * on_mem_exit (bpf/memory.bpf.c). Either way they leave at the syscall
 * number check unless the call is one of these four.
 *
 * They were the calls' own classic tracepoints (syscalls/sys_exit_mmap
 * ...), which attach as perf events: closing each waits for the
 * tracepoints' grace periods (~75 ms on this VM, under a kernel mutex),
 * 0.27 s at the end of every run for the five; and they need tracefs
 * mounted. */
#ifndef AP_MEMMAP_BPF_H
#define AP_MEMMAP_BPF_H

#include "capture.bpf.h"
#include "filter.bpf.h"
#include "uretprobe.bpf.h"

const volatile __u64 map_stack_min __weak = 1 << 20;   /* bytes: a call this large gets a stack */
/* per CPU; the rest are counted without a stack (memory_map_stacks_capped).
 * A capture costs ~6 us of BPF; a call of >= 1 MiB whose memory is used
 * costs more in faults alone, so 50 a second left most of a malloc-heavy
 * program's mappings without a stack (memwork: 54 of 104) for little
 * saving. The cap bounds a loop mapping and unmapping untouched memory:
 * 500 a second is 3 ms of BPF a second per CPU at most */
const volatile __u32 map_stacks_per_sec __weak = 500;
/* the syscall collector's programs take the mapping calls (set before
 * load: when both collectors are on) */
const volatile bool mem_in_sys __weak = false;
/* set by userspace when the memory collector failed at attach: the
 * syscall collector's programs, which stay, take no more calls */
bool mem_maps_off __weak = false;

/* bytes mapped and unmapped by (process, direction) since the last drain,
 * for the calls sent without a record */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct ap_mem_key);
	__type(value, struct ap_mem_val);
} mem_maps SEC(".maps") __weak;

/* brk: the break before the call, by thread, from its entry to its exit */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} mem_brk SEC(".maps") __weak;

struct map_budget {
	__u64 window_ns;           /* start of the current second */
	__u32 sent;                /* stacks sent in it */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct map_budget);
} mem_budget SEC(".maps") __weak;

static __always_inline void map_count(__u32 tgid, __u32 dir, __u64 bytes)
{
	struct ap_mem_key k = { .tgid = tgid, .dir = dir };
	struct ap_mem_val *v = bpf_map_lookup_elem(&mem_maps, &k), zero = {};

	if (!v) {
		bpf_map_update_elem(&mem_maps, &k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&mem_maps, &k);
		if (!v) {
			cnt_inc(AP_CNT_MEM_AGG_FULL);
			return;
		}
	}
	__sync_fetch_and_add(&v->bytes, bytes);
	__sync_fetch_and_add(&v->count, 1);
}

/* may this CPU send one more stack this second? */
static __always_inline bool map_budget_take(__u64 now)
{
	__u32 zero = 0;
	struct map_budget *b = bpf_map_lookup_elem(&mem_budget, &zero);

	if (!b) /* never: an in-range key of a per-CPU array */
		return false;
	if (now - b->window_ns >= 1000000000ull) {
		b->window_ns = now;
		b->sent = 0;
	}
	if (b->sent >= map_stacks_per_sec)
		return false;
	b->sent++;
	return true;
}

/* one mapping call of the current task that changed the address space by
 * bytes starting at addr. tp_btf: preemption off, but the cpu-clock
 * sampler may interrupt it, so it captures in the syscall exit's slot:
 * inside on_sys_exit before that program's own capture, or in on_mem_exit,
 * which runs before or after on_sys_exit on the tracepoint, never inside */
static __always_inline void map_call(struct task_struct *task, __u32 tgid, __u32 call, __u32 dir,
				     __u64 bytes, __u64 addr)
{
	struct ap_cpu_sample *s;

	if (bytes < map_stack_min)
		goto count;
	if (!map_budget_take(bpf_ktime_get_ns())) {
		cnt_inc(AP_CNT_MEM_MAP_CAPPED);
		goto count;
	}
	s = scratch_get(AP_SLOT_SYSCALL);
	if (!s)
		goto count;
	capture_head(s, task, AP_REC_MEM_MAP, AP_SLOT_SYSCALL);
	capture_ustack(s);
	copy_ustack_unhijack(s, task);
	s->aux[0] = bytes;
	s->aux[1] = addr;
	s->aux[2] = dir;
	s->aux[3] = call;
	if (!record_send(s, AP_SLOT_SYSCALL))
		return;
	cnt_inc(AP_CNT_MEM_MAP_LOST);
count:
	map_count(tgid, dir, bytes);
}

#define AP_PAGE_UP(x) (((x) + AP_PAGE_SIZE - 1) & ~(__u64)(AP_PAGE_SIZE - 1))
#define AP_IS_ERR(ret) ((unsigned long)(ret) >= (unsigned long)-4095)

/* x86_64 syscall numbers (asm/unistd_64.h) */
#define AP_NR_MMAP 9
#define AP_NR_MUNMAP 11
#define AP_NR_BRK 12
#define AP_NR_MREMAP 25

/* A 32-bit task's calls have numbers of their own (i386: 9 is link); the
 * classic syscall tracepoints these programs replace skipped them too
 * (TS_COMPAT, arch/x86/include/asm/thread_info.h) */
static __always_inline bool task_compat(struct task_struct *t)
{
	return t->thread_info.status & 0x0002 /* TS_COMPAT */;
}

static __always_inline bool mem_call_nr(long nr)
{
	return nr == AP_NR_MMAP || nr == AP_NR_MUNMAP || nr == AP_NR_MREMAP || nr == AP_NR_BRK;
}

/* brk's entry: the break before the call, kept by thread */
static __always_inline void mem_brk_enter(struct task_struct *task)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 old;

	if (task_compat(task) || !task_wanted(task, bpf_get_current_pid_tgid() >> 32))
		return;
	old = BPF_CORE_READ(task, mm, brk);
	bpf_map_update_elem(&mem_brk, &tid, &old, BPF_ANY);
}

/* The exit of mapping call nr (mem_call_nr) that returned ret, with the
 * user registers saved at its entry (x86_64: di, si, dx), which the call
 * leaves as they were; brk returns the break after the call (the old one
 * when it failed). A global function: the verifier checks it once, on its
 * own, not inside on_sys_exit's paths (near its comfort); and one
 * map_call() site, as each inlined capture is verified path by path.
 * __weak: each object that includes this has it; the link keeps one. */
__weak __noinline int mem_sys_exit(long nr, long ret, __u64 di, __u64 si, __u64 dx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, tid = (__u32)bpf_get_current_pid_tgid();
	__u64 old, *oldp, bytes, addr, old_len, new_len;
	__u32 call, dir = AP_MAP_GROW;

	if (nr == AP_NR_BRK) {
		/* entered while wanted (mem_brk_enter checked): the break before */
		oldp = bpf_map_lookup_elem(&mem_brk, &tid);
		if (!oldp)
			return 0;
		old = *oldp;
		bpf_map_delete_elem(&mem_brk, &tid);
		call = AP_MAPC_BRK;
		bytes = (__u64)ret - old;
		addr = old;
		if ((__u64)ret < old) {
			dir = AP_MAP_SHRINK;
			bytes = old - ret;
			addr = ret;
		}
	} else if (AP_IS_ERR(ret) || task_compat(task)) {
		return 0;
	} else if (nr == AP_NR_MMAP) {
		call = AP_MAPC_MMAP;
		bytes = AP_PAGE_UP(si);
		addr = ret;
	} else if (nr == AP_NR_MUNMAP) {
		call = AP_MAPC_MUNMAP;
		dir = AP_MAP_SHRINK;
		bytes = AP_PAGE_UP(si);
		addr = di;
	} else if (nr == AP_NR_MREMAP) {
		call = AP_MAPC_MREMAP;
		old_len = AP_PAGE_UP(si);
		new_len = AP_PAGE_UP(dx);
		bytes = new_len - old_len;
		addr = ret + old_len;
		if (new_len < old_len) {
			dir = AP_MAP_SHRINK;
			bytes = old_len - new_len;
			addr = ret + new_len;
		}
	} else {
		return 0;
	}
	if (bytes && task_wanted(task, tgid))
		map_call(task, tgid, call, dir, bytes, addr);
	return 0;
}

#endif /* AP_MEMMAP_BPF_H */
