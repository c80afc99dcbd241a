/* SPDX-License-Identifier: MIT */
/* The allocator probes of --malloc (malloc.bpf.c): every call of the C
 * library's malloc, calloc, realloc, free, posix_memalign, aligned_alloc
 * and memalign counted per (process, function); allocations sampled by
 * bytes (a per-thread countdown drawn uniformly in [I/2, 3I/2), mean I =
 * --malloc-rate) with their stacks; the sampled ones not yet freed kept
 * by address in malloc_live. Uprobes are attached per process by
 * userspace (src/collect/malloc.c), one bpf cookie per function. */
#ifndef AP_MALLOC_BPF_H
#define AP_MALLOC_BPF_H

#include "capture.bpf.h"

const volatile __u64 malloc_rate __weak = 512 * 1024; /* --malloc-rate: mean bytes per sample */

/* the id of the next sample (shared by the CPUs, atomic) */
__u64 malloc_seq __weak;

/* calls and bytes per (process, function); drained at each flush */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ap_malloc_key);
	__type(value, struct ap_malloc_val);
} malloc_stats SEC(".maps") __weak;

/* sampled allocations not freed yet: (process, address) -> its sample;
 * read (not emptied) by userspace at each flush */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ap_malloc_live_key);
	__type(value, struct ap_malloc_live);
} malloc_live SEC(".maps") __weak;

/* the launched target until its exec: probed before it (so its first
 * call is seen), but what runs there until then is the profiler's own
 * code in the child */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u8);
} malloc_hold SEC(".maps") __weak;
bool malloc_holding __weak; /* malloc_hold has entries: look it up */
/* set once every probe of the processes found at the start is in, cleared
 * before the detach: all functions are counted over the same interval */
bool malloc_on __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AP_MCNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} malloc_cnt SEC(".maps") __weak;

/* per thread: the sampling countdown and the call between entry and return */
struct ap_malloc_thread {
	__u64 left;                /* bytes until the next sample */
	__u64 sample_id;           /* of the call in flight, 0 if not sampled */
	__u64 weight;
	__u64 size;
	__u64 memptr;              /* posix_memalign: where the pointer goes */
	__u64 sp;                  /* the stack pointer at its entry */
	__u32 fn;                  /* 1 + enum ap_malloc_fn in flight, 0 none */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ap_malloc_thread);
} malloc_threads SEC(".maps") __weak;

static __always_inline void mcnt_inc(enum ap_malloc_counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&malloc_cnt, &key);

	if (v) /* always true for an in-range key; the check is for the verifier */
		(*v)++;
}

/* the next countdown: uniform in [I/2, 3I/2), mean I */
static __always_inline __u64 malloc_draw(void)
{
	__u64 rate = malloc_rate;

	if (rate < 2)
		return 1;
	return rate / 2 + bpf_get_prandom_u32() % rate;
}

static __always_inline void malloc_count(__u32 tgid, __u32 fn, __u64 bytes)
{
	struct ap_malloc_key k = { .tgid = tgid, .fn = fn };
	struct ap_malloc_val *v = bpf_map_lookup_elem(&malloc_stats, &k), init = { 1, bytes };

	if (v) {
		__sync_fetch_and_add(&v->calls, 1);
		__sync_fetch_and_add(&v->bytes, bytes);
		return;
	}
	/* another CPU may have added it meanwhile: then add to its entry */
	if (bpf_map_update_elem(&malloc_stats, &k, &init, BPF_NOEXIST) == 0)
		return;
	v = bpf_map_lookup_elem(&malloc_stats, &k);
	if (!v) {
		mcnt_inc(AP_MCNT_STATS_FULL);
		return;
	}
	__sync_fetch_and_add(&v->calls, 1);
	__sync_fetch_and_add(&v->bytes, bytes);
}

/* a sampled allocation of ptr, or a free of it, forgets it */
static __always_inline void malloc_forget(__u32 tgid, __u64 ptr)
{
	struct ap_malloc_live_key k = { .tgid = tgid, .ptr = ptr };

	if (ptr && bpf_map_delete_elem(&malloc_live, &k) == 0)
		mcnt_inc(AP_MCNT_LIVE_FREED);
}

/* the stack of a sampled allocation, sent; its sample id. Shares the
 * syscall exit's scratch slot: both run in the task's own context with
 * interrupts on and neither nests in the other (with preempt=full, a
 * uprobe preempted mid-capture by a task exiting a slow syscall on the
 * same CPU could mix one record) */
