// SPDX-License-Identifier: MIT
/* Return addresses hijacked by uretprobes, put back in a stack copy.
 *
 * A uretprobe (the malloc collector's on_malloc_return) replaces the
 * return address of each probed call, on the user stack, with the
 * kernel's trampoline in the [uprobes] page until the call returns: a
 * stack captured inside malloc then unwinds to the trampoline and stops
 * ("[unknown];malloc;_int_malloc;sysmalloc;...;__mmap", the caller lost).
 * The kernel keeps the original addresses by thread, newest first, each
 * with the stack slot it replaced (utask->return_instances: stack is the
 * stack pointer at the probed function's entry, where its return address
 * was): copy_ustack_unhijack() writes them back into the copy. */
#ifndef AP_URETPROBE_BPF_H
#define AP_URETPROBE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include "shared.h"

#define AP_URET_MAX 4 /* nested uretprobed calls mended at most */

static __always_inline void copy_ustack_unhijack(struct ap_cpu_sample *s, struct task_struct *task)
{
	struct return_instance *ri;
	__u64 sp = s->regs[7], off, ret; /* DWARF 7: rsp, where the copy starts */
	int i;

	if (!s->ustack_size)
		return;
	ri = BPF_CORE_READ(task, utask, return_instances);
	for (i = 0; i < AP_URET_MAX && ri; i++) {
		off = BPF_CORE_READ(ri, stack) - sp;
		ret = BPF_CORE_READ(ri, orig_ret_vaddr);
		/* the buffer has AP_USTACK_SLACK bytes past AP_USTACK_MAX: the
		 * mask bounds the store for the verifier */
		if (off < s->ustack_size && off + 8 <= s->ustack_size)
			*(__u64 *)(s->ustack + (off & (AP_USTACK_MAX - 1))) = ret;
		ri = BPF_CORE_READ(ri, next);
	}
}

#endif /* AP_URETPROBE_BPF_H */
