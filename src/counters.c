// SPDX-License-Identifier: MIT
/* Names of the BPF counters (enum ap_counter in bpf/shared.h), as they
 * appear in run.json and artifacts/cpu.json. */
#include "shared.h"

const char *const ap_counter_names[] = {
	[AP_CNT_SAMPLES] = "bpf_samples",
	[AP_CNT_RINGBUF_FULL] = "ringbuf_full",
	[AP_CNT_KSTACK_ERR] = "kernel_stack_errors",
	[AP_CNT_USTACK_ERR] = "user_stack_read_errors",
	[AP_CNT_USTACK_TRUNC] = "user_stack_truncated",
	[AP_CNT_NO_REGS] = "no_user_context",
	[AP_CNT_FORKS_FOLLOWED] = "forks_followed",
	[AP_CNT_TRACKED_FULL] = "children_not_followed",
	[AP_CNT_PY_SAMPLES] = "python_samples",
	[AP_CNT_PY_NO_TSTATE] = "python_no_thread_state",
	[AP_CNT_PY_BAD_TSTATE] = "python_bad_thread_state",
	[AP_CNT_PY_READ_ERR] = "python_read_errors",
	[AP_CNT_PY_BAD_CODE] = "python_bad_code_objects",
	[AP_CNT_PY_TRUNCATED] = "python_truncated_stacks",
	[AP_CNT_PY_CODE_SENT] = "python_code_objects_sent",
	[AP_CNT_PY_CODE_DEFERRED] = "python_code_objects_deferred",
};
_Static_assert(sizeof(ap_counter_names) / sizeof(ap_counter_names[0]) == AP_CNT__COUNT,
	       "every enum ap_counter needs a name");
