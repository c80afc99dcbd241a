// SPDX-License-Identifier: MIT
/* The text of `top`: a header, the processes by CPU, the top functions
 * (self and total) and the hot stacks, each line cut to the terminal's
 * width. The same text is the interactive screen and `top --once`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "top/top.h"

size_t top_text_cols(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* the byte offset after the first cols code points of s */
static size_t bytes_for_cols(const char *s, size_t cols)
{
	size_t i = 0, n = 0;

	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && n++ == cols)
			break;
	}
	return i;
}

struct out {
	struct strbuf *sb;
	int width, lines, max_lines;
};

static bool room(const struct out *o)
{
	return !o->max_lines || o->lines < o->max_lines;
}

/* one line, cut at the width */
static void line(struct out *o, const char *text)
{
	if (!room(o))
		return;
	if (o->width > 0)
		sb_append(o->sb, text, bytes_for_cols(text, o->width));
	else
		sb_puts(o->sb, text);
	sb_puts(o->sb, "\n");
	o->lines++;
}

/* prefix, then text cut on the left ("...;work;hot"): the leaf end of a
 * stack is what says where the time goes */
static void line_tail(struct out *o, const char *prefix, const char *text)
{
	size_t pc = top_text_cols(prefix), tc = top_text_cols(text);

	if (!room(o))
		return;
	sb_puts(o->sb, prefix);
	if (o->width > 0 && pc + tc > (size_t)o->width) {
		size_t keep = o->width > (int)pc + 3 ? o->width - pc - 3 : 0;

		sb_puts(o->sb, keep ? "..." : "");
		sb_puts(o->sb, text + bytes_for_cols(text, tc - keep));
	} else {
		sb_puts(o->sb, text);
	}
	sb_puts(o->sb, "\n");
	o->lines++;
}

static enum top_sort g_sort; /* qsort has no context argument */

