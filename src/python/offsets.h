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
 * 0, -EINVAL (no cookie / wrong version / a layout the walker cannot
 * read) or -ENOTSUP (free-threaded, and this minor's debug struct not
 * known: 3.15t). A free-threaded build's runtime_tss is NONE: pyproc
 * finds its thread-state key */
int pyoffsets__from_debug(const uint8_t *dbg, size_t len, int minor, struct ap_py_offsets *o);

/* What asyncio needs (3.14+): _PyThreadStateImpl.asyncio_running_task and
 * the _asyncio module's TaskObj and the coroutine's embedded frame */
struct ap_py_asyncio {
	uint16_t tstate_running_task; /* _PyThreadStateImpl.asyncio_running_task */
	uint16_t task_name;           /* TaskObj.task_name: str, or int N for "Task-N" */
	uint16_t task_coro;           /* TaskObj.task_coro */
	uint16_t gen_iframe;          /* PyGenObject.gi_iframe (f_executable at +0) */
	uint16_t task_size;           /* sizeof(TaskObj): a Task's tp_basicsize is at least this */
	uint16_t task_is_task;        /* TaskObj.task_is_task (char, 1 for a Task) */
};
/* the entry for 3.<minor>; 0, or -ENOTSUP before 3.14 (no running task in
 * the thread state) and for versions not known */
int pyoffsets__asyncio(int minor, struct ap_py_asyncio *a);

#endif
