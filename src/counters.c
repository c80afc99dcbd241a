// SPDX-License-Identifier: MIT
/* Names as they appear in the artifacts: the BPF counters (enum ap_counter
 * in bpf/shared.h), frame kinds, off-CPU reasons, fd kinds, syscalls. */
#include "shared.h"
#include "profile/profile.h"

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
	[AP_CNT_THREADS_FULL] = "threads_not_accounted",
	[AP_CNT_OFF_KSTACK_ERR] = "offcpu_kernel_stack_errors",
	[AP_CNT_OFF_AGG_FULL] = "offcpu_aggregation_full",
	[AP_CNT_OFF_RECORD_LOST] = "offcpu_stack_records_lost",
	[AP_CNT_SYS_AGG_FULL] = "syscall_aggregation_full",
	[AP_CNT_SYS_SLOW_LOST] = "slow_syscall_records_lost",
	[AP_CNT_THREAD_REC_LOST] = "thread_records_lost",
	[AP_CNT_OFF_INTERVAL_LOST] = "offcpu_interval_records_lost",
	[AP_CNT_OFF_INTERVAL_CAPPED] = "offcpu_intervals_not_sent",
	[AP_CNT_FILTERED_OUT] = "filtered_out",
	[AP_CNT_OFF_TAKERS_FULL] = "cpu_takers_full",
	[AP_CNT_OFF_WAIT_EXPIRED] = "cpu_waits_expired",
	[AP_CNT_MEM_FAULTS] = "memory_fault_samples",
	[AP_CNT_MEM_FAULT_LOST] = "memory_fault_records_lost",
	[AP_CNT_MEM_MAP_CAPPED] = "memory_map_stacks_capped",
	[AP_CNT_MEM_MAP_LOST] = "memory_map_records_lost",
	[AP_CNT_MEM_AGG_FULL] = "memory_map_aggregation_full",
	[AP_CNT_MEM_FAULT_CAPPED] = "memory_fault_samples_capped",
	[AP_CNT_MEM_FAULT_PAGES_LOST] = "memory_fault_pages_lost",
	[AP_CNT_MEM_THP_FAULTS] = "memory_thp_faults",
};
_Static_assert(sizeof(ap_counter_names) / sizeof(ap_counter_names[0]) == AP_CNT__COUNT,
	       "every enum ap_counter needs a name");

const char *const ap_frame_kind_names[AP_FRAME__COUNT] = { "user", "kernel", "python" };

const char *const ap_view_names[4] = {
	[AP_VIEW_MIXED] = "mixed", [AP_VIEW_PYTHON] = "python", [AP_VIEW_NATIVE] = "native",
	[AP_VIEW_FULL] = "full",
};

const char *const ap_off_reason_names[AP_OFF__COUNT] = {
	[AP_OFF_PREEMPTED] = "preempted",
	[AP_OFF_RUNQUEUE] = "runqueue",
	[AP_OFF_GIL] = "gil",
	[AP_OFF_LOCK] = "lock",
	[AP_OFF_SLEEP] = "sleep",
	[AP_OFF_IO_DISK] = "io_disk",
	[AP_OFF_IO_NET] = "io_net",
	[AP_OFF_IO_PIPE] = "io_pipe",
	[AP_OFF_POLL] = "poll",
	[AP_OFF_CHILD] = "wait_child",
	[AP_OFF_OTHER] = "other",
	[AP_OFF_UNKNOWN] = "unknown",
};

const char *ap_off_category(uint32_t reason)
{
	switch (reason) {
	case AP_OFF_PREEMPTED:
	case AP_OFF_RUNQUEUE:
		return "runnable";
	case AP_OFF_GIL:
		return "gil";
	case AP_OFF_LOCK:
		return "lock";
	case AP_OFF_SLEEP:
		return "sleep";
	case AP_OFF_IO_DISK:
	case AP_OFF_IO_NET:
	case AP_OFF_IO_PIPE:
	case AP_OFF_POLL:
		return "io";
	case AP_OFF_CHILD:
		return "child";
	default:
		return "other";
	}
}

const char *const ap_fd_kind_names[AP_FD__COUNT] = {
	[AP_FD_NONE] = "", [AP_FD_FILE] = "file", [AP_FD_SOCKET] = "socket", [AP_FD_PIPE] = "pipe",
	[AP_FD_TTY] = "tty", [AP_FD_OTHER] = "other", [AP_FD_BAD] = "bad_fd",
	[AP_FD_CHARDEV] = "chardev",
};

/* generated from <asm/unistd_64.h> by the Makefile */
static const char *const syscall_names[] = {
#include "syscall_names.h"
};

const char *ap_syscall_name(uint32_t nr)
{
	return nr < sizeof(syscall_names) / sizeof(syscall_names[0]) ? syscall_names[nr] : NULL;
}
