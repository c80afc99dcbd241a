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
};
_Static_assert(sizeof(ap_counter_names) / sizeof(ap_counter_names[0]) == AP_CNT__COUNT,
	       "every enum ap_counter needs a name");