static int cmp_proc(const void *a, const void *b)
{
	const struct top_proc *x = *(const struct top_proc *const *)a;
	const struct top_proc *y = *(const struct top_proc *const *)b;
	int c;

	if (g_sort == TOP_SORT_NAME && (c = strcmp(x->comm, y->comm)))
		return c;
	if (g_sort != TOP_SORT_PID && x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static bool g_by_total;

static int cmp_func(const void *a, const void *b)
{
	const struct top_func *x = *(const struct top_func *const *)a;
	const struct top_func *y = *(const struct top_func *const *)b;
	double kx = g_by_total ? x->total : x->self, ky = g_by_total ? y->total : y->self;

	if (kx != ky)
		return kx < ky ? 1 : -1;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return strcmp(x->label, y->label);
}

static int cmp_stack(const void *a, const void *b)
{
	const struct top_stack *x = *(const struct top_stack *const *)a;
	const struct top_stack *y = *(const struct top_stack *const *)b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->text, y->text);
}

static double pct(double n, double total)
{
	return total > 0 ? 100.0 * n / total : 0;
}

static void header(struct out *o, const struct top_model *m, const struct top_render_opts *r)
{
	struct strbuf sb = { 0 };
	double host = m->freq && m->nr_cpus && m->window_s > 0 ?
			      pct(m->window_samples, m->freq * m->nr_cpus * m->window_s) : 0;

	sb_printf(&sb, "autoprof-bpf top  %s  %d CPUs at %u Hz  %.0f samples/s (%.1f%% busy)  "
		  "%zu processes  lost %llu  self %.1f%% CPU",
		  r->time ? r->time : "", m->nr_cpus, m->freq,
		  m->window_s > 0 ? m->window_samples / m->window_s : 0, host, m->window_procs,
		  (unsigned long long)m->window_losses, m->self_cpu_pct);
	line(o, sb.buf);
	sb.len = 0;
	sb_printf(&sb, "window %.1f s (%s%s)  view %s  sort %s  filter %s%s", m->window_s,
		  top_mode_names[m->mode], m->mode == TOP_MODE_DECAY ? ", half-life 5 s" : "",
		  ap_view_names[m->view], top_sort_names[r->sort], m->filter[0] ? m->filter : "none",
		  r->paused ? "  [paused]" : "");
	if (m->rows_dropped) /* past the TOP_*_MAX caps */
		sb_printf(&sb, "  rows over the caps %llu", (unsigned long long)m->rows_dropped);
	line(o, sb.buf);
	if (r->prompt) {
		sb.len = 0;
		sb_printf(&sb, "filter (pid or name, Enter to apply, Esc to cancel): %s", r->prompt);
		line(o, sb.buf);
	} else if (r->message) {
		line(o, r->message);
	} else if (!r->all_tables) {
		line(o, "");
	}
	sb_free(&sb);
}

static void procs_table(struct out *o, const struct top_model *m, const struct top_render_opts *r,
			int rows)
{
	const struct top_proc **v = xcalloc(m->nr_procs + 1, sizeof(*v));
	struct strbuf sb = { 0 };
	size_t i;

	for (i = 0; i < m->nr_procs; i++)
		v[i] = &m->procs[i];
	g_sort = r->sort;
	qsort(v, m->nr_procs, sizeof(*v), cmp_proc);
	sb_printf(&sb, "%8s %-16s %7s  %-14s %s", "PID", "COMMAND", "CPU%", "RUNTIME", "SERVICE");
	line(o, sb.buf);
	for (i = 0; i < m->nr_procs && (int)i < rows; i++) {
		sb.len = 0;
		sb_printf(&sb, "%8u %-16s %6.1f%%  %-14s %s", v[i]->pid, v[i]->comm,
			  top_model__proc_cpu(m, v[i]), v[i]->runtime ? v[i]->runtime : "-",
			  v[i]->service && v[i]->service[0] ? v[i]->service : "-");
		line(o, sb.buf);
	}
	if (!m->nr_procs)
		line(o, m->filter[0] ? "       (no process matches the filter)" : "       (no samples)");
	else if (m->nr_procs > i) {
		sb.len = 0;
		sb_printf(&sb, "%8s ... %zu more", "", m->nr_procs - i);
		line(o, sb.buf);
	}
	sb_free(&sb);
	free(v);
}

static void funcs_table(struct out *o, const struct top_model *m, const struct top_render_opts *r,
			int rows)
{
	const struct top_func **v = xcalloc(m->nr_funcs + 1, sizeof(*v));
	struct strbuf sb = { 0 };
	size_t i;

	for (i = 0; i < m->nr_funcs; i++)
		v[i] = &m->funcs[i];
	g_by_total = r->func_by_total;
	qsort(v, m->nr_funcs, sizeof(*v), cmp_func);
	sb_printf(&sb, "%6s %7s  FUNCTION (by %s time)", "SELF%", "TOTAL%",
		  r->func_by_total ? "total" : "self");
	line(o, sb.buf);
	for (i = 0; i < m->nr_funcs && (int)i < rows; i++) {
		sb.len = 0;
		sb_printf(&sb, "%5.1f%% %6.1f%%  %s", pct(v[i]->self, m->samples),
			  pct(v[i]->total, m->samples), v[i]->label);
		line(o, sb.buf);
	}
	sb_free(&sb);
	free(v);
}

static void stacks_table(struct out *o, const struct top_model *m, int rows)
{
	const struct top_stack **v = xcalloc(m->nr_stacks + 1, sizeof(*v));
	char prefix[32];
	size_t i;

	for (i = 0; i < m->nr_stacks; i++)
		v[i] = &m->stacks[i];
	qsort(v, m->nr_stacks, sizeof(*v), cmp_stack);
	line(o, "SAMPLES%  STACK (command;root;...;leaf)");
	for (i = 0; i < m->nr_stacks && (int)i < rows; i++) {
		snprintf(prefix, sizeof(prefix), "%7.1f%%  ", pct(v[i]->count, m->samples));
		line_tail(o, prefix, v[i]->text);
	}
	free(v);
}

static const char keys_help[] =
	"q quit  c/p/n sort by cpu/pid/name  / filter  s functions/stacks  t self/total  "
	"v view  a last/decay/total  space pause";

void top_render(const struct top_model *m, const struct top_render_opts *r, struct strbuf *out)
{
	struct out o = { .sb = out, .width = r->width, .max_lines = r->height };
	int rest, nprocs;

	header(&o, m, r);
	if (r->all_tables || !r->height) {
		int rows = r->max_rows > 0 ? r->max_rows : 20;

		line(&o, "");
		procs_table(&o, m, r, rows);
		line(&o, "");
		funcs_table(&o, m, r, rows);
		line(&o, "");
		stacks_table(&o, m, r->max_rows > 0 ? r->max_rows : 10);
		return;
	}
	/* the screen: processes take up to a third of what is left, at least
	 * 3 rows; the functions or stacks the rest; the keys the last line */
	rest = r->height - o.lines - 1;
	nprocs = rest / 3 - 1;
	if (nprocs < 3)
		nprocs = 3;
	if ((size_t)nprocs > m->nr_procs)
		nprocs = m->nr_procs ? m->nr_procs : 1;
	o.max_lines = r->height - 1;
	procs_table(&o, m, r, nprocs);
	line(&o, "");
	rest = o.max_lines - o.lines - 1;
	if (r->pane == TOP_PANE_STACKS)
		stacks_table(&o, m, rest);
	else
		funcs_table(&o, m, r, rest);
	while (o.lines < o.max_lines)
		line(&o, "");
	o.max_lines = r->height;
	line(&o, keys_help);
}
