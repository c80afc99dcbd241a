/* SPDX-License-Identifier: MIT */
/* CPython stacks at sample time: find the thread's PyThreadState through
 * the pthread TSS key (works for every thread, GIL held or not, on 3.8+;
 * on 3.15+ a thread-local, in the executable's or libpython's TLS block),
 * walk its frames innermost first recording (code object, instruction),
 * and copy each code object's names and line table to userspace the first
 * time it is seen, so frames are named even after the process has exited.
 * Facts: ../shared/ref/cpython-internals.md; offsets: src/python/offsets.c. */
#ifndef AP_PYTHON_BPF_H
#define AP_PYTHON_BPF_H

#include "maps.bpf.h"
#include "stack.bpf.h" /* ap_read_user */

#define PY_FRAME_READ 112  /* covers f_lasti (<=3.10) and owner (3.14: @74) */
#define PY_CODE_READ 160   /* covers every header field we use, in every version */
#define PY_FRAME_BUF 128   /* buffers are powers of 2 so masks bound offsets */
#define PY_CODE_BUF 256
#ifndef PY_CODE_SEND_MAX /* snapshot.bpf.c: a whole stack's worth, once per thread */
#define PY_CODE_SEND_MAX 32 /* new code objects copied per sample at most */
#endif
/* struct _gil_runtime_state: interval, last_holder, locked, switch_number,
 * then cond, mutex, switch_cond, switch_mutex (pthread types): 208 bytes
 * on x86_64 glibc, 3.8-3.15; a free-threaded build's starts with `int
 * enabled` (216 bytes) */
#define AP_PY_GIL_SIZE 208
#define AP_PY_GIL_SIZE_FT 216
#define AP_PY_TLBC_MAX 65536 /* thread-local bytecode indices: one per live thread */
#define PY_CC_SIZE 8 /* a walk's code-object cache (struct py_scratch); a power of 2 */
#define PY_CC_SLOT(code) (((code) >> 4) & (PY_CC_SIZE - 1))

const volatile __u32 py_depth __weak = AP_MAX_PY_FRAMES; /* --py-depth */

/* tgid -> how to read its interpreter; written by userspace on exec/mmap */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ap_py_proc);
} py_procs SEC(".maps") __weak;

/* tid -> PyThreadState *, captured by the --py-calls uprobe; the sampler's
 * fallback when the TSS lookup finds nothing (e.g. a non-glibc libc) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} py_tstates SEC(".maps") __weak;

struct py_seen_key {
	__u64 code;
	__u32 tgid;
	__u32 sig;
};

/* code objects already sent to userspace */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct py_seen_key);
	__type(value, __u8);
} py_seen SEC(".maps") __weak;

struct py_scratch {
	/* loop counters live here, not in the callbacks' context on the
	 * stack: the verifier tracks a stack counter's exact value and checks
	 * a bpf_loop callback once per value; read from a map it is just a
	 * bounded unknown, checked once */
	__u32 walk_n, sent;
	/* the code objects of this walk, direct-mapped by address (PY_CC_*):
	 * a recursion's frames share one code object, read, checked and
	 * looked up once per walk instead of once per frame. Safe within one
	 * walk of a stopped thread (the sampler, sched_switch, a syscall
	 * exit): a frame holds a reference to its code object, so the address
	 * cannot be freed and reused meanwhile. The snapshot iterator walks
	 * threads that may run on another CPU; that walk is racy with or
	 * without the cache (a frame read as it is popped), and the type
	 * check of each new address stays */
	__u64 cc_code[PY_CC_SIZE];
	__u32 cc_sig[PY_CC_SIZE];
	__u64 seen_code[PY_CC_SIZE]; /* ... and those found in py_seen or sent */
	__u32 seen_sig[PY_CC_SIZE];
	__u8 frame[PY_FRAME_BUF];
	__u8 code[PY_CODE_BUF];
	__u8 str[64];              /* a str's header: 40 bytes, 56 free-threaded */
	struct ap_py_code rec;
};

