/* SPDX-License-Identifier: MIT */
/* Off-CPU time from the scheduler: sched_switch opens and closes each
 * thread's off-CPU intervals, sched_wakeup splits an interval into blocked
 * and waiting-for-a-CPU, and every interval is classified (enum
 * ap_off_reason) from the switch's state and the syscall the thread is in.
 * Per thread: exact on-CPU and off-CPU time by reason. Per (thread, stack,
 * reason): time aggregated here in the kernel.
 *
 * Stacks cost a user stack copy and a Python walk, so they are taken
 * where it is cheapest: a thread blocked inside a syscall still has the
 * same user and Python stack when the syscall returns, so the capture is
 * deferred to sys_exit and done only for blocks of --min-block or more;
 * blocks outside syscalls (preemption in user mode, page faults) are
 * captured at the switch. A stack is identified by a hash (sid) of its
 * kernel stack id, user pc and sp and Python frames; its full record goes
 * to userspace once, the first time the sid is seen. The helpers of
 * offcpu.bpf.c, also used by syscalls.bpf.c (stacks taken at sys_exit)
 * and proc.bpf.c (a block whose syscall never returned). */
#ifndef AP_OFFCPU_BPF_H
#define AP_OFFCPU_BPF_H

#include "capture.bpf.h"
#include "threads.bpf.h"

#define TASK_UNINTERRUPTIBLE 0x2
#define TASK_DEAD_BITS 0xb0          /* EXIT_DEAD | EXIT_ZOMBIE | TASK_DEAD */

const volatile __u64 min_block_ns __weak = 0;   /* --min-block */
const volatile bool offcpu_stacks __weak = true; /* aggregate off-CPU time per stack */
const volatile __u64 interval_min_ns __weak = 1000000; /* --trace-min-block; 0: no interval records */
const volatile __u32 self_tgid __weak = 0;     /* autoprof-bpf's own process */
__u32 intervals_full __weak = 0;           /* userspace holds its cap of intervals: send no more */

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__uint(value_size, AP_KSTACK_MAX * sizeof(__u64));
} off_kstacks SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ap_off_key);
	__type(value, struct ap_off_val);
} off_time SEC(".maps") __weak;

/* runnable time of followed processes by who had the CPU (ap_taker_key);
 * AP_TAKERS_MAX in src/profile/profile.h is the same size */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ap_taker_key);
	__type(value, struct ap_taker_val);
} cpu_takers SEC(".maps") __weak;

struct off_seen_key {
	__u32 tgid, pad;
	__u64 sid;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct off_seen_key);
	__type(value, __u8);
} off_seen SEC(".maps") __weak;

static __always_inline void off_add(const struct ap_thread_stat *st, __u64 sid, __u32 reason,
				    __s32 kstack, __u64 ns)
{
	struct ap_off_key k = { .tgid = st->tgid, .tid = st->tid, .sid = sid, .reason = reason,
				.kstack = kstack };
	struct ap_off_val *v, init = { ns, 1 };

	if (!ns)
		return;
	v = bpf_map_lookup_elem(&off_time, &k);
	if (v) { /* only this thread updates its keys: no atomics needed */
		v->ns += ns;
		v->count++;
		return;
	}
	if (bpf_map_update_elem(&off_time, &k, &init, BPF_NOEXIST))
		cnt_inc(AP_CNT_OFF_AGG_FULL);
}

/* Followed threads that are runnable but not running, per CPU (the one
 * whose run queue holds them: the CPU a preempted thread left, the one a
 * woken thread was queued on). At every switch on a CPU, the task that ran
 * there since the previous switch (prev) is charged, for each thread
 * waiting there, with the part of its run the thread waited through. A
 * thread the load balancer moves while it waits stays listed on the CPU it
 * started waiting on; more than AP_CPU_WAITERS waiting on one CPU are not
 * attributed (cpu_takers_full). An entry older than AP_WAIT_STALE_NS is
 * dropped (cpu_waits_expired): a fair scheduler runs a runnable thread
 * within its latency target times the run-queue length (24 ms x n on
 * CFS/EEVDF defaults), so a wait that long is an entry whose thread left
 * without passing waiter_del(), not a wait to charge for ever. */
