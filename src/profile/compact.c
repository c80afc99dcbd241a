// SPDX-License-Identifier: MIT
/* profile__compact(): a window over tables of only what it uses
 * (compact.h). Each stack a row names is interned again in the copy, with
 * its frames, modules and strings, once (memo arrays by source id); the
 * rows are added through the profile's own API, so the copy's indexes and
 * totals are built as a collector would build them. */
#include <stdlib.h>
#include <string.h>
#include "profile/compact.h"
#include "util.h"

struct compact {
	const struct profile *src;
	struct profile *dst;
	uint32_t *mods, *frames, *stacks; /* source id -> id + 1 in dst; 0: not yet */
	uint32_t *buf;
	size_t cap;
};

static uint32_t str(struct compact *c, uint32_t id)
{
	return id ? profile__str(c->dst, profile__s(c->src, id)) : 0;
}

static uint32_t module(struct compact *c, uint32_t id)
{
	const struct ap_module *m;

	if (id >= c->src->nr_modules)
		return AP_NONE;
	if (!c->mods[id]) {
		m = &c->src->modules[id];
		c->mods[id] = profile__module(c->dst, profile__s(c->src, m->path),
					      profile__s(c->src, m->build_id)) + 1;
		c->dst->modules[c->mods[id] - 1].flags |= m->flags;
	}
	return c->mods[id] - 1;
}

static uint32_t frame(struct compact *c, uint32_t id)
{
	const struct ap_frame *f = &c->src->frames[id];
	uint32_t mod;

	if (!c->frames[id]) {
		mod = module(c, f->module);
		c->frames[id] = 1 + (f->kind == AP_FRAME_PYTHON ?
			profile__py_frame(c->dst, profile__s(c->src, f->name), mod, f->line) :
			profile__frame(c->dst, f->kind, profile__s(c->src, f->name), mod, f->addr));
	}
	return c->frames[id] - 1;
}

/* a stack id of the source (AP_NONE and ids out of range stay AP_NONE) */
static uint32_t stack(struct compact *c, uint32_t id)
{
	const struct ap_stack *s;
	uint32_t k;

	if (id >= c->src->nr_stacks)
		return AP_NONE;
	if (!c->stacks[id]) {
		s = &c->src->stacks[id];
		GROW(c->buf, c->cap, s->len + 1);
		for (k = 0; k < s->len; k++)
			c->buf[k] = frame(c, c->src->stack_frames[s->off + k]);
		c->stacks[id] = profile__stack(c->dst, c->buf, s->len) + 1;
	}
	return c->stacks[id] - 1;
}

/* processes and threads first, in the source's order, then the counts */
static void copy_tasks(struct compact *c)
{
	const struct profile *p = c->src;
	size_t i;

	for (i = 0; i < p->nr_procs; i++) {
		const struct ap_process *s = &p->procs[i];
		uint32_t ids[10] = { str(c, s->comm), str(c, s->exe), str(c, s->cmdline),
				     str(c, s->cgroup), str(c, s->container_id), str(c, s->service),
				     str(c, s->runtime), str(c, s->build_id), str(c, s->py_missing),
				     str(c, s->py_missing_why) };
		struct ap_process *d = profile__process(c->dst, s->pid); /* after the strings */

		d->ppid = s->ppid;
		d->comm = ids[0];
		d->exe = ids[1];
		d->cmdline = ids[2];
		d->cgroup = ids[3];
		d->container_id = ids[4];
		d->service = ids[5];
		d->runtime = ids[6];
		d->build_id = ids[7];
		d->py_missing = ids[8];
		d->py_missing_why = ids[9];
		d->exited = s->exited;
		d->exit_status = s->exit_status;
	}
	for (i = 0; i < p->nr_threads; i++) {
		const struct ap_thread *s = &p->threads[i];
		struct ap_thread *d = profile__thread(c->dst, s->pid, s->tid, profile__s(p, s->comm));

		if (s->pyname)
			d->pyname = str(c, s->pyname);
		d->accounted = s->accounted;
		d->start_ns = s->start_ns;
		d->end_ns = s->end_ns;
		d->oncpu_ns = s->oncpu_ns;
		memcpy(d->off_ns, s->off_ns, sizeof(d->off_ns));
		d->nr_vol = s->nr_vol;
		d->nr_invol = s->nr_invol;
	}
	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_count *r = &p->counts[i];

		profile__add(c->dst, r->pid, r->tid, NULL, stack(c, r->stack), r->flags, r->count);
	}
}

