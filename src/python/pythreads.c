// SPDX-License-Identifier: MIT
/* threading.Thread names from a live CPython 3.8-3.13 process: sys.modules
 * -> threading._active -> each Thread's _name and _native_id, through
 * process_vm_readv. Layouts come from each version's own headers
 * (offsetof on the pyenv builds' Include/ and Include/internal/; the dict
 * keys of 3.8-3.10 from Objects/dict-common.h) and were checked on live
 * processes of 3.8.18, 3.9.18, 3.10.13, 3.11.2 (Debian), 3.11.7, 3.12.1
 * and 3.13.0. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "python/pythreads.h"
#include "python/linetable.h"
#include "python/offsets.h"
#include "python/pyproc.h"
#include "util.h"

enum dict_model {
	DICT_OLD,       /* 3.8-3.10: dk_size, dk_indices at 40, entries {hash, key, value} */
	DICT_NEW,       /* 3.11+: dk_log2_size, dk_log2_index_bytes, dk_kind; indices at 32 */
};

enum inst_model {
	INST_DICTOFFSET, /* 3.8-3.10: the dict at obj + tp_dictoffset */
	INST_311,        /* 3.11: values at obj - 32, dict at obj - 24 (Py_TPFLAGS_MANAGED_DICT) */
	INST_312,        /* 3.12: PyDictOrValues at obj - 24; low bit set: values + 1 */
	INST_313,        /* 3.13: dict at obj - 24; inline values at obj + tp_basicsize */
};

struct thr_layout {
	uint16_t interp_head;   /* _PyRuntimeState.interpreters.head */
	uint16_t interp_modules; /* PyInterpreterState.modules (3.12+: imports.modules) */
	uint16_t ht_cached_keys; /* PyHeapTypeObject.ht_cached_keys (3.11+) */
	uint8_t values_off;     /* PyDictValues.values (3.13: after 4 bytes of sizes) */
	uint8_t dict, inst;
	bool long_tag;          /* 3.12+: PyLongObject.long_value.lv_tag, else ob_size */
	uint8_t ascii_size, compact_size; /* sizeof(PyASCIIObject), (PyCompactUnicodeObject) */
};

static const struct thr_layout layouts[] = {
	[8] = { 32, 56, 0, 0, DICT_OLD, INST_DICTOFFSET, false, 48, 72 },
	[9] = { 32, 856, 0, 0, DICT_OLD, INST_DICTOFFSET, false, 48, 72 },
	[10] = { 32, 856, 0, 0, DICT_OLD, INST_DICTOFFSET, false, 48, 72 },
	[11] = { 40, 888, 872, 0, DICT_NEW, INST_311, false, 48, 72 },
	[12] = { 40, 944, 880, 0, DICT_NEW, INST_312, true, 40, 56 },
	[13] = { 632, 7656, 880, 8, DICT_NEW, INST_313, true, 40, 56 },
	/* 3.14+: str and int only (asyncio task names; 3.14 names OS threads itself) */
	[14] = { 0, 0, 0, 0, DICT_NEW, INST_313, true, 40, 56 },
	[15] = { 0, 0, 0, 0, DICT_NEW, INST_313, true, 40, 56 },
};

/* the same in every version 3.8-3.13 */
#define OB_TYPE 8
#define TP_BASICSIZE 32
#define TP_FLAGS 168
#define TP_DICTOFFSET 288
#define TPF_INLINE_VALUES (1ul << 2)
#define TPF_MANAGED_DICT (1ul << 4)
#define TPF_LONG_SUBCLASS (1ul << 24)
#define TPF_UNICODE_SUBCLASS (1ul << 28)
#define MA_KEYS 32      /* PyDictObject.ma_keys; ma_values follows it */
#define MD_DICT 16      /* PyModuleObject.md_dict */
#define STR_LENGTH 16
#define STR_STATE 32

#define THR_READS_MAX 20000
#define THR_TIME_NS 50000000ull
#define THR_DICT_MAX 65536     /* entries of a dict we scan */
#define THR_MAPS_MAX 65536
#define THR_KEYS 1024        /* key objects remembered per call (a power of 2) */

struct range {
	uint64_t start, end;
};

struct rctx {
	uint32_t pid;
	const struct thr_layout *l;
	struct range *ok;
	size_t nr_ok;
	uint64_t deadline;
	struct pythreads_stats st;
	int err;                /* the first failure, sticky */
	uint64_t str_type, long_type; /* type objects seen to be str / int */
	/* str objects seen as dict keys: attribute names are interned, so
	 * every Thread's dict has the same few key objects */
	struct key_seen {
		uint64_t addr;
		int8_t len;     /* -1: not short ASCII */
		char text[16];
	} keys[THR_KEYS];
};

