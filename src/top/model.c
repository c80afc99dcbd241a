// SPDX-License-Identifier: MIT
/* The model of `top`: processes, functions and folded stacks of the windows
 * seen so far, weighted by the mode (last window, decayed, accumulated),
 * restricted to the processes that pass the filter. Rows are keyed by
 * text, so nothing here points into a window after it is gone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report/report.h"
#include "top/top.h"

/* rows lighter than this many (weighted) samples leave the decayed model */
#define TOP_MIN_WEIGHT 0.05

const char *const top_sort_names[TOP_SORT__COUNT] = { "cpu", "pid", "name" };
const char *const top_mode_names[TOP_MODE__COUNT] = { "last", "decay", "total" };

void top_model__init(struct top_model *m)
{
	memset(m, 0, sizeof(*m));
	m->view = AP_VIEW_MIXED;
}

static void free_rows(struct top_model *m)
{
	size_t i;

	for (i = 0; i < m->nr_procs; i++) {
		free(m->procs[i].comm);
		free(m->procs[i].service);
		free(m->procs[i].runtime);
	}
	for (i = 0; i < m->nr_funcs; i++)
		free(m->funcs[i].label);
	for (i = 0; i < m->nr_stacks; i++)
		free(m->stacks[i].text);
	m->nr_procs = m->nr_funcs = m->nr_stacks = 0;
	hmap_free(&m->proc_idx);
	hmap_free(&m->func_idx);
	hmap_free(&m->stack_idx);
}

void top_model__reset(struct top_model *m)
{
	free_rows(m);
	m->span_s = m->samples = 0;
	m->windows = 0;
}

void top_model__free(struct top_model *m)
{
	free_rows(m);
	free(m->procs);
	free(m->funcs);
	free(m->stacks);
	memset(m, 0, sizeof(*m));
}

bool top_model__match(const struct top_model *m, uint32_t pid, const char *comm,
		      const char *cmdline)
{
	long v;

	if (!m->filter[0])
		return true;
	if (!parse_long(m->filter, 0, UINT32_MAX, &v))
		return (uint32_t)v == pid;
	return (comm && strstr(comm, m->filter)) || (cmdline && strstr(cmdline, m->filter));
}

double top_model__proc_cpu(const struct top_model *m, const struct top_proc *p)
{
	return m->span_s > 0 && m->freq ? 100.0 * p->samples / (m->freq * m->span_s) : 0;
}

/* Decay every row by f and drop the ones that fell under TOP_MIN_WEIGHT;
 * the indexes are rebuilt (the hash map has no delete, and this runs once
 * a second over a few thousand rows at most). */
static void decay_rows(struct top_model *m, double f)
{
	size_t i, n;

	hmap_free(&m->proc_idx);
	hmap_free(&m->func_idx);
	hmap_free(&m->stack_idx);
	for (i = n = 0; i < m->nr_procs; i++) {
		struct top_proc *p = &m->procs[i];

		p->samples *= f;
		if (p->samples < TOP_MIN_WEIGHT) {
			free(p->comm);
			free(p->service);
			free(p->runtime);
			continue;
		}
		m->procs[n] = *p;
		hmap_put(&m->proc_idx, &p->pid, sizeof(p->pid), n++);
	}
	m->nr_procs = n;
	for (i = n = 0; i < m->nr_funcs; i++) {
		struct top_func *r = &m->funcs[i];

		r->self *= f;
		r->total *= f;
		if (r->total < TOP_MIN_WEIGHT) {
			free(r->label);
			continue;
		}
		m->funcs[n] = *r;
		hmap_put(&m->func_idx, r->label, strlen(r->label), n++);
	}
	m->nr_funcs = n;
	for (i = n = 0; i < m->nr_stacks; i++) {
		struct top_stack *r = &m->stacks[i];

		r->count *= f;
		if (r->count < TOP_MIN_WEIGHT) {
			free(r->text);
			continue;
		}
		m->stacks[n] = *r;
		hmap_put(&m->stack_idx, r->text, strlen(r->text), n++);
	}
	m->nr_stacks = n;
}

