// SPDX-License-Identifier: MIT
/* asyncio task names (CPython 3.14+): an on-CPU sample carries the Task its
 * thread runs (bpf/python.bpf.h, aux[0]); the Task's name and its
 * coroutine's code object are read from the process's memory once per
 * (pid, Task address, Task name object: aux[1]) on a helper thread
 * (src/python/pythreads.c, bounded in time), within a budget of reads per
 * AP_PYTASK_WINDOW_NS (time for all processes, a count per process; what
 * it leaves out is "[task ?]", not kept, read at a later sample), and
 * kept as a "[task NAME]" frame, which the splice
 * puts just under the task's coroutine frame (src/collect/stacks.c).
 * At the attach (-p), the tasks not running: each 3.14+ process's task
 * lists, with each suspended task's await chain (collect_pytasks_attach). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "collect/collect.h"
#include "log.h"
#include "python/pythreads.h"
#include "util.h"
#include "profile/profile.h"

/* a Task's address is reused (pymalloc gives a freed Task's block to the
 * next one): its name object, read beside it (aux[1]), tells them apart */
struct pt_key {
	uint64_t task;
	uint32_t tgid, pad;        /* tgid at offset 8: drop_dead() in core.c */
	uint64_t ident;            /* *(task + task_name), 0 if unread */
};

static struct pt_key pt_key(const struct ap_cpu_sample *s)
{
	return (struct pt_key){ s->aux[0], s->tgid, 0, s->aux[1] };
}

int collect_pytask_admit(struct cpu_collector *cc, uint32_t tgid, uint64_t now)
{
	uint64_t *n;
	bool is_new;

	if (now >= cc->pytask_window_end) { /* a new window: budgets afresh */
		cc->pytask_window_end = now + AP_PYTASK_WINDOW_NS;
		cc->pytask_spent_ns = 0;
		hmap_free(&cc->pytask_reads);
	}
	if (cc->pytask_spent_ns >= AP_PYTASK_BUDGET_NS) {
		cc->pytask_deferred++;
		return -EAGAIN;
	}
	if (cc->pytask_reads.len >= AP_PY_ARG0_PIDS_MAX)
		hmap_free(&cc->pytask_reads); /* counted afresh */
	n = hmap_upsert(&cc->pytask_reads, &tgid, sizeof(tgid), 0, &is_new);
	if (*n >= AP_PYTASK_READS_MAX) {
		cc->pytask_deferred++;
		return -EDQUOT;
	}
	++*n;
	return 0;
}

void collect_pytask_spent(struct cpu_collector *cc, uint64_t ns)
{
	cc->pytask_spent_ns += ns;
}

/* the frame of s's task: "[task NAME]", or "[task ?]" (name NULL: not
 * read). Kept for the Task unless a read failed fewer than
 * AP_PYTASK_TRIES times for it (tried again) or was not made (deferred) */
void collect_pytask_result(struct cpu_collector *cc, const struct ap_cpu_sample *s,
			   const char *name, uint64_t code, bool failed)
{
	char label[AP_PYTHREAD_NAME_MAX + 8];
	struct pt_key k = pt_key(s);
	bool keep = name != NULL, is_new;
	uint64_t *fails;

	if (failed) {
		fails = hmap_upsert(&cc->pytask_fails, &k, sizeof(k), 0, &is_new);
		keep = ++*fails >= AP_PYTASK_TRIES;
	}
	snprintf(label, sizeof(label), "[task %s]", name ? name : "?");
	cc->task_frame = profile__py_frame(&cc->ses->prof, label, AP_NONE, 0);
	cc->task_code = name ? code : 0;
	cc->task_on = true;
	if (!keep)
		return;
	hmap_put(&cc->pytasks, &k, sizeof(k), cc->task_frame);
	hmap_put(&cc->pytask_code, &k, sizeof(k), cc->task_code);
}

void collect_pytask_begin(struct cpu_collector *cc, const struct ap_cpu_sample *s)
{
	struct pt_key k = pt_key(s);
	char name[AP_PYTHREAD_NAME_MAX];
	struct ap_image *img;
	struct ap_proc *proc;
	struct py_target tg;
	uint64_t v, code = 0, t0;
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
	t0 = now_mono_ns();
	if (collect_pytask_admit(cc, s->tgid, t0)) {
		/* over this window's budget: read at a later sample */
		collect_pytask_result(cc, s, NULL, 0, false);
		return;
	}
	cc->pytask_reads_total++;
	err = pythreads__task_name_bounded(&tg, s->aux[0], name, sizeof(name), &code,
					   AP_PYNAMES_WAIT_NS);
	collect_pytask_spent(cc, now_mono_ns() - t0);
	if (err == -ETIMEDOUT) { /* as a thread name read's: the pid is not read again */
		collect_pynames_timed_out(cc, s->tgid);
		return;
	}
	if (err) {
		cc->pytask_failed++;
		ap_debug("python: pid %u: task %#llx: reading its name: %s", s->tgid,
			 (unsigned long long)s->aux[0], ap_errstr(err));
	}
	collect_pytask_result(cc, s, err ? NULL : name, code, err != 0);
}

