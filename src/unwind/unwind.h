/* SPDX-License-Identifier: MIT */
/* Native user stacks from a copy of the registers and the top of the stack,
 * unwound with .eh_frame/.debug_frame CFI by elfutils' libdw (perf's
 * "--call-graph dwarf" approach), against the mappings of the sample's time. */
#ifndef AP_UNWIND_H
#define AP_UNWIND_H

#include <stdint.h>
#include "process/procmaps.h"

#define AP_MAX_UFRAMES 256

struct ap_uctx {
	uint32_t pid, tid;
	const uint64_t *regs;        /* 17 DWARF registers */
	const uint8_t *stack;        /* bytes copied from regs[7] (rsp) up */
	uint32_t stack_size;
};

/* Unwind uc in img. Fills pcs[] leaf first with at most max entries and
 * returns how many (>= 1 whenever regs hold a pc). Return addresses of
 * callers are stored as-is; *callers_adjusted tells nothing: callers
 * symbolize pc - 1 for every frame but the first. sps (NULL: not wanted)
 * gets each frame's stack pointer (rsp; a caller's is its callee's CFA),
 * 0 where unknown: frame i's locals lie in [sps[i], sps[i + 1]). */
int unwind_user(struct ap_image *img, const struct ap_uctx *uc, uint64_t *pcs, uint64_t *sps,
		int max);
/* destructor for ap_image.unwind (procmaps.unwind_free): the image's
 * share of its Dwfl, which is freed with its last user */
void unwind_image_free(void *state);

#endif