/* per CPU, one per program context that can interrupt another
 * (AP_SLOT_*: the sampler and sched_switch run with interrupts off, the
 * syscall exit does not) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AP_NR_PY_SLOTS);
	__type(key, __u32);
	__type(value, struct py_scratch);
} py_scratch SEC(".maps") __weak;

/* glibc's TLS block of a module for the thread whose TCB is at fsbase:
 * tcbhead_t.dtv (@8) points at dtv[0] of an array of 16-byte dtv_t, whose
 * slot -1 holds its length; dtv[module].val is the block, -1 while a
 * dynamic block is unallocated (TLS_DTV_UNALLOCATED). A dtv older than the
 * module (a thread that has not called __tls_get_addr since a dlopen) is
 * shorter or unset: 0 then, as for a thread without one. */
#define AP_TLS_MODULES_MAX 65536

static __always_inline __u64 tls_block(__u64 fsbase, __u64 module, struct task_struct *task)
{
	__u64 dtv, len, block;

	if (!module || module > AP_TLS_MODULES_MAX ||
	    ap_read_user(&dtv, 8, (void *)(fsbase + 8), task) || !dtv ||
	    ap_read_user(&len, 8, (void *)(dtv - 16), task) || module > len ||
	    ap_read_user(&block, 8, (void *)(dtv + 16 * module), task) || block == (__u64)-1)
		return 0;
	return block;
}

/* glibc pthread_getspecific(key) for key < 32, read from the thread's TCB;
 * on 3.15+ a thread-local: at a fixed offset from it (static executable)
 * or in libpython's TLS block (shared libpython, tls_index) */
static __always_inline __u64 py_tstate(const struct ap_py_proc *pp, struct task_struct *task)
{
	struct {
		__s32 initialized;
		__u32 key;
	} tss;
	struct {
		__u64 module, offset;
	} ti;
	__u64 fsbase, tstate = 0, self = 0, block;
	__s64 tls = pp->tls_gilstate;
	__u32 key;

	fsbase = BPF_CORE_READ(task, thread.fsbase);
	if (pp->tls_index) {
		/* 3.15+ shared libpython: what __tls_get_addr(tls_index) returns,
		 * plus the variable's offset (local-dynamic) */
		if (ap_read_user(&ti, sizeof(ti), (void *)pp->tls_index, task))
			return 0;
		block = tls_block(fsbase, ti.module, task);
		if (!block || ap_read_user(&tstate, sizeof(tstate),
					   (void *)(block + ti.offset + tls), task) ||
		    !tstate)
			return 0;
	} else if (tls) {
		/* 3.15+: a thread-local in the executable's static TLS block */
		if (ap_read_user(&tstate, sizeof(tstate), (void *)(fsbase + tls), task) || !tstate)
			return 0;
	} else {
		if (ap_read_user(&tss, sizeof(tss), (void *)(pp->runtime + pp->off.runtime_tss),
				 task))
			return 0;
		key = tss.key;
		if (!tss.initialized || key >= 32)
			return 0;
		if (ap_read_user(&tstate, sizeof(tstate),
				 (void *)(fsbase + pp->off.tsd_base + 16 * key + 8), task) ||
		    !tstate)
			return 0;
	}
	/* validate: the thread state names this thread (thread_id is its
	 * pthread_t, which glibc makes the TCB address, i.e. fsbase) */
	if (ap_read_user(&self, sizeof(self), (void *)(tstate + pp->off.tstate_thread_id), task) ||
	    self != fsbase) {
		cnt_inc(AP_CNT_PY_BAD_TSTATE);
		return 0;
	}
	return tstate;
}

/* Fields of a copied struct. Offsets were range-checked on entry; the masks
 * (size a power of 2, fields naturally aligned) make that visible to the
 * verifier without changing a valid offset. */
static __always_inline __u64 rd64(const __u8 *buf, __u32 off, __u32 size)
{
	return *(const __u64 *)(buf + (off & (size - 8)));
}

static __always_inline __s32 rd32(const __u8 *buf, __u32 off, __u32 size)
{
	return *(const __s32 *)(buf + (off & (size - 4)));
}

