// SPDX-License-Identifier: MIT
/* issue 16 (groundwork): the per-minor tables agree with the _Py_DebugOffsets
 * that Debian unstable's interpreters carry. The words below are the
 * statically initialized start of _PyRuntime, copied from the binaries
 * (equal to what a live process holds; tools/py-debug-offsets.py prints them
 * by name):
 *   python3.14 3.14.10-1, build-id cccda113240f3ba4c016991793a62dc0cfe01613
 *   python3.15 3.15.2-1,  build-id d41ac9e28ff414f10df5da23fb051683a7b4adcf */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "python/offsets.h"
#include "unit.h"

/* after the cookie: version, free_threaded, then the groups */
static const uint64_t dbg_3_14_10[] = {
	51251952, 0, 316616, 784, 808, 225864, 7280, 7272,
	7344, 7360, 7408, 7688, 7672, 7680, 16, 7784,
	0, 7800, 7792, 7992, 0, 832, 0, 8,
	16, 72, 152, 160, 232, 32, 88, 8,
	0, 56, 80, 74, 64, 0, 216, 112,
	120, 128, 136, 68, 52, 96, 104, 208,
	0, 16, 8, 416, 24, 88, 168, 40,
	32, 16, 40, 24, 16, 200, 24, 40,
	32, 48, 32, 40, 24, 16, 32, 16,
	24, 40, 16, 32, 64, 32, 16, 40,
	264, 192, 160, 24, 72, 67, 0, 8,
	24, 304, 8076, 0, 4, 512,
};

static const uint64_t dbg_3_15_2[] = {
	51315440, 0, 346568, 912, 936, 226240, 7272, 7264,
	7336, 7352, 7400, 7592, 7576, 7584, 16, 7736,
	0, 7752, 7744, 7944, 0, 888, 0, 8,
	16, 72, 80, 88, 96, 176, 184, 256,
	32, 36, 40, 136, 288, 0, 88, 8,
	0, 56, 80, 74, 64, 0, 216, 112,
	120, 128, 136, 68, 52, 96, 104, 208,
	0, 16, 8, 424, 24, 88, 168, 32,
	288, 944, 888, 40, 32, 16, 40, 24,
	16, 200, 24, 40, 32, 48, 32, 40,
	24, 16, 32, 16, 24, 40, 16, 32,
	64, 32, 16, 40, 56, 176, 112, 120,
	1120, 104, 160, 24, 72, 67, 0, 8,
	24, 344, 8028, 0, 4, 512,
};

/* a free-threaded build: CPython 3.14.7 configured --disable-gil
 * (tools/cpython-ft.sh), read live from its _PyRuntime */
static const uint64_t dbg_3_14_7t[] = {
	51251184, 1, 362368, 784, 808, 246720, 7280, 7272,
	7344, 7360, 7408, 7712, 7696, 7704, 16, 7808,
	0, 7832, 7824, 8024, 17628, 832, 0, 8,
	16, 72, 152, 160, 232, 32, 88, 8,
	0, 56, 80, 78, 64, 72, 240, 128,
	136, 144, 152, 84, 68, 112, 120, 232,
	224, 32, 24, 432, 40, 104, 184, 56,
	48, 32, 56, 40, 32, 216, 40, 56,
	48, 64, 48, 56, 40, 32, 48, 32,
	40, 56, 32, 48, 80, 48, 32, 56,
	288, 192, 176, 40, 88, 83, 0, 8,
	24, 304, 8108, 0, 4, 512,
};

static size_t dbg_bytes(uint8_t *buf, const uint64_t *w, size_t nw)
{
	memcpy(buf, "xdebugpy", 8);
	memcpy(buf + 8, w, nw * 8);
	return 8 + nw * 8;
}

/* every field pyoffsets__from_debug sets equals the table's */
static void agree(int minor, const uint64_t *w, size_t nw)
{
	struct ap_py_offsets t, d;
	uint8_t buf[1024];
	size_t len = dbg_bytes(buf, w, nw);

	if (!CHECK(pyoffsets__for_version(minor, &t) == 0, "table", "3.%d: none", minor))
		return;
	d = t;
	memset(&d.tstate_interp, 0xee, sizeof(d) - offsetof(struct ap_py_offsets, tstate_interp));
	d.runtime_tss = t.runtime_tss, d.runtime_gil = t.runtime_gil;
	d.cframe_current = t.cframe_current, d.interp_gil_ptr = t.interp_gil_ptr;
	d.tsd_base = t.tsd_base;
	if (minor < 15) { /* not in the debug struct */
		d.str_compact_data = t.str_compact_data;
		d.tstate_holds_gil = t.tstate_holds_gil;
	}
	/* the GIL builds' header, gil struct and str state: from the table */
	d.obj_head = t.obj_head, d.frame_tlbc = t.frame_tlbc, d.code_tlbc = t.code_tlbc;
	d.gil_holder = t.gil_holder, d.gil_locked = t.gil_locked, d.gil_enabled = t.gil_enabled;
	d.str_kind_shift = t.str_kind_shift;
	ASSERT_EQ(pyoffsets__from_debug(buf, len, minor, &d), 0, "debug offsets read");
	CHECK(!memcmp(&d, &t, sizeof(t)), "table == _Py_DebugOffsets",
	      "3.%d: frame %u/%u code %u/%u thread_id %u/%u gc %u/%u fin %u/%u", minor,
	      d.tstate_frame, t.tstate_frame, d.code_adaptive, t.code_adaptive,
	      d.tstate_thread_id, t.tstate_thread_id, d.gc_collecting, t.gc_collecting,
	      d.runtime_finalizing, t.runtime_finalizing);
	/* a struct cut short is refused, not read past */
	ASSERT_EQ(pyoffsets__from_debug(buf, 200, minor, &d), -EINVAL, "short debug struct");
	/* another minor's struct is refused */
	ASSERT_EQ(pyoffsets__from_debug(buf, len, minor == 14 ? 15 : 14, &d), -EINVAL,
		  "version mismatch");
}

