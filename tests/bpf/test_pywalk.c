// SPDX-License-Identifier: MIT
/* BPF logic tests of the CPython walker: build fake thread states, frames,
 * code objects and strings laid out as CPython 3.14 (tagged f_executable,
 * owner >= 3 shims), 3.11 (is_entry) and 3.10 (PyFrameObject) in this
 * process's memory, run the walker with BPF_PROG_TEST_RUN, and check the
 * frames and code records it produces. 3.14 has no interpreter on the test
 * machine, so this is where its layout is exercised. Needs root. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "shared.h"
#include "pywalk.skel.h"
#include "python/offsets.h"
#include "python/pyproc.h"

static int passed, failed, checks_failed;

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			checks_failed++;                                                   \
			fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);                  \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
		}                                                                          \
	} while (0)

static unsigned char fake_code_type[64];

/* the fake interpreter's memory: an arena, reset per test */
static unsigned char pool[1 << 20] __attribute__((aligned(64)));
static size_t pool_used;

static void *arena(size_t n)
{
	void *p = pool + pool_used;

	pool_used += (n + 63) & ~(size_t)63;
	if (pool_used > sizeof(pool))
		abort();
	return p;
}

static void arena_reset(void)
{
	memset(pool, 0, sizeof(pool));
	pool_used = 0;
}

/* a compact str object: ascii (kind 1) or UCS-2 (kind 2) data after the header */
static void *make_str(const struct ap_py_offsets *o, const char *ascii, const uint16_t *ucs2,
		      size_t n)
{
	unsigned char *s = arena(256);
	uint64_t len = n;
	/* kind, compact, ascii from bit str_kind_shift (3.14t: 8, after an
	 * unsigned char interned, here 3: interned and immortal) */
	uint32_t state = (0x20 | (ascii ? (1 << 2) | 0x40 : (2 << 2))) << (o->str_kind_shift - 2);

	if (o->str_kind_shift > 2)
		state |= 3;
	memcpy(s + o->obj_head, &len, 8);
	memcpy(s + o->obj_head + 16, &state, 4);
	if (ascii)
		memcpy(s + o->str_ascii_data, ascii, n);
	else
		memcpy(s + o->str_compact_data, ucs2, 2 * n);
	return s;
}

static void *make_code(const struct ap_py_offsets *o, void *name, void *qual, void *file,
		       int firstlineno)
{
	unsigned char *c = arena(512);
	unsigned char *lt = arena(64); /* a bytes object: ob_size @16, data @32 (FT: 32, 48) */
	uint64_t t = (uint64_t)fake_code_type, sz = 4;

	memcpy(c + o->obj_head - 8, &t, 8); /* ob_type */
	memcpy(c + o->code_firstlineno, &firstlineno, 4);
	memcpy(c + o->code_name, &name, 8);
	if (o->code_qualname != AP_PY_OFF_NONE)
		memcpy(c + o->code_qualname, &qual, 8);
	memcpy(c + o->code_filename, &file, 8);
	memcpy(lt + o->obj_head, &sz, 8);
	memcpy(lt + o->obj_head + 16, "\x80\x01\x02\x03", 4);
	memcpy(c + o->code_linetable, &lt, 8);
	return c;
}

/* an iframe (3.11+) running code at instruction index instr */
static void *make_iframe(const struct ap_py_offsets *o, void *code, uint64_t tag, int instr,
			 int owner, void *prev)
{
	unsigned char *f = arena(256);
	uint64_t ex = (uint64_t)code | tag, ip = (uint64_t)code + o->code_adaptive + 2 * instr;

	memcpy(f + o->frame_code, &ex, 8);
	memcpy(f + o->frame_instr, &ip, 8);
	memcpy(f + o->frame_back, &prev, 8);
	f[o->frame_owner] = owner;
	return f;
}

static struct pywalk_bpf *load(int depth)
{
	struct pywalk_bpf *skel;