/* the GIL is held by tstate (3.15+: tstate->holds_gil; before, the GIL
 * struct {interval; last_holder @8; locked @16} says so; free-threaded:
 * {enabled; interval; last_holder @16; locked @24}):
 * AP_SPY_GIL_KNOWN | AP_SPY_GIL when it is, AP_SPY_GIL_KNOWN when not,
 * AP_SPY_NOGIL when a free-threaded build runs without it, 0 when the GIL
 * could not be read (then nobody knows: not "released") */
static __always_inline __u32 py_holds_gil(const struct ap_py_proc *pp, __u64 tstate,
					  struct task_struct *task)
{
	__u8 gil[32];
	__u64 addr, interp;
	__u16 off = pp->off.runtime_gil, ptr = pp->off.interp_gil_ptr;
	__u16 holds = pp->off.tstate_holds_gil, en = pp->off.gil_enabled;
	__u16 holder = pp->off.gil_holder, locked = pp->off.gil_locked;
	__s32 held;

	if (holds != AP_PY_OFF_NONE) {
		/* 3.15+: the thread's own flag, set by take_gil and cleared by
		 * drop_gil (one read, no gil struct) */
		if (ap_read_user(&held, sizeof(held), (void *)(tstate + holds), task))
			return 0;
		return AP_SPY_GIL_KNOWN | (held ? AP_SPY_GIL : 0);
	}
	if (off != AP_PY_OFF_NONE) {
		addr = pp->runtime + off;
	} else {
		if (ap_read_user(&interp, 8, (void *)(tstate + pp->off.tstate_interp), task) ||
		    ap_read_user(&addr, 8, (void *)(interp + ptr), task))
			return 0;
	}
	if (ap_read_user(gil, sizeof(gil), (void *)addr, task))
		return 0;
	/* free-threaded: while the GIL is off nobody holds it, and
	 * last_holder is stale; PYTHON_GIL=1 (or an extension not declaring
	 * Py_mod_gil) turns it on, and then it counts as in a GIL build */
	if (en != AP_PY_OFF_NONE && !rd32(gil, en, sizeof(gil)))
		return AP_SPY_NOGIL;
	return AP_SPY_GIL_KNOWN |
	       (rd32(gil, locked, sizeof(gil)) && rd64(gil, holder, sizeof(gil)) == tstate ?
			AP_SPY_GIL : 0);
}

/* AP_SPY_STATE, AP_SPY_GC, AP_SPY_FINALIZING for the thread of tstate.
 * The collector's `collecting` is interpreter-wide: it names this thread
 * only while the thread holds the GIL (the collection runs under it).
 * _PyRuntime._finalizing is the tstate of the thread running
 * Py_FinalizeEx, set after the atexit handlers. Both are read on CPU only,
 * so a finalizing process that sleeps is not counted. */
static __always_inline __u32 py_state(const struct ap_py_proc *pp, __u64 tstate, bool gil,
				      struct task_struct *task)
{
	__u16 gc_off = pp->off.gc_collecting, fin_off = pp->off.runtime_finalizing;
	__u64 base = pp->runtime, fin = 0;
	__s32 collecting = 0;
	__u32 f = AP_SPY_STATE;

	if (gc_off == AP_PY_OFF_NONE || fin_off == AP_PY_OFF_NONE)
		return 0;
	if (pp->off.minor != 8 && /* 3.8 keeps the GC state in _PyRuntime */
	    ap_read_user(&base, 8, (void *)(tstate + pp->off.tstate_interp), task))
		return 0;
	if (ap_read_user(&collecting, sizeof(collecting), (void *)(base + gc_off), task) ||
	    ap_read_user(&fin, 8, (void *)(pp->runtime + fin_off), task))
		return 0;
	if (collecting && gil)
		f |= AP_SPY_GC;
	if (fin == tstate)
		f |= AP_SPY_FINALIZING;
	return f;
}

static __always_inline __u64 py_first_frame(const struct ap_py_proc *pp, __u64 tstate,
					    struct task_struct *task)
{
	__u64 frame = 0, cframe = 0;

