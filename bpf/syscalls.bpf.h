/* SPDX-License-Identifier: MIT */
/* Syscalls of tracked processes from raw_syscalls: per (process, syscall,
 * fd kind) counts, errors, total and max time, a log2 latency histogram and
 * bytes moved, aggregated here; errors by errno; calls slower than
 * --slow-syscall sent with their stacks (a stack userspace already has by
 * its identity only). sys_exit is also where off-CPU
 * stacks of blocks inside a syscall are taken (bpf/offcpu.bpf.h).
 * Included by cpu.bpf.c after offcpu.bpf.h. */
#ifndef AP_SYSCALLS_BPF_H
#define AP_SYSCALLS_BPF_H

#include "shared.h"

const volatile bool syscalls_on = true;      /* --no-syscalls turns it off */
const volatile __u64 slow_ns = 10000000;     /* --slow-syscall */

/* One value per key shared by the CPUs, updated with atomic adds: a
 * per-CPU hash preallocates its 16384 entries for every possible CPU (620
 * MB on a 128-CPU host), used or not. On Linux 6.1+ userspace makes it
 * BPF_F_NO_PREALLOC (mapdrain.h: map_drain_no_prealloc). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ap_sys_key);
	__type(value, struct ap_sys_val);
} sys_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ap_sys_err_key);
	__type(value, __u64);
} sys_errs SEC(".maps");

struct ap_sys_val sys_zero; /* never written: the initial value of new entries */

/* syscalls whose positive return value is bytes moved */
static __always_inline bool sys_moves_bytes(__u32 nr)
{
	switch (nr) {
	case 0: case 1: case 17: case 18: case 19: case 20: /* read write pread64 pwrite64 readv writev */
	case 40: case 44: case 45: case 46: case 47:      /* sendfile sendto recvfrom sendmsg recvmsg */
	case 275: case 276: case 295: case 296: case 326: case 327: case 328:
		/* splice tee preadv pwritev copy_file_range preadv2 pwritev2 */
		return true;
	}
	return false;
}

/* log2 bucket of a duration: [0] < 1 µs, [i] in [2^(i-1), 2^i) µs */
static __always_inline __u32 sys_bucket(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 b = 0;

	if (us >> 32) { b += 32; us >>= 32; }
	if (us >> 16) { b += 16; us >>= 16; }
	if (us >> 8) { b += 8; us >>= 8; }
	if (us >> 4) { b += 4; us >>= 4; }
	if (us >> 2) { b += 2; us >>= 2; }
	if (us >> 1) { b += 1; us >>= 1; }
	b += us; /* us is now 0 or 1: b <= 33 */
	if (b >= AP_SYS_HIST)
		b = AP_SYS_HIST - 1;
	return b;
}

