// SPDX-License-Identifier: MIT
/* Interning tables of the profile; see profile.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "profile/profile.h"
#include "util.h"

void profile__init(struct profile *p)
{
	memset(p, 0, sizeof(*p));
	profile__str(p, ""); /* id 0 is the empty string */
}

/* the long-lived symbol tables and their indexes */
static void free_tables(struct profile *p)
{
	size_t i;

	for (i = 0; i < p->nr_strs; i++)
		free(p->strs[i]);
	free(p->strs);
	free(p->modules);
	free(p->frames);
	free(p->stack_frames);
	free(p->stacks);
	free(p->stack_seen);
	hmap_free(&p->str_ids);
	hmap_free(&p->module_ids);
	hmap_free(&p->frame_ids);
	hmap_free(&p->stack_ids);
}

/* the rows of a window */
static void free_rows(struct profile *p)
{
	size_t i;

	for (i = 0; i < p->nr_counters; i++)
		free(p->counters[i].name);
	for (i = 0; i < p->nr_atasks; i++) {
		struct ap_async_task *t = &p->atasks[i];
		uint32_t j;

		for (j = 0; j < t->nr_chain; j++) {
			free(t->chain[j].func);
			free(t->chain[j].file);
		}
		free(t->chain);
		free(t->name);
		free(t->waits);
	}
	free(p->atasks);
	free(p->counts);
	free(p->threads);
	free(p->off);
	hmap_free(&p->off_ids);
	free(p->mem);
	hmap_free(&p->mem_ids);
	free(p->mem_times);
	free(p->takers);
	hmap_free(&p->taker_ids);
	free(p->sys);
	free(p->sys_errs);
	hmap_free(&p->sys_ids);
	hmap_free(&p->sys_err_ids);
	free(p->slow);
	hmap_free(&p->slow_ids);
	free(p->times);
	free(p->ivals);
	free(p->procs);
	free(p->counters);
	hmap_free(&p->count_ids);
	hmap_free(&p->thread_ids);
	hmap_free(&p->proc_ids);
}

static void free_retired(struct profile *p)
{
	size_t i;

	for (i = 0; i < p->nr_retired; i++)
		free(p->retired[i]);
	free(p->retired);
	p->retired = NULL;
	p->nr_retired = p->cap_retired = 0;
}

void profile__free(struct profile *p)
{
	if (!p)
		return;
	free_rows(p);
	if (!p->borrowed)
		free_tables(p);
	free_retired(p);
	memset(p, 0, sizeof(*p));
}

void profile__window_free(struct profile *win)
{
	profile__free(win);
}

/* Grow a symbol table. While a window borrows it (live->lent), the old
 * array is kept until profile__purge() instead of being freed by realloc:
 * the window's pointer stays valid. Doubling bounds what is kept to the
 * size of the table itself. */
static void sym_grow(struct profile *p, void **arr, size_t *cap, size_t need, size_t esz)
{
	size_t n = *cap ? *cap : 16;
	void *nw;

	if (need <= *cap)
		return;
	if (!p->lent || !*arr) {
		grow_array(arr, cap, need, esz);
		return;
	}
	while (n < need)
		n *= 2;
	nw = xcalloc(n, esz);
	memcpy(nw, *arr, *cap * esz);
	GROW(p->retired, p->cap_retired, p->nr_retired + 1);
	p->retired[p->nr_retired++] = *arr;
	*arr = nw;
	*cap = n;
}
#define SYM_GROW(p, arr, cap, need) sym_grow((p), (void **)&(arr), &(cap), (need), sizeof(*(arr)))

static void *memdup(const void *src, size_t n)
{
	void *d = xmalloc(n ? n : 1);

	if (n)
		memcpy(d, src, n);
	return d;
}

void profile__window_own(struct profile *w)
{
	size_t i;

	if (!w || !w->borrowed)
		return;
	w->strs = memdup(w->strs, w->nr_strs * sizeof(*w->strs));
	for (i = 0; i < w->nr_strs; i++) {
		w->strs[i] = xstrdup(w->strs[i]);
		hmap_put(&w->str_ids, w->strs[i], strlen(w->strs[i]), i);
	}
	w->modules = memdup(w->modules, w->nr_modules * sizeof(*w->modules));
	for (i = 0; i < w->nr_modules; i++) {
		uint32_t key[2] = { w->modules[i].path, w->modules[i].build_id };

		hmap_put(&w->module_ids, key, sizeof(key), i);
	}
	w->frames = memdup(w->frames, w->nr_frames * sizeof(*w->frames));
	for (i = 0; i < w->nr_frames; i++)
		hmap_put(&w->frame_ids, &w->frames[i], sizeof(w->frames[i]), i);
	w->stack_frames = memdup(w->stack_frames, w->nr_stack_frames * sizeof(*w->stack_frames));
	w->stacks = memdup(w->stacks, w->nr_stacks * sizeof(*w->stacks));
	for (i = 0; i < w->nr_stacks; i++)
		hmap_put(&w->stack_ids, w->stack_frames + w->stacks[i].off,
			 w->stacks[i].len * sizeof(uint32_t), i);
	w->cap_strs = w->nr_strs;
	w->cap_modules = w->nr_modules;
	w->cap_frames = w->nr_frames;
	w->cap_stack_frames = w->nr_stack_frames;
	w->cap_stacks = w->nr_stacks;
	w->borrowed = false;
}

