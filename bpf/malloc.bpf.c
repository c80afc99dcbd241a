// SPDX-License-Identifier: MIT
/* Allocator collector (--malloc): uprobes on the C library's allocation
 * functions (one entry program, the function in its bpf cookie) and
 * uretprobes where the returned pointer is needed; the logic is in
 * malloc.bpf.h. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "malloc.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe")
int BPF_KPROBE(on_malloc_entry)
{
	return malloc_on_entry(ctx, bpf_get_attach_cookie(ctx));
}

/* a held target execs its program: counting starts */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_malloc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;

	if (malloc_holding)
		bpf_map_delete_elem(&malloc_hold, &tgid);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_malloc_return)
{
	return malloc_on_return(ctx);
}
