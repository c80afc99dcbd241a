// SPDX-License-Identifier: MIT
/* The unwind/symbolize glue every collector's records go through: a
 * sample-shaped record -> the mappings of its time -> libdw unwind ->
 * symbols -> Python frames spliced in -> an interned stack; and the
 * off-CPU stack identities the kernel's aggregates refer to. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect/collect.h"
#include "log.h"
#include "python/pythreads.h"
#include "unwind/unwind.h"
#include "util.h"

/* C++ names: the demangler of libstdc++ (the Itanium ABI's own), rather
 * than a hand-written one; returns malloc'ed text or NULL */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* AP_TEST_NO_EVAL_NAME (tests only): the eval loop has no usable name, as
 * on a stripped build before 376632c: no frame is named
 * _PyEval_EvalFrameDefault.cold and none is paired by name, so splicing
 * must find the activations by address */
static bool test_no_eval_name(void)
{
	static int v = -1;

	if (v < 0)
		v = getenv("AP_TEST_NO_EVAL_NAME") != NULL;
	return v;
}

static uint32_t kernel_frame(struct cpu_collector *cc, uint64_t pc)
{
	struct profile *p = &cc->ses->prof;
	const char *name = NULL, *mod = NULL;
	uint64_t *slot, off;
	bool is_new;
	uint32_t m = AP_NONE;

	slot = hmap_upsert(&cc->kcache, &pc, sizeof(pc), 0, &is_new);
	if (!is_new)
		return *slot;
	if (cc->ses->ks)
		name = kallsyms__lookup(cc->ses->ks, pc, &mod, &off);
	m = profile__module(p, mod ? mod : "[kernel.kallsyms]", "");
	*slot = profile__frame(p, AP_FRAME_KERNEL, name ? name : "[unknown]", m, name ? pc - off : 0);
	return *slot;
}

/* symbolize one user pc (already adjusted to lie inside its call instruction) */
static uint32_t user_frame(struct cpu_collector *cc, const struct ap_image *img, uint64_t pc)
{
	struct profile *p = &cc->ses->prof;
	const struct ap_mapping *m = img ? image__find(img, pc) : NULL;
	struct {
		uint64_t sf_id; /* 0: the vDSO; ids outlive a closed symfile */
		uint64_t vaddr;
	} key;
	const char *name;
	char *dem, fn[300];
	uint64_t *slot, off, vaddr, start;
	bool is_new;
	uint32_t mod;
	int st;

	if (!m)
		return profile__frame(p, AP_FRAME_USER, "[unknown]", AP_NONE, 0);
	if (!m->sf) {
		if (m->special) /* "[vdso]" */
			return profile__frame(p, AP_FRAME_USER, m->path, AP_NONE, 0);
		if (!m->path || m->path[0] != '/')
			return profile__frame(p, AP_FRAME_USER, "[anon]", AP_NONE, 0);
		mod = profile__module(p, m->path, "");
		return profile__frame(p, AP_FRAME_USER, "[unknown]", mod, 0);
	}
	vaddr = pc - m->bias;
	memset(&key, 0, sizeof(key));
	key.sf_id = m->sf_id;
	key.vaddr = vaddr;
	slot = hmap_upsert(&cc->ucache, &key, sizeof(key), 0, &is_new);
	if (!is_new)
		return *slot;
	/* the vDSO's file is our memfd copy; name it as the process does */
	mod = profile__module(p, m->special ? m->path : m->sf->path, m->sf->build_id);
	if (m->sf == img->py_sf)
		p->modules[mod].flags |= AP_MOD_PY_RUNTIME;
	name = symfile__lookup(m->sf, vaddr, &off);
	if (!name && !symfile__fde_start(m->sf, vaddr, &start)) {
		/* no symbol, but .eh_frame knows the function: one frame per
		 * function ("libz.so.1+0x3a10"), not one per module */
		const char *base = strrchr(m->path, '/');
		uint64_t cold;

		if (m->sf == img->py_sf && !test_no_eval_name() && !symfile__eval_cold(m->sf, &cold) &&
		    cold == start)
			/* the eval loop of a stripped PGO build: named, so that
			 * Python frames are spliced in where it runs */
			snprintf(fn, sizeof(fn), "_PyEval_EvalFrameDefault.cold");
		else
			snprintf(fn, sizeof(fn), "%s+%#llx", base ? base + 1 : m->path,
				 (unsigned long long)start);
		*slot = profile__frame(p, AP_FRAME_USER, fn, mod, start);
		return *slot;
	}
	dem = name && name[0] == '_' && name[1] == 'Z' ? __cxa_demangle(name, NULL, NULL, &st) : NULL;
	*slot = profile__frame(p, AP_FRAME_USER, dem ? dem : name ? name : "[unknown]", mod,
			       name ? vaddr - off : 0);
	free(dem);
	return *slot;
}

