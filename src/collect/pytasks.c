// SPDX-License-Identifier: MIT
/* asyncio task names (CPython 3.14+): an on-CPU sample carries the Task its
 * thread runs (bpf/python.bpf.h, aux[0]); the Task's name and its
 * coroutine's code object are read from the process's memory once per
 * (pid, Task address) on a helper thread (src/python/pythreads.c, bounded
 * in reads and time) and kept as a "[task NAME]" frame, which the splice
 * puts just under the task's coroutine frame (src/collect/stacks.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "collect/collect.h"
#include "log.h"
#include "python/pythreads.h"
#include "util.h"

struct pt_key {
	uint64_t task;
	uint32_t tgid, pad;        /* tgid at offset 8: drop_dead() in core.c */
};

void collect_pytask_begin(struct cpu_collector *cc, const struct ap_cpu_sample *s)
{
	struct pt_key k = { s->aux[0], s->tgid, 0 };
	char name[AP_PYTHREAD_NAME_MAX], label[AP_PYTHREAD_NAME_MAX + 8];
	struct ap_image *img;
	struct ap_proc *proc;
	struct py_target tg;
	uint64_t v, code = 0, *n;
	bool is_new;
	int err;

	cc->task_on = false;
	cc->task_code = 0;
	cc->task_placed = false;
	if (s->type != AP_REC_SAMPLE || !s->aux[0] || !s->nr_py)
		return;
	if (hmap_get(&cc->pytasks, &k, sizeof(k), &v)) {
		cc->task_frame = v;
		cc->task_on = true;
		hmap_get(&cc->pytask_code, &k, sizeof(k), &cc->task_code);
		return;
	}
	if (cc->pytasks.len >= AP_PYTASKS_MAX || collect_pynames_hung(cc, s->tgid)) {
		cc->pytasks_capped++;
		return;
	}
	proc = procmaps__find(&cc->ses->pm, s->tgid);
	img = proc ? proc__image_at(proc, UINT64_MAX) : NULL;
	if (!img || img->py_minor < 14 || pythreads__target(s->tgid, img, &tg))
		return;
	if (cc->pytask_reads.len >= AP_PY_ARG0_PIDS_MAX)
		hmap_free(&cc->pytask_reads); /* counted afresh (also at each slow tick) */
	n = hmap_upsert(&cc->pytask_reads, &s->tgid, sizeof(s->tgid), 0, &is_new);
	if (*n >= AP_PYTASK_READS_MAX) {
		cc->pytasks_capped++;
		return;
	}
	++*n;
	cc->pytask_reads_total++;
	err = pythreads__task_name_bounded(&tg, s->aux[0], name, sizeof(name), &code,
					   AP_PYNAMES_WAIT_NS);
	if (err == -ETIMEDOUT) { /* as a thread name read's: the pid is not read again */
		collect_pynames_timed_out(cc, s->tgid);
		return;
	}
	if (err) {
		cc->pytask_failed++;
		ap_debug("python: pid %u: task %#llx: reading its name: %s", s->tgid,
			 (unsigned long long)s->aux[0], ap_errstr(err));
		snprintf(name, sizeof(name), "?");
	}
	snprintf(label, sizeof(label), "[task %s]", name);
	cc->task_frame = profile__py_frame(&cc->ses->prof, label, AP_NONE, 0);
	cc->task_code = code;
	cc->task_on = true;
	hmap_put(&cc->pytasks, &k, sizeof(k), cc->task_frame);
	hmap_put(&cc->pytask_code, &k, sizeof(k), code);
}

/* the task frame goes before frame f (root first) if f runs the task's
 * coroutine and the frame is not placed yet */
bool collect_pytask_before(struct cpu_collector *cc, const struct ap_py_frame *f)
{
	if (!cc->task_on || cc->task_placed || !cc->task_code ||
	    (f->flags & AP_PYF_SHIM) || f->code != cc->task_code)
		return false;
	cc->task_placed = true;
	return true;
}

/* not placed (its coroutine not in the stack: sampled in the Task's own
 * C code, or cut at --py-depth): before the first Python frame of
 * out[0..n) (root first); returns the new length */
uint32_t collect_pytask_end(struct cpu_collector *cc, uint32_t *out, uint32_t n)
{
	const struct profile *p = &cc->ses->prof;
	uint32_t i;

	if (!cc->task_on || cc->task_placed)
		return n;
	for (i = 0; i < n && p->frames[out[i]].kind != AP_FRAME_PYTHON; i++)
		;
	if (i == n)
		return n;
	memmove(out + i + 1, out + i, (n - i) * sizeof(*out));
	out[i] = cc->task_frame;
	cc->task_placed = true;
	return n + 1;
}

void collect_pytasks_free(struct cpu_collector *cc)
{
	hmap_free(&cc->pytasks);
	hmap_free(&cc->pytask_code);
	hmap_free(&cc->pytask_reads);
}
