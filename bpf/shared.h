/* SPDX-License-Identifier: MIT */
/* The contract between the BPF programs and userspace: record layouts,
 * counters and limits. The only header both sides include, so fixed-width
 * types only and an ap_/AP_ prefix on every name. */
#ifndef AP_SHARED_H
#define AP_SHARED_H

#ifdef __bpf__
/* vmlinux.h provides __u8 ... __u64 */
#else
#include <linux/types.h>
#endif

#define AP_COMM_LEN 16
#define AP_KSTACK_MAX 127          /* kernel frames per sample (perf's default max) */
#define AP_USTACK_MAX 65536        /* bytes of user stack copied at most; power of 2 */
#define AP_USTACK_DEFAULT 32768    /* default copy size (--stack-size) */
#define AP_PAGE_SIZE 4096
#define AP_USTACK_SLACK (2 * AP_PAGE_SIZE) /* see copy_user_stack() */
#define AP_NR_REGS 17              /* x86_64 DWARF registers 0..16 (rax..r15, rip) */

/* Counters kept per CPU by the BPF side. Names live in src/counters.c;
 * adding one means adding its name there (a _Static_assert checks the count). */
enum ap_counter {
	AP_CNT_SAMPLES,            /* perf events of tracked processes seen */
	AP_CNT_RINGBUF_FULL,       /* samples dropped: ring buffer full */
	AP_CNT_KSTACK_ERR,         /* bpf_get_stack failed for the kernel stack */
	AP_CNT_USTACK_ERR,         /* the user stack could not be read at all */
	AP_CNT_USTACK_TRUNC,       /* user stack copy hit the size limit */
	AP_CNT_NO_REGS,            /* no user registers (kernel thread or exiting) */
	AP_CNT_FORKS_FOLLOWED,     /* child processes added to the tracked set */
	AP_CNT__COUNT,
};

/* sample flags */
#define AP_SF_KERNEL_THREAD (1u << 0) /* no user context */
#define AP_SF_USTACK_TRUNC  (1u << 1) /* user stack copy was cut at the limit */
#define AP_SF_IN_KERNEL     (1u << 2) /* the sample interrupted kernel mode */

/* One on-CPU sample as written to the ring buffer: a fixed header, the
 * kernel stack, then ustack_size bytes of user stack starting at regs[7]
 * (rsp). Only the used part of ustack is sent. Changing this layout means
 * changing src/collect/cpu.c (sample parsing). */
struct ap_cpu_sample {
	__u32 tgid;
	__u32 tid;
	__u64 time_ns;             /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u32 cpu;
	__u16 nr_kframes;
	__u16 flags;               /* AP_SF_* */
	__u32 ustack_size;         /* bytes valid in ustack[] */
	__u32 pad;
	__u64 regs[AP_NR_REGS];    /* user registers in DWARF order */
	char comm[AP_COMM_LEN];    /* thread name */
	__u64 kstack[AP_KSTACK_MAX];
	__u8 ustack[AP_USTACK_MAX + AP_USTACK_SLACK];
};
#define AP_CPU_SAMPLE_HDR (32 + 8 * AP_NR_REGS + AP_COMM_LEN + 8 * AP_KSTACK_MAX)
_Static_assert(AP_CPU_SAMPLE_HDR == 1200, "ap_cpu_sample header layout changed");
_Static_assert(__builtin_offsetof(struct ap_cpu_sample, ustack) == AP_CPU_SAMPLE_HDR,
	       "ap_cpu_sample: ustack must follow the header");

#endif /* AP_SHARED_H */