static uint32_t python_frame(struct cpu_collector *cc, uint32_t tgid, const struct ap_py_frame *f)
{
	struct profile *p = &cc->ses->prof;
	struct {
		uint64_t code;
		uint32_t tgid, sig;
		int32_t instr, pad;
	} key = { f->code, tgid, f->sig, f->instr, 0 };
	const struct py_code *pc;
	uint64_t id;
	int line;

	if (hmap_get(&cc->pyframes, &key, sizeof(key), &id))
		return id;
	pc = pycode__find(&cc->pyc, tgid, f->code, f->sig);
	if (!pc) {
		/* its code record was deferred to a later sample (BPF copies a
		 * few per sample) or could not be read: a placeholder, unique
		 * per key, named by py_fixup() if the record arrives */
		char name[64];

		snprintf(name, sizeof(name), "[unknown code %#llx:%u:%d]",
			 (unsigned long long)f->code, f->sig, f->instr);
		id = profile__py_frame(p, name, AP_NONE, 0);
		hmap_put(&cc->pyframes, &key, sizeof(key), id);
		GROW(cc->pending, cc->cap_pending, cc->nr_pending + 1);
		cc->pending[cc->nr_pending++] = (struct py_pending){
			id, tgid, f->sig, f->code, f->instr };
		return id;
	}
	if (pc->internal) { /* CPython's own code (_Py_InitCleanup): not shown */
		hmap_put(&cc->pyframes, &key, sizeof(key), AP_NONE);
		return AP_NONE;
	}
	line = pycode__line(pc, f->instr);
	id = profile__py_frame(p, pc->qualname, profile__module(p, pc->filename, ""),
			       line > 0 ? line : 0);
	hmap_put(&cc->pyframes, &key, sizeof(key), id);
	return id;
}

/* the frames python_frame() hid (AP_NONE) taken out; how many are left */
static uint32_t drop_hidden(uint32_t *frames, uint32_t n)
{
	uint32_t i, k = 0;

	for (i = 0; i < n; i++)
		if (frames[i] != AP_NONE)
			frames[k++] = frames[i];
	return k;
}

/* name the placeholder frames whose code record has arrived since */
void collect_py_fixup(struct cpu_collector *cc, bool final)
{
	struct profile *p = &cc->ses->prof;
	size_t i, keep = 0;

	for (i = 0; i < cc->nr_pending; i++) {
		struct py_pending *pd = &cc->pending[i];
		const struct py_code *pc = pycode__find(&cc->pyc, pd->tgid, pd->code, pd->sig);
		struct ap_frame *f = &p->frames[pd->frame];
		int line;

		if (pc) {
			line = pycode__line(pc, pd->instr);
			f->name = profile__str(p, pc->qualname);
			f->module = profile__module(p, pc->filename, "");
			f->line = line > 0 ? line : 0;
		} else if (final) {
			f->name = profile__str(p, "[unknown code]");
			cc->py_unknown_code++;
		} else {
			cc->pending[keep++] = *pd;
		}
	}
	cc->nr_pending = keep;
}