TEST(py_debug_offsets_debian_unstable)
{
	agree(14, dbg_3_14_10, sizeof(dbg_3_14_10) / 8);
	agree(15, dbg_3_15_2, sizeof(dbg_3_15_2) / 8);
	ASSERT_EQ(sizeof(dbg_3_14_10) + 8, 760, "3.14 debug struct size");
	ASSERT_EQ(sizeof(dbg_3_15_2) + 8, 888, "3.15 debug struct size");
}

/* 3.15's GIL flag is the thread state's own holds_gil; before, none */
TEST(py_holds_gil_offset)
{
	struct ap_py_offsets o;
	uint8_t buf[1024];
	size_t len = dbg_bytes(buf, dbg_3_15_2, sizeof(dbg_3_15_2) / 8);

	ASSERT_EQ(pyoffsets__for_version(15, &o), 0, "3.15 table");
	ASSERT_EQ(o.tstate_holds_gil, 36, "3.15 table: PyThreadState.holds_gil");
	o.tstate_holds_gil = 0;
	ASSERT_EQ(pyoffsets__from_debug(buf, len, 15, &o), 0, "3.15 debug offsets");
	ASSERT_EQ(o.tstate_holds_gil, 36, "3.15 debug offsets: thread_state.holds_gil");
	for (int minor = 8; minor <= 14; minor++) {
		ASSERT_EQ(pyoffsets__for_version(minor, &o), 0, "table");
		CHECK(o.tstate_holds_gil == AP_PY_OFF_NONE, "no holds_gil before 3.15",
		      "3.%d: %u", minor, o.tstate_holds_gil);
	}
}

/* 3.14t: the 32-byte object header, code fields +16, tlbc, the gil
 * struct's `enabled`; the thread-state key is left to pyproc */
TEST(py_debug_offsets_free_threaded_314t)
{
	struct ap_py_offsets o;
	uint8_t buf[1024];
	size_t len = dbg_bytes(buf, dbg_3_14_7t, sizeof(dbg_3_14_7t) / 8);

	ASSERT_EQ(sizeof(dbg_3_14_7t) + 8, 760, "3.14t debug struct size");
	ASSERT_EQ(pyoffsets__for_version(14, &o), 0, "3.14 table");
	ASSERT_EQ(pyoffsets__from_debug(buf, len, 14, &o), 0, "3.14t read");
	ASSERT_EQ(o.obj_head, 32, "PyObject is 32 bytes");
	ASSERT_EQ(o.code_filename, 128, "co_filename");
	ASSERT_EQ(o.code_name, 136, "co_name");
	ASSERT_EQ(o.code_qualname, 144, "co_qualname");
	ASSERT_EQ(o.code_linetable, 152, "co_linetable");
	ASSERT_EQ(o.code_firstlineno, 84, "co_firstlineno");
	ASSERT_EQ(o.code_adaptive, 232, "co_code_adaptive");
	ASSERT_EQ(o.code_tlbc, 224, "co_tlbc");
	ASSERT_EQ(o.frame_tlbc, 72, "frame tlbc_index");
	ASSERT_EQ(o.frame_owner, 78, "frame owner");
	ASSERT_EQ(o.str_ascii_data, 56, "PyASCIIObject size");
	ASSERT_EQ(o.str_compact_data, 72, "PyCompactUnicodeObject size");
	ASSERT_EQ(o.str_kind_shift, 8, "str state: kind after unsigned char interned");
	ASSERT_EQ(o.gil_enabled, 0, "gil enabled");
	ASSERT_EQ(o.gil_holder, 16, "gil last_holder");
	ASSERT_EQ(o.gil_locked, 24, "gil locked");
	ASSERT_EQ(o.runtime_tss, AP_PY_OFF_NONE, "key: pyproc decodes it");
	ASSERT_EQ(o.gc_collecting, 7408 + 192, "interp gc + collecting");
	/* a str that is not where the header says is refused */
	memcpy(buf, "xdebugpy", 8);
	{
		uint64_t w[sizeof(dbg_3_14_7t) / 8];

		memcpy(w, dbg_3_14_7t, sizeof(w));
		w[632 / 8 - 1] = 40; /* unicode_object.length */
		len = dbg_bytes(buf, w, sizeof(w) / 8);
		ASSERT_EQ(pyoffsets__for_version(14, &o), 0, "3.14 table");
		ASSERT_EQ(pyoffsets__from_debug(buf, len, 14, &o), -EINVAL, "odd str refused");
	}
}

TEST(py_debug_offsets_free_threaded_refused)
{
	struct ap_py_offsets o;
	uint8_t buf[1024];
	uint64_t w[sizeof(dbg_3_15_2) / 8];
	size_t len;

	memcpy(w, dbg_3_15_2, sizeof(w));
	w[1] = 1; /* free_threaded */
	len = dbg_bytes(buf, w, sizeof(w) / 8);
	ASSERT_EQ(pyoffsets__for_version(15, &o), 0, "3.15 table");
	ASSERT_EQ(pyoffsets__from_debug(buf, len, 15, &o), -ENOTSUP, "free-threaded");
}
