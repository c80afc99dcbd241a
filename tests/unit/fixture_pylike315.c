// SPDX-License-Identifier: MIT
/* A CPython 3.15 lookalike for pyproc__detect: the data symbols it reads,
 * and PyGILState_GetThisThreadState reading a thread-local through
 * __tls_get_addr as a shared libpython3.15 does (the DTV path). Built
 * linked with glibc, and once more with the stand-in libc.musl-x86_64.so.1
 * (see tests/tests.mk). */
const unsigned long Py_Version = 0x030f02f0;
char _PyRuntime[4096] = { 1 };
char PyCode_Type[400] = { 1 };
static __thread void *gilstate[8];

void *PyGILState_GetThisThreadState(void)
{
	return gilstate[5];
}

void PyGILState_Set(void *p)
{
	gilstate[5] = p;
}