#define AP_CPU_WAITERS 4
#define AP_WAIT_STALE_NS (5ULL * 1000000000ULL)

struct cpu_waiters {
	__u64 last_switch;      /* this CPU's previous sched_switch */
	struct {
		__u32 tid, tgid;
		__u64 since;    /* runnable since */
	} w[AP_CPU_WAITERS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_waiters);
} cpu_waiting SEC(".maps") __weak;

/* The group leader's comm, its pointer read with a probe read, not a
 * direct BTF load: the verifier looks up task_struct__safe_trusted and
 * its kin by a linear search of the kernel's BTF for each pointer it
 * loads from a trusted pointer on each path it walks (6.18:
 * check_ptr_to_btf_access -> btf_nested_type_is_trusted), 14% of a short
 * run's CPU with the loads in on_switch */
static __always_inline const char *leader_comm(struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);

	return leader->comm;
}

/* ns of tgid's waiting went to the process of task (its tgid; 0 when idle) */
static __always_inline void taker_add(__u32 tgid, struct task_struct *task, bool followed, __u64 ns)
{
	struct ap_taker_key k = { .tgid = tgid, .taker = task->pid ? task->tgid : 0 };
	/* a system-wide run's filters left this process out: its time is
	 * counted, its identity is not recorded (AP_TAKER_FILTERED) */
	bool hidden = filter_system_wide && !followed && k.taker && k.taker != self_tgid;
	struct ap_taker_val *v, init = { .ns = ns, .count = 1, .followed = followed,
					 .kthread = !hidden && (task->flags & 0x00200000 /* PF_KTHREAD */) };

	if (!ns)
		return;
	if (hidden)
		k.taker = AP_TAKER_FILTERED;
	v = bpf_map_lookup_elem(&cpu_takers, &k);
	if (!v) {
		if (hidden)
			__builtin_memcpy(init.comm, "[filtered out]", 15);
		else
			bpf_probe_read_kernel_str(init.comm, sizeof(init.comm), leader_comm(task));
		if (!bpf_map_update_elem(&cpu_takers, &k, &init, BPF_NOEXIST))
			return;
		v = bpf_map_lookup_elem(&cpu_takers, &k); /* another CPU made it first */
		if (!v) {
			cnt_inc(AP_CNT_OFF_TAKERS_FULL);
			return;
		}
	}
	/* the threads of one process wait on several CPUs: atomic adds */
	__sync_fetch_and_add(&v->ns, ns);
	__sync_fetch_and_add(&v->count, 1);
	/* a process renames itself (exec, prctl) after its first slices: take
	 * the name again now and then (a racy read of count is fine here) */
	if (!hidden && (v->count & 63) == 2)
		bpf_probe_read_kernel_str(v->comm, sizeof(v->comm), leader_comm(task));
}

/* st became runnable at now, queued on cpu. A wakeup runs on the waker's
 * CPU and writes another CPU's entry: a race with that CPU's switch costs
 * at most one slice's attribution. */
static __always_inline void waiter_add(struct ap_thread_stat *st, __u32 cpu, __u64 now)
{
	__u32 zero = 0, i;
	struct cpu_waiters *cw = bpf_map_lookup_percpu_elem(&cpu_waiting, &zero, cpu);

	if (!cw)
		return;
	st->wait_cpu = cpu + 1;
	for (i = 0; i < AP_CPU_WAITERS; i++) {
		if (cw->w[i].tid)
			continue;
		cw->w[i].tid = st->tid;
		cw->w[i].tgid = st->tgid;
		cw->w[i].since = now;
		return;
	}
	cnt_inc(AP_CNT_OFF_TAKERS_FULL);
}