/* the stacks of live's rows were used in the current window */
static void mark_rows(struct profile *p)
{
	size_t i;

	if (!p->stack_seen)
		return;
	for (i = 0; i < p->nr_counts; i++)
		p->stack_seen[p->counts[i].stack] = p->epoch;
	for (i = 0; i < p->nr_off; i++)
		p->stack_seen[p->off[i].stack] = p->epoch;
	for (i = 0; i < p->nr_mem; i++)
		p->stack_seen[p->mem[i].stack] = p->epoch;
	for (i = 0; i < p->nr_mem_times; i++)
		if (p->mem_times[i].stack < p->nr_stacks)
			p->stack_seen[p->mem_times[i].stack] = p->epoch;
	for (i = 0; i < p->nr_slow; i++)
		if (p->slow[i].stack < p->nr_stacks)
			p->stack_seen[p->slow[i].stack] = p->epoch;
	for (i = 0; i < p->nr_ivals; i++)
		if (p->ivals[i].stack < p->nr_stacks)
			p->stack_seen[p->ivals[i].stack] = p->epoch;
}

/* move a row array, its length and capacity from live to win */
#define MOVE(f) do { win->f = live->f; memset(&live->f, 0, sizeof(live->f)); } while (0)

void profile__take_window(struct profile *live, struct profile *win)
{
	memset(win, 0, sizeof(*win));
	/* borrowed: pointers and lengths, no indexes (a window only reads) */
	win->strs = live->strs;
	win->nr_strs = win->cap_strs = live->nr_strs;
	win->modules = live->modules;
	win->nr_modules = win->cap_modules = live->nr_modules;
	win->frames = live->frames;
	win->nr_frames = win->cap_frames = live->nr_frames;
	win->stack_frames = live->stack_frames;
	win->nr_stack_frames = win->cap_stack_frames = live->nr_stack_frames;
	win->stacks = live->stacks;
	win->nr_stacks = win->cap_stacks = live->nr_stacks;
	win->borrowed = true;
	live->lent = true;
	mark_rows(live);
	live->epoch++;

	MOVE(counts); MOVE(nr_counts); MOVE(cap_counts); MOVE(count_ids);
	MOVE(threads); MOVE(nr_threads); MOVE(cap_threads); MOVE(thread_ids);
	MOVE(procs); MOVE(nr_procs); MOVE(cap_procs); MOVE(proc_ids);
	MOVE(off); MOVE(nr_off); MOVE(cap_off); MOVE(off_ids);
	MOVE(mem); MOVE(nr_mem); MOVE(cap_mem); MOVE(mem_ids);
	MOVE(mem_times); MOVE(nr_mem_times); MOVE(cap_mem_times); MOVE(mem_times_dropped);
	MOVE(takers); MOVE(nr_takers); MOVE(cap_takers); MOVE(taker_ids); MOVE(takers_dropped);
	MOVE(sys); MOVE(nr_sys); MOVE(cap_sys); MOVE(sys_ids);
	MOVE(sys_errs); MOVE(nr_sys_errs); MOVE(cap_sys_errs); MOVE(sys_err_ids);
	MOVE(slow); MOVE(nr_slow); MOVE(cap_slow); MOVE(slow_ids); MOVE(slow_dropped);
	MOVE(times); MOVE(nr_times); MOVE(cap_times); MOVE(times_dropped);
	MOVE(ivals); MOVE(nr_ivals); MOVE(cap_ivals); MOVE(ivals_dropped);
	MOVE(counters); MOVE(nr_counters); MOVE(cap_counters);
	MOVE(atasks); MOVE(nr_atasks); MOVE(cap_atasks);
	MOVE(total_samples);

	win->has_offcpu = live->has_offcpu;
	win->has_memory = live->has_memory;
	win->has_malloc = live->has_malloc;
	win->mem_period = live->mem_period;
	win->min_block_ns = live->min_block_ns;
	win->has_syscalls = live->has_syscalls;
	win->slow_ns = live->slow_ns;
	win->has_timeline = live->has_timeline;
	win->has_takers = live->has_takers;
	win->has_atasks = live->has_atasks;
	win->interval_min_ns = live->interval_min_ns;
	win->start_mono_ns = live->start_mono_ns;
	win->frequency_hz = live->frequency_hz;
	win->duration_s = live->duration_s;
}
#undef MOVE


uint32_t profile__str(struct profile *p, const char *s)
{
	bool is_new;
	uint64_t *id;

	if (!s)
		s = "";
	if (p->borrowed) /* a window that interns gets its own tables */
		profile__window_own(p);
	id = hmap_upsert(&p->str_ids, s, strlen(s), p->nr_strs, &is_new);
	if (is_new) {
		SYM_GROW(p, p->strs, p->cap_strs, p->nr_strs + 1);
		p->strs[p->nr_strs++] = xstrdup(s);
	}
	return *id;
}

uint32_t profile__module(struct profile *p, const char *path, const char *build_id)
{
	uint32_t key[2] = { profile__str(p, path), profile__str(p, build_id) };
	bool is_new;
	uint64_t *id = hmap_upsert(&p->module_ids, key, sizeof(key), p->nr_modules, &is_new);

	if (is_new) {
		SYM_GROW(p, p->modules, p->cap_modules, p->nr_modules + 1);
		p->modules[p->nr_modules++] = (struct ap_module){ key[0], key[1], 0 };
	}
	return *id;
}

