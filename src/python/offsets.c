// SPDX-License-Identifier: MIT
/* Per-version offsets of CPython release (GIL) builds on x86_64, checked
 * against headers and live processes (ref sheet §6, tags H/L/D) and, here,
 * by tests/integration on 3.8.18, 3.9.18, 3.10.13, 3.11.2, 3.11.7, 3.12.1
 * and 3.13.0; 3.14 and 3.15 against Debian unstable's 3.14.10 and 3.15.2
 * (headers and live _Py_DebugOffsets; tests/unit/test_pydebug.c has them).
 * gc_collecting and runtime_finalizing: offsetof() compiled with
 * -DPy_BUILD_CORE against the pyenv 3.8.18-3.13.0 headers and Debian's
 * python3.11-dev 3.11.2 (same as 3.11.7). */
#include <errno.h>
#include <string.h>
#include "python/offsets.h"

#define NONE AP_PY_OFF_NONE

static const struct ap_py_offsets table[] = {
	/* 3.8: PyFrameObject chain; f_lasti is a byte offset */
	[8] = {
		.tstate_thread_id = 176,  /* PyThreadState.thread_id */
		.model = AP_PY_FRAMEOBJ, .minor = 8,
		.runtime_tss = 1392,      /* _PyRuntimeState.gilstate.autoTSSkey */
		.runtime_gil = 1152,      /* _PyRuntimeState.ceval.gil (embedded) */
		.tstate_interp = 16,      /* PyThreadState.interp */
		.tstate_frame = 24,       /* PyThreadState.frame */
		.cframe_current = NONE, .interp_gil_ptr = NONE,
		.frame_back = 24,         /* PyFrameObject.f_back */
		.frame_code = 32,         /* PyFrameObject.f_code */
		.frame_instr = 104,       /* PyFrameObject.f_lasti (int) */
		.frame_owner = NONE,
		.code_firstlineno = 40,   /* PyCodeObject.co_firstlineno */
		.code_filename = 104, .code_name = 112, .code_qualname = NONE,
		.code_linetable = 120,    /* PyCodeObject.co_lnotab */
		.code_adaptive = NONE,
		.str_ascii_data = 48,     /* sizeof(PyASCIIObject) */
		.str_compact_data = 72,   /* sizeof(PyCompactUnicodeObject) */
		.gc_collecting = 544,     /* _PyRuntimeState.gc (344) + .collecting (200) */
		.runtime_finalizing = 16, /* _PyRuntimeState.finalizing */
	},
	/* 3.9: as 3.8 with a smaller _PyRuntimeState */
	[9] = {
		.tstate_thread_id = 176,  /* PyThreadState.thread_id */
		.model = AP_PY_FRAMEOBJ, .minor = 9,
		.runtime_tss = 584, .runtime_gil = 352,
		.tstate_interp = 16, .tstate_frame = 24,
		.cframe_current = NONE, .interp_gil_ptr = NONE,
		.frame_back = 24, .frame_code = 32, .frame_instr = 104, .frame_owner = NONE,
		.code_firstlineno = 40, .code_filename = 104, .code_name = 112,
		.code_qualname = NONE, .code_linetable = 120, .code_adaptive = NONE,
		.str_ascii_data = 48, .str_compact_data = 72,
		.gc_collecting = 816, /* PyInterpreterState.gc (616) + .collecting (200) */
		.runtime_finalizing = 16, /* _PyRuntimeState._finalizing */
	},
	/* 3.10: f_lasti counts code units; co_linetable replaces co_lnotab */
	[10] = {
		.tstate_thread_id = 176,  /* PyThreadState.thread_id */
		.model = AP_PY_FRAMEOBJ, .minor = 10,
		.runtime_tss = 584, .runtime_gil = 352,
		.tstate_interp = 16, .tstate_frame = 24,
		.cframe_current = NONE, .interp_gil_ptr = NONE,
		.frame_back = 24, .frame_code = 32, .frame_instr = 96, .frame_owner = NONE,
		.code_firstlineno = 40, .code_filename = 104, .code_name = 112,
		.code_qualname = NONE, .code_linetable = 120, .code_adaptive = NONE,
		.str_ascii_data = 48, .str_compact_data = 72,
		.gc_collecting = 816, /* PyInterpreterState.gc (616) + .collecting (200) */
		.runtime_finalizing = 16, /* _PyRuntimeState._finalizing */
	},
	/* 3.11: _PyInterpreterFrame via tstate->cframe; is_entry marks groups */
	[11] = {
		.tstate_thread_id = 152,  /* PyThreadState.thread_id */
		.model = AP_PY_CFRAME, .minor = 11,
		.runtime_tss = 592, .runtime_gil = 360,
		.tstate_interp = 16,
		.tstate_frame = 56,       /* PyThreadState.cframe */
		.cframe_current = 8,      /* _PyCFrame.current_frame */
		.interp_gil_ptr = NONE,
		.frame_back = 48,         /* _PyInterpreterFrame.previous */
		.frame_code = 32,         /* _PyInterpreterFrame.f_code */
		.frame_instr = 56,        /* _PyInterpreterFrame.prev_instr */
		.frame_owner = 68,        /* _PyInterpreterFrame.is_entry */
		.code_firstlineno = 72, .code_filename = 112, .code_name = 120,
		.code_qualname = 128, .code_linetable = 136,
		.code_adaptive = 184,     /* PyCodeObject.co_code_adaptive */
		.str_ascii_data = 48, .str_compact_data = 72,
		.gc_collecting = 848, /* PyInterpreterState.gc (648) + .collecting (200) */
		.runtime_finalizing = 24, /* _PyRuntimeState._finalizing */
	},
	/* 3.12: shim frames (owner == 3); the GIL moved behind interp->ceval.gil */
	[12] = {
		.tstate_thread_id = 136,  /* PyThreadState.thread_id */
		.model = AP_PY_CFRAME, .minor = 12,
		.runtime_tss = 1544, .runtime_gil = NONE,
		.tstate_interp = 16, .tstate_frame = 56, .cframe_current = 0,
		.interp_gil_ptr = 384,    /* PyInterpreterState.ceval.gil */
		.frame_back = 8, .frame_code = 0, .frame_instr = 56,
		.frame_owner = 70,        /* _PyInterpreterFrame.owner */
		.code_firstlineno = 68, .code_filename = 112, .code_name = 120,
		.code_qualname = 128, .code_linetable = 136, .code_adaptive = 192,
		.str_ascii_data = 40, .str_compact_data = 56,
		.gc_collecting = 312, /* PyInterpreterState.gc (112) + .collecting (200) */
		.runtime_finalizing = 24, /* _PyRuntimeState._finalizing */
	},
	/* 3.13: tstate->current_frame; f_executable; instr_ptr */
	[13] = {
		.tstate_thread_id = 152,  /* PyThreadState.thread_id */
		.model = AP_PY_CURFRAME, .minor = 13,
		.runtime_tss = 2160, .runtime_gil = NONE,
		.tstate_interp = 16, .tstate_frame = 72, .cframe_current = NONE,
		.interp_gil_ptr = 16,
		.frame_back = 8, .frame_code = 0, .frame_instr = 56, .frame_owner = 70,
		.code_firstlineno = 68, .code_filename = 112, .code_name = 120,
		.code_qualname = 128, .code_linetable = 136, .code_adaptive = 200,
		.str_ascii_data = 40, .str_compact_data = 56,
		.gc_collecting = 7600, /* PyInterpreterState.gc (7400) + .collecting (200) */
		.runtime_finalizing = 608, /* _PyRuntimeState._finalizing */
	},
	/* 3.14: f_executable is a tagged _PyStackRef; owner >= 3 is not Python.
	 * offsetof() against Debian's libpython3.14-dev 3.14.10, equal to the
	 * live _Py_DebugOffsets of Debian's python3.14 3.14.10-1 */
	[14] = {
		.tstate_thread_id = 152,  /* PyThreadState.thread_id */
		.model = AP_PY_CURFRAME, .minor = 14,
		.runtime_tss = 2336, .runtime_gil = NONE,
		.tstate_interp = 16, .tstate_frame = 72, .cframe_current = NONE,
		.interp_gil_ptr = 16,
		.frame_back = 8, .frame_code = 0, .frame_instr = 56, .frame_owner = 74,
		.code_firstlineno = 68, .code_filename = 112, .code_name = 120,
		.code_qualname = 128, .code_linetable = 136, .code_adaptive = 208,
		.str_ascii_data = 40, .str_compact_data = 56,
		.gc_collecting = 7600, /* PyInterpreterState.gc (7408) + .collecting (192) */
		.runtime_finalizing = 784, /* _PyRuntimeState._finalizing */
	},
	/* 3.15: as 3.14 but thread_id moves, and _PyRuntimeState has no
	 * autoTSSkey: the gilstate tstate is a thread-local (_Py_tss_gilstate),
	 * found by pyproc (ap_py_proc.tls_gilstate).
	 * offsetof() against Debian's libpython3.15-dev 3.15.2, equal to the live
	 * _Py_DebugOffsets of Debian's python3.15 3.15.2-1 */
	[15] = {
		.tstate_thread_id = 176,  /* PyThreadState.thread_id */
		.model = AP_PY_CURFRAME, .minor = 15,
		.runtime_tss = NONE, .runtime_gil = NONE,
		.tstate_interp = 16, .tstate_frame = 72, .cframe_current = NONE,
		.interp_gil_ptr = 16,
		.frame_back = 8, .frame_code = 0, .frame_instr = 56, .frame_owner = 74,
		.code_firstlineno = 68, .code_filename = 112, .code_name = 120,
		.code_qualname = 128, .code_linetable = 136, .code_adaptive = 208,
		.str_ascii_data = 40, .str_compact_data = 56,
		.gc_collecting = 7512, /* PyInterpreterState.gc (7400) + .collecting (112) */
		.runtime_finalizing = 912, /* _PyRuntimeState._finalizing */
		.tstate_holds_gil = 36,   /* PyThreadState.holds_gil */
	},
};

