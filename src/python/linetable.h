/* SPDX-License-Identifier: MIT */
/* Line numbers from CPython line tables, decoded in userspace (the formats
 * are unbounded loops, unfit for BPF): co_lnotab (<=3.9), the 3.10 pair
 * table, and the 3.11+ location table. */
#ifndef AP_PY_LINETABLE_H
#define AP_PY_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

/* Line of instruction instr (as recorded by BPF: byte offset on <=3.9, code
 * units on 3.10+) of a code object of 3.<minor>; -1 when the table says "no
 * line" or instr lies past the (possibly cut) table; firstlineno when instr
 * is negative (a frame that has not started). */
int py_line_for(int minor, const uint8_t *tab, size_t len, int firstlineno, int instr);

#endif