/* frames are hash keys: built in zeroed memory, so no stray padding */
static uint32_t make_frame(struct profile *p, enum ap_frame_kind kind, const char *name,
			   uint32_t module, uint64_t addr, uint32_t line)
{
	struct ap_frame f;
	bool is_new;
	uint64_t *id;

	memset(&f, 0, sizeof(f));
	f.name = profile__str(p, name); /* first: a window gets its own tables */
	f.module = module;
	f.kind = kind;
	f.addr = addr;
	f.line = line;
	id = hmap_upsert(&p->frame_ids, &f, sizeof(f), p->nr_frames, &is_new);
	if (is_new) {
		SYM_GROW(p, p->frames, p->cap_frames, p->nr_frames + 1);
		p->frames[p->nr_frames++] = f;
	}
	return *id;
}

uint32_t profile__frame(struct profile *p, enum ap_frame_kind kind, const char *name,
			uint32_t module, uint64_t addr)
{
	return make_frame(p, kind, name, module, addr, 0);
}

uint32_t profile__py_frame(struct profile *p, const char *qualname, uint32_t module, uint32_t line)
{
	return make_frame(p, AP_FRAME_PYTHON, qualname, module, 0, line);
}

uint32_t profile__stack(struct profile *p, const uint32_t *frames, uint32_t n)
{
	bool is_new;
	uint64_t *id;

	if (p->borrowed)
		profile__window_own(p);
	id = hmap_upsert(&p->stack_ids, frames, n * sizeof(*frames), p->nr_stacks, &is_new);
	if (is_new) {
		struct ap_stack st = { p->nr_stack_frames, n, false };
		uint32_t i;

		for (i = 0; i < n && !st.python; i++)
			st.python = p->frames[frames[i]].kind == AP_FRAME_PYTHON;
		SYM_GROW(p, p->stack_frames, p->cap_stack_frames, p->nr_stack_frames + n);
		if (n) /* an empty stack may come as NULL; memcpy(d, NULL, 0) is undefined */
			memcpy(p->stack_frames + p->nr_stack_frames, frames, n * sizeof(*frames));
		SYM_GROW(p, p->stacks, p->cap_stacks, p->nr_stacks + 1);
		p->stacks[p->nr_stacks++] = st;
		p->nr_stack_frames += n;
	}
	GROW(p->stack_seen, p->cap_stack_seen, p->nr_stacks); /* (a window that owns: none yet) */
	p->stack_seen[*id] = p->epoch; /* used now: the purge keeps it */
	return *id;
}

static uint32_t process_index(struct profile *p, uint32_t pid)
{
	bool is_new;
	uint64_t *id = hmap_upsert(&p->proc_ids, &pid, sizeof(pid), p->nr_procs, &is_new);

	if (is_new) {
		GROW(p->procs, p->cap_procs, p->nr_procs + 1);
		p->procs[p->nr_procs++] = (struct ap_process){ .pid = pid, .exit_status = -1 };
	}
	return *id;
}

struct ap_process *profile__process(struct profile *p, uint32_t pid)
{
	uint32_t i = process_index(p, pid); /* first: it may move p->procs */

	return &p->procs[i];
}

const struct ap_process *profile__find_process(const struct profile *p, uint32_t pid)
{
	uint64_t i;

	return hmap_get(&p->proc_ids, &pid, sizeof(pid), &i) ? &p->procs[i] : NULL;
}

const struct ap_thread *profile__find_thread(const struct profile *p, uint32_t pid, uint32_t tid)
{
	uint32_t tkey[2] = { pid, tid };
	uint64_t i;

	return hmap_get(&p->thread_ids, tkey, sizeof(tkey), &i) ? &p->threads[i] : NULL;
}

struct ap_thread *profile__thread(struct profile *p, uint32_t pid, uint32_t tid, const char *comm)
{
	uint32_t tkey[2] = { pid, tid };
	struct ap_thread *t;
	bool is_new;
	uint64_t *id;

	id = hmap_upsert(&p->thread_ids, tkey, sizeof(tkey), p->nr_threads, &is_new);
	if (is_new) {
		uint32_t proc = process_index(p, pid); /* may grow procs, not threads */

		GROW(p->threads, p->cap_threads, p->nr_threads + 1);
		p->threads[p->nr_threads++] = (struct ap_thread){ .pid = pid, .tid = tid, .proc = proc };
	}
	t = &p->threads[*id];
	if (comm && *comm) /* the thread may rename itself; keep the latest name */
		t->comm = profile__str(p, comm);
	return t;
}

void profile__add_off(struct profile *p, uint32_t pid, uint32_t tid, uint32_t stack,
		      uint32_t reason, uint64_t ns, uint64_t count)
{
	uint32_t key[4] = { pid, tid, stack, reason };
	bool is_new;
	uint64_t *id = hmap_upsert(&p->off_ids, key, sizeof(key), p->nr_off, &is_new);

	if (is_new) {
		GROW(p->off, p->cap_off, p->nr_off + 1);
		p->off[p->nr_off++] = (struct ap_off_row){ pid, tid, stack, reason, 0, 0 };
	}
	p->off[*id].ns += ns;
	p->off[*id].count += count;
}

const char *const ap_mem_kind_names[AP_MEM__COUNT] = {
	[AP_MEM_FAULT] = "fault", [AP_MEM_MAP] = "map", [AP_MEM_UNMAP] = "unmap",
	[AP_MEM_ALLOC] = "alloc", [AP_MEM_LIVE] = "live",
};

void profile__add_mem(struct profile *p, uint32_t pid, uint32_t tid, uint32_t stack,
		      uint32_t kind, uint64_t bytes, uint64_t count)
{
	uint32_t key[4] = { pid, tid, stack, kind };
	bool is_new;
	uint64_t *id = hmap_upsert(&p->mem_ids, key, sizeof(key), p->nr_mem, &is_new);

	if (is_new) {
		GROW(p->mem, p->cap_mem, p->nr_mem + 1);
		p->mem[p->nr_mem++] = (struct ap_mem_row){ pid, tid, stack, kind, 0, 0 };
	}
	p->mem[*id].bytes += bytes;
	p->mem[*id].count += count;
}