/* m without pid's entries (tgid at offset 8 of the key) */
static void drop_pid(struct hmap *m, uint32_t pid)
{
	struct hmap out = { 0 };
	uint32_t tgid;
	size_t i;
	bool any = false;

	for (i = 0; i < m->cap && !any; i++)
		any = m->ents[i].key && !memcmp((char *)m->ents[i].key + 8, &pid, sizeof(pid));
	if (!any)
		return;
	for (i = 0; i < m->cap; i++) {
		if (!m->ents[i].key)
			continue;
		memcpy(&tgid, (char *)m->ents[i].key + 8, sizeof(tgid));
		if (tgid != pid)
			hmap_put(&out, m->ents[i].key, m->ents[i].klen, m->ents[i].val);
	}
	hmap_free(m);
	*m = out;
}

void collect_pytasks_exec(struct cpu_collector *cc, uint32_t pid)
{
	/* the new program's Tasks are other objects, at addresses the old
	 * one's may have had */
	drop_pid(&cc->pytasks, pid);
	drop_pid(&cc->pytask_code, pid);
	drop_pid(&cc->pytask_fails, pid);
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
	hmap_free(&cc->pytask_fails);
}

/* one process's suspended tasks into the profile; false when its memory
 * did not answer */
static bool attach_pid(struct cpu_collector *cc, uint32_t pid, struct py_async_task *buf)
{
	struct ap_async_frame fr[AP_PYASYNC_DEPTH];
	struct pyasync_stats st = { 0 };
	struct profile *p = &cc->ses->prof;
	struct ap_proc *proc = procmaps__find(&cc->ses->pm, pid);
	struct ap_image *img = proc ? proc__image_at(proc, UINT64_MAX) : NULL;
	size_t max = AP_PYASYNC_ALL - cc->atasks.listed;
	struct py_target tg;
	int n, i;
	uint32_t j;

	if (!img || img->py_minor < 14 || pythreads__target(pid, img, &tg))
		return true; /* no task lists before 3.14: nothing to say */
	if (max > AP_PYASYNC_TASKS)
		max = AP_PYASYNC_TASKS;
	n = pythreads__async_tasks_bounded(&tg, buf, max, &st, AP_PYNAMES_WAIT_NS);
	if (n == -ETIMEDOUT) {
		collect_pynames_timed_out(cc, pid);
		cc->atasks.skipped++;
		return false;
	}
	if (n < 0) {
		ap_debug("python: pid %u: reading its asyncio tasks: %s", pid, ap_errstr(n));
		cc->atasks.skipped++;
		return true;
	}
	p->has_atasks = true;
	cc->atasks.capped += st.capped;
	cc->atasks.failed += st.failed;
	cc->atasks.cut += st.cut;
	cc->atasks.incomplete += st.incomplete;
	for (i = 0; i < n; i++) {
		struct ap_async_task t = { .pid = pid, .tid = buf[i].tid, .name = buf[i].name,
					   .waits = buf[i].waits, .cut = buf[i].cut,
					   .nr_chain = buf[i].depth, .chain = fr };

		for (j = 0; j < buf[i].depth && j < AP_PYASYNC_DEPTH; j++) {
			const struct py_async_frame *f = &buf[i].chain[j];

			fr[j] = (struct ap_async_frame){ (char *)f->func, (char *)f->file,
							 f->line > 0 ? (uint32_t)f->line : 0 };
		}
		profile__add_async_task(p, &t);
	}
	cc->atasks.listed += n;
	return true;
}

void collect_pytasks_attach(struct cpu_collector *cc)
{
	const struct ap_options *o = &cc->ses->opts;
	uint64_t end = now_mono_ns() + AP_PYASYNC_ATTACH_NS;
	struct py_async_task *buf;
	int i;

	/* attach mode only: --all's processes are many, a launched one has
	 * no tasks yet; shown beside the threads blocked since before
	 * profiling, with the off-CPU collector (offcpu.json) */
	if (!o->nr_pids || o->argv || o->all || o->no_offcpu)
		return;
	buf = xcalloc(AP_PYASYNC_TASKS, sizeof(*buf));
	for (i = 0; i < o->nr_pids; i++) {
		if (cc->atasks.listed >= AP_PYASYNC_ALL || now_mono_ns() > end ||
		    collect_pynames_hung(cc, o->pids[i])) {
			cc->atasks.skipped++;
			continue;
		}
		attach_pid(cc, o->pids[i], buf);
	}
	free(buf);
}

void collect_pytasks_counters(struct cpu_collector *cc, struct profile *into)
{
	profile__set_counter(into, "python_async_tasks", cc->atasks.listed);
	profile__set_counter(into, "python_async_tasks_capped", cc->atasks.capped);
	profile__set_counter(into, "python_async_task_failures", cc->atasks.failed);
	profile__set_counter(into, "python_async_chains_cut", cc->atasks.cut);
	profile__set_counter(into, "python_async_reads_incomplete", cc->atasks.incomplete);
	profile__set_counter(into, "python_async_processes_skipped", cc->atasks.skipped);
}
