/* SPDX-License-Identifier: MIT */
/* Syscalls of tracked processes from raw_syscalls: per (process, syscall,
 * fd kind) counts, errors, total and max time, a log2 latency histogram and
 * bytes moved, aggregated here; errors by errno; calls slower than
 * --slow-syscall sent with their stacks (a stack userspace already has by
 * its identity only). sys_exit is also where off-CPU
 * stacks of blocks inside a syscall are taken (bpf/offcpu.bpf.h).
 * The helpers of syscalls.bpf.c. */
#ifndef AP_SYSCALLS_BPF_H
#define AP_SYSCALLS_BPF_H

#include "offcpu.bpf.h"

const volatile bool syscalls_on __weak = true;      /* --no-syscalls turns it off */
const volatile __u64 slow_ns __weak = 10000000;     /* --slow-syscall */

/* One value per key shared by the CPUs, updated with atomic adds: a
 * per-CPU hash preallocates its 16384 entries for every possible CPU (620
 * MB on a 128-CPU host), used or not. On Linux 6.1+ userspace makes it
 * BPF_F_NO_PREALLOC (mapdrain.h: map_drain_no_prealloc). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ap_sys_key);
	__type(value, struct ap_sys_val);
} sys_stats SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ap_sys_err_key);
	__type(value, __u64);
} sys_errs SEC(".maps") __weak;

struct ap_sys_val sys_zero __weak; /* never written: the initial value of new entries */

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

#endif /* AP_SYSCALLS_BPF_H */