	if (pp->off.model == AP_PY_CFRAME) {
		if (ap_read_user(&cframe, 8, (void *)(tstate + pp->off.tstate_frame), task) ||
		    !cframe ||
		    ap_read_user(&frame, 8, (void *)(cframe + pp->off.cframe_current), task))
			return 0;
		return frame;
	}
	if (ap_read_user(&frame, 8, (void *)(tstate + pp->off.tstate_frame), task))
		return 0;
	return frame;
}

struct py_walk_ctx {
	struct ap_cpu_sample *s;
	struct py_scratch *sc;
	const struct ap_py_proc *pp;
	__u64 frame;
	__u64 hash;                /* of (code, instr) of every frame walked */
	__u32 limit;
	AP_TASK_FIELD
};

/* the bytecode copy a 3.14t frame runs (sc->frame holds the frame):
 * entries[tlbc_index] of code's co_tlbc, or base (co_code_adaptive) for
 * index 0 or when unread (the offset then comes out negative or wrong,
 * and userspace finds no line) */
static __always_inline __u64 py_tlbc_base(const struct ap_py_proc *pp, struct py_scratch *sc,
					  __u64 code, __u64 base, struct task_struct *task)
{
	__u16 tlbc = pp->off.frame_tlbc, co = pp->off.code_tlbc;
	__u64 arr = 0, entry = 0;
	__s32 idx = rd32(sc->frame, tlbc, PY_FRAME_BUF);

	if (idx <= 0 || idx > AP_PY_TLBC_MAX ||
	    ap_read_user(&arr, 8, (void *)(code + co), task) || !arr ||
	    ap_read_user(&entry, 8, (void *)(arr + 8 + 8 * (__u64)idx), task) || !entry)
		return base;
	return entry;
}

/* one frame: bpf_loop() callback, so the verifier checks it once rather
 * than once per unrolled iteration (that exceeded its 1M-insn budget) */