int pyoffsets__for_version(int minor, struct ap_py_offsets *o)
{
	/* the table may know a version the walker does not support yet
	 * (AP_PY_MINOR_MAX): pyproc__detect gates on that */
	if (minor < AP_PY_MINOR_MIN || (size_t)minor >= sizeof(table) / sizeof(table[0]) ||
	    !table[minor].model)
		return -ENOTSUP;
	*o = table[minor];
	o->tsd_base = 0x310; /* glibc 2.36-2.43: struct pthread.specific_1stblock */
	/* an entry that does not name it has none (0 would be ob_base.next):
	 * before 3.15 the GIL flag comes from the gil struct */
	if (!o->tstate_holds_gil)
		o->tstate_holds_gil = NONE;
	/* the GIL builds' object header and gil struct; a free-threaded
	 * build's come from its _Py_DebugOffsets (pyoffsets__from_debug) */
	o->obj_head = 16;
	o->frame_tlbc = NONE;
	o->code_tlbc = NONE;
	o->gil_holder = 8;
	o->gil_locked = 16;
	o->gil_enabled = NONE;
	o->str_kind_shift = 2;
	return 0;
}

/* Byte positions of the fields we take inside _Py_DebugOffsets. The debug
 * struct's own layout changes per minor version (ref sheet §2.6). */
