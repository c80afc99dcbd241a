// SPDX-License-Identifier: MIT
/* CPython detection (version from Py_Version or the file name, layout from
 * the offsets table or _Py_DebugOffsets) and the code-object cache. */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "python/linetable.h"
#include "python/offsets.h"
#include "python/pyproc.h"
#include "util.h"

/* "python3.10", "libpython3.10.so.1.0", "python2.7": minor (-1 unknown),
 * major and build suffix ('d', 't') */
static int minor_from_name(const char *path, int *major, char *suffix)
{
	const char *b = strrchr(path, '/'), *p;
	int minor = -1;

	b = b ? b + 1 : path;
	*suffix = 0;
	for (p = strstr(b, "python"); p; p = strstr(p + 1, "python")) {
		if ((p[6] == '2' || p[6] == '3') && p[7] == '.' && sscanf(p + 8, "%d", &minor) == 1)
			break;
	}
	if (!p)
		return -1;
	*major = p[6] - '0';
	p += 8;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == 'd' || *p == 't')
		*suffix = *p;
	return minor;
}

/* fill *why (code, version seen, one line without the file's path) and
 * return -ENOTSUP, pyproc__detect's "not supported" */
static int refuse(struct py_refusal *why, const char *code, int major, int minor,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int refuse(struct py_refusal *why, const char *code, int major, int minor,
		  const char *fmt, ...)
{
	va_list ap;

	why->code = code;
	why->major = major;
	why->minor = minor;
	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
	return -ENOTSUP;
}

/* 3.15+ keeps the gilstate thread state in a thread-local, not a pthread
 * key. PyGILState_GetThisThreadState is that read, in one of two forms:
 *  - in the executable (local-exec): "endbr64; mov %fs:disp32,%rax; ret",
 *    disp the same for every thread (*tls_index = 0);
 *  - in a shared libpython (local-dynamic on Debian's 3.15.2, general-dynamic
 *    elsewhere): "lea GOT(%rip),%rdi; call __tls_get_addr; mov
 *    disp(%rax),%rax", with frame set-up around it (Debian's: "endbr64; push
 *    %rbp; mov %rsp,%rbp; lea; call; pop %rbp; mov 0x28(%rax),%rax; ret").
 *    GOT is a tls_index {module, offset}: an R_X86_64_DTPMOD64 relocation
 *    writes its module. *tls_index = its address, *off = disp.
 * A byte match, not a decoder: anything else (TLS descriptors, another
 * compiler's code) is -ENOTSUP, and the caller says so. */
#define TLS_DISP_MAX (1 << 20) /* a variable's offset in libpython's TLS block */

/* skip the frame set-up and tear-down a compiler puts around the call */
static size_t skip_frame_insns(const uint8_t *b, size_t p, size_t end)
{
	static const struct {
		uint8_t n, imm, b[4];
	} insns[] = {
		{ 4, 0, { 0xf3, 0x0f, 0x1e, 0xfa } }, /* endbr64 */
		{ 1, 0, { 0x55 } },                   /* push %rbp */
		{ 1, 0, { 0x5d } },                   /* pop %rbp */
		{ 3, 0, { 0x48, 0x89, 0xe5 } },       /* mov %rsp,%rbp */
		{ 3, 1, { 0x48, 0x83, 0xec } },       /* sub $imm8,%rsp */
		{ 3, 1, { 0x48, 0x83, 0xc4 } },       /* add $imm8,%rsp */
	};
	size_t i, k;

	for (k = 0; k < 4; k++) {
		for (i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
			size_t n = insns[i].n + insns[i].imm;

			if (p + n <= end && !memcmp(b + p, insns[i].b, insns[i].n)) {
				p += n;
				break;
			}
		}
		if (i == sizeof(insns) / sizeof(insns[0]))
			break;
	}
	return p;
}

int pyproc__tls_decode(const uint8_t *b, uint64_t fn, int64_t *off, uint64_t *tls_index)
{
	static const uint8_t mov_fs[] = { 0x64, 0x48, 0x8b, 0x04, 0x25 };
	static const uint8_t lea_rdi[] = { 0x48, 0x8d, 0x3d };
	static const uint8_t gd_call[] = { 0x66, 0x66, 0x48 };
	size_t p = skip_frame_insns(b, 0, 24);
	int32_t disp;
	uint64_t ti;

	/* the furthest read: 24 + 1 + 7 + 3 + 6 + 8 + 7 bytes */
	_Static_assert(24 + 1 + 7 + 3 + 6 + 8 + 7 <= AP_PY_TLS_CODE, "decoder reads past b");
	if (!memcmp(b + p, mov_fs, sizeof(mov_fs))) {
		memcpy(&disp, b + p + sizeof(mov_fs), 4);
		if (disp >= 0) /* variant II: the executable's TLS is below the thread pointer */
			return -EINVAL;
		*off = disp;
		*tls_index = 0;
		return 0;
	}
	if (b[p] == 0x66) /* general-dynamic's data16 */
		p++;
	if (memcmp(b + p, lea_rdi, sizeof(lea_rdi)))
		return -ENOTSUP;
	memcpy(&disp, b + p + sizeof(lea_rdi), 4);
	p += sizeof(lea_rdi) + 4;
	ti = fn + p + disp;
	if (!memcmp(b + p, gd_call, sizeof(gd_call)))
		p += sizeof(gd_call);
	if (b[p] == 0xe8)                           /* call rel32 (PLT) */
		p += 5;
	else if (b[p] == 0xff && b[p + 1] == 0x15)  /* call *GOT(%rip) (-fno-plt) */
		p += 6;
	else
		return -ENOTSUP;
	p = skip_frame_insns(b, p, p + 8);
	if (b[p] != 0x48 || b[p + 1] != 0x8b)       /* mov ...(%rax),%rax */
		return -ENOTSUP;
	if (b[p + 2] == 0x00) {
		disp = 0;
	} else if (b[p + 2] == 0x40) {
		disp = (int8_t)b[p + 3];
	} else if (b[p + 2] == 0x80) {
		memcpy(&disp, b + p + 3, 4);
	} else {
		return -ENOTSUP;
	}
	if (disp < 0 || disp >= TLS_DISP_MAX)
		return -EINVAL;
	*off = disp;
	*tls_index = ti;
	return 0;
}

static int gilstate_tls(const struct symfile *sf, int64_t *off, uint64_t *tls_index)
{
	uint8_t b[AP_PY_TLS_CODE];
	uint32_t rtype;
	int err;

	if (!sf->py_gilstate_fn || symfile__read_vaddr(sf, sf->py_gilstate_fn, b, sizeof(b)))
		return -ENOENT;
	err = pyproc__tls_decode(b, sf->py_gilstate_fn, off, tls_index);
	if (err)
		return err;
	/* the lea must name a tls_index, or the call is not __tls_get_addr's */
	if (*tls_index && (symfile__reloc_at(sf, *tls_index, &rtype) ||
			   rtype != R_X86_64_DTPMOD64))
		return -ENOTSUP;
	return 0;
}

int pyproc__tss_decode(const uint8_t *b, uint64_t fn, uint64_t runtime, uint64_t size,
		       uint16_t *off)
{
	size_t p;
	int32_t disp;
	uint64_t t;

	/* the calls' argument, its Py_tss_t {int _is_initialized; key}: "lea
	 * disp(%rip),REG" (REX.W, mod 00 r/m 101), into %rdi or, when it is
	 * used twice (PyThread_tss_is_created, then PyThread_tss_get), a
	 * callee-saved register (3.14.7t at -O2: %rbx) */
	for (p = 0; p + 7 <= AP_PY_TLS_CODE; p++) {
		if ((b[p] != 0x48 && b[p] != 0x4c) || b[p + 1] != 0x8d || (b[p + 2] & 0xc7) != 0x05)
			continue;
		memcpy(&disp, b + p + 3, 4);
		t = fn + p + 7 + disp;
		if (t >= runtime && t + 8 <= runtime + size && t - runtime < AP_PY_OFF_NONE) {
			*off = t - runtime;
			return 0;
		}
	}
	return -ENOTSUP;
}

/* a free-threaded build's autoTSSkey: decoded, where the GIL build's
 * table has it for the others */
static int gilstate_key(const struct symfile *sf, uint16_t *off)
{
	uint8_t b[AP_PY_TLS_CODE];

	if (!sf->py_gilstate_fn || !sf->py_runtime_size ||
	    symfile__read_vaddr(sf, sf->py_gilstate_fn, b, sizeof(b)))
		return -ENOENT;
	return pyproc__tss_decode(b, sf->py_gilstate_fn, sf->py_runtime, sf->py_runtime_size,
				  off);
}

int pyproc__detect(const struct ap_mapping *m, struct ap_py_proc *pp, int *minor,
		   struct py_refusal *why)
{
	const struct symfile *sf = m->sf;
	struct ap_py_asyncio aio;
	uint8_t dbg[1024];
	uint64_t ver = 0;
	char suffix;
	int major = 3, err;

	if (!sf || (!sf->py_runtime && !sf->py_code_type))
		return -ENOENT;
	*minor = minor_from_name(sf->path, &major, &suffix);
	if (!sf->py_runtime) { /* before 3.7 there is no _PyRuntime */
		if (*minor < 0)
			return refuse(why, PY_NO_VERSION, major, -1,
				      "CPython without _PyRuntime (3.6 or older) is not supported "
				      "(3.8 to 3.%d are)", AP_PY_MINOR_MAX);
		return refuse(why, PY_NO_VERSION, major, *minor,
			      "CPython %d.%d is not supported (3.8 to 3.%d are)", major, *minor,
			      AP_PY_MINOR_MAX);
	}
	if (sf->py_version && !symfile__read_vaddr(sf, sf->py_version, &ver, sizeof(ver))) {
		major = (ver >> 24) & 0xff;
		*minor = (ver >> 16) & 0xff;
	}
	/* free-threaded (3.13t+) is read from its _Py_DebugOffsets below */
	if (suffix == 'd' || (suffix == 't' && *minor < 13))
		return refuse(why, suffix == 'd' ? PY_NO_DEBUG : PY_NO_FREE_THREADED, major, *minor,
			      "%s build of CPython 3.%d is not supported",
			      suffix == 'd' ? "debug (Py_DEBUG)" : "free-threaded", *minor);
	if (major != 3 || *minor < AP_PY_MINOR_MIN || *minor > AP_PY_MINOR_MAX)
		return refuse(why, PY_NO_VERSION, major, *minor,
			      "CPython %d.%d is not supported (3.8 to 3.%d are)", major, *minor,
			      AP_PY_MINOR_MAX);
	if (!sf->py_code_type)
		return refuse(why, PY_NO_LAYOUT, major, *minor, "PyCode_Type not found");
	memset(pp, 0, sizeof(*pp));
	pyoffsets__for_version(*minor, &pp->off);
	if (*minor >= 13) {
		/* _PyRuntime starts with _Py_DebugOffsets, statically initialized */
		size_t n = sf->py_runtime_size && sf->py_runtime_size < sizeof(dbg) ?
				   sf->py_runtime_size : sizeof(dbg);

		err = symfile__read_vaddr(sf, sf->py_runtime, dbg, n);
		if (!err)
			err = pyoffsets__from_debug(dbg, n, *minor, &pp->off);
		if (err == -ENOTSUP)
			return refuse(why, PY_NO_FREE_THREADED, major, *minor,
				      "free-threaded CPython 3.%d is not supported (3.13t and "
				      "3.14t are)", *minor);
		/* the table describes GIL builds only */
		if (err && suffix == 't')
			return refuse(why, PY_NO_FREE_THREADED, major, *minor,
				      "free-threaded CPython 3.%d: its _Py_DebugOffsets are not "
				      "usable (%s)", *minor, ap_errstr(err));
		if (err)
			ap_info("python: %s: no usable _Py_DebugOffsets (%s), using the 3.%d table",
				sf->path, ap_errstr(err), *minor);
	}
	if (pp->off.gil_enabled != AP_PY_OFF_NONE && *minor <= 14) {
		err = gilstate_key(sf, &pp->off.runtime_tss);
		if (err)
			return refuse(why, PY_NO_LAYOUT, major, *minor,
				      "free-threaded CPython 3.%d: the thread-state key was not "
				      "found (%s)", *minor, ap_errstr(err));
	}
	/* the walker finds a thread's state through glibc's pthread key block
	 * (offsets.c tsd_base); musl keeps its keys elsewhere */
	if (pp->off.runtime_tss != AP_PY_OFF_NONE &&
	    (symfile__links(sf, "libc.musl") || symfile__links(sf, "ld-musl")))
		return refuse(why, PY_NO_MUSL, major, *minor,
			      "CPython 3.%d linked with musl libc is not supported (its thread "
			      "states are found through glibc's thread keys)", *minor);
	if (pp->off.runtime_tss == AP_PY_OFF_NONE) {
		uint64_t ti = 0;
		int64_t tls = 0;

		err = gilstate_tls(sf, &tls, &ti);
		pp->tls_gilstate = tls;
		pp->tls_index = ti ? ti + m->bias : 0;
		if (err)
			return refuse(why, PY_NO_LAYOUT, major, *minor,
				      "CPython 3.%d: the thread-state TLS slot was not found (%s)",
				      *minor, ap_errstr(err));
		/* a shared libpython's thread-local is found through glibc's
		 * DTV (dtv[module].pointer); musl's DTV is laid out otherwise */
		if (pp->tls_index &&
		    (symfile__links(sf, "libc.musl") || symfile__links(sf, "ld-musl")))
			return refuse(why, PY_NO_MUSL, major, *minor,
				      "CPython 3.%d linked with musl libc is not supported as a "
				      "shared library (its thread states are found through "
				      "glibc's TLS layout)", *minor);
	}
	/* a free-threaded build's _PyThreadStateImpl differs: no task names */
	if (pp->off.gil_enabled == AP_PY_OFF_NONE && !pyoffsets__asyncio(*minor, &aio)) {
		pp->tstate_task = aio.tstate_running_task;
		pp->task_name = aio.task_name;
	}
	pp->runtime = sf->py_runtime + m->bias;
	pp->code_type = sf->py_code_type + m->bias;
	return 0;
}

static void put_utf8(struct strbuf *sb, uint32_t c)
{
	char b[4];
	int n;

	if (c < 0x80) {
		b[0] = c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = 0xc0 | (c >> 6);
		b[1] = 0x80 | (c & 63);
		n = 2;
	} else if (c < 0x10000) {
		b[0] = 0xe0 | (c >> 12);
		b[1] = 0x80 | ((c >> 6) & 63);
		b[2] = 0x80 | (c & 63);
		n = 3;
	} else if (c < 0x110000) {
		b[0] = 0xf0 | (c >> 18);
		b[1] = 0x80 | ((c >> 12) & 63);
		b[2] = 0x80 | ((c >> 6) & 63);
		b[3] = 0x80 | (c & 63);
		n = 4;
	} else {
		b[0] = '?';
		n = 1;
	}
	sb_append(sb, b, n);
}

char *py_str_utf8(const void *data, size_t len, int kind)
{
	struct strbuf sb = { 0 };
	const uint8_t *p = data;
	size_t i;

	sb_append(&sb, "", 0);
	if (kind != 1 && kind != 2 && kind != 4)
		return sb.buf;
	for (i = 0; i + kind <= len; i += kind) {
		uint32_t c = kind == 1 ? p[i] : kind == 2 ? (uint32_t)(p[i] | p[i + 1] << 8) :
			     (uint32_t)(p[i] | p[i + 1] << 8 | p[i + 2] << 16 | (uint32_t)p[i + 3] << 24);

		if (!c)
			break;
		put_utf8(&sb, c);
	}
	return sb.buf;
}

struct code_key {
	uint64_t code;
	uint32_t tgid, sig;
};

/* 3.13+ pushes a frame of the static code object _Py_InitCleanup between
 * a class's caller and its Python __init__ (the specialized
 * CALL_ALLOC_AND_ENTER_INIT; it checks that __init__ returned None). It
 * shows as "__init__ (__init__)": named __init__, in a "file" __init__, at
 * line 0 (Python/specialize.c). No module's file is named so: a source
 * file ends in .py, exec'd code is "<string>" or a path. */
bool pycode__is_internal(const struct py_code *pc)
{
	return pc->minor >= 13 && pc->firstlineno == 0 && pc->qualname && pc->filename &&
	       !strcmp(pc->qualname, "__init__") && !strcmp(pc->filename, "__init__");
}

struct py_code *pycode__add(struct pycode_cache *c, const struct ap_py_code *r, int minor)
{
	struct code_key k = { r->code, r->tgid, r->sig };
	struct py_code *pc;
	bool is_new;
	uint64_t *slot = hmap_upsert(&c->idx, &k, sizeof(k), c->n, &is_new);
	size_t lt = r->linetable_len < sizeof(r->linetable) ? r->linetable_len : sizeof(r->linetable);

	if (!is_new)
		return NULL;
	GROW(c->v, c->cap, c->n + 1);
	pc = &c->v[c->n++];
	pc->code = r->code;
	pc->tgid = r->tgid;
	pc->sig = r->sig;
	pc->minor = minor;
	pc->firstlineno = r->firstlineno;
	if (r->qualname_len)
		pc->qualname = py_str_utf8(r->qualname, r->qualname_len, r->qualname_kind);
	else
		pc->qualname = py_str_utf8(r->name, r->name_len, r->name_kind);
	pc->filename = py_str_utf8(r->filename, r->filename_len, r->filename_kind);
	pc->linetable = xmalloc(lt);
	memcpy(pc->linetable, r->linetable, lt);
	pc->linetable_len = lt;
	pc->internal = pycode__is_internal(pc);
	(void)slot;
	return pc;
}

/* dataclasses' generated methods (3.8-3.12: one def per __create_fn__,
 * at line 2; 3.13: several in one source) */
static const char *const dc_methods[] = {
	"__init__", "__repr__", "__eq__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__",
	"__setattr__", "__delattr__", "__getstate__", "__setstate__", "__replace__", NULL,
};

static bool is_dc_method(const char *name)
{
	int i;

	for (i = 0; dc_methods[i]; i++)
		if (!strcmp(name, dc_methods[i]))
			return true;
	return false;
}

bool pycode__wants_arg0(const struct py_code *pc)
{
	/* namedtuple's source starts at line 1 (pycode__generated_name()):
	 * any other <string> code needs no read of the target's memory */
	return !strcmp(pc->filename, "<string>") && pc->firstlineno == 1 &&
	       (!strcmp(pc->qualname, "<lambda>") || !strcmp(pc->qualname, "__new__"));
}

char *pycode__generated_name(const struct py_code *pc, const char *arg0)
{
	static const char dc_prefix[] = "__create_fn__.<locals>.";
	const char *q = pc->qualname;

	if (strcmp(pc->filename, "<string>"))
		return NULL;
	/* namedtuple: "def __new__(_cls, ...)" exec'd (3.8, 3.9), then
	 * "lambda _cls, ...: _tuple_new(_cls, (...))" eval'd (3.10+) */
	if (pycode__wants_arg0(pc) && arg0 && !strcmp(arg0, "_cls") && pc->firstlineno == 1)
		return xstrdup("namedtuple __new__ (generated)");
	/* 3.11+: co_qualname says where the def was: inside __create_fn__ */
	if (!strncmp(q, dc_prefix, sizeof(dc_prefix) - 1) && !strchr(q + sizeof(dc_prefix) - 1, '.'))
		return xasprintf("dataclass %s (generated)", q + sizeof(dc_prefix) - 1);
	/* before 3.11 there is only co_name: a dataclass method's name, at
	 * the line __create_fn__ puts it */
	if (pc->minor < 11 && pc->firstlineno == 2 && is_dc_method(q))
		return xasprintf("dataclass %s (generated)", q);
	return NULL;
}

const struct py_code *pycode__find(const struct pycode_cache *c, uint32_t tgid, uint64_t code,
				   uint32_t sig)
{
	struct code_key k = { code, tgid, sig };
	uint64_t i;

	return hmap_get(&c->idx, &k, sizeof(k), &i) ? &c->v[i] : NULL;
}

int pycode__line(const struct py_code *pc, int instr)
{
	return py_line_for(pc->minor, pc->linetable, pc->linetable_len, pc->firstlineno, instr);
}

size_t pycode__retain(struct pycode_cache *c, bool (*keep)(uint32_t tgid, void *ctx), void *ctx)
{
	size_t i, n = 0;

	hmap_free(&c->idx);
	for (i = 0; i < c->n; i++) {
		struct py_code *pc = &c->v[i];
		struct code_key k = { pc->code, pc->tgid, pc->sig };

		if (!keep || !keep(pc->tgid, ctx)) {
			free(pc->qualname);
			free(pc->filename);
			free(pc->linetable);
			continue;
		}
		c->v[n] = *pc;
		hmap_put(&c->idx, &k, sizeof(k), n);
		n++;
	}
	i = c->n - n;
	c->n = n;
	return i;
}

void pycode__free(struct pycode_cache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].qualname);
		free(c->v[i].filename);
		free(c->v[i].linetable);
	}
	free(c->v);
	hmap_free(&c->idx);
	memset(c, 0, sizeof(*c));
}