	arena_reset();
	skel = pywalk_bpf__open();
	if (!skel)
		return NULL;
	skel->rodata->py_depth = depth;
	if (pywalk_bpf__load(skel)) {
		pywalk_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

struct code_seen {
	int n;
	struct ap_py_code rec[8];
};

static int on_rec(void *ctx, void *data, size_t size)
{
	struct code_seen *cs = ctx;

	if (size >= sizeof(struct ap_py_code) && cs->n < 8)
		memcpy(&cs->rec[cs->n++], data, sizeof(struct ap_py_code));
	return 0;
}

static int run(struct pywalk_bpf *skel, struct code_seen *cs)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct ring_buffer *rb;
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.test_py_walk), &opts);
	if (err)
		return -errno;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.samples), on_rec, cs, NULL);
	if (!rb)
		return -errno;
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return opts.retval ? -EINVAL : 0;
}

static void result(const char *name)
{
	if (checks_failed) {
		failed++;
		printf("FAIL bpf/%s\n", name);
	} else {
		passed++;
		printf("ok   bpf/%s\n", name);
	}
	checks_failed = 0;
}

/* 3.14: f_executable tagged, shim frames with owner 3 (interpreter) and 4 */
static void test_314(void)
{
	struct ap_py_offsets o;
	struct code_seen cs = { 0 };
	struct pywalk_bpf *skel = load(AP_MAX_PY_FRAMES);
	uint16_t funf[] = { 'f', 0xfc, 'n', 'f' };
	void *code_a, *code_b, *f1, *f2, *f3, *f4;
	unsigned char *tstate = arena(512);
	char *name;
	int i;

	CHECK(skel, "load: %s", strerror(errno));
	if (!skel)
		return result("walk_3_14");
	pyoffsets__for_version(14, &o);
	code_a = make_code(&o, make_str(&o, "inner", NULL, 5), make_str(&o, "Cls.inner", NULL, 9),
			   make_str(&o, "/app/a.py", NULL, 9), 10);
	code_b = make_code(&o, make_str(&o, NULL, funf, 4), make_str(&o, NULL, funf, 4),
			   make_str(&o, "/app/b.py", NULL, 9), 20);
	f4 = make_iframe(&o, code_b, 1, 0, 3, NULL); /* entry shim: INTERPRETER */
	f3 = make_iframe(&o, code_b, 1, 7, 0, f4);   /* outer Python frame */
	f2 = make_iframe(&o, code_a, 1, 0, 4, f3);   /* a C-stack shim */
	f1 = make_iframe(&o, code_a, 1, 3, 0, f2);   /* innermost */
	memcpy(tstate + o.tstate_frame, &f1, 8);
	skel->bss->test_proc.off = o;
	skel->bss->test_proc.code_type = (uint64_t)fake_code_type;
	skel->bss->test_tstate = (uint64_t)tstate;
	skel->bss->test_tgid = getpid();
	CHECK(run(skel, &cs) == 0, "test run");
	CHECK(skel->bss->out_nr == 4, "frames: %u, want 4", skel->bss->out_nr);
	CHECK(skel->bss->out_py[0].code == (uint64_t)code_a, "tag bits masked off");
	CHECK(skel->bss->out_py[0].instr == 3, "instr %d, want 3", skel->bss->out_py[0].instr);
	CHECK(skel->bss->out_py[1].flags & AP_PYF_SHIM, "owner 4 is a shim");
	CHECK(skel->bss->out_py[1].code == (uint64_t)f2, "a shim carries its own address");
	CHECK(skel->bss->out_py[2].code == (uint64_t)code_b && skel->bss->out_py[2].instr == 7,
	      "outer frame");
	CHECK(skel->bss->out_py[3].flags & AP_PYF_SHIM, "owner 3 is a shim on 3.14");
	CHECK(skel->bss->out_py[3].code == (uint64_t)f4, "the entry shim's address");
	CHECK(!(skel->bss->out_flags & (AP_SPY_ERROR | AP_SPY_TRUNC)), "flags %#x",
	      skel->bss->out_flags);
	CHECK(cs.n == 2, "code records: %d, want 2", cs.n);
	for (i = 0; i < cs.n; i++) {
		struct ap_py_code *r = &cs.rec[i];

		name = r->qualname_len ? py_str_utf8(r->qualname, r->qualname_len, r->qualname_kind)
				       : strdup("");
		if (r->code == (uint64_t)code_a) {
			CHECK(!strcmp(name, "Cls.inner"), "qualname %s", name);
			CHECK(r->firstlineno == 10, "firstlineno %d", r->firstlineno);
			CHECK(r->linetable_len == 4 && r->linetable[0] == 0x80, "line table copied");
		} else {
			CHECK(!strcmp(name, "f\xc3\xbcnf"), "UCS-2 name decoded: %s", name);
		}
		free(name);
	}
	pywalk_bpf__destroy(skel);
	result("walk_3_14");
}

