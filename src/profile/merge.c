// SPDX-License-Identifier: MIT
/* profile__merge(): one profile from several (merge.h). Every id of src is
 * mapped to dst's by interning its content again, so the tables of the two
 * never need to agree. */
#include <stdlib.h>
#include <string.h>
#include "profile/merge.h"
#include "util.h"

static uint32_t map_str(struct profile *dst, const struct profile *src, uint32_t id)
{
	return id ? profile__str(dst, profile__s(src, id)) : 0;
}

/* src frame ids -> dst frame ids */
static uint32_t *map_frames(struct profile *dst, const struct profile *src)
{
	uint32_t *mods = xcalloc(src->nr_modules + 1, sizeof(*mods));
	uint32_t *frames = xcalloc(src->nr_frames + 1, sizeof(*frames));
	size_t i;

	for (i = 0; i < src->nr_modules; i++) {
		const struct ap_module *m = &src->modules[i];

		mods[i] = profile__module(dst, profile__s(src, m->path), profile__s(src, m->build_id));
		dst->modules[mods[i]].flags |= m->flags;
	}
	for (i = 0; i < src->nr_frames; i++) {
		const struct ap_frame *f = &src->frames[i];
		uint32_t mod = f->module < src->nr_modules ? mods[f->module] : AP_NONE;
		const char *name = profile__s(src, f->name);

		frames[i] = f->kind == AP_FRAME_PYTHON ? profile__py_frame(dst, name, mod, f->line) :
			    profile__frame(dst, f->kind, name, mod, f->addr);
	}
	free(mods);
	return frames;
}

static uint32_t *map_stacks(struct profile *dst, const struct profile *src, const uint32_t *frames)
{
	uint32_t *stacks = xcalloc(src->nr_stacks + 1, sizeof(*stacks)), *buf = NULL;
	size_t i, cap = 0;
	uint32_t k;

	for (i = 0; i < src->nr_stacks; i++) {
		const struct ap_stack *s = &src->stacks[i];

		GROW(buf, cap, s->len + 1);
		for (k = 0; k < s->len; k++)
			buf[k] = frames[src->stack_frames[s->off + k]];
		stacks[i] = profile__stack(dst, buf, s->len);
	}
	free(buf);
	return stacks;
}

static void set_if(uint32_t *dst_id, uint32_t id)
{
	if (id)
		*dst_id = id;
}

static void merge_processes(struct profile *dst, const struct profile *src)
{
	size_t i;

	for (i = 0; i < src->nr_procs; i++) {
		const struct ap_process *s = &src->procs[i];
		uint32_t ids[10] = {
			map_str(dst, src, s->comm), map_str(dst, src, s->exe),
			map_str(dst, src, s->cmdline), map_str(dst, src, s->cgroup),
			map_str(dst, src, s->container_id), map_str(dst, src, s->service),
			map_str(dst, src, s->runtime), map_str(dst, src, s->build_id),
			map_str(dst, src, s->py_missing), map_str(dst, src, s->py_missing_why),
		};
		struct ap_process *d = profile__process(dst, s->pid); /* after the strings */

		if (s->ppid)
			d->ppid = s->ppid;
		set_if(&d->comm, ids[0]);
		set_if(&d->exe, ids[1]);
		set_if(&d->cmdline, ids[2]);
		set_if(&d->cgroup, ids[3]);
		set_if(&d->container_id, ids[4]);
		set_if(&d->service, ids[5]);
		set_if(&d->runtime, ids[6]);
		set_if(&d->build_id, ids[7]);
		set_if(&d->py_missing, ids[8]);
		set_if(&d->py_missing_why, ids[9]);
		d->exited = s->exited;
		if (s->exit_status >= 0)
			d->exit_status = s->exit_status;
	}
}

static void merge_threads(struct profile *dst, const struct profile *src)
{
	size_t i, k;

	for (i = 0; i < src->nr_threads; i++) {
		const struct ap_thread *s = &src->threads[i];
		struct ap_thread *d = profile__thread(dst, s->pid, s->tid, profile__s(src, s->comm));

		if (s->pyname) /* the latest name read */
			d->pyname = profile__str(dst, profile__s(src, s->pyname));
		if (!s->accounted)
			continue;
		if (!d->accounted || s->start_ns < d->start_ns)
			d->start_ns = s->start_ns;
		if (!d->accounted || s->end_ns > d->end_ns)
			d->end_ns = s->end_ns;
		d->accounted = true;
		d->oncpu_ns += s->oncpu_ns;
		for (k = 0; k < AP_OFF__COUNT; k++)
			d->off_ns[k] += s->off_ns[k];
		d->nr_vol += s->nr_vol;
		d->nr_invol += s->nr_invol;
	}
}

void profile__merge(struct profile *dst, const struct profile *src)
{
	uint32_t *frames = map_frames(dst, src), *stacks = map_stacks(dst, src, frames);
	size_t i;

	merge_processes(dst, src);
	for (i = 0; i < src->nr_counts; i++) {
		const struct ap_count *c = &src->counts[i];
		const struct ap_thread *t = profile__find_thread(src, c->pid, c->tid);

		profile__add(dst, c->pid, c->tid, t ? profile__s(src, t->comm) : NULL,
			     stacks[c->stack], c->flags, c->count);
	}
	merge_threads(dst, src);
	for (i = 0; i < src->nr_off; i++) {
		const struct ap_off_row *r = &src->off[i];

		profile__add_off(dst, r->pid, r->tid, stacks[r->stack], r->reason, r->ns, r->count);
	}
	for (i = 0; i < src->nr_takers; i++)
		profile__add_taker(dst, &src->takers[i]);
	dst->takers_dropped += src->takers_dropped;
	for (i = 0; i < src->nr_mem; i++) {
		const struct ap_mem_row *r = &src->mem[i];

		profile__add_mem(dst, r->pid, r->tid, stacks[r->stack], r->kind, r->bytes, r->count);
	}
	dst->has_memory |= src->has_memory;
	dst->has_malloc |= src->has_malloc;
	if (!dst->mem_period)
		dst->mem_period = src->mem_period;
	dst->has_offcpu |= src->has_offcpu;
	dst->has_takers |= src->has_takers;
	for (i = 0; i < src->nr_atasks; i++)
		profile__add_async_task(dst, &src->atasks[i]);
	dst->has_atasks |= src->has_atasks;
	if (src->min_block_ns && (!dst->min_block_ns || src->min_block_ns < dst->min_block_ns))
		dst->min_block_ns = src->min_block_ns;
	for (i = 0; i < src->nr_counters; i++)
		profile__set_counter(dst, src->counters[i].name,
				     profile__counter(dst, src->counters[i].name) +
					     src->counters[i].value);
	if (!dst->frequency_hz)
		dst->frequency_hz = src->frequency_hz;
	if (src->start_mono_ns && (!dst->start_mono_ns || src->start_mono_ns < dst->start_mono_ns))
		dst->start_mono_ns = src->start_mono_ns;
	dst->duration_s += src->duration_s;
	free(frames);
	free(stacks);
}