static void copy_events(struct compact *c)
{
	const struct profile *p = c->src;
	struct profile *d = c->dst;
	size_t i;

	for (i = 0; i < p->nr_off; i++) {
		const struct ap_off_row *r = &p->off[i];

		profile__add_off(d, r->pid, r->tid, stack(c, r->stack), r->reason, r->ns, r->count);
	}
	for (i = 0; i < p->nr_takers; i++)
		profile__add_taker(d, &p->takers[i]);
	d->takers_dropped += p->takers_dropped;
	for (i = 0; i < p->nr_mem; i++) {
		const struct ap_mem_row *r = &p->mem[i];

		profile__add_mem(d, r->pid, r->tid, stack(c, r->stack), r->kind, r->bytes, r->count);
	}
	for (i = 0; i < p->nr_mem_times; i++) {
		struct ap_mem_time t = p->mem_times[i];

		if (t.stack != AP_NONE)
			t.stack = stack(c, t.stack);
		profile__add_mem_time(d, &t);
	}
	if (p->nr_sys) {
		d->sys = xmalloc(p->nr_sys * sizeof(*d->sys));
		memcpy(d->sys, p->sys, p->nr_sys * sizeof(*d->sys));
		d->nr_sys = d->cap_sys = p->nr_sys;
	}
	if (p->nr_sys_errs) {
		d->sys_errs = xmalloc(p->nr_sys_errs * sizeof(*d->sys_errs));
		memcpy(d->sys_errs, p->sys_errs, p->nr_sys_errs * sizeof(*d->sys_errs));
		d->nr_sys_errs = d->cap_sys_errs = p->nr_sys_errs;
	}
	for (i = 0; i < p->nr_slow; i++) {
		struct ap_slow_call row = p->slow[i];

		row.stack = stack(c, row.stack);
		profile__merge_slow(d, &row);
	}
	for (i = 0; i < p->nr_times; i++) {
		const struct ap_sample_time *t = &p->times[i];

		profile__add_time(d, t->pid, t->tid, stack(c, t->stack), t->t_ns);
	}
	for (i = 0; i < p->nr_ivals; i++) {
		struct ap_interval iv = p->ivals[i];

		iv.stack = stack(c, iv.stack);
		profile__add_interval(d, &iv);
	}
	for (i = 0; i < p->nr_counters; i++)
		profile__set_counter(d, p->counters[i].name, p->counters[i].value);
	for (i = 0; i < p->nr_atasks; i++)
		profile__add_async_task(d, &p->atasks[i]);
}

void profile__compact(const struct profile *win, struct profile *out)
{
	struct compact c = {
		.src = win,
		.dst = out,
		.mods = xcalloc(win->nr_modules + 1, sizeof(uint32_t)),
		.frames = xcalloc(win->nr_frames + 1, sizeof(uint32_t)),
		.stacks = xcalloc(win->nr_stacks + 1, sizeof(uint32_t)),
	};

	profile__init(out);
	copy_tasks(&c);
	copy_events(&c);
	out->has_offcpu = win->has_offcpu;
	out->has_memory = win->has_memory;
	out->has_malloc = win->has_malloc;
	out->mem_period = win->mem_period;
	out->mem_times_dropped += win->mem_times_dropped;
	out->min_block_ns = win->min_block_ns;
	out->has_syscalls = win->has_syscalls;
	out->slow_ns = win->slow_ns;
	out->slow_dropped += win->slow_dropped;
	out->has_timeline = win->has_timeline;
	out->has_takers = win->has_takers;
	out->has_atasks = win->has_atasks;
	out->times_dropped += win->times_dropped;
	out->ivals_dropped += win->ivals_dropped;
	out->interval_min_ns = win->interval_min_ns;
	out->start_mono_ns = win->start_mono_ns;
	out->frequency_hz = win->frequency_hz;
	out->duration_s = win->duration_s;
	free(c.mods);
	free(c.frames);
	free(c.stacks);
	free(c.buf);
}