/* 3.14t: the 32-byte object header, 3.14t's str state, a thread-local
 * bytecode copy (tlbc_index 2: instr_ptr points into co_tlbc->entries[2]),
 * and the gil struct's `enabled`: off gives AP_SPY_NOGIL, on (PYTHON_GIL=1)
 * the GIL flag from last_holder @16 and locked @24 */
static void test_314t(void)
{
	struct ap_py_offsets o;
	struct code_seen cs = { 0 };
	struct pywalk_bpf *skel = load(AP_MAX_PY_FRAMES);
	unsigned char *tstate = arena(512), *interp = arena(64), *gil = arena(256);
	unsigned char *copy = arena(256);
	uint64_t *tlbc = arena(64);
	void *code, *f1, *f2, *p;
	int32_t idx = 2;
	char *name;

	CHECK(skel, "load: %s", strerror(errno));
	if (!skel)
		return result("walk_3_14t");
	pyoffsets__for_version(14, &o);
	/* as from_debug_ft() reads a 3.14.7t's _Py_DebugOffsets (test_pydebug.c) */
	o.obj_head = 32, o.str_kind_shift = 8, o.str_ascii_data = 56, o.str_compact_data = 72;
	o.code_filename = 128, o.code_name = 136, o.code_qualname = 144, o.code_linetable = 152;
	o.code_firstlineno = 84, o.code_adaptive = 232, o.code_tlbc = 224;
	o.frame_owner = 78, o.frame_tlbc = 72;
	o.gil_enabled = 0, o.gil_holder = 16, o.gil_locked = 24;
	code = make_code(&o, make_str(&o, "work", NULL, 4), make_str(&o, "Pool.work", NULL, 9),
			 make_str(&o, "/app/w.py", NULL, 9), 30);
	tlbc[0] = 3;                             /* _PyCodeArray.size */
	tlbc[1] = (uint64_t)code + o.code_adaptive; /* entries[0]: co_code_adaptive */
	tlbc[3] = (uint64_t)copy;                /* entries[2]: this thread's copy */
	p = tlbc;
	memcpy((unsigned char *)code + o.code_tlbc, &p, 8);
	f2 = make_iframe(&o, code, 1, 4, 0, NULL); /* index 0: co_code_adaptive */
	f1 = make_iframe(&o, code, 1, 0, 0, f2);
	p = copy + 2 * 5;                        /* instruction 5 of the copy */
	memcpy((unsigned char *)f1 + o.frame_instr, &p, 8);
	memcpy((unsigned char *)f1 + o.frame_tlbc, &idx, 4);
	memcpy(tstate + o.tstate_frame, &f1, 8);
	p = interp;
	memcpy(tstate + o.tstate_interp, &p, 8);
	p = gil;
	memcpy(interp + o.interp_gil_ptr, &p, 8);
	skel->bss->test_proc.off = o;
	skel->bss->test_proc.code_type = (uint64_t)fake_code_type;
	skel->bss->test_tstate = (uint64_t)tstate;
	skel->bss->test_tgid = getpid();
	CHECK(run(skel, &cs) == 0, "test run");
	CHECK(skel->bss->out_nr == 2, "frames: %u, want 2", skel->bss->out_nr);
	CHECK(skel->bss->out_py[0].code == (uint64_t)code, "ob_type at 24, tag masked");
	CHECK(skel->bss->out_py[0].instr == 5, "tlbc copy: instr %d, want 5",
	      skel->bss->out_py[0].instr);
	CHECK(skel->bss->out_py[1].instr == 4, "index 0: instr %d, want 4",
	      skel->bss->out_py[1].instr);
	CHECK(skel->bss->out_gil == AP_SPY_NOGIL, "GIL off: %#x", skel->bss->out_gil);
	CHECK(cs.n == 1, "code records: %d, want 1", cs.n);
	if (cs.n == 1) {
		struct ap_py_code *r = &cs.rec[0];

		name = py_str_utf8(r->qualname, r->qualname_len, r->qualname_kind);
		CHECK(!strcmp(name, "Pool.work"), "qualname %s", name);
		free(name);
		name = py_str_utf8(r->filename, r->filename_len, r->filename_kind);
		CHECK(!strcmp(name, "/app/w.py"), "filename %s", name);
		free(name);
		CHECK(r->firstlineno == 30, "firstlineno %d", r->firstlineno);
		CHECK(r->linetable_len == 4 && r->linetable[0] == 0x80, "line table copied");
	}
	/* PYTHON_GIL=1: enabled, locked, this thread the last holder */
	*(int32_t *)gil = 1;
	*(int32_t *)(gil + 24) = 1;
	p = tstate;
	memcpy(gil + 16, &p, 8);
	cs.n = 0;
	CHECK(run(skel, &cs) == 0, "test run, GIL on");
	CHECK(skel->bss->out_gil == (AP_SPY_GIL_KNOWN | AP_SPY_GIL), "GIL on, held: %#x",
	      skel->bss->out_gil);
	pywalk_bpf__destroy(skel);
	result("walk_3_14t");
}

