// SPDX-License-Identifier: MIT
/* Syscall collector: sys_enter notes the call, sys_exit accounts it and
 * takes the stack of a slow call, and of the off-CPU blocks inside it
 * (the logic is in syscalls.bpf.h and offcpu.bpf.h). With the memory
 * collector on, they also take its mapping calls (memmap.bpf.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#define AP_FD_KIND_RDONLY_CAST /* see fd_kind() */
#include "syscalls.bpf.h"
#include "memmap.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct ap_thread_stat *st;

	if (mem_in_sys && id == AP_NR_BRK && !mem_maps_off)
		mem_brk_enter(t);
	st = thread_get(t);
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
	long call = regs->orig_ax;
	__u32 nr;

	if (mem_in_sys && mem_call_nr(call) && !mem_maps_off)
		mem_sys_exit(call, ret, regs->di, regs->si, regs->dx);
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