/* st runs again (or exits): off the list of the CPU it waited on */
static __always_inline void waiter_del(struct ap_thread_stat *st)
{
	__u32 zero = 0, i, cpu = st->wait_cpu;
	struct cpu_waiters *cw;

	if (!cpu)
		return;
	st->wait_cpu = 0;
	cw = bpf_map_lookup_percpu_elem(&cpu_waiting, &zero, cpu - 1);
	if (!cw)
		return;
	for (i = 0; i < AP_CPU_WAITERS; i++)
		if (cw->w[i].tid == st->tid)
			cw->w[i].tid = 0;
}

/* a switch on this CPU at now: prev ran since the previous one; charge it
 * to every thread that waited here meanwhile */
static __always_inline void waiters_charge(struct task_struct *prev, bool prev_followed, __u64 now)
{
	__u32 zero = 0, i;
	struct cpu_waiters *cw = bpf_map_lookup_elem(&cpu_waiting, &zero);
	__u64 from;

	if (!cw)
		return;
	from = cw->last_switch;
	cw->last_switch = now;
	if (!from)
		return;
	for (i = 0; i < AP_CPU_WAITERS; i++) {
		__u32 tid = cw->w[i].tid, tgid = cw->w[i].tgid;
		__u64 since = cw->w[i].since;

		if (!tid || tid == prev->pid || since >= now)
			continue;
		if (now - since > AP_WAIT_STALE_NS) {
			cw->w[i].tid = 0;
			cnt_inc(AP_CNT_OFF_WAIT_EXPIRED);
			continue;
		}
		taker_add(tgid, prev, prev_followed, now - (since > from ? since : from));
	}
}

/* libbpf 1.1's linker cannot merge an extern kfunc that two objects
 * declare ("failed to resolve size of underlying type"), so only
 * syscalls.bpf.c, where fd_kind() runs on every syscall entry, uses
 * bpf_rdonly_cast; offcpu.bpf.c, which needs it only when a thread blocks
 * in an fd syscall, reads the inode's two fields with probe reads */
#ifdef AP_FD_KIND_RDONLY_CAST
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#endif

/* The kind of file behind fd in task's table. On the path of every
 * syscall: direct BTF loads (no helper calls) except for the one array
 * slot, through read-only casts. The cast of task too: the same loads
 * from the trusted task cost the verifier a linear search of the kernel's
 * BTF each (see leader_comm()); offcpu.bpf.c reads them with probe reads. */
static __always_inline __u32 fd_kind(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt;
	struct file *f, **slot;
	umode_t mode;
	__u32 rdev, major;

	if (fd > 0x7fffffff)
		return AP_FD_BAD;
#ifdef AP_FD_KIND_RDONLY_CAST
	{
		struct task_struct *tu =
			bpf_rdonly_cast(task, bpf_core_type_id_kernel(struct task_struct));

		fdt = tu->files->fdt;
		if (!fdt || fd >= fdt->max_fds)
			return AP_FD_BAD;
		slot = fdt->fd + fd;
	}
#else
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return AP_FD_BAD;
	slot = BPF_CORE_READ(fdt, fd) + fd;
#endif
	if (bpf_probe_read_kernel(&f, sizeof(f), slot) || !f)
		return AP_FD_BAD;
#ifdef AP_FD_KIND_RDONLY_CAST
	{
		struct file *fp = bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));

		mode = fp->f_inode->i_mode;
		rdev = fp->f_inode->i_rdev;
	}
#else
	{
		struct inode *ino = NULL;

		mode = 0;
		rdev = 0;
		if (!bpf_core_read(&ino, sizeof(ino), &f->f_inode) && ino) {
			bpf_core_read(&mode, sizeof(mode), &ino->i_mode);
			bpf_core_read(&rdev, sizeof(rdev), &ino->i_rdev);
		}
	}