/* 3.11: is_entry flags groups; a chain deeper than --py-depth is cut */
static void test_311_truncated(void)
{
	struct ap_py_offsets o;
	struct code_seen cs = { 0 };
	struct pywalk_bpf *skel = load(4);
	unsigned char *tstate = arena(512), *cframe = arena(64);
	void *code, *f = NULL;
	int i;

	CHECK(skel, "load: %s", strerror(errno));
	if (!skel)
		return result("walk_3_11_truncated");
	pyoffsets__for_version(11, &o);
	code = make_code(&o, make_str(&o, "rec", NULL, 3), make_str(&o, "rec", NULL, 3),
			 make_str(&o, "r.py", NULL, 4), 1);
	for (i = 0; i < 10; i++)
		f = make_iframe(&o, code, 0, i, i == 5 /* is_entry */, f);
	memcpy(cframe + o.cframe_current, &f, 8);
	memcpy(tstate + o.tstate_frame, &cframe, 8);
	skel->bss->test_proc.off = o;
	skel->bss->test_proc.code_type = (uint64_t)fake_code_type;
	skel->bss->test_tstate = (uint64_t)tstate;
	CHECK(run(skel, &cs) == 0, "test run");
	CHECK(skel->bss->out_nr == 4, "frames: %u, want the limit 4", skel->bss->out_nr);
	CHECK(skel->bss->out_flags & AP_SPY_TRUNC, "truncation flagged");
	CHECK(skel->bss->out_py[0].instr == 9 && skel->bss->out_py[3].instr == 6,
	      "innermost frames kept");
	CHECK(cs.n == 1, "one code object sent once: %d", cs.n);
	pywalk_bpf__destroy(skel);
	result("walk_3_11_truncated");
}

/* a frame whose code object fails the PyCode_Type check stops the walk */
static void test_bad_code(void)
{
	struct ap_py_offsets o;
	struct code_seen cs = { 0 };
	struct pywalk_bpf *skel = load(AP_MAX_PY_FRAMES);
	unsigned char *tstate = arena(512), *fobj = arena(256), *bogus = arena(512);
	void *f1;

	CHECK(skel, "load: %s", strerror(errno));
	if (!skel)
		return result("walk_bad_code");
	pyoffsets__for_version(10, &o);
	memcpy(fobj + o.frame_code, &bogus, 8); /* ob_type of bogus is 0 */
	f1 = fobj;
	memcpy(tstate + o.tstate_frame, &f1, 8);
	skel->bss->test_proc.off = o;
	skel->bss->test_proc.code_type = (uint64_t)fake_code_type;
	skel->bss->test_tstate = (uint64_t)tstate;
	CHECK(run(skel, &cs) == 0, "test run");
	CHECK(skel->bss->out_nr == 0 && (skel->bss->out_flags & AP_SPY_ERROR),
	      "stopped with an error: nr %u flags %#x", skel->bss->out_nr, skel->bss->out_flags);
	CHECK(cs.n == 0, "nothing sent");
	pywalk_bpf__destroy(skel);
	result("walk_bad_code");
}

int main(void)
{
	if (geteuid()) {
		fprintf(stderr, "bpf tests need root (they load BPF programs)\n");
		printf("0 passed, 1 failed\n");
		return 1;
	}
	test_314();
	test_314t();
	test_311_truncated();
	test_bad_code();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