void profile__add_mem_time(struct profile *p, const struct ap_mem_time *t)
{
	if (p->nr_mem_times >= AP_MEM_TIMES_MAX) {
		p->mem_times_dropped++;
		return;
	}
	GROW(p->mem_times, p->cap_mem_times, p->nr_mem_times + 1);
	p->mem_times[p->nr_mem_times++] = *t;
}

void profile__add_taker(struct profile *p, const struct ap_taker *t)
{
	uint32_t key[2] = { t->pid, t->taker };
	uint64_t id;

	if (!hmap_get(&p->taker_ids, key, sizeof(key), &id)) {
		if (p->nr_takers >= AP_TAKERS_MAX) {
			p->takers_dropped += t->count;
			return;
		}
		id = p->nr_takers;
		hmap_put(&p->taker_ids, key, sizeof(key), id);
		GROW(p->takers, p->cap_takers, p->nr_takers + 1);
		p->takers[p->nr_takers++] = (struct ap_taker){ .pid = t->pid, .taker = t->taker,
							       .followed = t->followed };
		memcpy(p->takers[id].comm, t->comm, sizeof(t->comm));
		p->takers[id].comm[sizeof(t->comm) - 1] = 0;
	}
	p->takers[id].kthread |= t->kthread;
	p->takers[id].ns += t->ns;
	p->takers[id].count += t->count;
	p->has_takers = true;
}

void profile__add(struct profile *p, uint32_t pid, uint32_t tid, const char *comm,
		  uint32_t stack, uint32_t flags, uint64_t count)
{
	uint32_t ckey[4] = { pid, tid, stack, flags };
	struct ap_thread *t;
	bool is_new;
	uint64_t *id;

	id = hmap_upsert(&p->count_ids, ckey, sizeof(ckey), p->nr_counts, &is_new);
	if (is_new) {
		GROW(p->counts, p->cap_counts, p->nr_counts + 1);
		p->counts[p->nr_counts++] = (struct ap_count){ pid, tid, stack, flags, 0 };
	}
	p->counts[*id].count += count;

	t = profile__thread(p, pid, tid, comm);
	t->samples += count;
	if (p->stacks[stack].python)
		t->python_samples += count;
	if (flags & AP_COUNT_GIL)
		t->gil_samples += count;
	if (flags & AP_COUNT_NOGIL) {
		t->nogil_samples += count;
		p->procs[t->proc].nogil_samples += count;
	}
	if (flags & AP_COUNT_GIL_KNOWN)
		p->procs[t->proc].gil_known_samples += count;
	if (flags & AP_COUNT_GC)
		t->gc_samples += count;
	if (flags & AP_COUNT_FINALIZING)
		t->finalizing_samples += count;
	p->procs[t->proc].samples += count;
	p->total_samples += count;
}

void profile__set_counter(struct profile *p, const char *name, uint64_t value)
{
	size_t i;

	for (i = 0; i < p->nr_counters; i++) {
		if (!strcmp(p->counters[i].name, name)) {
			p->counters[i].value = value;
			return;
		}
	}
	GROW(p->counters, p->cap_counters, p->nr_counters + 1);
	p->counters[p->nr_counters++] = (struct ap_counter_val){ xstrdup(name), value };
}

uint64_t profile__counter(const struct profile *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nr_counters; i++)
		if (!strcmp(p->counters[i].name, name))
			return p->counters[i].value;
	return 0;
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

const char *profile__frame_label(const struct profile *p, uint32_t frame, bool annotate,
				 char *buf, size_t len)
{
	const struct ap_frame *f = &p->frames[frame];
	const char *name = profile__s(p, f->name);

	if (f->kind == AP_FRAME_PYTHON) {
		const char *file = f->module != AP_NONE ? profile__s(p, p->modules[f->module].path) : NULL;

		if (!file) /* "[truncated]", "[unknown code]" */
			snprintf(buf, len, "%s", name);
		else if (f->line)
			snprintf(buf, len, "%s (%s:%u)", name, basename_of(file), f->line);
		else
			snprintf(buf, len, "%s (%s)", name, basename_of(file));
	} else if (!strcmp(name, "[unknown]") && f->module != AP_NONE)
		snprintf(buf, len, "[%s]", basename_of(profile__s(p, p->modules[f->module].path)));
	else if (f->kind == AP_FRAME_KERNEL && annotate)
		snprintf(buf, len, "%s_[k]", name);
	else
		snprintf(buf, len, "%s", name);
	return buf;
}

static bool is_interp(const struct profile *p, uint32_t frame)
{
	const struct ap_frame *f = &p->frames[frame];

	return f->kind == AP_FRAME_USER && f->module != AP_NONE &&
	       (p->modules[f->module].flags & AP_MOD_PY_RUNTIME);
}

/* the root frame of a thread blocked since before profiling (the attach
 * snapshot's stack, src/collect/snapshot.c): every view keeps it */
static bool is_since_marker(const struct profile *p, const uint32_t *fr, uint32_t i)
{
	const struct ap_frame *f = &p->frames[fr[i]];

	return i == 0 && f->kind == AP_FRAME_USER && f->module == AP_NONE &&
	       !strncmp(profile__s(p, f->name), "[blocked in ", 12);
}