static int py_walk_step(__u32 i, struct py_walk_ctx *c)
{
	struct ap_cpu_sample *s = c->s;
	struct py_scratch *sc = c->sc;
	const struct ap_py_proc *pp = c->pp;
	__u16 back = pp->off.frame_back, codeo = pp->off.frame_code, instr = pp->off.frame_instr;
	__u16 owner = pp->off.frame_owner, fl = pp->off.code_firstlineno;
	__u16 name = pp->off.code_name, file = pp->off.code_filename, minor = pp->off.minor;
	__u16 adaptive = pp->off.code_adaptive, tlbc = pp->off.frame_tlbc;
	__u16 head = pp->off.obj_head;
	__u64 code, ptr, nameptr, fileptr, base;
	struct ap_py_frame *f;
	__u32 flags = 0, n = sc->walk_n, cc;
	__s32 first;
	__s64 d;

	if (!c->frame)
		return 1;
	if (n >= c->limit || n >= AP_MAX_PY_FRAMES) {
		s->py_flags |= AP_SPY_TRUNC;
		cnt_inc(AP_CNT_PY_TRUNCATED);
		return 1;
	}
	if (ap_read_user(sc->frame, PY_FRAME_READ, (void *)c->frame, c->task)) {
		s->py_flags |= AP_SPY_ERROR;
		cnt_inc(AP_CNT_PY_READ_ERR);
		return 1;
	}
	asm volatile("" : "+r"(n)); /* keep the mask below (see py_send_step) */
	f = &s->py[n & (AP_MAX_PY_FRAMES - 1)];
	code = rd64(sc->frame, codeo, PY_FRAME_BUF);
	if (owner != AP_PY_OFF_NONE) {
		__u8 ov = sc->frame[owner & (PY_FRAME_BUF - 1)];

		if (minor == 11)
			flags = ov ? AP_PYF_ENTRY : 0;            /* is_entry */
		else if (minor >= 14 ? ov >= 3 : ov == 3)
			flags = AP_PYF_SHIM;                      /* owned by the C stack */
	}
	if (minor >= 14)
		code &= ~3ull;                                    /* _PyStackRef tag bits */
	f->flags = flags;
	f->pad = 0;
	if (flags & AP_PYF_SHIM) {
		/* the shim's own address: on 3.12+ a C local of the eval loop
		 * activation that pushed it, so userspace splices the group
		 * it ends at the native frame whose stack range holds it */
		f->code = c->frame;
		f->sig = 0;
		f->instr = -1;
	} else {
		cc = PY_CC_SLOT(code);
		if (code && sc->cc_code[cc] == code) {
			f->sig = sc->cc_sig[cc]; /* read and checked for a deeper frame */
		} else {
			if (ap_read_user(sc->code, PY_CODE_READ, (void *)code, c->task)) {
				s->py_flags |= AP_SPY_ERROR;
				cnt_inc(AP_CNT_PY_READ_ERR);
				return 1;
			}
			if (rd64(sc->code, head - 8, PY_CODE_BUF) != pp->code_type) { /* ob_type */
				s->py_flags |= AP_SPY_ERROR;
				cnt_inc(AP_CNT_PY_BAD_CODE);
				return 1;
			}
			first = rd32(sc->code, fl, PY_CODE_BUF);
			nameptr = rd64(sc->code, name, PY_CODE_BUF);
			fileptr = rd64(sc->code, file, PY_CODE_BUF);
			f->sig = (__u32)(nameptr >> 4) ^ ((__u32)(fileptr >> 4) * 31) ^ (__u32)first;
			sc->cc_code[cc] = code;
			sc->cc_sig[cc] = f->sig;
		}
		f->code = code;
		if (pp->off.model == AP_PY_FRAMEOBJ) {
			f->instr = rd32(sc->frame, instr, PY_FRAME_BUF); /* f_lasti */
		} else {
			ptr = rd64(sc->frame, instr, PY_FRAME_BUF);
			base = code + adaptive;
			/* 3.14t: a thread other than the first runs its own copy
			 * of the bytecode, co_tlbc->entries[tlbc_index] (index
			 * 0 is co_code_adaptive itself) */
			if (tlbc != AP_PY_OFF_NONE)
				base = py_tlbc_base(pp, sc, code, base, AP_CTX_TASK(c));
			d = (__s64)(ptr - base);
			f->instr = d < 0 ? -1 : (__s32)((__u64)d >> 1); /* no sdiv in BPF */
		}
	}
	c->hash = (c->hash ^ f->code ^ ((__u64)(__u32)f->instr << 40) ^ flags) * 0x100000001b3ull;
	sc->walk_n = n + 1;
	c->frame = rd64(sc->frame, back, PY_FRAME_BUF);
	return 0;
}

/* Walk the frames of tstate into s->py (innermost first); returns a hash of them. */
static __always_inline __u64 py_walk(struct ap_cpu_sample *s, struct py_scratch *sc,
				    const struct ap_py_proc *pp, __u64 tstate,
				    struct task_struct *task)
{
	struct py_walk_ctx c = { .s = s, .sc = sc, .pp = pp, .limit = py_depth,
				 AP_TASK_INIT(task) };
	const struct ap_py_offsets *o = &pp->off;

	/* bound what userspace gave us before any use */
	if (o->frame_back > PY_FRAME_READ - 8 || o->frame_code > PY_FRAME_READ - 8 ||
	    o->frame_instr > PY_FRAME_READ - 8 ||
	    (o->frame_owner != AP_PY_OFF_NONE && o->frame_owner >= PY_FRAME_READ) ||
	    o->code_firstlineno > PY_CODE_READ - 8 || o->code_name > PY_CODE_READ - 8 ||
	    o->code_filename > PY_CODE_READ - 8 || o->obj_head < 16 || o->obj_head > 32 ||
	    o->str_kind_shift < 2 || o->str_kind_shift > 10 ||
	    (o->frame_tlbc != AP_PY_OFF_NONE && o->frame_tlbc > PY_FRAME_READ - 4)) {
		s->py_flags |= AP_SPY_ERROR;
		return 0;
	}
	c.hash = 0xcbf29ce484222325ull;
	c.frame = py_first_frame(pp, tstate, task);
	sc->walk_n = 0;
	__builtin_memset(sc->cc_code, 0, sizeof(sc->cc_code));
	__builtin_memset(sc->seen_code, 0, sizeof(sc->seen_code));
	bpf_loop(AP_MAX_PY_FRAMES + 1, py_walk_step, &c, 0);
	s->nr_py = sc->walk_n > AP_MAX_PY_FRAMES ? AP_MAX_PY_FRAMES : sc->walk_n;
	return c.hash;
}

