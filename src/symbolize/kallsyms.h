/* SPDX-License-Identifier: MIT */
/* Kernel symbols from /proc/kallsyms (text symbols only, sorted). */
#ifndef AP_KALLSYMS_H
#define AP_KALLSYMS_H

#include <stdint.h>

struct kallsyms;

/* Parse path (normally /proc/kallsyms). NULL with errno set on failure;
 * EPERM when every address reads as zero (kptr_restrict, not root). */
struct kallsyms *kallsyms__load(const char *path);
void kallsyms__free(struct kallsyms *ks);
/* name of the function containing addr, *module set to the module name or
 * NULL for the core kernel; NULL if addr is below every symbol or past the
 * end of the one before it (its size when known, else a cap) */
const char *kallsyms__lookup(const struct kallsyms *ks, uint64_t addr, const char **module,
			     uint64_t *off);
size_t kallsyms__count(const struct kallsyms *ks);
/* add a symbol of known size (a symbol at the same address is replaced) */
void kallsyms__add(struct kallsyms *ks, uint64_t addr, uint64_t size, const char *name,
		   const char *module);
/* every BPF program loaded now, ours included (call it after loading):
 * each JITed function by its real address range, named as the kernel
 * names it (bpf_prog_<tag>_<function>, module "bpf"); returns how many.
 * A program loaded later is not named, and not named after its
 * neighbour either. */
int kallsyms__add_bpf(struct kallsyms *ks);

#endif