#endif
	switch (mode & 0170000) {
	case 0100000: /* S_IFREG */
	case 0040000: /* S_IFDIR */
	case 0060000: /* S_IFBLK */
		return AP_FD_FILE;
	case 0140000:
		return AP_FD_SOCKET;
	case 0010000:
		return AP_FD_PIPE;
	case 0020000:
		/* the kernel's dev_t: major in the bits above 20. Terminals are
		 * 4 (tty0-63, ttyS), 5 (/dev/tty, console, ptmx) and 136-143
		 * (/dev/pts); /dev/null, /dev/urandom and the rest are not */
		major = rdev >> 20;
		if (major == 4 || major == 5 || (major >= 136 && major <= 143))
			return AP_FD_TTY;
		return AP_FD_CHARDEV;
	default:
		return AP_FD_OTHER;
	}
}

/* syscalls whose first argument is the fd they work on */
static __always_inline bool sys_takes_fd(long nr)
{
	switch (nr) {
	case 0: case 1: case 3: case 5: case 8: case 16: case 17: case 18: case 19: case 20:
	case 40: case 42: case 43: case 44: case 45: case 46: case 47: case 74: case 75:
	case 217: case 275: case 288: case 295: case 296: case 299: case 307: case 327: case 328:
		return true;
	}
	return false;
}

static __always_inline __u32 io_reason(__u32 kind)
{
	switch (kind) {
	case AP_FD_SOCKET:
		return AP_OFF_IO_NET;
	case AP_FD_PIPE:
	case AP_FD_TTY:
	case AP_FD_CHARDEV: /* waiting for input, as on a terminal */
		return AP_OFF_IO_PIPE;
	case AP_FD_FILE:
		return AP_OFF_IO_DISK;
	}
	return AP_OFF_OTHER;
}

/* why the current thread (task) leaves the CPU; st->out_nr: the syscall it
 * is in, or -1 */
static __always_inline __u32 off_reason(struct task_struct *task, bool preempt, __u32 state,
					struct ap_thread_stat *st)
{
	/* a BTF pointer: direct loads, no helper call per field */
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(task);
	long nr = r->orig_ax;
	__u64 a0 = r->di, a1 = r->si;

	st->out_nr = nr;
	if (preempt || !state)
		return AP_OFF_PREEMPTED;
	if (nr < 0) /* a fault (uninterruptible: reading a page in) or a signal stop */
		return state & TASK_UNINTERRUPTIBLE ? AP_OFF_IO_DISK : AP_OFF_OTHER;
	switch (nr) {
	case 202: /* futex */
		return py_gil_wait(task->tgid, task, a0) ? AP_OFF_GIL : AP_OFF_LOCK;
	case 449: /* futex_waitv */
		return AP_OFF_LOCK;
	case 34: case 35: case 230: /* pause, nanosleep, clock_nanosleep */
		return AP_OFF_SLEEP;
	case 23: case 270: /* select, pselect6 (nfds) */
		return a0 ? AP_OFF_POLL : AP_OFF_SLEEP;
	case 7: case 271: /* poll, ppoll (nfds) */
		return a1 ? AP_OFF_POLL : AP_OFF_SLEEP;
	case 232: case 281: case 441: /* epoll_wait, epoll_pwait, epoll_pwait2 */
		return AP_OFF_POLL;
	case 61: case 247: /* wait4, waitid */
		return AP_OFF_CHILD;
	case 74: case 75: case 162: case 306: case 277: /* fsync, fdatasync, sync, syncfs, sync_file_range */
	case 206: case 208: case 209: case 426: /* io_setup, io_getevents, io_submit, io_uring_enter */
		return AP_OFF_IO_DISK;
	}
	if (sys_takes_fd(nr)) {
		__u32 r = io_reason(fd_kind(task, a0));

		if (r != AP_OFF_OTHER)
			return r;
	}
	return state & TASK_UNINTERRUPTIBLE ? AP_OFF_IO_DISK : AP_OFF_OTHER;
}