/* copy a compact str object's data; returns bytes copied (0 if unknown) */
static __always_inline __u16 py_read_str(struct py_scratch *sc, const struct ap_py_proc *pp,
					 __u64 str, char *dst, __u32 max, __u8 *kind,
					 struct task_struct *task)
{
	__u16 head = pp->off.obj_head, shift = pp->off.str_kind_shift;
	__u64 len, data;
	__u32 state, k, n;

	*kind = 0;
	/* the header only: PyASCIIObject, 40 bytes (56 free-threaded) and
	 * its state word; a short str may end right after it */
	if (!str || ap_read_user(sc->str, head > 16 ? 64 : 48, (void *)str, task))
		return 0;
	len = rd64(sc->str, head, sizeof(sc->str));
	/* as a GIL build's: kind at bit 2, compact 0x20, ascii 0x40 */
	state = rd32(sc->str, head + 16, sizeof(sc->str)) >> ((shift - 2) & 15);
	if (!(state & 0x20)) /* not compact: legacy strings are left unnamed */
		return 0;
	k = (state >> 2) & 7;
	if (k != 1 && k != 2 && k != 4)
		return 0;
	data = str + ((state & 0x40) ? pp->off.str_ascii_data : pp->off.str_compact_data);
	n = len * k > max - 1 ? max - 1 : len * k;
	n &= max - 1; /* max is a power of 2: the verifier sees n < max */
	if (n && ap_read_user(dst, n, (void *)data, task))
		return 0;
	*kind = k;
	return n;
}

struct py_str_ctx {
	struct py_scratch *sc;
	const struct ap_py_proc *pp;
	__u64 str[3];              /* name, qualname, filename objects */
	AP_TASK_FIELD
};

/* one of a code object's three strings: a bpf_loop() callback, so the
 * verifier checks the string reader once instead of three times in a row
 * (the paths of three sequential copies multiply) */
static int py_str_step(__u32 i, struct py_str_ctx *c)
{
	struct ap_py_code *r = &c->sc->rec;

	if (i == 0)
		r->name_len = py_read_str(c->sc, c->pp, c->str[0], r->name, AP_PY_NAME_MAX,
					  &r->name_kind, AP_CTX_TASK(c));
	else if (i == 1)
		r->qualname_len = py_read_str(c->sc, c->pp, c->str[1], r->qualname, AP_PY_NAME_MAX,
					      &r->qualname_kind, AP_CTX_TASK(c));
	else
		r->filename_len = py_read_str(c->sc, c->pp, c->str[2], r->filename, AP_PY_FILE_MAX,
					      &r->filename_kind, AP_CTX_TASK(c));
	return 0;
}

static __always_inline int py_send_code(struct py_scratch *sc, const struct ap_py_proc *pp,
					__u32 tgid, const struct ap_py_frame *f,
					struct task_struct *task)
{
	struct ap_py_code *r = &sc->rec;
	struct py_str_ctx sctx;
	__u16 fl = pp->off.code_firstlineno, name = pp->off.code_name, qual = pp->off.code_qualname;
	__u16 file = pp->off.code_filename, lt = pp->off.code_linetable;
	__u64 bytes, size;
	__u32 n;

