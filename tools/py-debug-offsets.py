#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Print a live CPython 3.13+ process's _Py_DebugOffsets, field by field.

    tools/py-debug-offsets.py HEADER PID ADDR

HEADER is that version's Include/internal/pycore_debug_offsets.h (Debian's
libpython3.X-dev ships it); the struct's own layout is taken from it: a
cookie[8], then nothing but uint64_t members in nested groups (true through
3.15). ADDR is _PyRuntime in the process (debug_offsets is its first member).
Output: "group.field pos value", pos being the byte position inside the
debug struct. Needs ptrace rights on PID (root or the same user).
"""
import re
import struct
import sys


def fields(header):
	src = open(header).read()
	body = src[src.index("typedef struct _Py_DebugOffsets {"):]
	body = body[:body.index("} _Py_DebugOffsets;")]
	body = re.sub(r"//[^\n]*|/\*.*?\*/", "", body, flags=re.S)
	out, group, pos = [], None, 0
	for line in body.splitlines()[1:]:
		line = line.strip()
		if line.startswith("#"):
			sys.exit("py-debug-offsets: a preprocessor line inside the struct: " + line)
		if line.startswith("char cookie[8]"):
			pos = 8
		elif re.match(r"struct\b.*\{$", line):
			group = "?"
		elif m := re.match(r"\}\s*(\w+);", line):
			out = [(n.replace("?.", m[1] + "."), p) for n, p in out]
			group = None
		elif m := re.match(r"uint64_t\s+(\w+);", line):
			out.append((("?." if group else "") + m[1], pos))
			pos += 8
		elif line:
			sys.exit("py-debug-offsets: cannot parse: " + line)
	return out, pos


def main():
	header, pid, addr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 0)
	fl, size = fields(header)
	with open(f"/proc/{pid}/mem", "rb") as f:
		f.seek(addr)
		raw = f.read(size)
	print(f"cookie {raw[:8]!r} size {size}")
	for name, pos in fl:
		(v,) = struct.unpack_from("<Q", raw, pos)
		print(f"{name} {pos} {v:#x}" if name == "version" else f"{name} {pos} {v}")


main()
