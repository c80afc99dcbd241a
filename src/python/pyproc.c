// SPDX-License-Identifier: MIT
/* CPython detection (version from Py_Version or the file name, layout from
 * the offsets table or _Py_DebugOffsets) and the code-object cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "python/linetable.h"
#include "python/offsets.h"
#include "python/pyproc.h"
#include "util.h"

/* "python3.10", "libpython3.10.so.1.0": minor and build suffix ('d', 't') */
static int minor_from_name(const char *path, char *suffix)
{
	const char *b = strrchr(path, '/'), *p;
	int minor = -1;

	b = b ? b + 1 : path;
	p = strstr(b, "python3.");
	*suffix = 0;
	if (p && sscanf(p + 8, "%d", &minor) == 1) {
		p += 8;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == 'd' || *p == 't')
			*suffix = *p;
	}
	return minor;
}

/* 3.15+ keeps the gilstate thread state in a thread-local, not a pthread
 * key. In the executable (local-exec) PyGILState_GetThisThreadState is
 * "endbr64; mov %fs:disp32,%rax; ret", and disp is the same for every
 * thread. A shared libpython reads it through __tls_get_addr (local-dynamic
 * on Debian's 3.15): not decoded yet. */
static int gilstate_tls(const struct symfile *sf, int64_t *off)
{
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	static const uint8_t mov_fs[] = { 0x64, 0x48, 0x8b, 0x04, 0x25 };
	uint8_t b[16];
	const uint8_t *p = b;
	int32_t disp;

	if (!sf->py_gilstate_fn || symfile__read_vaddr(sf, sf->py_gilstate_fn, b, sizeof(b)))
		return -ENOENT;
	if (!memcmp(p, endbr64, sizeof(endbr64)))
		p += sizeof(endbr64);
	if (memcmp(p, mov_fs, sizeof(mov_fs)))
		return -ENOTSUP;
	memcpy(&disp, p + sizeof(mov_fs), 4);
	if (disp >= 0) /* variant II: the executable's TLS is below the thread pointer */
		return -EINVAL;
	*off = disp;
	return 0;
}

int pyproc__detect(const struct ap_mapping *m, struct ap_py_proc *pp, int *minor, char *why,
		   size_t whylen)
{
	const struct symfile *sf = m->sf;
	struct ap_py_asyncio aio;
	uint8_t dbg[1024];
	uint64_t ver = 0;
	char suffix;
	int major = 3, err;

	if (!sf || (!sf->py_runtime && !sf->py_code_type))
		return -ENOENT;
	*minor = minor_from_name(sf->path, &suffix);
	if (!sf->py_runtime) { /* before 3.7 there is no _PyRuntime */
		snprintf(why, whylen, "%s: CPython 3.%d is not supported (3.8 to 3.%d are)", sf->path,
			 *minor, AP_PY_MINOR_MAX);
		return -ENOTSUP;
	}
	if (sf->py_version && !symfile__read_vaddr(sf, sf->py_version, &ver, sizeof(ver))) {
		major = (ver >> 24) & 0xff;
		*minor = (ver >> 16) & 0xff;
	}
	if (suffix == 'd' || suffix == 't') {
		snprintf(why, whylen, "%s: %s build of CPython 3.%d is not supported", sf->path,
			 suffix == 'd' ? "debug (Py_DEBUG)" : "free-threaded", *minor);
		return -ENOTSUP;
	}
	if (major != 3 || *minor < AP_PY_MINOR_MIN || *minor > AP_PY_MINOR_MAX) {
		snprintf(why, whylen, "%s: CPython %d.%d is not supported (3.8 to 3.%d are)",
			 sf->path, major, *minor, AP_PY_MINOR_MAX);
		return -ENOTSUP;
	}
	if (!sf->py_code_type) {
		snprintf(why, whylen, "%s: PyCode_Type not found", sf->path);
		return -ENOTSUP;
	}
	memset(pp, 0, sizeof(*pp));
	pyoffsets__for_version(*minor, &pp->off);
	if (*minor >= 13) {
		/* _PyRuntime starts with _Py_DebugOffsets, statically initialized */
		size_t n = sf->py_runtime_size && sf->py_runtime_size < sizeof(dbg) ?
				   sf->py_runtime_size : sizeof(dbg);

		err = symfile__read_vaddr(sf, sf->py_runtime, dbg, n);
		if (!err)
			err = pyoffsets__from_debug(dbg, n, *minor, &pp->off);
		if (err == -ENOTSUP) {
			snprintf(why, whylen, "%s: free-threaded CPython is not supported", sf->path);
			return err;
		}
		if (err)
			ap_info("python: %s: no usable _Py_DebugOffsets (%s), using the 3.%d table",
				sf->path, ap_errstr(err), *minor);
	}
	if (pp->off.runtime_tss == AP_PY_OFF_NONE) {
		int64_t tls = 0;

		err = gilstate_tls(sf, &tls);
		pp->tls_gilstate = tls;
		if (err) {
			snprintf(why, whylen,
				 "%s: CPython 3.%d: the thread-state TLS slot was not found (%s)",
				 sf->path, *minor, ap_errstr(err));
			return -ENOTSUP;
		}
	}
	if (!pyoffsets__asyncio(*minor, &aio))
		pp->tstate_task = aio.tstate_running_task;
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