struct dbg_pos {
	uint16_t current_frame, interp, thread_id, previous, executable, instr_ptr, owner;
	uint16_t filename, name, qualname, linetable, firstlineno, code_adaptive;
	uint16_t ascii_size, compact_size; /* compact_size: 0 before 3.15 */
	uint16_t finalizing, interp_gc, gc_collecting; /* 0: not known for this minor */
	uint16_t holds_gil; /* thread_state.holds_gil: 0 before 3.15 */
	/* read on free-threaded builds only (0: this minor's are not known) */
	uint16_t ob_type, uni_length, uni_state, bytes_size, bytes_sval;
	uint16_t gil_state, gil_enabled, gil_locked, gil_holder;
	uint16_t tlbc_index, co_tlbc; /* 3.14+ */
};

static const struct dbg_pos dbg_pos[] = {
	[13] = { .current_frame = 184, .interp = 176, .thread_id = 192, .previous = 232, .executable = 240,
		 .instr_ptr = 248, .owner = 264, .filename = 280, .name = 288, .qualname = 296,
		 .linetable = 304, .firstlineno = 312, .code_adaptive = 344, .ascii_size = 560,
		 .finalizing = 32, .interp_gc = 80, .gc_collecting = 576,
		 .ob_type = 360, .uni_length = 552, .uni_state = 544, .bytes_size = 520,
		 .bytes_sval = 528, .gil_state = 120, .gil_enabled = 128, .gil_locked = 136,
		 .gil_holder = 144 },
	[14] = { .current_frame = 208, .interp = 200, .thread_id = 216, .previous = 256, .executable = 264,
		 .instr_ptr = 272, .owner = 288, .filename = 320, .name = 328, .qualname = 336,
		 .linetable = 344, .firstlineno = 352, .code_adaptive = 384, .ascii_size = 640,
		 .finalizing = 32, .interp_gc = 88, .gc_collecting = 656,
		 .ob_type = 408, .uni_length = 632, .uni_state = 624, .bytes_size = 600,
		 .bytes_sval = 608, .gil_state = 128, .gil_enabled = 136, .gil_locked = 144,
		 .gil_holder = 152, .tlbc_index = 304, .co_tlbc = 392 },
	/* 3.15 inserts thread_state.base_frame, last_profiled_frame(_seq),
	 * holds_gil, gil_requested, current_exception, exc_state and a group
	 * err_stackitem, type_object.tp_basicsize/tp_dictoffset, a group
	 * heap_type_object, unicode compactunicodeobject_size (read from
	 * Debian's 3.15.2 pycore_debug_offsets.h) */
	[15] = { .current_frame = 208, .interp = 200, .thread_id = 240, .previous = 320, .executable = 328,
		 .instr_ptr = 336, .owner = 352, .filename = 384, .name = 392, .qualname = 400,
		 .linetable = 408, .firstlineno = 416, .code_adaptive = 448, .ascii_size = 736,
		 .compact_size = 744, .finalizing = 32, .interp_gc = 88, .gc_collecting = 760,
		 .holds_gil = 272 },
};