uint32_t profile__view(const struct profile *p, const struct ap_stack *s, enum ap_view view,
		       uint32_t *out)
{
	const uint32_t *fr = p->stack_frames + s->off;
	uint32_t i, n = 0, first_py = UINT32_MAX, last_py = 0;

	for (i = 0; i < s->len; i++) {
		if (p->frames[fr[i]].kind != AP_FRAME_PYTHON)
			continue;
		if (first_py == UINT32_MAX)
			first_py = i;
		last_py = i;
	}
	for (i = 0; i < s->len; i++) {
		const struct ap_frame *f = &p->frames[fr[i]];

		if (is_since_marker(p, fr, i)) {
			out[n++] = fr[i];
			continue;
		}
		switch (view) {
		case AP_VIEW_FULL:
			break;
		case AP_VIEW_NATIVE:
			if (f->kind == AP_FRAME_PYTHON)
				continue;
			break;
		case AP_VIEW_PYTHON:
			if (first_py != UINT32_MAX && f->kind != AP_FRAME_PYTHON)
				continue;
			break;
		case AP_VIEW_MIXED:
			/* hide the interpreter's bootstrap above the first Python
			 * frame and its call plumbing between Python frames; keep
			 * C extensions and libraries anywhere, and everything the
			 * innermost Python frame calls (builtins compiled into the
			 * interpreter, such as _sre, are real work) */
			if (first_py != UINT32_MAX && f->kind != AP_FRAME_PYTHON &&
			    (i < first_py || (is_interp(p, fr[i]) && i < last_py)))
				continue;
			break;
		}
		out[n++] = fr[i];
	}
	return n;
}

bool profile__is_entry_frame(const struct profile *p, uint32_t frame)
{
	/* glibc: main thread _start -> __libc_start_main -> __libc_start_call_main,
	 * other threads clone3/clone -> start_thread; musl: _start_c, __clone */
	static const char *const entries[] = {
		"_start", "__libc_start_main", "__libc_start_call_main", "__libc_start_main_impl",
		"clone", "clone3", "__clone", "__clone3", "start_thread", "_start_c",
	};
	const char *name = profile__s(p, p->frames[frame].name);
	size_t i;

	for (i = 0; i < AP_ARRAY_SIZE(entries); i++)
		if (!strcmp(name, entries[i]))
			return true;
	return false;
}

void profile__completeness(const struct profile *p, struct ap_completeness *c)
{
	size_t i, j;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_stack *s = &p->stacks[p->counts[i].stack];
		const uint32_t *fr = p->stack_frames + s->off;
		uint64_t n = p->counts[i].count;

		for (j = 0; j < s->len && p->frames[fr[j]].kind != AP_FRAME_USER; j++)
			;
		if (j == s->len) {
			c->kernel_only += n;
			continue;
		}
		c->user_samples += n;
		if (profile__is_entry_frame(p, fr[j]))
			c->complete += n;
	}
}

void profile__add_time(struct profile *p, uint32_t pid, uint32_t tid, uint32_t stack, uint64_t t_ns)
{
	if (p->nr_times >= AP_TIMELINE_MAX) {
		p->times_dropped++;
		return;
	}
	GROW(p->times, p->cap_times, p->nr_times + 1);
	p->times[p->nr_times++] = (struct ap_sample_time){ t_ns, pid, tid, stack };
}

struct ap_interval *profile__add_interval(struct profile *p, const struct ap_interval *iv)
{
	if (p->nr_ivals >= AP_INTERVALS_MAX) {
		p->ivals_dropped++;
		return NULL;
	}
	GROW(p->ivals, p->cap_ivals, p->nr_ivals + 1);
	p->ivals[p->nr_ivals] = *iv;
	return &p->ivals[p->nr_ivals++];
}

/* an example among the AP_SLOW_EXAMPLES slowest of its row, longest first */
static void slow_example(struct ap_slow_call *r, const struct ap_slow_example *ex)
{
	uint32_t i;

	if (r->nr_examples < AP_SLOW_EXAMPLES)
		i = r->nr_examples++;
	else if (r->ex[AP_SLOW_EXAMPLES - 1].dur_ns >= ex->dur_ns)
		return; /* not slower than the fastest kept: earlier ones stay */
	else
		i = AP_SLOW_EXAMPLES - 1;
	for (; i > 0 && r->ex[i - 1].dur_ns < ex->dur_ns; i--)
		r->ex[i] = r->ex[i - 1];
	r->ex[i] = *ex;
}

bool profile__merge_slow(struct profile *p, const struct ap_slow_call *row)
{
	uint32_t key[3] = { row->pid, row->nr, row->stack }, i;
	struct ap_slow_call *r;
	uint64_t id;

	if (!hmap_get(&p->slow_ids, key, sizeof(key), &id)) {
		if (p->nr_slow >= AP_SLOW_ROWS_MAX) {
			p->slow_dropped += row->count;
			return false;
		}
		GROW(p->slow, p->cap_slow, p->nr_slow + 1);
		id = p->nr_slow++;
		p->slow[id] = (struct ap_slow_call){ .pid = row->pid, .nr = row->nr, .stack = row->stack };
		hmap_put(&p->slow_ids, key, sizeof(key), id);
	}
	r = &p->slow[id];
	r->count += row->count;
	r->errors += row->errors;
	r->total_ns += row->total_ns;
	if (row->max_ns > r->max_ns)
		r->max_ns = row->max_ns;
	for (i = 0; i < row->nr_examples && i < AP_SLOW_EXAMPLES; i++)
		slow_example(r, &row->ex[i]);
	return true;
}