static __always_inline __u64 malloc_sample(__u64 size, __u64 weight, __u32 fn)
{
	struct ap_cpu_sample *s = scratch_get(AP_SLOT_SYSCALL);
	__u64 id = __sync_fetch_and_add(&malloc_seq, 1) + 1;

	mcnt_inc(AP_MCNT_SAMPLES);
	if (!s)
		return 0;
	capture_head(s, bpf_get_current_task_btf(), AP_REC_MALLOC_SAMPLE, AP_SLOT_SYSCALL);
	capture_ustack(s);
	s->aux[0] = size;
	s->aux[1] = weight;
	s->aux[2] = id;
	s->aux[3] = fn;
	if (record_send(s, AP_SLOT_SYSCALL)) {
		mcnt_inc(AP_MCNT_SAMPLE_LOST);
		return 0;
	}
	return id;
}

static __always_inline int malloc_on_entry(struct pt_regs *ctx, __u32 fn)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ap_malloc_thread *t;
	__u64 size = 0, a, b, weight;

	if (!malloc_on)
		return 0;
	if (malloc_holding && bpf_map_lookup_elem(&malloc_hold, &tgid)) {
		mcnt_inc(AP_MCNT_BEFORE_EXEC);
		return 0;
	}
	t = bpf_task_storage_get(&malloc_threads, bpf_get_current_task_btf(), NULL,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t) {
		mcnt_inc(AP_MCNT_NO_THREAD);
		if (fn == AP_MALLOC_FREE) {
			malloc_count(tgid, fn, 0);
			malloc_forget(tgid, PT_REGS_PARM1(ctx));
		}
		return 0;
	}
	/* Called by the probed function in flight (at or below its entry's
	 * stack pointer; at it for a tail call): the same allocation, already
	 * counted; its return is the outer call's. An entry whose return was
	 * never seen stays behind only until a call from a shallower frame */
	if (t->fn && PT_REGS_SP(ctx) <= t->sp) {
		mcnt_inc(AP_MCNT_NESTED);
		return 0;
	}
	t->fn = 0;
	switch (fn) {
	case AP_MALLOC_MALLOC:
		size = PT_REGS_PARM1(ctx);
		break;
	case AP_MALLOC_CALLOC:
		a = PT_REGS_PARM1(ctx);
		b = PT_REGS_PARM2(ctx);
		/* an overflowing product fails in calloc: nothing allocated */
		size = (a >> 32 || b >> 32) ? 0 : a * b;
		break;
	case AP_MALLOC_REALLOC:
		/* the old block goes (a realloc that fails keeps it, rare:
		 * then it is no longer counted live) */
		malloc_forget(tgid, PT_REGS_PARM1(ctx));
		size = PT_REGS_PARM2(ctx);
		break;
	case AP_MALLOC_FREE:
		malloc_count(tgid, fn, 0);
		malloc_forget(tgid, PT_REGS_PARM1(ctx));
		return 0;
	case AP_MALLOC_POSIX_MEMALIGN:
		size = PT_REGS_PARM3(ctx);
		break;
	case AP_MALLOC_ALIGNED_ALLOC:
	case AP_MALLOC_MEMALIGN:
		size = PT_REGS_PARM2(ctx);
		break;
	default:
		return 0;
	}
	malloc_count(tgid, fn, size);
	t->fn = fn + 1;
	t->sp = PT_REGS_SP(ctx);
	t->sample_id = 0;
	t->size = size;
	t->memptr = fn == AP_MALLOC_POSIX_MEMALIGN ? PT_REGS_PARM1(ctx) : 0;
	if (!t->left) /* a new thread */
		t->left = malloc_draw();
	if (!size)
		return 0;
	if (size < t->left) {
		t->left -= size;
		return 0;
	}
	/* sampled: it stands for the bytes of its countdown, or for itself
	 * when larger */
	weight = size > malloc_rate ? size : malloc_rate;
	t->left = malloc_draw();
	t->weight = weight;
	t->sample_id = malloc_sample(size, weight, fn);
	return 0;
}

static __always_inline int malloc_on_return(struct pt_regs *ctx)
{
	struct ap_malloc_thread *t = bpf_task_storage_get(&malloc_threads, bpf_get_current_task_btf(),
							  NULL, 0);
	struct ap_malloc_live_key k = { .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct ap_malloc_live v;
	__u64 ptr = PT_REGS_RC(ctx);

	if (!t || !t->fn)
		return 0;
	if (t->fn == AP_MALLOC_POSIX_MEMALIGN + 1) {
		if ((int)ptr != 0 || bpf_probe_read_user(&ptr, sizeof(ptr), (void *)t->memptr))
			ptr = 0;
	}
	t->fn = 0;
	if (!t->sample_id || !ptr)
		return 0;
	k.ptr = ptr;
	v.sample_id = t->sample_id;
	v.weight = t->weight;
	v.size = t->size;
	t->sample_id = 0;
	if (bpf_map_update_elem(&malloc_live, &k, &v, BPF_ANY))
		mcnt_inc(AP_MCNT_LIVE_FULL);
	return 0;
}

#endif /* AP_MALLOC_BPF_H */