/* stands where the frames beyond --py-depth were: a cut stack is visible */
static uint32_t trunc_frame(struct profile *p)
{
	return profile__py_frame(p, "[truncated]", AP_NONE, 0);
}

static bool is_eval_frame(const struct profile *p, uint32_t frame)
{
	/* includes GCC's split-off "_PyEval_EvalFrameDefault.cold" */
	return !strncmp(profile__s(p, p->frames[frame].name), "_PyEval_EvalFrameDefault", 24);
}

/* Python frames grouped per C-level activation of the eval loop, innermost
 * first: one frame each up to 3.10, up to the is_entry frame on 3.11,
 * between shim frames on 3.12+ */
struct py_groups {
	uint16_t start[AP_MAX_PY_FRAMES], end[AP_MAX_PY_FRAMES];
	uint64_t addr[AP_MAX_PY_FRAMES]; /* 3.12+: the shim ending the group, 0 if none */
	int16_t at[AP_MAX_PY_FRAMES];    /* the native frame it is spliced after */
	int n;
};

static void py_group(const struct ap_cpu_sample *s, int minor, struct py_groups *gr)
{
	int cur = -1, i;

	gr->n = 0;
	for (i = 0; i < s->nr_py && i < AP_MAX_PY_FRAMES; i++) {
		const struct ap_py_frame *f = &s->py[i];

		if (f->flags & AP_PYF_SHIM) {
			if (cur >= 0) {
				/* BPF sends a shim's own address (python.bpf.h) */
				gr->addr[cur] = minor >= 12 ? f->code : 0;
				gr->n++;
			}
			cur = -1;
			continue;
		}
		if (cur < 0) {
			cur = gr->n;
			gr->start[cur] = i;
			gr->addr[cur] = 0;
		}
		gr->end[cur] = i;
		if (minor <= 10 || (minor == 11 && (f->flags & AP_PYF_ENTRY))) {
			gr->n++;
			cur = -1;
		}
	}
	if (cur >= 0)
		gr->n++;
}

/* The native frame, from frame `from` outwards, whose stack range
 * [sps[i], sps[i + 1]) holds addr; nu when addr lies beyond the outermost
 * frame unwound (its activation is in the part of the stack not unwound);
 * -1 when it lies in no frame (below the leaf's sp, or in a range whose
 * bounds are unknown or out of order). */
static int frame_holding(const uint64_t *sps, int nu, int from, uint64_t addr)
{
	int i;

	for (i = from; i + 1 < nu; i++) {
		if (!sps[i] || sps[i + 1] <= sps[i] || addr < sps[i])
			return -1;
		if (addr < sps[i + 1])
			return i;
	}
	return nu && sps[nu - 1] && addr >= sps[nu - 1] ? nu : -1;
}

/* 3.12+: each group's activation is the native frame holding the address
 * of the shim that ends it (a local of _PyEval_EvalFrameDefault), whatever
 * that frame is named. The outermost frame unwound, nu - 1, has no known
 * end: an address above its sp is taken as its own when outer_eval (it is
 * an eval loop activation by name, or the native stack is known cut: the
 * unwind stopped inside it) and no group is paired with it yet, else as
 * beyond the stack. Outer groups whose activation was not unwound (a cut
 * native stack) or that have no shim (a Python stack cut at its depth
 * limit) go with the outermost one paired. false when the innermost group
 * has no address, or an address lies in no frame: then pair by name. */
static bool pair_by_address(struct py_groups *gr, const uint64_t *sps, int nu, bool outer_eval)
{
	int g, i, from = 0, last = -1;

	for (g = 0; g < gr->n && gr->addr[g]; g++) {
		i = frame_holding(sps, nu, from, gr->addr[g]);
		if (i < 0)
			return false;
		if (i == nu) {
			if (!outer_eval || (last >= 0 && gr->at[last] == nu - 1))
				break;
			i = nu - 1;
		}
		gr->at[g] = i;
		from = i;
		last = g;
	}
	if (last < 0)
		return false;
	for (g = last + 1; g < gr->n; g++)
		gr->at[g] = gr->at[last];
	return true;
}