bool profile__add_slow(struct profile *p, uint32_t pid, uint32_t nr, uint32_t stack,
		       const struct ap_slow_example *ex)
{
	struct ap_slow_call row = {
		.pid = pid, .nr = nr, .stack = stack, .nr_examples = 1, .count = 1,
		.errors = ex->ret < 0 && ex->ret >= -4095, .total_ns = ex->dur_ns, .max_ns = ex->dur_ns,
		.ex = { *ex },
	};

	return profile__merge_slow(p, &row);
}

static int slow_by_total(const void *a, const void *b)
{
	const struct ap_slow_call *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns < y->total_ns ? 1 : -1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->nr != y->nr)
		return x->nr < y->nr ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

void profile__trim_slow(struct profile *p, size_t keep)
{
	size_t i;

	if (p->nr_slow > 1)
		qsort(p->slow, p->nr_slow, sizeof(*p->slow), slow_by_total);
	for (i = keep; i < p->nr_slow; i++)
		p->slow_dropped += p->slow[i].count;
	if (p->nr_slow > keep)
		p->nr_slow = keep;
	hmap_free(&p->slow_ids);
	for (i = 0; i < p->nr_slow; i++) {
		uint32_t key[3] = { p->slow[i].pid, p->slow[i].nr, p->slow[i].stack };

		hmap_put(&p->slow_ids, key, sizeof(key), i);
	}
}

uint64_t profile__slow_calls(const struct profile *p)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < p->nr_slow; i++)
		n += p->slow[i].count;
	return n;
}

void profile__keep_stack(struct profile *live, uint32_t stack)
{
	if (stack < live->nr_stacks && live->stack_seen)
		live->stack_seen[stack] = live->epoch;
}

void profile_remap__free(struct profile_remap *rm)
{
	if (!rm)
		return;
	free(rm->strs);
	free(rm->modules);
	free(rm->frames);
	free(rm->stacks);
	memset(rm, 0, sizeof(*rm));
}

/* frames that the stacks younger than max_age use, into keep; how many */
static size_t mark_frames(const struct profile *p, uint32_t max_age, uint8_t *keep)
{
	size_t i, j, n = 0;

	memset(keep, 0, p->nr_frames);
	for (i = 0; i < p->nr_stacks; i++) {
		const uint32_t *fr = p->stack_frames + p->stacks[i].off;

		if (p->epoch - p->stack_seen[i] >= max_age)
			continue;
		for (j = 0; j < p->stacks[i].len; j++)
			if (!keep[fr[j]]) {
				keep[fr[j]] = 1;
				n++;
			}
	}
	return n;
}

static size_t stacks_younger(const struct profile *p, uint32_t max_age)
{
	size_t i, n = 0;

	for (i = 0; i < p->nr_stacks; i++)
		n += p->epoch - p->stack_seen[i] < max_age;
	return n;
}

/* The age (in windows) below which stacks are kept: the largest whose
 * stacks and frames fit 3/4 of the caps, at least 1 (the stacks of the
 * current window are never evicted). */
