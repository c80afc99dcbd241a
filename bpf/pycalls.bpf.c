// SPDX-License-Identifier: MIT
/* Python calls collector (--py-calls): a uprobe on each Python process's
 * _PyEval_EvalFrameDefault, attached per pid by userspace, counts entries
 * per code object (pycalls.bpf.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pycalls.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* attached per process by userspace with --py-calls */
SEC("uprobe")
int BPF_KPROBE(on_py_eval_entry)
{
	return py_on_eval_entry(ctx);
}