int collect_py_pair_by_address(const struct ap_cpu_sample *s, int minor, const uint64_t *sps,
			       int nu, bool outer_eval, int16_t *at)
{
	struct py_groups gr;

	py_group(s, minor, &gr);
	if (!pair_by_address(&gr, sps, nu, outer_eval))
		return -1;
	memcpy(at, gr.at, gr.n * sizeof(*at));
	return gr.n;
}

/* Up to 3.11, and where addresses do not pair: native frames named
 * _PyEval_EvalFrameDefault* are the activations, paired with groups from
 * the innermost outwards, so a native stack cut short at its root, or a
 * Python stack cut at its depth limit, still line up at the leaf where it
 * matters. The outermost activation also takes the groups beyond. false
 * when no native frame has the name. */
static bool pair_by_name(struct cpu_collector *cc, struct py_groups *gr, const uint32_t *native,
			 int nu)
{
	struct profile *p = &cc->ses->prof;
	int g = 0, i, last = -1;

	if (test_no_eval_name())
		return false;
	for (i = 0; i < nu && g < gr->n; i++) {
		if (!is_eval_frame(p, native[i]))
			continue;
		gr->at[g++] = i;
		last = i;
	}
	if (last < 0)
		return false;
	for (; g < gr->n; g++)
		gr->at[g] = last;
	return true;
}

static void emit_group(struct cpu_collector *cc, const struct ap_cpu_sample *s,
		       const struct py_groups *gr, int g, uint32_t *out, uint32_t *n)
{
	int j;

	if (g == gr->n - 1 && (s->py_flags & AP_SPY_TRUNC))
		out[(*n)++] = trunc_frame(&cc->ses->prof);
	for (j = gr->end[g]; j >= gr->start[g]; j--) {
		if (collect_pytask_before(cc, &s->py[j]))
			out[(*n)++] = cc->task_frame;
		out[(*n)++] = python_frame(cc, s->tgid, &s->py[j]);
	}
}

/*
 * Splice Python frames into the native stack (leaf first in native[],
 * their stack pointers in sps[]): each group of Python frames goes right
 * after the native frame of the eval loop activation that runs it, found
 * by address on 3.12+ and by name otherwise. Native frames are never
 * dropped: when neither finds the activations, the Python frames go at the
 * leaf above all native frames, and the sample is counted
 * (python_splice_fallbacks).
 */
static uint32_t splice(struct cpu_collector *cc, const struct ap_cpu_sample *s, int minor,
		       const uint32_t *native, const uint64_t *sps, int nu, uint32_t *out)
{
	struct profile *p = &cc->ses->prof;
	struct py_groups gr;
	uint32_t n = 0;
	bool outer_eval;
	int i, g;

	py_group(s, minor, &gr);
	/* the outermost frame unwound may hold a shim: it is an eval loop
	 * activation, or the unwind stopped at its frame cap */
	outer_eval = nu > 0 && (nu >= AP_MAX_UFRAMES ||
				(!test_no_eval_name() && is_eval_frame(p, native[nu - 1])));
	if (pair_by_address(&gr, sps, nu, outer_eval)) {
		cc->py_splice_addr++;
	} else if (pair_by_name(cc, &gr, native, nu)) {
		cc->py_splice_name++;
	} else {
		for (g = 0; g < gr.n; g++)
			gr.at[g] = -1; /* at the leaf */
		if (gr.n && !cc->py_splice_fallback++)
			ap_info("python: pid %u: no eval loop activation found in the native stack: "
				"Python frames put at the leaf, native frames kept "
				"(python_splice_fallbacks counts such stacks, on and off CPU)",
				s->tgid);
	}
	/* at[] grows with g: walk both from the root */
	g = gr.n - 1;
	for (i = nu - 1; i >= 0; i--) {
		out[n++] = native[i];
		for (; g >= 0 && gr.at[g] == i; g--)
			emit_group(cc, s, &gr, g, out, &n);
	}
	for (; g >= 0; g--)
		emit_group(cc, s, &gr, g, out, &n);
	return collect_pytask_end(cc, out, n);
}