	if (fl > PY_CODE_READ - 8 || name > PY_CODE_READ - 8 || file > PY_CODE_READ - 8 ||
	    lt > PY_CODE_READ - 8 || (qual != AP_PY_OFF_NONE && qual > PY_CODE_READ - 8))
		return -1;
	if (ap_read_user(sc->code, PY_CODE_READ, (void *)f->code, task))
		return -1;
	r->type = AP_REC_PY_CODE;
	r->tgid = tgid;
	r->code = f->code;
	r->sig = f->sig;
	r->firstlineno = rd32(sc->code, fl, PY_CODE_BUF);
	r->pad = 0;
	sctx.sc = sc;
	sctx.pp = pp;
#ifdef AP_READ_OTHER_TASK
	sctx.task = task;
#endif
	sctx.str[0] = rd64(sc->code, name, PY_CODE_BUF);
	sctx.str[1] = qual != AP_PY_OFF_NONE ? rd64(sc->code, qual, PY_CODE_BUF) : 0;
	sctx.str[2] = rd64(sc->code, file, PY_CODE_BUF);
	bpf_loop(3, py_str_step, &sctx, 0);
	r->linetable_len = 0;
	r->linetable_size = 0;
	bytes = rd64(sc->code, lt, PY_CODE_BUF);
	if (bytes && !ap_read_user(&size, 8, (void *)(bytes + pp->off.obj_head), task)) { /* ob_size */
		r->linetable_size = size > 0xffffffff ? 0xffffffff : size;
		n = size > AP_PY_LINETABLE_MAX - 1 ? AP_PY_LINETABLE_MAX - 1 : size;
		n &= AP_PY_LINETABLE_MAX - 1;
		if (n && !ap_read_user(r->linetable, n, (void *)(bytes + pp->off.obj_head + 16),
				       task)) /* ob_sval */
			r->linetable_len = n;
	}
	return bpf_ringbuf_output(&samples, r, sizeof(*r), 0) ? -1 : 0;
}

struct py_send_ctx {
	struct ap_cpu_sample *s;
	struct py_scratch *sc;
	const struct ap_py_proc *pp;
	AP_TASK_FIELD
};

/* send frame i's code object unless userspace has it already */
static int py_send_step(__u32 i, struct py_send_ctx *c)
{
	struct ap_cpu_sample *s = c->s;
	const struct ap_py_frame *f;
	struct py_seen_key key;
	__u8 one = 1;
	__u32 cc;

	if (i >= s->nr_py)
		return 1;
	/* clang drops a mask it can prove redundant; the verifier needs it */
	asm volatile("" : "+r"(i));
	f = &s->py[i & (AP_MAX_PY_FRAMES - 1)];
	if (!f->code || (f->flags & AP_PYF_SHIM)) /* a shim's code is its address */
		return 0;
	cc = PY_CC_SLOT(f->code);
	if (c->sc->seen_code[cc] == f->code && c->sc->seen_sig[cc] == f->sig)
		return 0; /* a frame of the same code object, handled just before */
	key.code = f->code;
	key.tgid = s->tgid;
	key.sig = f->sig;
	if (bpf_map_lookup_elem(&py_seen, &key)) {
		c->sc->seen_code[cc] = f->code;
		c->sc->seen_sig[cc] = f->sig;
		return 0;
	}
	if (c->sc->sent >= PY_CODE_SEND_MAX) {
		cnt_inc(AP_CNT_PY_CODE_DEFERRED);
		return 1;
	}
	if (py_send_code(c->sc, c->pp, s->tgid, f, AP_CTX_TASK(c)) == 0) {
		bpf_map_update_elem(&py_seen, &key, &one, BPF_ANY);
		c->sc->seen_code[cc] = f->code;
		c->sc->seen_sig[cc] = f->sig;
		cnt_inc(AP_CNT_PY_CODE_SENT);
		c->sc->sent++;
	}
	return 0;
}

/* Python frames of the current thread into s, if its process runs CPython;
 * returns a hash of them (0 if none). Scratch slot: AP_SLOT_*. */