/* the name a window gives pid: its process entry, else its main thread's */
static const char *proc_comm(const struct profile *w, uint32_t pid)
{
	const struct ap_process *p = profile__find_process(w, pid);
	const struct ap_thread *t;
	size_t i;

	if (p && p->comm && *profile__s(w, p->comm))
		return profile__s(w, p->comm);
	t = profile__find_thread(w, pid, pid);
	if (t)
		return profile__s(w, t->comm);
	for (i = 0; i < w->nr_threads; i++)
		if (w->threads[i].pid == pid)
			return profile__s(w, w->threads[i].comm);
	return "";
}

/* "CPython 3.12" from the interpreter file a Python stack runs in
 * (python3.12, libpython3.12.so.1.0), "Python" when its name says nothing */
static char *runtime_of_stack(const struct profile *w, const struct ap_stack *s)
{
	const char *path, *v;
	uint32_t i;
	long minor;
	char num[8];
	size_t n;

	for (i = 0; i < s->len; i++) {
		const struct ap_frame *f = &w->frames[w->stack_frames[s->off + i]];

		if (f->kind != AP_FRAME_USER || f->module == AP_NONE ||
		    !(w->modules[f->module].flags & AP_MOD_PY_RUNTIME))
			continue;
		path = profile__s(w, w->modules[f->module].path);
		v = strstr(path, "python3.");
		if (!v)
			continue;
		v += 8;
		for (n = 0; n < sizeof(num) - 1 && v[n] >= '0' && v[n] <= '9'; n++)
			num[n] = v[n];
		num[n] = 0;
		if (n && !parse_long(num, 0, 99, &minor))
			return xasprintf("CPython 3.%ld", minor);
	}
	return xstrdup("Python");
}

static struct top_proc *proc_row(struct top_model *m, const struct profile *w, uint32_t pid)
{
	bool is_new;
	uint64_t *slot;
	struct top_proc *p;

	if (m->nr_procs >= TOP_PROCS_MAX && !hmap_get(&m->proc_idx, &pid, sizeof(pid), NULL)) {
		m->rows_dropped++;
		return NULL;
	}
	slot = hmap_upsert(&m->proc_idx, &pid, sizeof(pid), m->nr_procs, &is_new);
	if (is_new) {
		GROW(m->procs, m->cap_procs, m->nr_procs + 1);
		m->procs[m->nr_procs++] = (struct top_proc){ .pid = pid };
	}
	p = &m->procs[*slot];
	/* the latest window names it: a pid reused by another program shows
	 * the new name */
	if (p->window != m->windows) {
		char *comm = tty_dup(proc_comm(w, pid));

		p->window = m->windows;
		if (p->comm && strcmp(p->comm, comm)) { /* another program now */
			free(p->runtime);
			free(p->service);
			p->runtime = p->service = NULL;
		}
		free(p->comm);
		p->comm = comm;
	}
	return p;
}

static void func_add(struct top_model *m, const char *label, double self, double total)
{
	bool is_new;
	uint64_t *slot;

	if (m->nr_funcs >= TOP_FUNCS_MAX && !hmap_get(&m->func_idx, label, strlen(label), NULL)) {
		m->rows_dropped++;
		return;
	}
	slot = hmap_upsert(&m->func_idx, label, strlen(label), m->nr_funcs, &is_new);
	if (is_new) {
		GROW(m->funcs, m->cap_funcs, m->nr_funcs + 1);
		m->funcs[m->nr_funcs++] = (struct top_func){ .label = xstrdup(label) };
	}
	m->funcs[*slot].self += self;
	m->funcs[*slot].total += total;
}

static void stack_add(struct top_model *m, const char *text, double count)
{
	bool is_new;
	uint64_t *slot;

	if (m->nr_stacks >= TOP_STACKS_MAX && !hmap_get(&m->stack_idx, text, strlen(text), NULL)) {
		m->rows_dropped++;
		return;
	}
	slot = hmap_upsert(&m->stack_idx, text, strlen(text), m->nr_stacks, &is_new);
	if (is_new) {
		GROW(m->stacks, m->cap_stacks, m->nr_stacks + 1);
		m->stacks[m->nr_stacks++] = (struct top_stack){ .text = xstrdup(text) };
	}
	m->stacks[*slot].count += count;
}

/* a function as the top table names it: Python frames as the profile labels
 * them, "qualname (file.py:LINE)"; native ones with their file, "name (libc.so.6)" */
