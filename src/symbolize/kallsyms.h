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
 * NULL for the core kernel; NULL if addr is below every symbol */
const char *kallsyms__lookup(const struct kallsyms *ks, uint64_t addr, const char **module,
			     uint64_t *off);
size_t kallsyms__count(const struct kallsyms *ks);

#endif