static __always_inline __u64 sid_of(__u64 pyhash, __s32 kstack, const struct ap_cpu_sample *s)
{
	__u64 h = pyhash ^ 0x9e3779b97f4a7c15ull;

	h = (h ^ (__u32)kstack) * 0x100000001b3ull;
	h = (h ^ s->regs[16]) * 0x100000001b3ull;
	h = (h ^ s->regs[7]) * 0x100000001b3ull;
	return h | 1; /* 0 means "no stack" */
}

/* has userspace been sent the record of this stack identity? */
static __always_inline bool off_seen_get(__u32 tgid, __u64 sid)
{
	struct off_seen_key k = { .tgid = tgid, .sid = sid };

	return bpf_map_lookup_elem(&off_seen, &k) != NULL;
}

static __always_inline void off_seen_set(__u32 tgid, __u64 sid)
{
	struct off_seen_key k = { .tgid = tgid, .sid = sid };
	__u8 one = 1;

	bpf_map_update_elem(&off_seen, &k, &one, BPF_ANY);
}

/* The stack identity of the current thread, whose header and Python frames
 * s holds; on first sight its full record is sent. */
static __always_inline __u64 off_stack(struct ap_cpu_sample *s, __u64 pyhash, __s32 kstack,
				       __u32 slot)
{
	__u64 sid = sid_of(pyhash, kstack, s);

	if (off_seen_get(s->tgid, sid))
		return sid;
	capture_ustack(s);
	s->type = AP_REC_OFF_STACK;
	s->kstack_id = kstack;
	s->aux[3] = sid;
	if (record_send(s, slot))
		cnt_inc(AP_CNT_OFF_RECORD_LOST);
	else
		off_seen_set(s->tgid, sid);
	return sid;
}

static __always_inline void switch_out(void *ctx, struct ap_thread_stat *st, struct task_struct *prev,
				       bool preempt, __u32 state, __u64 now)
{
	struct pt_regs *r;
	struct ap_cpu_sample *s;
	__u64 from, h, ip, sp;
	long nr;

	if (st->ts_in) {
		st->oncpu_ns += now - st->ts_in;
	} else if (!st->ts_out) { /* first event: running since it started or we began */
		from = st->start_ns > t0_ns ? st->start_ns : t0_ns;
		if (now > from)
			st->oncpu_ns += now - from;
	}
	st->ts_in = 0;
	if (state & TASK_DEAD_BITS) /* its last switch: accounted at exit */
		return;
	st->ts_out = now;
	st->ts_wake = 0;
	st->out_sid = 0;
	st->out_reason = off_reason(prev, preempt, state, st);
	/* Read both back from the map: every case of the classification
	 * leaves a different constant in a register, and the verifier would
	 * walk the rest of the program once per constant; a value read from a
	 * map is one unknown */
	barrier();
	nr = *(volatile __s64 *)&st->out_nr;
	if (*(volatile __u32 *)&st->out_reason == AP_OFF_PREEMPTED)
		st->nr_invol++;
	else
		st->nr_vol++;
	st->out_kstack = -1;
	if (!offcpu_stacks)
		return;
	/* The kernel stack: unwinding it costs microseconds, on every switch.
	 * A thread blocking again from the same call site (syscall, user pc
	 * and sp) for the same reason takes the same kernel path: reuse the
	 * last id. Preemption outside a syscall is the interrupt-return path
	 * whatever the user pc, so only the reason is compared there. */
	r = (struct pt_regs *)bpf_task_pt_regs(prev);
	ip = nr >= 0 || st->out_reason != AP_OFF_PREEMPTED ? r->ip : 0;
	sp = ip ? r->sp : 0;
	if (st->kc_kstack >= 0 && st->kc_nr == nr && st->kc_reason == st->out_reason &&
	    st->kc_ip == ip && st->kc_sp == sp) {
		st->out_kstack = st->kc_kstack;
	} else {
		/* skip this program and bpf_trace_run*() */
		st->out_kstack = bpf_get_stackid(ctx, &off_kstacks, 2);
		if (st->out_kstack < 0)
			cnt_inc(AP_CNT_OFF_KSTACK_ERR);
		st->kc_kstack = st->out_kstack;
		st->kc_nr = nr;
		st->kc_reason = st->out_reason;
		st->kc_ip = ip;
		st->kc_sp = sp;
	}
	/* in a syscall whose exit is still to come: deferred to sys_exit (not
	 * when preempted on the way out, after sys_exit, or in a syscall
	 * entered before profiling began) */
	if (nr >= 0 && st->sys_ts)
		return;
	s = scratch_get(AP_SLOT_IRQOFF);
	if (!s)
		return;
	h = capture_head(s, prev, AP_REC_OFF_STACK, AP_SLOT_IRQOFF);
	st->out_sid = off_stack(s, h, st->out_kstack, AP_SLOT_IRQOFF);
}