/* anonymous memory, and every mapping of the interpreter's file */
static int load_ranges(struct rctx *c, const struct py_target *t)
{
	struct mrange {
		uint64_t start, end, dev, ino;
	} *all = NULL;
	unsigned long long s, e, ino;
	char path[64], line[512], perms[8], *name;
	size_t n = 0, cap = 0, i;
	unsigned maj, min;
	bool rest = false;
	int off, err = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/maps", c->pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		bool cut = !strchr(line, '\n');

		/* the rest of a long line is part of a path the target chose,
		 * never a mapping of its own */
		if (rest) {
			rest = cut;
			continue;
		}
		rest = cut;
		if (sscanf(line, "%llx-%llx %7s %*x %x:%x %llu %n", &s, &e, perms, &maj, &min, &ino,
			   &off) < 6)
			continue;
		name = line + off;
		name[strcspn(name, "\n")] = 0;
		/* a file-backed page may make us wait on whoever serves the
		 * file; anonymous memory cannot */
		if (perms[0] != 'r' ||
		    (!ino && *name && strcmp(name, "[heap]") && strncmp(name, "[stack", 6) &&
		     strncmp(name, "[anon:", 6)))
			continue;
		if (n >= THR_MAPS_MAX) {
			err = -E2BIG;
			break;
		}
		GROW(all, cap, n + 1);
		all[n++] = (struct mrange){ s, e, ino ? makedev(maj, min) : 0, ino };
	}
	fclose(f);
	if (err)
		goto out;
	c->ok = xmalloc((n ? n : 1) * sizeof(*c->ok));
	for (i = 0; i < n; i++)
		if (!all[i].ino || (all[i].ino == t->ino && all[i].dev == t->dev))
			c->ok[c->nr_ok++] = (struct range){ all[i].start, all[i].end };
out:
	free(all);
	return err;
}

static bool allowed(const struct rctx *c, uint64_t addr, size_t len)
{
	size_t lo = 0, hi = c->nr_ok;

	if (addr + len < addr)
		return false;
	while (lo < hi) { /* /proc/PID/maps is sorted */
		size_t mid = (lo + hi) / 2;

		if (addr >= c->ok[mid].end)
			lo = mid + 1;
		else if (addr < c->ok[mid].start)
			hi = mid;
		else
			return addr + len <= c->ok[mid].end;
	}
	return false;
}

static int rd(struct rctx *c, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	ssize_t got;

	if (c->err)
		return c->err;
	if (c->st.reads >= THR_READS_MAX || now_mono_ns() > c->deadline)
		return c->err = -ETIME;
	if (!addr || !allowed(c, addr, len)) {
		c->st.refused++;
		return c->err = -EFAULT;
	}
	c->st.reads++;
	got = process_vm_readv(c->pid, &l, 1, &r, 1, 0);
	if (got < 0)
		return c->err = errno == ESRCH ? -ESRCH : -EFAULT;
	if ((size_t)got != len)
		return c->err = -EFAULT;
	return 0;
}

static uint64_t rd64(struct rctx *c, uint64_t addr)
{
	uint64_t v = 0;

	return rd(c, addr, &v, sizeof(v)) ? 0 : v;
}

/* is o's type flagged (a subclass of) str or int? what: TPF_*_SUBCLASS */
static bool is_a(struct rctx *c, uint64_t o, uint64_t what)
{
	uint64_t *seen = what == TPF_UNICODE_SUBCLASS ? &c->str_type : &c->long_type;
	uint64_t type = rd64(c, o + OB_TYPE), flags;

	if (!type)
		return false;
	if (type == *seen)
		return true;
	if (rd(c, type + TP_FLAGS, &flags, 8) || !(flags & what))
		return false;
	*seen = type;
	return true;
}

/* A str object: its UTF-8 text, at most cap - 1 bytes (cut at a character
 * boundary), into out. Legacy (non-compact) strings are refused. */