static void func_label(const struct profile *w, uint32_t frame, char *buf, size_t len)
{
	const struct ap_frame *f = &w->frames[frame];
	char name[512];
	const char *path, *mod;

	profile__frame_label(w, frame, false, name, sizeof(name));
	if (f->kind == AP_FRAME_PYTHON || f->module == AP_NONE || name[0] == '[') {
		snprintf(buf, len, "%s", name);
	} else {
		path = profile__s(w, w->modules[f->module].path);
		mod = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		if (f->kind == AP_FRAME_KERNEL)
			snprintf(buf, len, "%s [kernel]", name);
		else if (!strncmp(name, mod, strlen(mod)) && name[strlen(mod)] == '+')
			snprintf(buf, len, "%s", name); /* "libz.so.1+0x3a10" names it already */
		else
			snprintf(buf, len, "%s (%s)", name, mod);
	}
	tty_clean(buf);
}

/* one count row's stack: its functions (each once, however deep it
 * recurses) and its folded text */
static void add_count(struct top_model *m, const struct profile *w, const struct ap_count *c,
		      const char *comm, uint32_t *vf, struct strbuf *sb, struct hmap *seen)
{
	const struct ap_stack *s = &w->stacks[c->stack];
	uint32_t nv = profile__view(w, s, m->view, vf), j;
	char label[1024];
	bool is_new;

	sb->len = 0;
	sb_puts(sb, comm[0] ? comm : "?");
	hmap_free(seen);
	for (j = 0; j < nv; j++) {
		func_label(w, vf[j], label, sizeof(label));
		hmap_upsert(seen, label, strlen(label), 0, &is_new);
		if (is_new || j == nv - 1)
			func_add(m, label, j == nv - 1 ? c->count : 0, is_new ? c->count : 0);
		sb_printf(sb, ";%s", profile__frame_label(w, vf[j], true, label, sizeof(label)));
	}
	if (!nv)
		sb_puts(sb, ";[no frames]");
	tty_clean(sb->buf);
	stack_add(m, sb->buf, c->count);
}

struct top_proc *top_model__proc(struct top_model *m, uint32_t pid)
{
	uint64_t i;

	return hmap_get(&m->proc_idx, &pid, sizeof(pid), &i) ? &m->procs[i] : NULL;
}

void top_model__add(struct top_model *m, const struct profile *w)
{
	uint32_t *vf = xcalloc(w->nr_stack_frames + 1, sizeof(*vf));
	double f = m->mode == TOP_MODE_LAST ? 0 :
		   m->mode == TOP_MODE_TOTAL ? 1 : pow(0.5, w->duration_s / TOP_HALF_LIFE_S);
	struct strbuf sb = { 0 };
	struct hmap seen = { 0 };
	size_t i;

	if (f != 1)
		decay_rows(m, f);
	m->span_s = m->span_s * f + w->duration_s;
	m->samples *= f;
	m->window_s = w->duration_s;
	m->window_samples = w->total_samples;
	if (w->frequency_hz)
		m->freq = w->frequency_hz;
	m->window_procs = 0;
	for (i = 0; i < w->nr_procs; i++)
		m->window_procs += w->procs[i].samples > 0;
	m->windows++;

	for (i = 0; i < w->nr_counts; i++) {
		const struct ap_count *c = &w->counts[i];
		const struct ap_process *pr = profile__find_process(w, c->pid);
		const char *comm = proc_comm(w, c->pid);
		struct top_proc *p;

		if (!top_model__match(m, c->pid, comm, pr ? profile__s(w, pr->cmdline) : NULL))
			continue;
		p = proc_row(m, w, c->pid);
		if (p) {
			p->samples += c->count;
			if (!p->runtime && w->stacks[c->stack].python && !(pr && pr->runtime))
				p->runtime = runtime_of_stack(w, &w->stacks[c->stack]);
		}
		m->samples += c->count;
		add_count(m, w, c, comm, vf, &sb, &seen);
		if (p && pr && !p->service && pr->service && *profile__s(w, pr->service))
			p->service = tty_dup(profile__s(w, pr->service));
		if (p && pr && !p->runtime && pr->runtime && *profile__s(w, pr->runtime))
			p->runtime = tty_dup(profile__s(w, pr->runtime));
	}
	hmap_free(&seen);
	sb_free(&sb);
	free(vf);
}
