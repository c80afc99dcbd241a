/* SPDX-License-Identifier: MIT */
/* Maps and helpers shared by several BPF objects. Each map is defined once,
 * __weak, so every .bpf.c can include this header and the linker merges them. */
#ifndef AP_MAPS_BPF_H
#define AP_MAPS_BPF_H

#include "shared.h"

#define AP_MAX_TRACKED 8192

/* tgid -> 1 for every process we profile (the target and its descendants) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AP_MAX_TRACKED);
	__type(key, __u32);
	__type(value, __u8);
} tracked SEC(".maps") __weak;

/* the one ring buffer every collector's records go through to userspace;
 * sized by --ringbuf-mb */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} samples SEC(".maps") __weak;

/* per-CPU loss and event counters, indexed by enum ap_counter */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AP_CNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps") __weak;

static __always_inline void cnt_inc(enum ap_counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v) /* always true for an in-range key; the check is for the verifier */
		(*v)++;
}

static __always_inline bool is_tracked(__u32 tgid)
{
	return bpf_map_lookup_elem(&tracked, &tgid) != NULL;
}

#endif /* AP_MAPS_BPF_H */
