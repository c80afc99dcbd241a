// SPDX-License-Identifier: MIT
/* Process tree: descendants of a tracked process are tracked too, so a
 * target that forks (subprocess, multiprocessing, a shell) is profiled whole. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool follow_children = true;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;

	if (!follow_children || ptgid == ctgid || !is_tracked(ptgid))
		return 0;
	if (bpf_map_update_elem(&tracked, &ctgid, &one, BPF_ANY) == 0)
		cnt_inc(AP_CNT_FORKS_FOLLOWED);
	else
		cnt_inc(AP_CNT_TRACKED_FULL);
	return 0;
}
