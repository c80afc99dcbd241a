/* SPDX-License-Identifier: MIT */
/* Reading a BPF hash map of per-window aggregates and emptying it in one
 * pass, as bcc's syscount does: what the kernel counted since the last
 * drain, nothing that grows with uptime. */
#ifndef AP_MAPDRAIN_H
#define AP_MAPDRAIN_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*map_drain_fn)(const void *key, const void *value, void *ctx);

/* Read and delete every entry of the hash map fd (key and value sizes ksz,
 * vsz; a per-CPU map's vsz is the whole per-CPU array), calling fn for
 * each: in batches (BPF_MAP_LOOKUP_AND_DELETE_BATCH) where the kernel has
 * them, else entry by entry. An entry the kernel adds meanwhile is read now
 * or at the next drain. Returns the number of entries read, or -errno. */
long map_drain(int fd, uint32_t ksz, uint32_t vsz, map_drain_fn fn, void *ctx);

/* Before the BPF load: make map allocate its entries on first use, where
 * tracing programs may use such maps (Linux 6.1, bpf_mem_alloc). Then an
 * entry userspace deletes is freed after an RCU grace period, so a program
 * that looked it up just before writes into memory no other key uses; a
 * preallocated entry goes back on a free list at once and may be reused by
 * another key, which then gets that late update (rare: a few instructions
 * wide). true if set. */
struct bpf_map;
bool map_drain_no_prealloc(struct bpf_map *map);

#endif