/* Unwind, symbolize and intern the stack of a sample-shaped record; kernel
 * frames kf[0..nk) innermost first. AP_NONE for a malformed record. */
uint32_t collect_record_stack(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size,
			      const uint64_t *kf, int nk)
{
	struct ap_session *ses = cc->ses;
	uint64_t pcs[AP_MAX_UFRAMES], sps[AP_MAX_UFRAMES];
	uint32_t native[AP_MAX_UFRAMES];
	struct ap_image *img = NULL;
	struct ap_proc *proc;
	uint32_t n = 0;
	int i, nu = 0;

	if (size < AP_CPU_SAMPLE_HDR || s->ustack_size > size - AP_CPU_SAMPLE_HDR ||
	    s->nr_kframes > AP_KSTACK_MAX || s->nr_py > AP_MAX_PY_FRAMES) {
		cc->bad_records++;
		return AP_NONE;
	}
	if (ses->opts.all)
		collect_discover(cc, s->tgid);
	proc = procmaps__find(&ses->pm, s->tgid);
	if (proc && proc->released) {
		cc->no_image++; /* a record that came after its exit and release */
		proc = NULL;
	} else if (!proc || !proc->nr_images) {
		/* a process we never saw start (e.g. forked before side-band
		 * tracking began): read it now while it lives */
		if (procmaps__load_proc(&ses->pm, s->tgid, 0) == 0)
			proc = procmaps__find(&ses->pm, s->tgid);
		else
			cc->no_image++;
	}
	if (proc) {
		img = proc__image_at(proc, s->time_ns);
		if (!proc->nr_samples++)
			procmaps__refresh(proc);
		/* first sight of this process (or of its exec); the runtime once known */
		if (!proc->labels || (img && img->py_minor > 0 && !proc->labels->runtime) ||
		    (img && img->py_missing && !proc->labels->py_missing))
			proc__labels(proc);
	}
	if (!(s->flags & AP_SF_KERNEL_THREAD) && s->regs[16]) {
		struct ap_uctx uc = {
			.pid = s->tgid, .tid = s->tid, .regs = (const uint64_t *)s->regs,
			.stack = s->ustack, .stack_size = s->ustack_size,
		};

		nu = img ? unwind_user(img, &uc, pcs, sps, AP_MAX_UFRAMES)
			 : (pcs[0] = s->regs[16], sps[0] = s->regs[7], 1);
		cc->unwind_frames += nu;
	}
	/* leaf first; callers are looked up inside their call instruction */
	for (i = 0; i < nu; i++)
		native[i] = user_frame(cc, img, i ? pcs[i] - 1 : pcs[i]);
	if (s->nr_py && img && img->py_minor > 0) {
		n = splice(cc, s, img->py_minor, native, sps, nu, cc->frames);
	} else {
		for (i = nu - 1; i >= 0; i--)
			cc->frames[n++] = native[i];
	}
	for (i = nk - 1; i >= 0; i--)
		cc->frames[n++] = kernel_frame(cc, kf[i]);
	n = drop_hidden(cc->frames, n);
	return profile__stack(&ses->prof, cc->frames, n);
}

/* kernel frames of an off-CPU stack id (innermost first); how many */
static int off_kstack(struct cpu_collector *cc, int32_t id, uint64_t *kf)
{
	int n;

	if (id < 0 || bpf_map__lookup_elem(cc->skel->maps.off_kstacks, &id, sizeof(id), kf,
					   AP_KSTACK_MAX * sizeof(*kf), 0))
		return 0;
	for (n = 0; n < AP_KSTACK_MAX && kf[n]; n++)
		;
	return n;
}

/* An off-CPU or slow-syscall record: its stack, with the kernel frames of
 * the block; a record carrying a stack identity (aux[3]) names it for the
 * kernel's off-CPU aggregates. AP_NONE if malformed. */
