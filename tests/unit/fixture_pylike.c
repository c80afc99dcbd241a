// SPDX-License-Identifier: MIT
/* A CPython 3.12 lookalike for pyproc__detect: the data symbols it reads.
 * Built as libpython3.12.so.1.0 linked with glibc, and once more with a
 * stand-in libc.musl-x86_64.so.1 (see tests/tests.mk). */
const unsigned long Py_Version = 0x030c00f0;
char _PyRuntime[4096] = { 1 };
char PyCode_Type[400] = { 1 };