static uint32_t keep_age(const struct profile *p, const struct profile_caps *caps, uint8_t *keep)
{
	uint32_t lo = 1, hi = 1, mid;
	size_t i;

	for (i = 0; i < p->nr_stacks; i++)
		if (p->epoch - p->stack_seen[i] + 1 > hi)
			hi = p->epoch - p->stack_seen[i] + 1;
	/* largest age in [lo, hi] that fits; lo always allowed */
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (stacks_younger(p, mid) <= caps->stacks / 4 * 3 &&
		    mark_frames(p, mid, keep) <= caps->frames / 4 * 3)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

static uint32_t *new_map(size_t n)
{
	uint32_t *m = xmalloc((n ? n : 1) * sizeof(*m));
	size_t i;

	for (i = 0; i < n; i++)
		m[i] = AP_NONE;
	return m;
}

static void keep_str(uint32_t *smap, uint32_t id)
{
	smap[id] = 0; /* numbered below */
}

/* the string ids of rows: every such field is listed here */
static void keep_row_strs(const struct profile *p, uint32_t *smap)
{
	size_t i;

	for (i = 0; i < p->nr_threads; i++) {
		keep_str(smap, p->threads[i].comm);
		keep_str(smap, p->threads[i].pyname);
	}
	for (i = 0; i < p->nr_procs; i++) {
		keep_str(smap, p->procs[i].comm);
		keep_str(smap, p->procs[i].exe);
		keep_str(smap, p->procs[i].cmdline);
		keep_str(smap, p->procs[i].cgroup);
		keep_str(smap, p->procs[i].container_id);
		keep_str(smap, p->procs[i].service);
		keep_str(smap, p->procs[i].runtime);
		keep_str(smap, p->procs[i].build_id);
		keep_str(smap, p->procs[i].py_missing);
		keep_str(smap, p->procs[i].py_missing_why);
	}
}

static void remap_row_strs(struct profile *p, const uint32_t *smap)
{
	size_t i;

	for (i = 0; i < p->nr_threads; i++) {
		p->threads[i].comm = smap[p->threads[i].comm];
		p->threads[i].pyname = smap[p->threads[i].pyname];
	}
	for (i = 0; i < p->nr_procs; i++) {
		p->procs[i].comm = smap[p->procs[i].comm];
		p->procs[i].exe = smap[p->procs[i].exe];
		p->procs[i].cmdline = smap[p->procs[i].cmdline];
		p->procs[i].cgroup = smap[p->procs[i].cgroup];
		p->procs[i].container_id = smap[p->procs[i].container_id];
		p->procs[i].service = smap[p->procs[i].service];
		p->procs[i].runtime = smap[p->procs[i].runtime];
		p->procs[i].build_id = smap[p->procs[i].build_id];
		p->procs[i].py_missing = smap[p->procs[i].py_missing];
		p->procs[i].py_missing_why = smap[p->procs[i].py_missing_why];
	}
}

/* the row stacks, and the indexes keyed by them */
static void remap_row_stacks(struct profile *p, const uint32_t *map)
{
	size_t i;

	hmap_free(&p->count_ids);
	for (i = 0; i < p->nr_counts; i++) {
		struct ap_count *c = &p->counts[i];

		c->stack = map[c->stack];
		hmap_put(&p->count_ids, (uint32_t[]){ c->pid, c->tid, c->stack, c->flags }, 16, i);
	}
	hmap_free(&p->off_ids);
	for (i = 0; i < p->nr_off; i++) {
		struct ap_off_row *o = &p->off[i];

		o->stack = map[o->stack];
		hmap_put(&p->off_ids, (uint32_t[]){ o->pid, o->tid, o->stack, o->reason }, 16, i);
	}
	hmap_free(&p->mem_ids);
	for (i = 0; i < p->nr_mem; i++) {
		struct ap_mem_row *m = &p->mem[i];

		m->stack = map[m->stack];
		hmap_put(&p->mem_ids, (uint32_t[]){ m->pid, m->tid, m->stack, m->kind }, 16, i);
	}
	for (i = 0; i < p->nr_mem_times; i++)
		if (p->mem_times[i].stack < p->nr_stacks)
			p->mem_times[i].stack = map[p->mem_times[i].stack];
	hmap_free(&p->slow_ids);
	for (i = 0; i < p->nr_slow; i++) {
		struct ap_slow_call *r = &p->slow[i];

		r->stack = r->stack < p->nr_stacks ? map[r->stack] : r->stack;
		hmap_put(&p->slow_ids, (uint32_t[]){ r->pid, r->nr, r->stack }, 12, i);
	}
	for (i = 0; i < p->nr_times; i++)
		p->times[i].stack = map[p->times[i].stack];
	for (i = 0; i < p->nr_ivals; i++)
		if (p->ivals[i].stack < p->nr_stacks)
			p->ivals[i].stack = map[p->ivals[i].stack];
}

/* compact the symbol tables to what keep_f (frames) and the stacks of
 * smap's kept entries use; fills rm's maps */
static void compact(struct profile *p, uint32_t max_age, const uint8_t *keep_f,
		    struct profile_remap *rm)
{
	uint32_t *stm = new_map(p->nr_stacks), *fm = new_map(p->nr_frames);
	uint32_t *mm = new_map(p->nr_modules), *sm = new_map(p->nr_strs);
	uint32_t *sf = xmalloc((p->nr_stack_frames ? p->nr_stack_frames : 1) * sizeof(*sf));
	size_t i, j, n, nsf = 0, old_stacks = p->nr_stacks;

	/* which survive */
	for (i = 0; i < p->nr_frames; i++) {
		if (!keep_f[i])
			continue;
		fm[i] = 0;
		keep_str(sm, p->frames[i].name);
		if (p->frames[i].module != AP_NONE)
			mm[p->frames[i].module] = 0;
	}
	for (i = 0; i < p->nr_modules; i++) {
		if (mm[i] == AP_NONE)
			continue;
		keep_str(sm, p->modules[i].path);
		keep_str(sm, p->modules[i].build_id);
	}
	keep_str(sm, 0);
	keep_row_strs(p, sm);

	/* strings, in order */
	hmap_free(&p->str_ids);
	for (i = n = 0; i < p->nr_strs; i++) {
		if (sm[i] == AP_NONE) {
			free(p->strs[i]);
			continue;
		}
		sm[i] = n;
		p->strs[n] = p->strs[i];
		hmap_put(&p->str_ids, p->strs[n], strlen(p->strs[n]), n);
		n++;
	}
	p->evicted.strs += p->nr_strs - n;
	p->nr_strs = n;
	/* modules */
	hmap_free(&p->module_ids);
	for (i = n = 0; i < p->nr_modules; i++) {
		struct ap_module m = p->modules[i];

		if (mm[i] == AP_NONE)
			continue;
		mm[i] = n;
		m.path = sm[m.path];
		m.build_id = sm[m.build_id];
		p->modules[n] = m;
		hmap_put(&p->module_ids, (uint32_t[]){ m.path, m.build_id }, 8, n);
		n++;
	}
	p->evicted.modules += p->nr_modules - n;
	p->nr_modules = n;
	/* frames */
	hmap_free(&p->frame_ids);
	for (i = n = 0; i < p->nr_frames; i++) {
		struct ap_frame f = p->frames[i];

		if (fm[i] == AP_NONE)
			continue;
		fm[i] = n;
		f.name = sm[f.name];
		f.module = f.module == AP_NONE ? AP_NONE : mm[f.module];
		p->frames[n] = f;
		hmap_put(&p->frame_ids, &f, sizeof(f), n);
		n++;
	}
	p->evicted.frames += p->nr_frames - n;
	p->nr_frames = n;
	/* stacks: their frames copied compactly */
	hmap_free(&p->stack_ids);
	for (i = n = 0; i < p->nr_stacks; i++) {
		struct ap_stack st = p->stacks[i];
		const uint32_t *fr = p->stack_frames + st.off;

		if (p->epoch - p->stack_seen[i] >= max_age)
			continue;
		stm[i] = n;
		for (j = 0; j < st.len; j++)
			sf[nsf + j] = fm[fr[j]];
		st.off = nsf;
		nsf += st.len;
		p->stacks[n] = st;
		p->stack_seen[n] = p->stack_seen[i];
		hmap_put(&p->stack_ids, sf + st.off, st.len * sizeof(uint32_t), n);
		n++;
	}
	memcpy(p->stack_frames, sf, nsf * sizeof(*sf));
	free(sf);
	p->nr_stack_frames = nsf;
	p->evicted.stacks += p->nr_stacks - n;
	remap_row_stacks(p, stm); /* while nr_stacks is the old count */
	p->nr_stacks = n;
	remap_row_strs(p, sm);
	p->evicted.purges++;

	*rm = (struct profile_remap){
		.moved = true, .strs = sm, .modules = mm, .frames = fm, .stacks = stm,
		.nr_strs = 0, .nr_stacks = old_stacks,
	};
}

size_t profile__purge(struct profile *p, const struct profile_caps *caps, struct profile_remap *rm)
{
	static const struct profile_caps dflt = {
		AP_PROFILE_STACKS_MAX, AP_PROFILE_FRAMES_MAX, AP_PROFILE_STRS_MAX,
	};
	struct profile_remap local;
	size_t before = p->nr_stacks, old_frames = p->nr_frames, old_strs = p->nr_strs;
	size_t old_modules = p->nr_modules;
	uint8_t *keep;
	uint32_t age;

	if (rm)
		memset(rm, 0, sizeof(*rm));
	free_retired(p);
	p->lent = false;
	if (!caps)
		caps = &dflt;
	if (p->nr_stacks <= caps->stacks && p->nr_frames <= caps->frames && p->nr_strs <= caps->strs)
		return 0;
	mark_rows(p);
	keep = xmalloc(p->nr_frames ? p->nr_frames : 1);
	age = keep_age(p, caps, keep);
	mark_frames(p, age, keep);
	compact(p, age, keep, &local);
	free(keep);
	local.nr_strs = old_strs;
	local.nr_modules = old_modules;
	local.nr_frames = old_frames;
	if (rm)
		*rm = local;
	else
		profile_remap__free(&local);
	return before - p->nr_stacks;
}

void profile__add_sys(struct profile *p, const struct ap_sys_row *row)
{
	uint32_t key[3] = { row->pid, row->nr, row->fd_kind };
	struct ap_sys_row *r;
	bool is_new;
	uint64_t *id = hmap_upsert(&p->sys_ids, key, sizeof(key), p->nr_sys, &is_new);
	int b;

	if (is_new) {
		GROW(p->sys, p->cap_sys, p->nr_sys + 1);
		p->sys[p->nr_sys++] = *row;
		return;
	}
	r = &p->sys[*id];
	r->count += row->count;
	r->errors += row->errors;
	r->total_ns += row->total_ns;
	r->bytes += row->bytes;
	if (row->max_ns > r->max_ns)
		r->max_ns = row->max_ns;
	for (b = 0; b < AP_SYS_HIST; b++)
		r->hist[b] += row->hist[b];
}

void profile__add_sys_err(struct profile *p, uint32_t pid, uint32_t nr, uint32_t err,
			  uint64_t count)
{
	uint32_t key[3] = { pid, nr, err };
	bool is_new;
	uint64_t *id = hmap_upsert(&p->sys_err_ids, key, sizeof(key), p->nr_sys_errs, &is_new);

	if (is_new) {
		GROW(p->sys_errs, p->cap_sys_errs, p->nr_sys_errs + 1);
		p->sys_errs[p->nr_sys_errs++] = (struct ap_sys_err){ pid, nr, err, 0 };
	}
	p->sys_errs[*id].count += count;
}

const char *profile__stack_task(const struct profile *p, uint32_t stack, char *buf, size_t len)
{
	const struct ap_stack *s;
	const char *name;
	size_t n;
	uint32_t i;

	if (stack >= p->nr_stacks || !len)
		return NULL;
	s = &p->stacks[stack];
	if (!s->python)
		return NULL;
	for (i = 0; i < s->len; i++) {
		const struct ap_frame *f = &p->frames[p->stack_frames[s->off + i]];

		if (f->kind != AP_FRAME_PYTHON || f->module != AP_NONE)
			continue;
		name = profile__s(p, f->name);
		n = strlen(name);
		if (strncmp(name, "[task ", 6) || n < 7 || name[n - 1] != ']')
			continue;
		snprintf(buf, len, "%.*s", (int)(n - 7), name + 6);
		return buf;
	}
	return NULL;
}

void profile__add_async_task(struct profile *p, const struct ap_async_task *t)
{
	struct ap_async_task *d;
	uint32_t j;

	GROW(p->atasks, p->cap_atasks, p->nr_atasks + 1);
	d = &p->atasks[p->nr_atasks++];
	*d = *t;
	d->name = xstrdup(t->name ? t->name : "");
	d->waits = xstrdup(t->waits ? t->waits : "?");
	d->chain = t->nr_chain ? xcalloc(t->nr_chain, sizeof(*d->chain)) : NULL;
	for (j = 0; j < t->nr_chain; j++) {
		const struct ap_async_frame *f = &t->chain[j];

		d->chain[j] = (struct ap_async_frame){ xstrdup(f->func ? f->func : ""),
						       xstrdup(f->file ? f->file : ""), f->line };
	}
	p->has_atasks = true;
}
