/* SPDX-License-Identifier: MIT */
/* Capture of a thread's user context for userspace DWARF unwinding: the user
 * registers (from task_pt_regs, valid whether the sample hit user or kernel
 * mode) and the top of the user stack, copied page by page so that a stack
 * that ends before the copy limit still yields everything up to its end. */
#ifndef AP_STACK_BPF_H
#define AP_STACK_BPF_H

#include "shared.h"

#define AP_USTACK_PAGES (AP_USTACK_MAX / AP_PAGE_SIZE)

/* How user memory is read. Programs run in the context of the thread they
 * look at (perf events, sched_switch, syscalls) read the current mm with
 * bpf_probe_read_user; the sleepable task iterator of snapshot.bpf.c looks
 * at other processes' threads and defines AP_READ_OTHER_TASK before the
 * includes, so the same code reads the task's mm (bpf_copy_from_user_task,
 * which may fault pages in). The task argument is not even evaluated in
 * the first case: that code is the same as without it. */
#ifdef AP_READ_OTHER_TASK
#define ap_read_user(dst, size, ptr, task) bpf_copy_from_user_task(dst, size, ptr, task, 0)
#define AP_TASK_FIELD struct task_struct *task;
#define AP_TASK_INIT(t) .task = (t),
#define AP_CTX_TASK(c) ((c)->task)
#else
#define ap_read_user(dst, size, ptr, task) bpf_probe_read_user(dst, size, ptr)
#define AP_TASK_FIELD
#define AP_TASK_INIT(t)
#define AP_CTX_TASK(c) ((struct task_struct *)0)
#endif

/* pt_regs -> DWARF numbering: rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip */
static __always_inline void regs_to_dwarf(const struct pt_regs *r, __u64 *out)
{
	out[0] = r->ax;
	out[1] = r->dx;
	out[2] = r->cx;
	out[3] = r->bx;
	out[4] = r->si;
	out[5] = r->di;
	out[6] = r->bp;
	out[7] = r->sp;
	out[8] = r->r8;
	out[9] = r->r9;
	out[10] = r->r10;
	out[11] = r->r11;
	out[12] = r->r12;
	out[13] = r->r13;
	out[14] = r->r14;
	out[15] = r->r15;
	out[16] = r->ip;
}

/* Copy up to limit bytes of user stack starting at sp into buf, one page at a
 * time: bpf_probe_read_user fails as a whole if any byte faults, and the
 * stack's mapping usually ends well before the limit. Returns bytes copied. */
static __always_inline __u32 copy_user_stack(__u8 *buf, __u64 sp, __u32 limit,
					     struct task_struct *task)
{
	__u64 off = 0, len = AP_PAGE_SIZE - (sp & (AP_PAGE_SIZE - 1));
	int i;

	if (limit > AP_USTACK_MAX)
		limit = AP_USTACK_MAX;
	for (i = 0; i <= AP_USTACK_PAGES; i++) {
		if (off >= limit)
			break;
		if (len > limit - off)
			len = limit - off;
		/* the verifier cannot relate off and len: bound each by a mask;
		 * buf has AP_USTACK_SLACK bytes past AP_USTACK_MAX for that */
		off &= AP_USTACK_MAX - 1;
		len &= AP_USTACK_SLACK - 1;
		if (len == 0)
			break;
		if (ap_read_user(buf + off, len, (void *)(sp + off), task))
			break;
		off += len;
		len = AP_PAGE_SIZE;
	}
	return off;
}

#endif /* AP_STACK_BPF_H */
