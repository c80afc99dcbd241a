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

		if (m->sf == img->py_sf && !symfile__eval_cold(m->sf, &cold) && cold == start)
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

/*
 * Splice Python frames into the native stack. BPF gives frames innermost
 * first; they fall into groups, one per C-level activation of the eval loop:
 * one frame each up to 3.10, up to the is_entry frame on 3.11, between shim
 * frames on 3.12+. Native eval activations are paired with groups from the
 * innermost outwards, so a native stack cut short at its root, or a Python
 * stack cut at its depth limit, still line up at the leaf where it matters.
 * Outer groups without an activation go before the outermost one.
 */
static uint32_t splice(struct cpu_collector *cc, const struct ap_cpu_sample *s, int minor,
		       const uint32_t *native, int nu, uint32_t *out)
{
	struct profile *p = &cc->ses->prof;
	uint16_t gstart[AP_MAX_PY_FRAMES], gend[AP_MAX_PY_FRAMES];
	int ng = 0, cur = -1, nact = 0, act, i, g, j;
	uint32_t n = 0;

	for (i = 0; i < s->nr_py && i < AP_MAX_PY_FRAMES; i++) {
		const struct ap_py_frame *f = &s->py[i];

		if (f->flags & AP_PYF_SHIM) {
			if (cur >= 0)
				ng++;
			cur = -1;
			continue;
		}
		if (cur < 0) {
			cur = ng;
			gstart[cur] = i;
		}
		gend[cur] = i;
		if (minor <= 10 || (minor == 11 && (f->flags & AP_PYF_ENTRY))) {
			ng++;
			cur = -1;
		}
	}
	if (cur >= 0)
		ng++;
	for (i = 0; i < nu; i++)
		nact += is_eval_frame(p, native[i]);

	act = nact; /* activations still to meet, counted from the innermost */
	for (i = nu - 1; i >= 0; i--) {
		out[n++] = native[i];
		if (!is_eval_frame(p, native[i]))
			continue;
		act--;
		/* the outermost activation also takes the groups beyond nact */
		for (g = act == nact - 1 ? ng - 1 : act; g >= act; g--) {
			if (g >= ng)
				continue;
			if (g == ng - 1 && (s->py_flags & AP_SPY_TRUNC))
				out[n++] = trunc_frame(p);
			for (j = gend[g]; j >= gstart[g]; j--)
				out[n++] = python_frame(cc, s->tgid, &s->py[j]);
		}
	}
	if (!nact && ng && (s->py_flags & AP_SPY_TRUNC))
		out[n++] = trunc_frame(p);
	if (!nact) /* no eval loop found natively: Python frames at the leaf */
		for (g = ng - 1; g >= 0; g--)
			for (j = gend[g]; j >= gstart[g]; j--)
				out[n++] = python_frame(cc, s->tgid, &s->py[j]);
	return n;
}

/* Unwind, symbolize and intern the stack of a sample-shaped record; kernel
 * frames kf[0..nk) innermost first. AP_NONE for a malformed record. */
uint32_t collect_record_stack(struct cpu_collector *cc, const struct ap_cpu_sample *s, size_t size,
			      const uint64_t *kf, int nk)
{
	struct ap_session *ses = cc->ses;
	uint64_t pcs[AP_MAX_UFRAMES];
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

		nu = img ? unwind_user(img, &uc, pcs, AP_MAX_UFRAMES) : (pcs[0] = s->regs[16], 1);
		cc->unwind_frames += nu;
	}
	/* leaf first; callers are looked up inside their call instruction */
	for (i = 0; i < nu; i++)
		native[i] = user_frame(cc, img, i ? pcs[i] - 1 : pcs[i]);
	if (s->nr_py && img && img->py_minor > 0) {
		n = splice(cc, s, img->py_minor, native, nu, cc->frames);
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