static uint16_t dbg_get(const uint8_t *dbg, size_t len, uint16_t pos, int *bad)
{
	uint64_t v;

	if ((size_t)pos + 8 > len) {
		*bad = 1;
		return 0;
	}
	memcpy(&v, dbg + pos, 8);
	if (v >= AP_PY_OFF_NONE)
		*bad = 1;
	return v;
}

/* A free-threaded build (3.13t+): its object header is 32 bytes (ob_tid,
 * flags, ob_mutex, ob_gc_bits, ob_ref_local, ob_ref_shared, then
 * ob_type), its gil struct starts with `int enabled`, and from 3.14 on
 * frames run thread-local bytecode copies. Its _PyRuntimeState differs
 * too: the table's autoTSSkey offset is a GIL build's (pyproc finds the
 * key itself). -EINVAL when a str or bytes does not sit where the header
 * says (the walker reads them at obj_head and obj_head + 16). */
static int from_debug_ft(const uint8_t *dbg, size_t len, const struct dbg_pos *p, int minor,
			 struct ap_py_offsets *n)
{
	int bad = 0;
	uint32_t head = dbg_get(dbg, len, p->ob_type, &bad) + 8;
	uint32_t gil = dbg_get(dbg, len, p->gil_state, &bad);
	uint32_t en = dbg_get(dbg, len, p->gil_enabled, &bad);
	uint32_t locked = dbg_get(dbg, len, p->gil_locked, &bad);
	uint32_t holder = dbg_get(dbg, len, p->gil_holder, &bad);

	if (bad || dbg_get(dbg, len, p->uni_length, &bad) != head ||
	    dbg_get(dbg, len, p->uni_state, &bad) != head + 16 ||
	    dbg_get(dbg, len, p->bytes_size, &bad) != head ||
	    dbg_get(dbg, len, p->bytes_sval, &bad) != head + 16 || head > 64)
		return -EINVAL;
	/* the walker reads the gil struct's first 32 bytes; locked and
	 * holder are PyInterpreterState-relative (its embedded _gil),
	 * enabled is relative to the struct (CPython's
	 * _Py_Debug_gilruntimestate_enabled) */
	if (locked < gil || holder < gil || en > 28 || locked - gil > 28 || holder - gil > 24)
		return -EINVAL;
	n->obj_head = head;
	n->gil_enabled = en;
	n->gil_locked = locked - gil;
	n->gil_holder = holder - gil;
	n->runtime_tss = AP_PY_OFF_NONE;
	/* 3.14t's str state begins with `unsigned char interned`
	 * (Include/cpython/unicodeobject.h): kind is bits 8-10; 3.13t's is
	 * the GIL build's interned:2 */
	n->str_kind_shift = minor >= 14 ? 8 : 2;
	/* PyCompactUnicodeObject: PyASCIIObject, utf8_length, utf8 (3.12+) */
	n->str_compact_data = n->str_ascii_data + 16;
	if (p->tlbc_index) {
		n->frame_tlbc = dbg_get(dbg, len, p->tlbc_index, &bad);
		n->code_tlbc = dbg_get(dbg, len, p->co_tlbc, &bad);
	}
	return bad ? -EINVAL : 0;
}