static __always_inline __u64 py_sample(struct ap_cpu_sample *s, struct task_struct *task,
				       __u32 slot)
{
	struct ap_py_proc *pp;
	struct py_scratch *sc;
	__u64 tstate;
	__u32 task_off;

	s->nr_py = 0;
	s->py_flags = 0;
	pp = bpf_map_lookup_elem(&py_procs, &s->tgid);
	if (!pp)
		return 0;
	s->py_flags |= AP_SPY_PYTHON;
	cnt_inc(AP_CNT_PY_SAMPLES);
	sc = bpf_map_lookup_elem(&py_scratch, &slot);
	if (!sc) /* never: one entry per slot */
		return 0;
	tstate = py_tstate(pp, task);
	if (!tstate) {
		__u64 *t = bpf_map_lookup_elem(&py_tstates, &s->tid);

		tstate = t ? *t : 0;
	}
	if (!tstate) {
		cnt_inc(AP_CNT_PY_NO_TSTATE);
		return 0;
	}
	s->py_flags |= py_holds_gil(pp, tstate, task);
	s->py_flags |= py_state(pp, tstate, s->py_flags & AP_SPY_GIL, task);
	task_off = pp->tstate_task;
	/* 3.14+: the asyncio Task the thread runs (on-CPU samples only: an
	 * off-CPU record names a stack shared by many waits). A failed read
	 * leaves 0, as a thread that runs no task */
	if (task_off && s->type == AP_REC_SAMPLE &&
	    ap_read_user(&s->aux[0], 8, (void *)(tstate + task_off), task))
		s->aux[0] = 0;
	/* and the Task's name object: with the address, what tells a Task
	 * from the next one allocated at the same address (userspace keys
	 * its cached name by both); 0 if unread */
	if (s->type == AP_REC_SAMPLE && s->aux[0] && pp->task_name &&
	    ap_read_user(&s->aux[1], 8, (void *)(s->aux[0] + pp->task_name), task))
		s->aux[1] = 0;
	return py_walk(s, sc, pp, tstate, task);
}

/* copy to userspace the code objects of s's frames it has not seen yet;
 * task: whose memory they are in (AP_READ_OTHER_TASK only) */
static __always_inline void py_send_codes_task(struct ap_cpu_sample *s, __u32 slot,
					       struct task_struct *task)
{
	struct py_send_ctx sctx;
	struct ap_py_proc *pp;
	struct py_scratch *sc;

	if (!s->nr_py)
		return;
	pp = bpf_map_lookup_elem(&py_procs, &s->tgid);
	sc = bpf_map_lookup_elem(&py_scratch, &slot);
	if (!pp || !sc)
		return;
	sctx.s = s;
	sctx.sc = sc;
	sctx.pp = pp;
#ifdef AP_READ_OTHER_TASK
	sctx.task = task;
#endif
	sc->sent = 0;
	bpf_loop(AP_MAX_PY_FRAMES, py_send_step, &sctx, 0);
}

/* ... of the current thread */
static __always_inline void py_send_codes(struct ap_cpu_sample *s, __u32 slot)
{
	py_send_codes_task(s, slot, (void *)0);
}

/* Is the thread blocked on this process's GIL? futex_addr is the futex
 * word it waits on; the GIL's mutex and condition variables lie inside
 * struct _gil_runtime_state, so an address inside it means a GIL wait. */
static __always_inline bool py_gil_wait(__u32 tgid, struct task_struct *task, __u64 futex_addr)
{
	struct ap_py_proc *pp = bpf_map_lookup_elem(&py_procs, &tgid);
	__u16 off, ptr;
	__u64 tstate, interp, addr;

	if (!pp)
		return false;
	off = pp->off.runtime_gil;
	ptr = pp->off.interp_gil_ptr;
	if (off != AP_PY_OFF_NONE) {
		addr = pp->runtime + off;
	} else {
		tstate = py_tstate(pp, task);
		if (!tstate ||
		    ap_read_user(&interp, 8, (void *)(tstate + pp->off.tstate_interp), task) ||
		    ap_read_user(&addr, 8, (void *)(interp + ptr), task))
			return false;
	}
	return futex_addr >= addr &&
	       futex_addr < addr + (pp->off.gil_enabled != AP_PY_OFF_NONE ? AP_PY_GIL_SIZE_FT :
									     AP_PY_GIL_SIZE);
}

#endif /* AP_PYTHON_BPF_H */
