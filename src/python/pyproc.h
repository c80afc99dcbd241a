/* SPDX-License-Identifier: MIT */
/* Recognize a CPython runtime in a mapped file and describe it for BPF;
 * cache the code objects BPF copies out, and name Python frames. */
#ifndef AP_PYPROC_H
#define AP_PYPROC_H

#include <stdbool.h>
#include <stdint.h>
#include "process/procmaps.h"
#include "hashmap.h"
#include "shared.h"

/* Why an interpreter's Python frames are not walked: a reason code for
 * run.json and the reports (one of the PY_NO_* below, a static string) and
 * one line for people, without the file's path. */
#define PY_NO_VERSION "unsupported_version"  /* outside 3.8-3.AP_PY_MINOR_MAX, or 2.x */
#define PY_NO_DEBUG "debug_build"            /* Py_DEBUG (python3.Xd) */
#define PY_NO_FREE_THREADED "free_threaded"  /* python3.Xt, or _Py_DebugOffsets says so */
#define PY_NO_LAYOUT "unsupported_layout"    /* a symbol or thread-state slot not found */
#define PY_NO_MUSL "musl"                    /* linked with musl: no glibc thread keys */
#define PY_NO_WALKER "walker_not_configured" /* the BPF walker's map refused the process */

struct py_refusal {
	const char *code;       /* PY_NO_* */
	int major, minor;       /* the CPython seen; minor -1 when unknown */
	char text[320];         /* "CPython 3.16 is not supported (3.8 to 3.15 are)" */
};

/* Does m map a file that defines _PyRuntime? If so fill *pp and *minor.
 * 0; -ENOENT (not an interpreter); -ENOTSUP with the reason in *why
 * (version, build or layout not supported), -errno otherwise. */
int pyproc__detect(const struct ap_mapping *m, struct ap_py_proc *pp, int *minor,
		   struct py_refusal *why);

/* Decode PyGILState_GetThisThreadState's first AP_PY_TLS_CODE bytes b (3.15+,
 * at file vaddr fn): the executable's "mov %fs:disp32,%rax" gives *off =
 * disp and *tls_index = 0; a shared libpython's "lea GOT(%rip),%rdi; call
 * __tls_get_addr; mov disp(%rax),%rax" gives *tls_index = GOT's vaddr (not
 * yet checked to be a tls_index) and *off = disp. 0, -ENOTSUP (another
 * code) or -EINVAL (an offset out of range). */
#define AP_PY_TLS_CODE 64
int pyproc__tls_decode(const uint8_t *b, uint64_t fn, int64_t *off, uint64_t *tls_index);

/* Decode a free-threaded build's PyGILState_GetThisThreadState (3.13t,
 * 3.14t: PyThread_tss_get(&_PyRuntime.autoTSSkey), its _PyRuntimeState
 * differing from the GIL build's): the first "lea disp(%rip),REG" in its
 * first AP_PY_TLS_CODE bytes b (at file vaddr fn) that points into
 * _PyRuntime (vaddr runtime, size bytes) gives *off, the key's offset in
 * it. 0 or -ENOTSUP. */
int pyproc__tss_decode(const uint8_t *b, uint64_t fn, uint64_t runtime, uint64_t size,
		       uint16_t *off);

struct py_code {
	uint64_t code;
	uint32_t tgid, sig;
	int minor, firstlineno;
	char *qualname;        /* UTF-8; co_qualname, or co_name before 3.11 */
	char *filename;
	uint8_t *linetable;
	size_t linetable_len;
	bool internal;         /* CPython's own code object, not the program's (3.13+'s
				* _Py_InitCleanup): its frames are not shown */
};

struct pycode_cache {
	struct hmap idx;       /* (tgid, sig, code) -> index */
	struct py_code *v;
	size_t n, cap;
};

/* is pc CPython's own code, whose frames are not shown (_Py_InitCleanup)? */
bool pycode__is_internal(const struct py_code *pc);
/* the entry made for rec, or NULL if it was known */
struct py_code *pycode__add(struct pycode_cache *c, const struct ap_py_code *rec, int minor);
/* Functions that namedtuple and dataclasses generate by exec/eval show as
 * "<lambda> (<string>)" or "__init__ (<string>)": the name to give them
 * instead ("namedtuple __new__ (generated)", "dataclass __init__
 * (generated)"), malloc'd, or NULL when pc is not one. arg0 is the code's
 * first local (its first argument), NULL if unknown. */
char *pycode__generated_name(const struct py_code *pc, const char *arg0);
/* may pc need its first argument's name for pycode__generated_name()? */
bool pycode__wants_arg0(const struct py_code *pc);
const struct py_code *pycode__find(const struct pycode_cache *c, uint32_t tgid, uint64_t code,
				   uint32_t sig);
/* line of instr in code (see py_line_for) */
int pycode__line(const struct py_code *pc, int instr);
/* keep the entries keep(tgid, ctx) wants (all when keep is NULL: none);
 * returns how many went */
size_t pycode__retain(struct pycode_cache *c, bool (*keep)(uint32_t tgid, void *ctx), void *ctx);
void pycode__free(struct pycode_cache *c);

/* CPython str data of kind 1/2/4 (len bytes) to UTF-8; caller frees */
char *py_str_utf8(const void *data, size_t len, int kind);

#endif