uint32_t collect_blocked_stack(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size)
{
	uint64_t kf[AP_KSTACK_MAX];
	int nk = off_kstack(cc, s->kstack_id, kf);
	uint32_t stack = collect_record_stack(cc, s, size, kf, nk);
	struct off_key key = { s->tgid, 0, s->aux[3] };

	if (stack != AP_NONE && key.sid)
		hmap_put(&cc->off_stacks, &key, sizeof(key), stack);
	return stack;
}

/* A stack for off-CPU time whose user part was never captured: the
 * kernel frames of the block under a marker frame saying why */
uint32_t collect_kernel_only_stack(struct cpu_collector *cc, int32_t kstack, const char *why)
{
	struct profile *p = &cc->ses->prof;
	uint64_t kf[AP_KSTACK_MAX];
	int nk = off_kstack(cc, kstack, kf), i;
	uint32_t n = 0;

	cc->frames[n++] = profile__frame(p, AP_FRAME_USER, why, AP_NONE, 0);
	for (i = nk - 1; i >= 0; i--)
		cc->frames[n++] = kernel_frame(cc, kf[i]);
	return profile__stack(p, cc->frames, n);
}

uint32_t collect_off_stack_of(struct cpu_collector *cc, uint32_t tgid, uint64_t sid, int32_t kstack)
{
	struct off_key key = { tgid, 0, sid };
	uint64_t stack;

	if (sid && hmap_get(&cc->off_stacks, &key, sizeof(key), &stack))
		return stack;
	return collect_kernel_only_stack(cc, kstack, sid ? "[user stack lost]" : "[user stack not captured]");
}

/* May the first argument of one more of tgid's line-1 <string> lambdas
 * be read from its memory? Each read parses /proc/PID/maps (up to 65,536
 * lines) on the record path, and a program that evals a lambda per item
 * makes thousands: AP_PY_ARG0_READS_MAX per process, the rest counted
 * (python_generated_name_reads_capped) and shown as <lambda> (<string>) */
static bool arg0_may_read(struct cpu_collector *cc, uint32_t tgid)
{
	bool is_new;
	uint64_t *n;

	if (collect_pynames_hung(cc, tgid))
		return false;
	if (cc->pyarg0_reads.len >= AP_PY_ARG0_PIDS_MAX)
		hmap_free(&cc->pyarg0_reads); /* pids seen long ago: counted afresh */
	n = hmap_upsert(&cc->pyarg0_reads, &tgid, sizeof(tgid), 0, &is_new);
	if (*n >= AP_PY_ARG0_READS_MAX) {
		cc->pyarg0_capped++;
		return false;
	}
	++*n;
	cc->pyarg0_total++;
	return true;
}

void collect_py_code(struct cpu_collector *cc, const struct ap_py_code *r)
{
	struct ap_proc *proc = procmaps__find(&cc->ses->pm, r->tgid);
	struct ap_image *img = proc ? proc__image_at(proc, UINT64_MAX) : NULL;
	struct py_code *pc = img && img->py_minor > 0 ? pycode__add(&cc->pyc, r, img->py_minor) : NULL;
	char arg0[32] = "", *name;
	struct py_target tg;
	int err;

	if (!pc || strcmp(pc->filename, "<string>"))
		return;
	/* generated by namedtuple or dataclasses: name it for what it is (in
	 * every output, as this is where Python frames get their names) */
	if (pycode__wants_arg0(pc) && arg0_may_read(cc, r->tgid) &&
	    !pythreads__target(r->tgid, img, &tg)) {
		err = pythreads__first_local_bounded(&tg, r->code, arg0, sizeof(arg0),
						     AP_PYNAMES_WAIT_NS);
		if (err)
			arg0[0] = 0;
		if (err == -ETIMEDOUT) /* as a name read's: the pid is not read again */
			collect_pynames_timed_out(cc, r->tgid);
	}
	name = pycode__generated_name(pc, arg0[0] ? arg0 : NULL);
	if (name) {
		free(pc->qualname);
		pc->qualname = name;
	}
}