static __always_inline void sys_account(const struct ap_thread_stat *st, __u32 nr, long ret,
					__u64 dur)
{
	struct ap_sys_key k = { .tgid = st->tgid, .nr = nr, .fd_kind = st->sys_fd };
	struct ap_sys_val *v = bpf_map_lookup_elem(&sys_stats, &k);

	if (!v) {
		bpf_map_update_elem(&sys_stats, &k, &sys_zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&sys_stats, &k);
		if (!v) {
			cnt_inc(AP_CNT_SYS_AGG_FULL);
			return;
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->total_ns, dur);
	/* not atomic: two CPUs ending the longest call of one key at once may
	 * keep the shorter one */
	if (dur > v->max_ns)
		v->max_ns = dur;
	__sync_fetch_and_add(&v->hist[sys_bucket(dur) & (AP_SYS_HIST - 1)], 1);
	if (ret < 0 && ret >= -4095) {
		struct ap_sys_err_key ek = { .tgid = st->tgid, .nr = nr, .err = -ret };
		__u64 one = 1, *e;

		__sync_fetch_and_add(&v->errors, 1);
		e = bpf_map_lookup_elem(&sys_errs, &ek);
		if (e)
			__sync_fetch_and_add(e, 1);
		else if (bpf_map_update_elem(&sys_errs, &ek, &one, BPF_NOEXIST))
			cnt_inc(AP_CNT_SYS_AGG_FULL);
	} else if (ret > 0 && sys_moves_bytes(nr)) {
		__sync_fetch_and_add(&v->bytes, ret);
	}
}

/* a slow call whose stack userspace has: its times and the stack's identity */
static __always_inline void slow_known_send(const struct ap_thread_stat *st, __u32 nr, __u64 start,
					    __u64 dur, long ret, __u64 sid)
{
	struct ap_slow_rec *r = bpf_ringbuf_reserve(&samples, sizeof(*r), 0);

	if (!r) {
		cnt_inc(AP_CNT_SYS_SLOW_LOST);
		return;
	}
	r->type = AP_REC_SLOW_KNOWN;
	r->tgid = st->tgid;
	r->tid = st->tid;
	r->nr = nr;
	r->start_ns = start;
	r->dur_ns = dur;
	r->ret = ret;
	r->sid = sid;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct ap_thread_stat *st = thread_get(t);

	if (!st)
		return 0;
	if (st->pend_block + st->pend_runq) { /* a block whose syscall never returned */
		off_add(st, 0, st->pend_reason, st->pend_kstack, st->pend_block);
		off_add(st, 0, AP_OFF_RUNQUEUE, st->pend_kstack, st->pend_runq);
		st->pend_block = st->pend_runq = 0;
	}
	st->tl_pending = 0;
	st->sys_ts = bpf_ktime_get_ns();
	st->sys_nr = id;
	st->sys_fd = syscalls_on && sys_takes_fd(id) ? fd_kind(t, regs->di) : AP_FD_NONE;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct ap_thread_stat *st = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), NULL, 0);
	__u64 now = bpf_ktime_get_ns(), dur, pend, h, sid = 0, start, slow_sid = 0;
	struct ap_cpu_sample *s;
	bool want_off, slow, new_sid = false;
	__u32 nr;

	if (!st)
		return 0;
	/* a syscall entered before profiling began has no entry time (its
	 * blocks took their stacks at the switch) */
	start = st->sys_ts;
	dur = start ? now - start : 0;
	nr = st->sys_nr;
	st->sys_ts = 0;
	if (syscalls_on && start)
		sys_account(st, nr, ret, dur);
	pend = st->pend_block + st->pend_runq;
	if (!start && !pend)
		return 0;
	want_off = pend && pend >= min_block_ns;
	slow = syscalls_on && start && dur >= slow_ns;
	if (want_off || slow) {
		s = scratch_get(AP_SLOT_SYSCALL);
		if (!s)
			goto out;
		h = capture_head(s, bpf_get_current_task_btf(), AP_REC_OFF_STACK, AP_SLOT_SYSCALL);
		if (want_off) {
			sid = sid_of(h, st->pend_kstack, s);
			new_sid = !off_seen_get(s->tgid, sid);
			off_add(st, sid, st->pend_reason, st->pend_kstack, st->pend_block);
			off_add(st, sid, AP_OFF_RUNQUEUE, st->pend_kstack, st->pend_runq);
		}
		/* A slow call has a stack identity too; when userspace has that
		 * stack, only the call's times are sent (no user stack copy) */
		if (slow) {
			slow_sid = want_off ? sid : sid_of(h, st->pend_kstack, s);
			if (!new_sid && off_seen_get(s->tgid, slow_sid)) {
				slow_known_send(st, nr, start, dur, ret, slow_sid);
				slow = false;
			}
		}
		/* one record, sent once: a slow call also names a new stack */
		if (new_sid || slow) {
			capture_ustack(s);
			s->kstack_id = st->pend_kstack;
			s->aux[3] = new_sid ? sid : slow_sid;
			if (slow) {
				s->type = AP_REC_SLOW_SYSCALL;
				s->time_ns = start;
				s->aux[0] = nr;
				s->aux[1] = dur;
				s->aux[2] = ret;
			}
			if (record_send(s, AP_SLOT_SYSCALL))
				cnt_inc(slow ? AP_CNT_SYS_SLOW_LOST : AP_CNT_OFF_RECORD_LOST);
			else
				off_seen_set(s->tgid, new_sid ? sid : slow_sid);
		}
	}
out:
	if (st->tl_pending) {
		struct ap_off_link *l = sid ? bpf_ringbuf_reserve(&samples, sizeof(*l), 0) : NULL;

		if (l) {
			l->type = AP_REC_OFF_LINK;
			l->tgid = st->tgid;
			l->tid = st->tid;
			l->pad = 0;
			l->sid = sid;
			l->since_ns = start;
			bpf_ringbuf_submit(l, BPF_RB_NO_WAKEUP);
		} else if (sid) {
			cnt_inc(AP_CNT_OFF_INTERVAL_LOST);
		}
		st->tl_pending = 0;
	}
	st->pend_block = st->pend_runq = 0;
	st->pend_kstack = -1;
	return 0;
}

#endif /* AP_SYSCALLS_BPF_H */