static int read_str(struct rctx *c, uint64_t s, char *out, size_t cap)
{
	uint8_t hdr[80], data[4 * AP_PYTHREAD_NAME_MAX];
	uint64_t len;
	uint32_t state;
	int kind;
	size_t n, want;
	char *u;

	if (!is_a(c, s, TPF_UNICODE_SUBCLASS))
		return c->err ? c->err : -EINVAL;
	if (rd(c, s, hdr, c->l->ascii_size))
		return c->err;
	memcpy(&len, hdr + STR_LENGTH, 8);
	memcpy(&state, hdr + STR_STATE, 4);
	kind = (state >> 2) & 7;
	if (!(state & (1u << 5)) || (kind != 1 && kind != 2 && kind != 4) || len > (1u << 30))
		return -EINVAL;
	n = len < cap - 1 ? len : cap - 1;  /* characters */
	want = n * kind;
	if (want > sizeof(data))
		want = sizeof(data) / kind * kind;
	if (want && rd(c, s + ((state & (1u << 6)) ? c->l->ascii_size : c->l->compact_size), data,
		       want))
		return c->err;
	u = py_str_utf8(data, want, kind);
	n = strlen(u);
	if (n >= cap) { /* cut at a character boundary */
		n = cap - 1;
		while (n && ((uint8_t)u[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, u, n);
	out[n] = 0;
	free(u);
	return 0;
}

/* an int object's value, if it is a non-negative one below 2^60 */
static int read_long(struct rctx *c, uint64_t o, uint64_t *v)
{
	uint8_t b[32];
	int64_t size;
	uint32_t d0, d1;

	if (!is_a(c, o, TPF_LONG_SUBCLASS))
		return c->err ? c->err : -EINVAL;
	if (rd(c, o, b, sizeof(b)))
		return c->err;
	memcpy(&size, b + 16, 8);
	if (c->l->long_tag) { /* lv_tag: ndigits << 3 | sign (0 +, 1 zero, 2 -) */
		if ((size & 3) == 1) {
			*v = 0;
			return 0;
		}
		if ((size & 3) != 0)
			return -EINVAL;
		size = (uint64_t)size >> 3;
	}
	if (size < 0 || size > 2)
		return -EINVAL;
	memcpy(&d0, b + 24, 4);
	memcpy(&d1, b + 28, 4);
	*v = size == 0 ? 0 : size == 1 ? d0 : (uint64_t)d0 | (uint64_t)d1 << 30;
	return 0;
}

/* the entries of a keys object: where they are and how they read */
struct dkeys {
	uint64_t entries, n;
	unsigned esz, koff, voff;
};

static int read_keys(struct rctx *c, uint64_t keys, struct dkeys *k)
{
	uint8_t h[48];

	if (rd(c, keys, h, sizeof(h)))
		return c->err;
	if (c->l->dict == DICT_OLD) {
		uint64_t size, nent, ixb;

		memcpy(&size, h + 8, 8);    /* dk_size */
		memcpy(&nent, h + 32, 8);   /* dk_nentries */
		if (size < 8 || size > (1ull << 32) || (size & (size - 1)) || nent > size)
			return -EINVAL;
		ixb = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
		*k = (struct dkeys){ keys + 40 + size * ixb, nent, 24, 8, 16 };
	} else {
		uint8_t log2_size = h[8], log2_ix = h[9], kind = h[10];
		uint64_t nent;

		memcpy(&nent, h + 24, 8);
		if (log2_size < 3 || log2_size > 32 || log2_ix > 35 || kind > 2 ||
		    nent > (1ull << log2_size))
			return -EINVAL;
		*k = (struct dkeys){ keys + 32 + (1ull << log2_ix), nent, kind ? 16 : 24,
				     kind ? 0 : 8, kind ? 8 : 16 };
	}
	if (k->n > THR_DICT_MAX)
		return -E2BIG;
	return 0;
}

/* is the str object s the ASCII text want (at most 16 bytes)? */
static bool str_is(struct rctx *c, uint64_t s, const char *want)
{
	struct key_seen *ks = &c->keys[(s >> 4) * 0x9e3779b97f4a7c15ull >> 54 & (THR_KEYS - 1)];
	uint8_t b[80 + 16];
	size_t n = strlen(want);
	uint64_t len, type;
	uint32_t state;

	if (!s)
		return false;
	if (ks->addr != s) {
		if (rd(c, s, b, c->l->ascii_size))
			return false;
		memcpy(&type, b + OB_TYPE, 8);
		memcpy(&len, b + STR_LENGTH, 8);
		memcpy(&state, b + STR_STATE, 4);
		ks->addr = s;
		ks->len = -1;
		/* (a key that is not a str: is_a reads its type once) */
		if ((type == c->str_type || is_a(c, s, TPF_UNICODE_SUBCLASS)) &&
		    (state & (1u << 6)) && len <= sizeof(ks->text) &&
		    !rd(c, s + c->l->ascii_size, ks->text, len))
			ks->len = len;
		if (c->err) {
			ks->addr = 0;
			return false;
		}
	}
	return ks->len == (int)n && !memcmp(ks->text, want, n);
}

/* Visit entries of (keys, values) (values 0: a combined table): fn gets
 * each (key, value) with value non-NULL; a nonzero return stops. */
typedef int (*entry_fn)(struct rctx *c, uint64_t key, uint64_t value, void *arg);

static int scan_entries(struct rctx *c, const struct dkeys *k, uint64_t values, entry_fn fn,
			void *arg)
{
	uint8_t buf[256 * 24];
	uint64_t vbuf[256];
	uint64_t i, j, chunk;
	int r;

	for (i = 0; i < k->n; i += chunk) {
		chunk = k->n - i < 256 ? k->n - i : 256;
		if (rd(c, k->entries + i * k->esz, buf, chunk * k->esz))
			return c->err;
		if (values && rd(c, values + i * 8, vbuf, chunk * 8))
			return c->err;
		for (j = 0; j < chunk; j++) {
			uint64_t key, val;

			memcpy(&key, buf + j * k->esz + k->koff, 8);
			if (values)
				val = vbuf[j];
			else
				memcpy(&val, buf + j * k->esz + k->voff, 8);
			if (!key || !val)
				continue;
			r = fn(c, key, val, arg);
			if (r)
				return r;
		}
	}
	return 0;
}

struct find_arg {
	const char *want;
	uint64_t found;
};

static int find_fn(struct rctx *c, uint64_t key, uint64_t value, void *arg)
{
	struct find_arg *a = arg;

	if (!str_is(c, key, a->want))
		return c->err;
	a->found = value;
	return 1;
}

static uint64_t lookup_in(struct rctx *c, uint64_t keys, uint64_t values, const char *want)
{
	struct find_arg a = { want, 0 };
	struct dkeys k;

	if (read_keys(c, keys, &k))
		return 0;
	scan_entries(c, &k, values, find_fn, &a);
	return a.found;
}

/* value of the str key want in the dict object d (split or combined) */
static uint64_t dict_get(struct rctx *c, uint64_t d, const char *want)
{
	uint64_t kv[2];

	if (!d || rd(c, d + MA_KEYS, kv, sizeof(kv)))
		return 0;
	if (kv[1] && c->l->values_off) /* 3.13: values after capacity/size/embedded/valid */
		kv[1] += c->l->values_off;
	return lookup_in(c, kv[0], kv[1], want);
}

/* the attribute want of a Python-class instance, from its __dict__ or its
 * managed (3.11+) values */
static uint64_t attr_get(struct rctx *c, uint64_t obj, const char *want)
{
	uint64_t type = rd64(c, obj + OB_TYPE), flags, keys, v;
	int64_t off;

	if (!type || rd(c, type + TP_FLAGS, &flags, 8))
		return 0;
	switch (c->l->inst) {
	case INST_DICTOFFSET:
		if (rd(c, type + TP_DICTOFFSET, &off, 8) || off <= 0 || off > 4096)
			return 0;
		return dict_get(c, rd64(c, obj + off), want);
	case INST_311:
		if (!(flags & TPF_MANAGED_DICT))
			return 0;
		if ((v = rd64(c, obj - 24)))
			return dict_get(c, v, want);
		v = rd64(c, obj - 32);
		break;
	case INST_312:
		if (!(flags & TPF_MANAGED_DICT))
			return 0;
		v = rd64(c, obj - 24);
		if (!(v & 1))
			return dict_get(c, v, want);
		v += 1;
		break;
	case INST_313: {
		uint64_t basic;
		uint8_t valid[4];

		if (!(flags & TPF_MANAGED_DICT))
			return 0;
		if ((v = rd64(c, obj - 24)))
			return dict_get(c, v, want);
		if (!(flags & TPF_INLINE_VALUES) || rd(c, type + TP_BASICSIZE, &basic, 8) ||
		    basic > 4096)
			return 0;
		v = obj + basic;
		if (rd(c, v, valid, sizeof(valid)) || !valid[3])
			return 0;
		v += c->l->values_off;
		break;
	}
	default:
		return 0;
	}
	keys = rd64(c, type + c->l->ht_cached_keys);
	return v && keys ? lookup_in(c, keys, v, want) : 0;
}

struct thr_arg {
	struct py_thread_name *out;
	size_t max, n;
};

static int thread_fn(struct rctx *c, uint64_t key, uint64_t thread, void *arg)
{
	struct thr_arg *a = arg;
	struct py_thread_name *t;
	uint64_t name, nid, tid = 0;

	(void)key;
	if (a->n >= a->max)
		return 1;
	name = attr_get(c, thread, "_name");
	nid = name ? attr_get(c, thread, "_native_id") : 0;
	if (c->err)
		return c->err;
	if (!nid || read_long(c, nid, &tid) || !tid || tid > UINT32_MAX)
		return 0; /* not started yet, or not a Thread as we know it */
	t = &a->out[a->n];
	if (read_str(c, name, t->name, sizeof(t->name)))
		return c->err;
	t->tid = tid;
	a->n++;
	return 0;
}

int pythreads__read(const struct py_target *t, struct py_thread_name *out, size_t max,
		    struct pythreads_stats *st)
{
	struct rctx *c = calloc(1, sizeof(*c)); /* 34 KB: not on the stack */
	struct thr_arg a = { out, max, 0 };
	uint64_t interp, mod, active;
	struct dkeys k;
	int err;

	if (!c)
		return -ENOMEM;
	c->pid = t->pid;
	if (t->minor < 8 || t->minor > 13) {
		err = -ENOTSUP;
		goto out;
	}
	c->l = &layouts[t->minor];
	c->deadline = now_mono_ns() + THR_TIME_NS;
	err = load_ranges(c, t);
	if (err)
		goto out;
	interp = rd64(c, t->runtime + c->l->interp_head);
	mod = interp ? dict_get(c, rd64(c, interp + c->l->interp_modules), "threading") : 0;
	active = mod ? dict_get(c, rd64(c, mod + MD_DICT), "_active") : 0;
	if (!active) {
		/* no threading module (yet): no names, not an error */
		err = c->err;
		goto out;
	}
	{
		uint64_t kv[2];

		if (rd(c, active + MA_KEYS, kv, sizeof(kv)) || read_keys(c, kv[0], &k)) {
			err = c->err ? c->err : -EINVAL;
			goto out;
		}
		if (kv[1] && c->l->values_off)
			kv[1] += c->l->values_off;
		scan_entries(c, &k, kv[1], thread_fn, &a);
	}
	err = a.n ? 0 : c->err;
out:
	if (st) {
		st->reads += c->st.reads;
		st->refused += c->st.refused;
		st->incomplete += !err && c->err;
	}
	free(c->ok);
	free(c);
	return err ? err : (int)a.n;
}

int pythreads__first_local(const struct py_target *t, uint64_t code, char *out, size_t cap)
{
	struct rctx *c = calloc(1, sizeof(*c));
	uint64_t names, n, item;
	int err;

	if (!c)
		return -ENOMEM;
	c->pid = t->pid;
	if (t->minor < 8 || t->minor > 13 || cap < 2) {
		err = -ENOTSUP;
		goto out;
	}
	c->l = &layouts[t->minor];
	c->deadline = now_mono_ns() + THR_TIME_NS;
	err = load_ranges(c, t);
	if (err)
		goto out;
	/* PyCodeObject.co_varnames (3.8-3.10: 72) / co_localsplusnames (3.11+: 96) */
	names = rd64(c, code + (t->minor >= 11 ? 96 : 72));
	n = names ? rd64(c, names + 16) : 0;  /* PyTupleObject ob_size */
	item = n ? rd64(c, names + 24) : 0;   /* ob_item[0] */
	err = item ? read_str(c, item, out, cap) : c->err ? c->err : -ENOENT;
out:
	free(c->ok);
	free(c);
	return err;
}

/* is task a Task as TaskObj lays one out, and its name into out? The
 * task need not be a C Task (asyncio.tasks._PyTask, a task factory's own
 * class): its layout is TaskObj's only if its type is at least that big
 * and it says it is a Task. 0 or -errno */
static int read_task_name(struct rctx *c, const struct ap_py_asyncio *a, uint64_t task, char *out,
			  size_t cap)
{
	uint64_t name, type, v;
	uint8_t is_task = 0;
	int err;

	type = rd64(c, task + OB_TYPE);
	if (!type || rd(c, type + TP_BASICSIZE, &v, 8) || v < a->task_size ||
	    rd(c, task + a->task_is_task, &is_task, 1) || is_task != 1)
		return c->err ? c->err : -EINVAL;
	name = rd64(c, task + a->task_name);
	if (!name)
		return c->err ? c->err : -ENOENT;
	/* a name not given is the int N of "Task-N", formatted when asked */
	if (is_a(c, name, TPF_LONG_SUBCLASS)) {
		err = read_long(c, name, &v);
		if (!err)
			snprintf(out, cap, "Task-%llu", (unsigned long long)v);
		return err;
	}
	return read_str(c, name, out, cap);
}

int pythreads__task_name(const struct py_target *t, uint64_t task, char *out, size_t cap,
			 uint64_t *code)
{
	struct rctx *c = calloc(1, sizeof(*c));
	struct ap_py_asyncio a;
	uint64_t coro;
	int err;

	if (!c)
		return -ENOMEM;
	c->pid = t->pid;
	*code = 0;
	if (t->minor < 14 || t->minor >= (int)AP_ARRAY_SIZE(layouts) || cap < 2 ||
	    pyoffsets__asyncio(t->minor, &a)) {
		err = -ENOTSUP;
		goto out;
	}
	c->l = &layouts[t->minor];
	c->deadline = now_mono_ns() + THR_TIME_NS;
	err = load_ranges(c, t);
	if (err)
		goto out;
	err = read_task_name(c, &a, task, out, cap);
	if (err)
		goto out;
	/* the coroutine's code: where the task's frames begin in a stack
	 * (f_executable is a _PyStackRef: tag bits cleared) */
	coro = rd64(c, task + a.task_coro);
	if (coro)
		*code = rd64(c, coro + a.gen_iframe) & ~3ull;
	c->err = 0;
out:
	free(c->ok);
	free(c);
	return err;
}

/* The task lists of 3.14+ (gh-91048: a doubly linked list of every Task
 * not yet done, per thread, and the interpreter's for the Tasks of threads
 * that ended). Offsets: offsetof() against Debian unstable's
 * libpython3.14-dev 3.14.10 and libpython3.15-dev 3.15.2 headers
 * (Py_BUILD_CORE); the task list fields are equal to the _AsyncioDebug
 * sections of those builds (Py_AsyncioModuleDebugOffsets). TaskObj and
 * the future iterator are _asynciomodule.c's own structs: fut_state
 * follows fut_awaited_by (96) and precedes fut_is_task (108). */
static const struct async_layout {
	uint16_t interp_head;     /* _PyRuntimeState.interpreters.head */
	uint16_t interp_threads;  /* PyInterpreterState.threads.head */
	uint16_t interp_tasks;    /* PyInterpreterState.asyncio_tasks_head */
	uint16_t tstate_tasks;    /* _PyThreadStateImpl.asyncio_tasks_head */
	uint16_t tstate_tid;      /* PyThreadState.native_thread_id */
	int8_t yield_from[2];     /* PyGenObject.gi_frame_state values of a coroutine
				   * suspended in an await (FRAME_SUSPENDED_YIELD_FROM,
				   * 3.15's _LOCKED too) */
} async_layouts[] = {
	[14] = { 808, 7344, 10880, 880, 160, { -1, -1 } },
	[15] = { 936, 7336, 10856, 1048, 184, { 2, 3 } },
};

#define TSTATE_NEXT 8           /* PyThreadState.next */
#define TASK_NODE 152           /* TaskObj.task_node (struct llist_node: next at 0) */
#define FUT_STATE 104           /* FutureObj.fut_state (int: 0 PENDING) */
#define FUTITER_FUTURE 16       /* futureiterobject.future */
#define GEN_FRAME_STATE 67      /* PyGenObject.gi_frame_state (int8) */
#define TP_NAME 24              /* PyTypeObject.tp_name (const char *) */
#define FRAME_STACKPOINTER 64   /* _PyInterpreterFrame.stackpointer (3.14+) */
#define FRAME_LOCALSPLUS 80     /* _PyInterpreterFrame.localsplus */
#define ASYNC_CODES 64          /* code objects remembered per call */

enum obj_kind { K_OTHER, K_CORO, K_FUTITER, K_FUTURE };

struct actx {
	struct rctx *c;
	const struct async_layout *al;
	int minor;
	struct ap_py_asyncio a;
	struct ap_py_offsets o;
	struct type_seen {
		uint64_t type;
		enum obj_kind kind;
		char name[48];
	} types[16];
	unsigned nr_types;
	struct code_seen {
		uint64_t code;
		int first;
		char func[AP_PYASYNC_FUNC_MAX];
		char file[AP_PYASYNC_FILE_MAX];
		uint8_t lt[AP_PY_LINETABLE_MAX];
		size_t nlt;
	} *codes;
	unsigned nr_codes;
	struct pyasync_stats st;
};

/* obj's type: its kind, and its tp_name (a C string in the interpreter's
 * file, or a heap type's copy) without an "_asyncio." prefix */
static enum obj_kind obj_kind(struct actx *x, uint64_t obj, const char **name)
{
	struct rctx *c = x->c;
	uint64_t type = rd64(c, obj + OB_TYPE), tpn;
	struct type_seen *ts;
	char buf[48] = "";
	unsigned i;

	*name = "?";
	if (!type)
		return K_OTHER;
	for (i = 0; i < x->nr_types; i++)
		if (x->types[i].type == type) {
			*name = x->types[i].name;
			return x->types[i].kind;
		}
	tpn = rd64(c, type + TP_NAME);
	/* the name may end near its mapping's end: a shorter read then */
	if (!tpn || (rd(c, tpn, buf, sizeof(buf) - 1) &&
		     (c->err != -EFAULT || (c->err = 0, rd(c, tpn, buf, 16)))))
		return K_OTHER;
	buf[sizeof(buf) - 1] = 0;
	ts = &x->types[x->nr_types < AP_ARRAY_SIZE(x->types) ? x->nr_types++ : 0];
	ts->type = type;
	snprintf(ts->name, sizeof(ts->name), "%s",
		 strncmp(buf, "_asyncio.", 9) ? buf : buf + 9);
	if (!strcmp(buf, "coroutine") || !strcmp(buf, "generator"))
		ts->kind = K_CORO;
	else if (!strcmp(buf, "_asyncio.FutureIter"))
		ts->kind = K_FUTITER;
	else if (!strcmp(buf, "_asyncio.Future") || !strcmp(buf, "_asyncio.Task"))
		ts->kind = K_FUTURE;
	else
		ts->kind = K_OTHER;
	*name = ts->name;
	return ts->kind;
}

/* a code object's names and line table, read once per call */
static const struct code_seen *code_of(struct actx *x, uint64_t code)
{
	struct rctx *c = x->c;
	struct code_seen *cs;
	const char *tn;
	uint64_t v;
	int32_t first;
	unsigned i;

	if (!code)
		return NULL;
	for (i = 0; i < x->nr_codes; i++)
		if (x->codes[i].code == code)
			return &x->codes[i];
	/* PyCode_Type is a static type named "code" (tp_name in the
	 * interpreter's file) */
	if (obj_kind(x, code, &tn) != K_OTHER || strcmp(tn, "code"))
		return NULL;
	/* a new slot, counted once filled; when all are taken, the last
	 * is filled again */
	cs = &x->codes[x->nr_codes < ASYNC_CODES ? x->nr_codes : ASYNC_CODES - 1];
	memset(cs, 0, offsetof(struct code_seen, lt));
	if (rd(c, code + x->o.code_firstlineno, &first, 4))
		return NULL;
	cs->first = first;
	if ((v = rd64(c, code + x->o.code_qualname)) && read_str(c, v, cs->func, sizeof(cs->func)))
		return NULL;
	if ((v = rd64(c, code + x->o.code_filename)) && read_str(c, v, cs->file, sizeof(cs->file)))
		return NULL;
	/* co_linetable: a bytes object, ob_size at 16, data at 32 */
	v = rd64(c, code + x->o.code_linetable);
	if (v && !rd(c, v + 16, &cs->nlt, 8)) {
		if (cs->nlt > sizeof(cs->lt))
			cs->nlt = sizeof(cs->lt);
		if (cs->nlt && rd(c, v + 32, cs->lt, cs->nlt))
			cs->nlt = 0;
	}
	if (c->err)
		return NULL;
	cs->code = code;
	if (x->nr_codes < ASYNC_CODES)
		x->nr_codes++;
	return cs;
}

/* what a future is: "Task NAME" or its class's name ("Future") */
static void future_text(struct actx *x, uint64_t fut, const char *tn, char *out, size_t cap)
{
	char name[AP_PYTHREAD_NAME_MAX];
	uint8_t is_task = 0;

	if (!rd(x->c, fut + x->a.task_is_task, &is_task, 1) && is_task == 1 &&
	    !read_task_name(x->c, &x->a, fut, name, sizeof(name)))
		snprintf(out, cap, "Task %s", name);
	else
		snprintf(out, cap, "%s", tn);
	x->c->err = x->c->err == -EFAULT || x->c->err == -EINVAL ? 0 : x->c->err;
}

/* t's await chain, from the coroutine coro down */
static void await_chain(struct actx *x, uint64_t coro, struct py_async_task *t)
{
	struct rctx *c = x->c;
	uint64_t obj = coro, frame[9], code, sp, base;
	const struct code_seen *cs;
	const char *tn;
	int8_t state;
	int units, line;

	snprintf(t->waits, sizeof(t->waits), "?");
	while (obj && !c->err) {
		enum obj_kind k = obj_kind(x, obj, &tn);

		if (k == K_FUTITER) {
			obj = rd64(c, obj + FUTITER_FUTURE);
			k = obj ? obj_kind(x, obj, &tn) : K_OTHER;
			if (k == K_OTHER && !strcmp(tn, "?"))
				return;
			future_text(x, obj, tn, t->waits, sizeof(t->waits));
			return;
		}
		if (k == K_FUTURE) {
			future_text(x, obj, tn, t->waits, sizeof(t->waits));
			return;
		}
		if (k != K_CORO) {
			if (obj != coro)
				snprintf(t->waits, sizeof(t->waits), "%s", tn);
			return;
		}
		if (t->depth == AP_PYASYNC_DEPTH) {
			t->cut = true;
			x->st.cut++;
			return;
		}
		/* the coroutine's embedded frame: f_executable (a _PyStackRef),
		 * instr_ptr, stackpointer */
		if (rd(c, obj + GEN_FRAME_STATE, &state, 1) ||
		    rd(c, obj + x->a.gen_iframe, frame, sizeof(frame)))
			return;
		code = frame[0] & ~3ull;
		cs = code_of(x, code);
		if (!cs)
			return;
		units = (int)(((int64_t)frame[x->o.frame_instr / 8] -
			       (int64_t)(code + x->o.code_adaptive)) / 2);
		line = py_line_for(x->minor, cs->lt, cs->nlt, cs->first, units);
		t->chain[t->depth++] = (struct py_async_frame){ .line = line > 0 ? line : 0 };
		snprintf(t->chain[t->depth - 1].func, AP_PYASYNC_FUNC_MAX, "%s", cs->func);
		snprintf(t->chain[t->depth - 1].file, AP_PYASYNC_FILE_MAX, "%s", cs->file);
		if (state != x->al->yield_from[0] && state != x->al->yield_from[1])
			return; /* suspended at a bare yield, or not suspended */
		/* awaiting: the awaited object is the top of its stack
		 * (_PyGen_yf: stackpointer[-1]), inside the frame; on 3.15
		 * a NULL is above it (seen on the live 3.15.2: [awaitable,
		 * NULL], the pair 3.15's GET_ITER leaves too) */
		sp = frame[FRAME_STACKPOINTER / 8];
		base = obj + x->a.gen_iframe + FRAME_LOCALSPLUS;
		if (sp < base + 8 || sp > base + 65536)
			return;
		obj = rd64(c, sp - 8) & ~3ull;
		if (!obj && x->minor >= 15 && sp >= base + 16)
			obj = rd64(c, sp - 16) & ~3ull;
	}
}

/* the Tasks on the list at head (an llist_node), suspended ones into out */
static void read_list(struct actx *x, uint64_t head, uint64_t running, uint32_t tid,
		      struct py_async_task *out, size_t max, size_t *n)
{
	struct rctx *c = x->c;
	uint64_t node = rd64(c, head), task, coro;
	int32_t state;
	size_t seen = 0;

	while (node && node != head && !c->err && seen++ < 4 * AP_PYASYNC_TASKS) {
		struct py_async_task *t = &out[*n];

		task = node - TASK_NODE;
		node = rd64(c, node);
		if (task == running)
			continue;
		if (*n >= max) {
			x->st.capped++;
			continue;
		}
		memset(t, 0, sizeof(*t));
		if (read_task_name(c, &x->a, task, t->name, sizeof(t->name)) ||
		    rd(c, task + FUT_STATE, &state, 4) ||
		    !(coro = rd64(c, task + x->a.task_coro))) {
			if (c->err == -EFAULT || c->err == -EINVAL)
				c->err = 0;
			x->st.failed++;
			continue;
		}
		if (state != 0) /* done, not yet off the list */
			continue;
		t->tid = tid;
		await_chain(x, coro, t);
		if (c->err == -EFAULT || c->err == -EINVAL)
			c->err = 0; /* what was read of the chain stays */
		++*n;
	}
	if (node && node != head && !c->err)
		x->st.incomplete = 1; /* a list longer than we walk: a cycle? */
}

int pythreads__async_offsets(int minor, struct py_async_offsets *o)
{
	if (minor < 14 || minor >= (int)AP_ARRAY_SIZE(async_layouts))
		return -ENOTSUP;
	*o = (struct py_async_offsets){ async_layouts[minor].tstate_tasks,
					async_layouts[minor].interp_tasks, TASK_NODE };
	return 0;
}

int pythreads__async_tasks(const struct py_target *t, struct py_async_task *out, size_t max,
			   struct pyasync_stats *st)
{
	struct rctx *c = calloc(1, sizeof(*c));
	struct actx *x = calloc(1, sizeof(*x));
	uint64_t interp, ts;
	uint32_t tid;
	size_t n = 0, threads = 0;
	int err;

	if (!c || !x || !(x->codes = calloc(ASYNC_CODES, sizeof(*x->codes)))) {
		err = -ENOMEM;
		goto out;
	}
	c->pid = t->pid;
	if (t->minor < 14 || t->minor >= (int)AP_ARRAY_SIZE(async_layouts) ||
	    pyoffsets__asyncio(t->minor, &x->a) || pyoffsets__for_version(t->minor, &x->o) ||
	    x->o.frame_instr + 8 > 72) {
		err = -ENOTSUP;
		goto out;
	}
	x->c = c;
	x->al = &async_layouts[t->minor];
	x->minor = t->minor;
	c->l = &layouts[t->minor];
	c->deadline = now_mono_ns() + THR_TIME_NS;
	err = load_ranges(c, t);
	if (err)
		goto out;
	interp = rd64(c, t->runtime + x->al->interp_head);
	if (!interp) {
		err = c->err ? c->err : -EFAULT;
		goto out;
	}
	read_list(x, interp + x->al->interp_tasks, 0, 0, out, max, &n);
	ts = rd64(c, interp + x->al->interp_threads);
	for (; ts && !c->err && threads++ < AP_PYTHREADS_MAX; ts = rd64(c, ts + TSTATE_NEXT)) {
		tid = 0;
		rd(c, ts + x->al->tstate_tid, &tid, 4);
		read_list(x, ts + x->al->tstate_tasks, rd64(c, ts + x->a.tstate_running_task), tid,
			  out, max, &n);
	}
	err = n || !c->err ? 0 : c->err;
	x->st.incomplete |= c->err != 0;
out:
	if (st && x) {
		x->st.reads = c ? c->st.reads : 0;
		x->st.refused = c ? c->st.refused : 0;
		*st = x->st;
	}
	if (x)
		free(x->codes);
	free(x);
	if (c)
		free(c->ok);
	free(c);
	return err ? err : (int)n;
}

/* One pythreads__read() or pythreads__first_local() on a helper thread,
 * with its own copies of the target and the result: shared by the caller
 * and the helper, freed by the last of them to let go */
struct bjob {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool done;
	struct py_target t;
	uint64_t code;                  /* first_local: the code object; 0: read */
	uint64_t task;                  /* task_name: the Task object (code: its coroutine's) */
	struct py_thread_name *names;   /* read: max entries */
	struct py_async_task *atasks;   /* async_tasks: max entries */
	struct pyasync_stats ast;
	size_t max;
	char arg0[64];
	struct pythreads_stats st;
	int ret;
};

static void bjob_put(struct bjob *j) /* with j->lock held; unlocks */
{
	bool last = --j->refs == 0;

	pthread_mutex_unlock(&j->lock);
	if (!last)
		return;
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j->names);
	free(j->atasks);
	free(j);
}

static void *bjob_main(void *arg)
{
	struct bjob *j = arg;
	const char *e = getenv("AP_TEST_PYTHREADS_STALL_MS");
	unsigned int stall = e ? (unsigned int)strtoul(e, NULL, 10) : 0;
	int ret;

	/* AP_TEST_PYTHREADS_STALL_MS: the tests' stand-in for a target whose
	 * memory does not answer (parsed leniently: tests only) */
	if (stall)
		usleep(stall * 1000u);
	if (j->atasks)
		ret = pythreads__async_tasks(&j->t, j->atasks, j->max, &j->ast);
	else if (j->task)
		ret = pythreads__task_name(&j->t, j->task, j->arg0, sizeof(j->arg0), &j->code);
	else if (j->code)
		ret = pythreads__first_local(&j->t, j->code, j->arg0, sizeof(j->arg0));
	else
		ret = pythreads__read(&j->t, j->names, j->max, &j->st);
	pthread_mutex_lock(&j->lock);
	j->ret = ret;
	j->done = true;
	pthread_cond_broadcast(&j->cond);
	bjob_put(j);
	return NULL;
}

/* run j on a helper thread, wait for it at most budget_ns; 0 when it
 * finished (its result in j), -ETIMEDOUT or -errno. Drops the caller's
 * reference unless it returns 0 (then the caller calls bjob_put) */
static int bjob_run(struct bjob *j, uint64_t budget_ns)
{
	uint64_t end = now_mono_ns() + budget_ns;
	struct timespec ts = { (time_t)(end / 1000000000u), (long)(end % 1000000000u) };
	pthread_condattr_t ca;
	pthread_t th;
	int err;

	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	j->refs = 2;
	pthread_mutex_lock(&j->lock);
	err = pthread_create(&th, NULL, bjob_main, j);
	if (err) {
		j->refs = 1;
		bjob_put(j);
		return -err;
	}
	pthread_detach(th);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT && !j->done) {
			bjob_put(j);
			return -ETIMEDOUT;
		}
	return 0;
}

int pythreads__read_bounded(const struct py_target *t, struct py_thread_name *out, size_t max,
			    struct pythreads_stats *st, uint64_t budget_ns)
{
	struct bjob *j = xcalloc(1, sizeof(*j));
	int err;

	j->t = *t;
	j->max = max;
	j->names = xmalloc((max ? max : 1) * sizeof(*j->names));
	err = bjob_run(j, budget_ns);
	if (err)
		return err;
	if (j->ret > 0)
		memcpy(out, j->names, (size_t)j->ret * sizeof(*out));
	if (st)
		*st = j->st;
	err = j->ret;
	bjob_put(j);
	return err;
}

/* run j, a job whose answer is text in j->arg0 (and, for a task, its
 * coroutine's code in j->code) */
static int bjob_text(struct bjob *j, uint64_t budget_ns, char *out, size_t cap, uint64_t *code)
{
	int err = bjob_run(j, budget_ns);

	if (err)
		return err;
	err = j->ret;
	if (!err && cap)
		snprintf(out, cap, "%s", j->arg0);
	if (code)
		*code = j->code;
	bjob_put(j);
	return err;
}

int pythreads__first_local_bounded(const struct py_target *t, uint64_t code, char *out, size_t cap,
				   uint64_t budget_ns)
{
	struct bjob *j = xcalloc(1, sizeof(*j));

	j->t = *t;
	j->code = code;
	return bjob_text(j, budget_ns, out, cap, NULL);
}

int pythreads__task_name_bounded(const struct py_target *t, uint64_t task, char *out, size_t cap,
				 uint64_t *code, uint64_t budget_ns)
{
	struct bjob *j = xcalloc(1, sizeof(*j));

	j->t = *t;
	j->task = task;
	return bjob_text(j, budget_ns, out, cap, code);
}

int pythreads__async_tasks_bounded(const struct py_target *t, struct py_async_task *out,
				   size_t max, struct pyasync_stats *st, uint64_t budget_ns)
{
	struct bjob *j = xcalloc(1, sizeof(*j));
	int err;

	j->t = *t;
	j->max = max;
	j->atasks = xcalloc(max ? max : 1, sizeof(*j->atasks));
	err = bjob_run(j, budget_ns);
	if (err)
		return err;
	if (j->ret > 0)
		memcpy(out, j->atasks, (size_t)j->ret * sizeof(*out));
	if (st)
		*st = j->ast;
	err = j->ret;
	bjob_put(j);
	return err;
}

int pythreads__target(uint32_t pid, const struct ap_image *img, struct py_target *t)
{
	size_t i;

	if (!img || img->py_minor <= 0 || !img->py_sf || !img->py_sf->py_runtime)
		return -ENOENT;
	/* its objects have the 32-byte header: the layouts here are the GIL
	 * builds' */
	if (img->py_ft)
		return -ENOTSUP;
	for (i = 0; i < img->nr_maps; i++) {
		const struct ap_mapping *m = &img->maps[i];

		if (m->sf == img->py_sf) {
			*t = (struct py_target){ pid, img->py_minor, m->sf->py_runtime + m->bias,
						 m->dev, m->ino };
			return 0;
		}
	}
	return -ENOENT;
}