/* one interval of the timeline; sid 0 while its syscall's exit is to come */
static __always_inline void interval_send(struct ap_thread_stat *st, __u32 reason, __u64 block,
					  __u64 runq, bool deferred)
{
	struct ap_off_interval *r = bpf_ringbuf_reserve(&samples, sizeof(*r), 0);

	if (!r) {
		cnt_inc(AP_CNT_OFF_INTERVAL_LOST);
		return;
	}
	r->type = AP_REC_OFF_INTERVAL;
	r->tgid = st->tgid;
	r->tid = st->tid;
	r->reason = reason;
	r->start_ns = st->ts_out;
	r->block_ns = block;
	r->runq_ns = runq;
	r->sid = deferred ? 0 : st->out_sid;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	if (deferred)
		st->tl_pending = 1;
}

static __always_inline void switch_in(struct ap_thread_stat *st, __u64 now)
{
	__u64 block, runq = 0;
	__u32 reason = st->out_reason;

	if (st->ts_out) {
		block = now - st->ts_out;
		if (st->ts_wake >= st->ts_out && st->ts_wake <= now) {
			block = st->ts_wake - st->ts_out;
			runq = now - st->ts_wake;
		}
		if (reason >= AP_OFF__COUNT)
			reason = AP_OFF_OTHER;
		st->off_ns[reason] += block;
		st->off_ns[AP_OFF_RUNQUEUE] += runq;
		if (interval_min_ns && block + runq >= interval_min_ns) {
			if (intervals_full)
				cnt_inc(AP_CNT_OFF_INTERVAL_CAPPED);
			else
				interval_send(st, reason, block, runq,
					      offcpu_stacks && !st->out_sid && st->sys_ts);
		}
		if (offcpu_stacks && !st->out_sid && st->sys_ts) { /* its syscall's exit takes the stack */
			if (block >= st->pend_block) {
				st->pend_reason = reason;
				st->pend_kstack = st->out_kstack;
			}
			st->pend_block += block;
			st->pend_runq += runq;
		} else if (offcpu_stacks && block + runq >= min_block_ns) {
			off_add(st, st->out_sid, reason, st->out_kstack, block);
			off_add(st, st->out_sid, AP_OFF_RUNQUEUE, st->out_kstack, runq);
		}
	} else if (!st->ts_in) { /* first event: off CPU since it started or we began */
		if (st->start_ns >= t0_ns)
			st->off_ns[AP_OFF_RUNQUEUE] += now - st->start_ns;
		else if (now > t0_ns)
			st->off_ns[AP_OFF_UNKNOWN] += now - t0_ns;
	}
	st->ts_out = 0;
	st->ts_wake = 0;
	st->ts_in = now;
}

#endif /* AP_OFFCPU_BPF_H */
