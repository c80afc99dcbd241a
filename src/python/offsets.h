/* SPDX-License-Identifier: MIT */
/* CPython struct offsets for the BPF walker: one table per minor version
 * (3.8-3.15), and on 3.13+ the runtime's own _Py_DebugOffsets, which wins
 * where it has the field. Facts: ../shared/ref/cpython-internals.md. */
#ifndef AP_PY_OFFSETS_H
#define AP_PY_OFFSETS_H

#include <stddef.h>
#include <stdint.h>
#include "shared.h"

#define AP_PY_MINOR_MIN 8
#define AP_PY_MINOR_MAX 15

/* the table entry for 3.<minor>; 0 or -ENOTSUP */
int pyoffsets__for_version(int minor, struct ap_py_offsets *o);
/* override o from a _Py_DebugOffsets copy (3.13+: starts "xdebugpy");
 * 0, -EINVAL (no cookie / wrong version) or -ENOTSUP (free-threaded) */
int pyoffsets__from_debug(const uint8_t *dbg, size_t len, int minor, struct ap_py_offsets *o);

#endif