int pyoffsets__from_debug(const uint8_t *dbg, size_t len, int minor, struct ap_py_offsets *o)
{
	const struct dbg_pos *p;
	struct ap_py_offsets n = *o;
	uint64_t version, ft;
	int bad = 0;

	if (minor < 13 || (size_t)minor >= sizeof(dbg_pos) / sizeof(dbg_pos[0]) || len < 24 ||
	    memcmp(dbg, "xdebugpy", 8))
		return -EINVAL;
	memcpy(&version, dbg + 8, 8);
	memcpy(&ft, dbg + 16, 8);
	if (((version >> 24) & 0xff) != 3 || (int)((version >> 16) & 0xff) != minor)
		return -EINVAL;
	p = &dbg_pos[minor];
	if (ft && !p->ob_type)
		return -ENOTSUP; /* free-threaded, positions not known for this minor */
	n.tstate_frame = dbg_get(dbg, len, p->current_frame, &bad);
	n.tstate_interp = dbg_get(dbg, len, p->interp, &bad);
	n.tstate_thread_id = dbg_get(dbg, len, p->thread_id, &bad);
	n.frame_back = dbg_get(dbg, len, p->previous, &bad);
	n.frame_code = dbg_get(dbg, len, p->executable, &bad);
	n.frame_instr = dbg_get(dbg, len, p->instr_ptr, &bad);
	n.frame_owner = dbg_get(dbg, len, p->owner, &bad);
	n.code_filename = dbg_get(dbg, len, p->filename, &bad);
	n.code_name = dbg_get(dbg, len, p->name, &bad);
	n.code_qualname = dbg_get(dbg, len, p->qualname, &bad);
	n.code_linetable = dbg_get(dbg, len, p->linetable, &bad);
	n.code_firstlineno = dbg_get(dbg, len, p->firstlineno, &bad);
	n.code_adaptive = dbg_get(dbg, len, p->code_adaptive, &bad);
	n.str_ascii_data = dbg_get(dbg, len, p->ascii_size, &bad);
	if (p->compact_size)
		n.str_compact_data = dbg_get(dbg, len, p->compact_size, &bad);
	if (p->finalizing) {
		uint32_t gc = (uint32_t)dbg_get(dbg, len, p->interp_gc, &bad) +
			      dbg_get(dbg, len, p->gc_collecting, &bad);

		n.runtime_finalizing = dbg_get(dbg, len, p->finalizing, &bad);
		n.gc_collecting = gc < AP_PY_OFF_NONE ? gc : AP_PY_OFF_NONE;
	}
	if (p->holds_gil)
		n.tstate_holds_gil = dbg_get(dbg, len, p->holds_gil, &bad);
	if (ft && from_debug_ft(dbg, len, p, minor, &n))
		bad = 1;
	if (bad)
		return -EINVAL;
	*o = n;
	return 0;
}

/* 3.14 added the running task to the thread state for `python -m asyncio
 * ps` (gh-91048), and the _asyncio module publishes its offsets in an
 * .AsyncioDebug section (Py_AsyncioModuleDebugOffsets). Values: offsetof()
 * against Debian unstable's libpython3.14-dev 3.14.10 / libpython3.15-dev
 * 3.15.2 headers, equal to those sections in _asyncio.cpython-314-x86_64-
 * linux-gnu.so and in python3.15 (built in there); tests/unit/test_pytasks.c
 * holds both sections. 3.15's thread state grew by the embedded base frame.
 * GIL builds only (a free-threaded one's thread state differs). */
int pyoffsets__asyncio(int minor, struct ap_py_asyncio *a)
{
	switch (minor) {
	case 14:
		*a = (struct ap_py_asyncio){ 872, 136, 128, 72, 168, 108 };
		return 0;
	case 15:
		*a = (struct ap_py_asyncio){ 1032, 136, 128, 72, 168, 108 };
		return 0;
	default:
		return -ENOTSUP;
	}
}
