/* SPDX-License-Identifier: MIT */
/* Which tasks are wanted: the one decision every collector makes before it
 * records anything (on-CPU sample, off-CPU accounting, syscalls, exec).
 * Launch and attach runs want the tracked set (maps.bpf.h); system-wide
 * runs (--all, agent, top) want every task the filters let through:
 *
 *   -p PID, --comm NAME, --cgroup PATH          include (a kind given at
 *                                               least once must match)
 *   --exclude-pid, --exclude-comm, --exclude-cgroup   exclude (any match)
 *
 * Within one kind the entries are alternatives; kinds combine with AND
 * (--cgroup X --comm python3: the python3 processes under X); an exclusion
 * wins over everything. A comm matches the thread's own name or its
 * process's (the thread group leader's). A cgroup matches the task's cgroup
 * v2 and all its ancestors: each filter cgroup's level is known (rodata), so
 * the task's ancestor at that level is the one compared, at any depth.
 * Userspace fills the maps after load (src/filter.c); the profiler's own pid
 * is excluded. */
#ifndef AP_FILTER_BPF_H
#define AP_FILTER_BPF_H

#include <bpf/bpf_core_read.h>
#include "shared.h"
#include "maps.bpf.h"

/* __weak: every object that includes this shares one copy */
const volatile bool filter_system_wide __weak = false; /* filters, not the tracked set */
const volatile __u32 filter_incl __weak = 0;           /* AP_FILT_K_* kinds with an include */
const volatile __u32 filter_excl __weak = 0;           /* ... with an exclusion */
/* the distinct levels of the filter cgroups (0: the root), ascending */
const volatile __u32 filter_cg_levels[AP_FILTER_MAX_CGROUPS] __weak = {};
const volatile __u32 filter_cg_nlevels __weak = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AP_FILTER_MAX_PIDS + 1); /* and the profiler's own */
	__type(key, __u32);            /* tgid */
	__type(value, __u8);           /* AP_FILT_INCLUDE | AP_FILT_EXCLUDE */
} filter_pids SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AP_FILTER_MAX_COMMS);
	__type(key, struct ap_filter_comm);
	__type(value, __u8);
} filter_comms SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AP_FILTER_MAX_CGROUPS);
	__type(key, __u64);            /* cgroup id (kernfs node id) */
	__type(value, __u8);
} filter_cgroups SEC(".maps") __weak;

static __always_inline __u8 filter_comm_of(const char *comm)
{
	struct ap_filter_comm k = {};
	__u8 *v;

	bpf_probe_read_kernel_str(k.name, sizeof(k.name), comm);
	v = bpf_map_lookup_elem(&filter_comms, &k);
	return v ? *v : 0;
}

/* the task's cgroup v2 and its ancestors at the filter cgroups' levels:
 * one lookup per distinct level, exact at any depth */
static __always_inline __u8 filter_cgroup_of(struct task_struct *t)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp), *anc;
	__u32 level, lv, i;
	__u8 got = 0, *v;
	__u64 id;

	if (!cg)
		return 0;
	level = BPF_CORE_READ(cg, level);
	for (i = 0; i < AP_FILTER_MAX_CGROUPS && i < filter_cg_nlevels; i++) {
		lv = filter_cg_levels[i];
		if (lv > level) /* ascending: the rest are deeper than the task */
			break;
		if (bpf_probe_read_kernel(&anc, sizeof(anc), &cg->ancestors[lv]) || !anc)
			break;
		id = BPF_CORE_READ(anc, kn, id);
		v = bpf_map_lookup_elem(&filter_cgroups, &id);
		if (v)
			got |= *v;
	}
	return got;
}

/* Does task t pass the filters of a system-wide run? */
static __always_inline bool filter_pass(struct task_struct *t)
{
	__u32 kinds = filter_incl | filter_excl, tgid = BPF_CORE_READ(t, tgid);
	__u8 pid = 0, comm = 0, cg = 0, *v;

	if (kinds & AP_FILT_K_PID) {
		v = bpf_map_lookup_elem(&filter_pids, &tgid);
		pid = v ? *v : 0;
	}
	if (kinds & AP_FILT_K_COMM) {
		comm = filter_comm_of(t->comm);
		if (!(comm & AP_FILT_EXCLUDE))
			comm |= filter_comm_of(BPF_CORE_READ(t, group_leader, comm));
	}
	if (kinds & AP_FILT_K_CGROUP)
		cg = filter_cgroup_of(t);
	if ((pid | comm | cg) & AP_FILT_EXCLUDE)
		return false;
	if ((filter_incl & AP_FILT_K_PID) && !(pid & AP_FILT_INCLUDE))
		return false;
	if ((filter_incl & AP_FILT_K_COMM) && !(comm & AP_FILT_INCLUDE))
		return false;
	if ((filter_incl & AP_FILT_K_CGROUP) && !(cg & AP_FILT_INCLUDE))
		return false;
	return true;
}

/* Is task t (of process tgid) one we record? The one entry point of every
 * collector: the tracked set, or the filters when profiling system-wide */
static __always_inline bool task_wanted(struct task_struct *t, __u32 tgid)
{
	if (!filter_system_wide)
		return is_tracked(tgid);
	return filter_pass(t);
}

#endif /* AP_FILTER_BPF_H */
