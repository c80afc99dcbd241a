// SPDX-License-Identifier: MIT
/* The terminal summary printed at the end of every run: totals, stack
 * completeness, losses, top functions by self and total time, top stacks. */
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "report/formats.h"
#include "report/report.h"

struct fn_row {
	char *label;
	uint64_t self, total;
	uint64_t seen;   /* last count entry that added to total (no double counting) */
};

struct fn_table {
	struct fn_row *rows;
	size_t nr, cap;
	struct hmap idx;
};

static struct fn_row *fn_get(struct fn_table *t, const char *label)
{
	bool is_new;
	uint64_t *slot = hmap_upsert(&t->idx, label, strlen(label), t->nr, &is_new);

	if (is_new) {
		GROW(t->rows, t->cap, t->nr + 1);
		t->rows[t->nr++] = (struct fn_row){ .label = xstrdup(label), .seen = UINT64_MAX };
	}
	return &t->rows[*slot];
}

static const char *module_of(const struct profile *p, uint32_t frame)
{
	const struct ap_frame *f = &p->frames[frame];
	const char *path, *s;

	if (f->module == AP_NONE)
		return NULL;
	path = profile__s(p, p->modules[f->module].path);
	s = strrchr(path, '/');
	return s ? s + 1 : path;
}

void tty_clean(char *s)
{
	unsigned char *u = (unsigned char *)s;

	for (; *u; u++) {
		if (*u < 0x20 || *u == 0x7f)
			*u = '?';
		else if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
			u[0] = u[1] = '?';
	}
}

char *tty_dup(const char *s)
{
	char *c = xstrdup(s ? s : "");

	tty_clean(c);
	return c;
}

/* functions, not lines: a Python frame counts as "qualname (file.py)" */
static void function_label(const struct profile *p, uint32_t frame, char *buf, size_t len)
{
	char name[512];
	const char *mod = module_of(p, frame);

	if (p->frames[frame].kind == AP_FRAME_PYTHON) {
		const char *fn = profile__s(p, p->frames[frame].name);

		if (!mod && fn[0] == '[') /* [task NAME], [truncated]: no file */
			snprintf(buf, len, "%s", fn);
		else
			snprintf(buf, len, "%s (%s)", fn, mod ? mod : "?");
		tty_clean(buf);
		return;
	}
	profile__frame_label(p, frame, false, name, sizeof(name));
	/* "libz.so.1+0x3a10" (a function without a symbol) names its module */
	if (mod && name[0] != '[' && !(strncmp(name, mod, strlen(mod)) == 0 &&
				       name[strlen(mod)] == '+'))
		snprintf(buf, len, "%s (%s)", name, mod);
	else
		snprintf(buf, len, "%s", name);
	tty_clean(buf);
}

static void build_functions(const struct profile *p, enum ap_view view, struct fn_table *t)
{
	uint32_t *vf = xcalloc(p->nr_stack_frames + 1, sizeof(*vf));
	char label[1024];
	size_t i;
	uint32_t j, nv;

	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_count *c = &p->counts[i];
		const struct ap_stack *s = &p->stacks[c->stack];

		nv = profile__view(p, s, view, vf);
		for (j = 0; j < nv; j++) {
			struct fn_row *r;

			function_label(p, vf[j], label, sizeof(label));
			r = fn_get(t, label);
			if (r->seen != i) { /* recursion: count a stack once per function */
				r->total += c->count;
				r->seen = i;
			}
			if (j == nv - 1)
				r->self += c->count;
		}
	}
	free(vf);
}

static int by_self(const void *a, const void *b)
{
	const struct fn_row *x = a, *y = b;

	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	return strcmp(x->label, y->label);
}

static int by_total(const void *a, const void *b)
{
	const struct fn_row *x = a, *y = b;

	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return strcmp(x->label, y->label);
}

static double pct(uint64_t n, uint64_t total)
{
	return total ? 100.0 * n / total : 0;
}

static void print_table(FILE *f, struct fn_table *t, uint64_t total, int rows, bool self)
{
	size_t i;

	if (t->nr)
		qsort(t->rows, t->nr, sizeof(*t->rows), self ? by_self : by_total);
	fprintf(f, "  %7s %7s %8s  %s\n", "self%", "total%", "samples", "function (module)");
	for (i = 0; i < t->nr && (int)i < rows; i++) {
		const struct fn_row *r = &t->rows[i];

		if (self && !r->self)
			break;
		fprintf(f, "  %6.1f%% %6.1f%% %8llu  %s\n", pct(r->self, total), pct(r->total, total),
			(unsigned long long)(self ? r->self : r->total), r->label);
	}
}

/* "[module]" and "module+0x..." rows are code of a file without symbols for
 * it: say how much, per module, and what would name it */
static void print_symbol_hint(FILE *f, const struct fn_table *t, uint64_t total)
{
	struct {
		char mod[128];
		uint64_t self;
	} m[16];
	size_t i, j, nm = 0;

	for (i = 0; i < t->nr; i++) {
		const char *l = t->rows[i].label, *plus = strstr(l, "+0x");
		char mod[128];

		/* "module+0x..." first: "[vdso]+0x78" is the vDSO's, not "[module]" */
		if (plus && !strchr(l, ' '))
			snprintf(mod, sizeof(mod), "%.*s", (int)(plus - l), l);
		else if (l[0] == '[' && strcmp(l, "[unknown]") && strcmp(l, "[anon]") &&
			 strncmp(l, "[unknown code", 13) && strcmp(l, "[truncated]") && !strchr(l, ' '))
			snprintf(mod, sizeof(mod), "%.*s", (int)strlen(l) - 2, l + 1);
		else
			continue;
		for (j = 0; j < nm && strcmp(m[j].mod, mod); j++)
			;
		if (j == nm) {
			if (nm == 16)
				continue;
			snprintf(m[nm].mod, sizeof(m[nm].mod), "%s", mod);
			m[nm++].self = 0;
		}
		m[j].self += t->rows[i].self;
	}
	for (j = 0; j < nm; j++) {
		if (pct(m[j].self, total) < 10)
			continue;
		fprintf(f, "  note: %.1f%% of samples are in functions of %s that have no symbol (shown\n"
			   "        as %s+0xADDR); its debug symbols (a build-id file under /usr/lib/debug,\n"
			   "        e.g. Debian's -dbg or -dbgsym package) would name them\n",
			pct(m[j].self, total), m[j].mod, m[j].mod);
	}
}

struct stack_row {
	char *text;
	uint64_t count;
};

static int by_count(const void *a, const void *b)
{
	const struct stack_row *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->text, y->text);
}

/* Text of a stack as the view shows it: the last 12 frames; when they are
 * all native (a syscall deep in the kernel), the innermost Python frame
 * too: it says where in the program that time was spent */
static void stack_text(const struct profile *p, enum ap_view view, uint32_t stack, uint32_t *vf,
		       struct strbuf *sb)
{
	uint32_t nv = profile__view(p, &p->stacks[stack], view, vf), j, first, py;
	char label[512];

	first = nv > 12 ? nv - 12 : 0;
	sb->len = 0;
	sb_puts(sb, "");
	for (py = first; py > 0 && p->frames[vf[py - 1]].kind != AP_FRAME_PYTHON; py--)
		;
	for (j = first; j < nv && p->frames[vf[j]].kind != AP_FRAME_PYTHON; j++)
		;
	if (first && py > 0 && j == nv) {
		if (py > 1)
			sb_printf(sb, "... %u frames ... ", py - 1);
		sb_puts(sb, profile__frame_label(p, vf[py - 1], true, label, sizeof(label)));
		if (first > py)
			sb_printf(sb, " > ... %u frames ...", first - py);
		sb_puts(sb, " > ");
	} else if (first) {
		sb_printf(sb, "... %u frames ... ", first);
	}
	for (j = first; j < nv; j++)
		sb_printf(sb, "%s%s", j > first ? " > " : "",
			  profile__frame_label(p, vf[j], true, label, sizeof(label)));
	tty_clean(sb->buf);
}

struct stack_rank {
	struct stack_row *rows;
	size_t nr, cap;
	struct hmap idx;
};

static void rank_add(struct stack_rank *r, const char *text, uint64_t weight)
{
	bool is_new;
	uint64_t *slot = hmap_upsert(&r->idx, text, strlen(text), r->nr, &is_new);

	if (is_new) {
		GROW(r->rows, r->cap, r->nr + 1);
		r->rows[r->nr++] = (struct stack_row){ xstrdup(text), 0 };
	}
	r->rows[*slot].count += weight;
}

static void rank_free(struct stack_rank *r)
{
	size_t i;

	for (i = 0; i < r->nr; i++)
		free(r->rows[i].text);
	free(r->rows);
	hmap_free(&r->idx);
}

/* the heaviest stacks as the view shows them (distinct native stacks can
 * look the same once interpreter frames are hidden: they are merged) */
static void print_stacks(FILE *f, const struct profile *p, enum ap_view view, int rows)
{
	uint32_t *vf = xcalloc(p->nr_stack_frames + 1, sizeof(*vf));
	struct stack_rank r = { 0 };
	struct strbuf sb = { 0 };
	size_t i;

	for (i = 0; i < p->nr_counts; i++) {
		stack_text(p, view, p->counts[i].stack, vf, &sb);
		rank_add(&r, sb.buf, p->counts[i].count);
	}
	if (r.nr)
		qsort(r.rows, r.nr, sizeof(*r.rows), by_count);
	for (i = 0; i < r.nr && (int)i < rows; i++)
		fprintf(f, "  %zu. %5.1f%% (%llu samples)\n     %s\n", i + 1,
			pct(r.rows[i].count, p->total_samples), (unsigned long long)r.rows[i].count,
			r.rows[i].text);
	rank_free(&r);
	free(vf);
	sb_free(&sb);
}

/* where threads waited: the heaviest off-CPU stacks with their reason */
static void print_off_stacks(FILE *f, const struct profile *p, enum ap_view view, int rows)
{
	uint32_t *vf = xcalloc(p->nr_stack_frames + 1, sizeof(*vf));
	struct stack_rank r = { 0 };
	struct strbuf sb = { 0 }, line = { 0 };
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < p->nr_off; i++) {
		stack_text(p, view, p->off[i].stack, vf, &sb);
		line.len = 0;
		sb_printf(&line, "%s|%s", ap_off_reason_names[p->off[i].reason], sb.buf);
		rank_add(&r, line.buf, p->off[i].ns);
		total += p->off[i].ns;
	}
	if (r.nr)
		qsort(r.rows, r.nr, sizeof(*r.rows), by_count);
	fprintf(f, "\nTop off-CPU stacks (%.2f thread-seconds off CPU in stacks):\n", total / 1e9);
	for (i = 0; i < r.nr && (int)i < rows; i++) {
		char *bar = strchr(r.rows[i].text, '|');

		*bar = 0;
		fprintf(f, "  %zu. %9.1f ms %5.1f%%  %s\n     %s\n", i + 1, r.rows[i].count / 1e6,
			pct(r.rows[i].count, total), r.rows[i].text, bar + 1);
	}
	if (!r.nr)
		fprintf(f, "  none\n");
	rank_free(&r);
	free(vf);
	sb_free(&sb);
	sb_free(&line);
}

#define NR_CATS 7
static const char *const cat_names[NR_CATS] = { "io", "lock", "gil", "sleep", "child", "runnable",
						"other" };

static void categories(const uint64_t *off_ns, uint64_t *cats)
{
	int r, c;

	memset(cats, 0, NR_CATS * sizeof(*cats));
	for (r = 0; r < AP_OFF__COUNT; r++)
		for (c = 0; c < NR_CATS; c++)
			if (!strcmp(ap_off_category(r), cat_names[c]))
				cats[c] += off_ns[r];
}

static int thread_by_wall(const void *a, const void *b)
{
	const struct ap_thread *x = *(const struct ap_thread *const *)a;
	const struct ap_thread *y = *(const struct ap_thread *const *)b;
	uint64_t wx = profile__thread_wall_ns(x), wy = profile__thread_wall_ns(y);

	if (wx != wy)
		return wx < wy ? 1 : -1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* name in at most 16 bytes: a longer one keeps its head and tail
 * ("ThreadPo..utor-0_3"), where pool threads differ */
static void fit16(char *dst, size_t len, const char *name)
{
	size_t n = strlen(name), h = 7, t;

	if (n <= 16 || len < 17) {
		snprintf(dst, len, "%s", name);
		return;
	}
	t = n - 7;
	while (h && ((uint8_t)name[h] & 0xc0) == 0x80) /* whole UTF-8 characters */
		h--;
	while (t < n && ((uint8_t)name[t] & 0xc0) == 0x80)
		t++;
	snprintf(dst, len, "%.*s..%s", (int)h, name, name + t);
}

static void print_wall_row(FILE *f, const char *who, const char *name, uint64_t wall,
			   uint64_t oncpu, const uint64_t *off_ns)
{
	uint64_t cats[NR_CATS];
	char clean[64];
	int c;

	categories(off_ns, cats);
	fit16(clean, sizeof(clean), name);
	tty_clean(clean);
	fprintf(f, "  %-15s %-16.16s %8.2f %6.1f%%", who, clean, wall / 1e9, pct(oncpu, wall));
	for (c = 0; c < NR_CATS; c++)
		fprintf(f, " %6.1f%%", pct(cats[c], wall));
	fputc('\n', f);
}

/* Where each process's and thread's wall-clock time went: on CPU, or off
 * it for which reason. Measured from the scheduler, not sampled. */
static void print_wall(FILE *f, const struct profile *p)
{
	const struct ap_thread **v = calloc(p->nr_threads + 1, sizeof(*v));
	size_t i, j, n = 0, shown = 0;
	char who[32];
	int c;

	if (!v)
		return;
	for (i = 0; i < p->nr_threads; i++)
		if (p->threads[i].accounted)
			v[n++] = &p->threads[i];
	if (!n) {
		free(v);
		return;
	}
	qsort(v, n, sizeof(*v), thread_by_wall);
	fprintf(f, "\nWall clock (scheduler-measured; %% of each row's wall time):\n");
	fprintf(f, "  %-15s %-16s %8s %7s", "pid/tid", "name", "wall s", "cpu");
	for (c = 0; c < NR_CATS; c++)
		fprintf(f, " %7s", cat_names[c]);
	fputc('\n', f);
	if (p->nr_procs > 1) { /* per process: thread-seconds summed */
		for (i = 0; i < p->nr_procs && i < 10; i++) {
			uint64_t wall = 0, oncpu = 0, off[AP_OFF__COUNT] = { 0 };
			const char *name = profile__s(p, p->procs[i].comm);
			int nt = 0, r;

			for (j = 0; j < n; j++) {
				if (v[j]->pid != p->procs[i].pid)
					continue;
				nt++;
				wall += profile__thread_wall_ns(v[j]);
				oncpu += v[j]->oncpu_ns;
				for (r = 0; r < AP_OFF__COUNT; r++)
					off[r] += v[j]->off_ns[r];
			}
			if (!nt)
				continue;
			snprintf(who, sizeof(who), "%u (%d thr)", p->procs[i].pid, nt);
			for (j = 0; j < n && !*name; j++) /* a process never sampled: its threads' name */
				if (v[j]->pid == p->procs[i].pid)
					name = profile__s(p, v[j]->comm);
			print_wall_row(f, who, name, wall, oncpu, off);
		}
		if (p->nr_procs > 10)
			fprintf(f, "  ... %zu more processes (artifacts/offcpu.json lists all threads)\n",
				p->nr_procs - 10);
		fprintf(f, "  threads:\n");
	}
	for (i = 0; i < n && shown < 10; i++, shown++) {
		snprintf(who, sizeof(who), "%u/%u", v[i]->pid, v[i]->tid);
		print_wall_row(f, who, profile__thread_name(p, v[i]), profile__thread_wall_ns(v[i]),
			       v[i]->oncpu_ns, v[i]->off_ns);
	}
	if (n > shown)
		fprintf(f, "  ... %zu more threads (artifacts/offcpu.json lists all)\n", n - shown);
	free(v);
}

static int sys_by_total(const void *a, const void *b)
{
	const struct ap_sys_row *x = *(const struct ap_sys_row *const *)a;
	const struct ap_sys_row *y = *(const struct ap_sys_row *const *)b;

	if (x->total_ns != y->total_ns)
		return x->total_ns < y->total_ns ? 1 : -1;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static void print_syscalls(FILE *f, const struct profile *p, int rows)
{
	const struct ap_sys_row **v = calloc(p->nr_sys + 1, sizeof(*v));
	uint64_t count = 0, total = 0;
	size_t i;

	if (!v)
		return;
	for (i = 0; i < p->nr_sys; i++) {
		v[i] = &p->sys[i];
		count += p->sys[i].count;
		total += p->sys[i].total_ns;
	}
	if (p->nr_sys)
		qsort(v, p->nr_sys, sizeof(*v), sys_by_total);
	fprintf(f, "\nTop syscalls by time (%llu calls, %.3f s in total):\n", (unsigned long long)count,
		total / 1e9);
	fprintf(f, "  %7s %-18s %-6s %9s %7s %10s %10s %12s\n", "pid", "syscall", "fd", "calls",
		"errors", "total ms", "mean us", "bytes");
	for (i = 0; i < p->nr_sys && (int)i < rows; i++) {
		const char *name = ap_syscall_name(v[i]->nr);

		fprintf(f, "  %7u %-18s %-6s %9llu %7llu %10.1f %10.1f %12llu\n", v[i]->pid,
			name ? name : "?", v[i]->fd_kind < AP_FD__COUNT ? ap_fd_kind_names[v[i]->fd_kind] : "",
			(unsigned long long)v[i]->count, (unsigned long long)v[i]->errors,
			v[i]->total_ns / 1e6, v[i]->count ? v[i]->total_ns / 1e3 / v[i]->count : 0.0,
			(unsigned long long)v[i]->bytes);
	}
	if (p->nr_slow)
		fprintf(f, "  %llu calls took %.0f ms or more, from %zu stacks (artifacts/syscalls.json has them)\n",
			(unsigned long long)profile__slow_calls(p), p->slow_ns / 1e6, p->nr_slow);
	free(v);
}

static void print_losses(FILE *f, const struct profile *p)
{
	static const char *const loss[] = {
		"ringbuf_full", "samples_missed_in_kernel", "kernel_stack_errors", "user_stack_read_errors",
		"malformed_records", "samples_without_mappings",
		"sideband_lost", "children_not_followed", "python_read_errors",
		"python_truncated_stacks", "python_unknown_code_frames",
		"python_splice_fallbacks", /* Python frames at the leaf: no eval activation found */
		"threads_not_accounted", "offcpu_kernel_stack_errors", "offcpu_aggregation_full",
		"offcpu_stack_records_lost", "thread_records_lost", "offcpu_missed_in_kernel",
		"offcpu_interval_records_lost", "timeline_samples_dropped", "offcpu_intervals_dropped",
		"syscall_aggregation_full", "slow_syscall_records_lost", "syscalls_missed_in_kernel",
		"mapped_files_refused", /* frames left unnamed: the path was not the mapped file */
		"slow_syscalls_dropped",
		"snapshot_threads_lost", "snapshot_threads_cut", /* threads of the attach snapshot */
		/* the asyncio tasks suspended at the attach */
		"python_async_tasks_capped", "python_async_chains_cut", "python_async_task_failures",
		"python_async_reads_incomplete", "python_async_processes_skipped",
	};
	size_t i;
	bool any = false;

	fprintf(f, "  losses:");
	for (i = 0; i < sizeof(loss) / sizeof(loss[0]); i++) {
		uint64_t v = profile__counter(p, loss[i]);

		if (v) {
			fprintf(f, " %s %llu", loss[i], (unsigned long long)v);
			any = true;
		}
	}
	fprintf(f, "%s\n", any ? "" : " none");
}

/* Samples taken while one of our tracepoint programs ran in the target
 * (its syscalls or context switches): the observer effect, measured */
static void print_observer(FILE *f, const struct profile *p)
{
	uint8_t *ours = xcalloc(p->nr_stacks + 1, 1);
	uint64_t n = 0;
	size_t i;
	uint32_t j;

	for (i = 0; i < p->nr_stacks; i++)
		for (j = 0; j < p->stacks[i].len; j++) {
			const struct ap_frame *fr = &p->frames[p->stack_frames[p->stacks[i].off + j]];
			const char *name = profile__s(p, fr->name);

			if (fr->kind == AP_FRAME_KERNEL && (!strncmp(name, "bpf_trace_run", 13) ||
							    !strncmp(name, "__bpf_trace_", 12))) {
				ours[i] = 1;
				break;
			}
		}
	for (i = 0; i < p->nr_counts; i++)
		if (ours[p->counts[i].stack])
			n += p->counts[i].count;
	free(ours);
	if (n && n * 100 >= p->total_samples) /* 1% or more: say so */
		fprintf(f, "  observer effect: %.1f%% of samples ran autoprof-bpf's tracepoint programs in the "
			"target (its syscalls and context switches); --no-syscalls / --no-offcpu remove them\n",
			pct(n, p->total_samples));
}

static int by_samples(const void *a, const void *b)
{
	const struct ap_process *x = *(const struct ap_process *const *)a;
	const struct ap_process *y = *(const struct ap_process *const *)b;

	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* the command line on one line, at most max characters */
static void print_cmdline(FILE *f, const char *s, int max)
{
	char *c = tty_dup(s);

	fprintf(f, "%.*s", max, c);
	free(c);
}

static void exit_text(int status, char *buf, size_t len)
{
	if (status < 0)
		snprintf(buf, len, "-");
	else if ((status & 0x7f) && sigabbrev_np(status & 0x7f))
		snprintf(buf, len, "SIG%s", sigabbrev_np(status & 0x7f));
	else if (status & 0x7f)
		snprintf(buf, len, "sig %d", status & 0x7f);
	else
		snprintf(buf, len, "%d", (status >> 8) & 0xff);
}

static int service_by_samples(const void *a, const void *b)
{
	const struct ap_service_row *x = a, *y = b;

	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return x->service < y->service ? -1 : x->service > y->service;
}

struct ap_service_row *services_rank(const struct profile *p, size_t *n)
{
	struct ap_service_row *rows = NULL;
	struct hmap idx = { 0 };
	size_t i, cap = 0;
	uint64_t *slot;
	bool is_new;

	*n = 0;
	for (i = 0; i < p->nr_procs; i++) {
		const struct ap_process *pr = &p->procs[i];

		slot = hmap_upsert(&idx, &pr->service, sizeof(pr->service), *n, &is_new);
		if (is_new) {
			GROW(rows, cap, *n + 1);
			rows[(*n)++] = (struct ap_service_row){ .service = pr->service };
		}
		rows[*slot].samples += pr->samples;
		rows[*slot].nr_procs++;
	}
	hmap_free(&idx);
	if (*n)
		qsort(rows, *n, sizeof(*rows), service_by_samples);
	return rows;
}

/* services, busiest first, when the processes belong to more than one */
static void print_services(FILE *f, const struct profile *p)
{
	size_t n, i;
	struct ap_service_row *r = services_rank(p, &n);

	if (n >= 2) {
		fprintf(f, "  services: %zu\n    %6s %6s  %s\n", n, "cpu", "procs", "service");
		for (i = 0; i < n && i < 10; i++) {
			char *name = tty_dup(r[i].service ? profile__s(p, r[i].service) : "(none known)");

			fprintf(f, "    %5.1f%% %6zu  %s\n", pct(r[i].samples, p->total_samples),
				r[i].nr_procs, name);
			free(name);
		}
		if (n > 10)
			fprintf(f, "    ... %zu more (artifacts/cpu.json has every process's service)\n",
				n - 10);
	}
	free(r);
}

/* the processes followed, busiest first, with parent and exit status */
static void print_processes(FILE *f, const struct profile *p)
{
	const struct ap_process **v = calloc(p->nr_procs, sizeof(*v));
	size_t i, shown = 0;
	char ex[16];

	if (!v)
		return;
	for (i = 0; i < p->nr_procs; i++)
		v[i] = &p->procs[i];
	qsort(v, p->nr_procs, sizeof(*v), by_samples);
	fprintf(f, "  processes: %zu followed\n    %7s %7s %-16s %6s %6s  %s\n", p->nr_procs, "pid",
		"ppid", "name", "cpu", "exit", "command");
	for (i = 0; i < p->nr_procs && shown < 10; i++, shown++) {
		char *comm = tty_dup(profile__s(p, v[i]->comm));

		exit_text(v[i]->exit_status, ex, sizeof(ex));
		fprintf(f, "    %7u %7u %-16s %5.1f%% %6s  ", v[i]->pid, v[i]->ppid, comm,
			pct(v[i]->samples, p->total_samples), ex);
		free(comm);
		print_cmdline(f, profile__s(p, v[i]->cmdline), 60);
		fputc('\n', f);
	}
	if (p->nr_procs > shown)
		fprintf(f, "    ... %zu more with fewer samples (run.json lists all)\n",
			p->nr_procs - shown);
	free(v);
}

static int thread_by_samples(const void *a, const void *b)
{
	const struct ap_thread *x = *(const struct ap_thread *const *)a;
	const struct ap_thread *y = *(const struct ap_thread *const *)b;

	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* busiest threads with their names and, for Python, how often they held the GIL */
static void print_threads(FILE *f, const struct profile *p)
{
	const struct ap_thread **v = calloc(p->nr_threads, sizeof(*v));
	bool py = false;
	size_t i;

	if (!v)
		return;
	for (i = 0; i < p->nr_threads; i++) {
		v[i] = &p->threads[i];
		py |= v[i]->python_samples > 0;
	}
	qsort(v, p->nr_threads, sizeof(*v), thread_by_samples);
	fprintf(f, "\nThreads (%zu):\n  %7s %7s %-16s %7s%s\n", p->nr_threads, "pid", "tid", "name",
		"cpu%", py ? "  python%  holds-GIL%" : "");
	for (i = 0; i < p->nr_threads && i < 10; i++) {
		char name[64], *comm;

		fit16(name, sizeof(name), profile__thread_name(p, v[i]));
		comm = tty_dup(name);
		fprintf(f, "  %7u %7u %-16s %6.1f%%", v[i]->pid, v[i]->tid, comm,
			pct(v[i]->samples, p->total_samples));
		free(comm);
		/* free-threaded with the GIL off: there is none to hold */
		if (py && v[i]->nogil_samples * 2 > v[i]->samples)
			fprintf(f, "  %6.1f%%  %10s", pct(v[i]->python_samples, v[i]->samples),
				"no GIL");
		else if (py)
			fprintf(f, "  %6.1f%%  %9.1f%%", pct(v[i]->python_samples, v[i]->samples),
				pct(v[i]->gil_samples, v[i]->samples));
		fputc('\n', f);
	}
	if (p->nr_threads > 10)
		fprintf(f, "  ... %zu more (artifacts/cpu.json lists all)\n", p->nr_threads - 10);
	free(v);
}

void summary_print(const struct profile *p, const struct summary_info *si, FILE *f)
{
	struct fn_table t = { 0 };
	struct ap_completeness c;
	char *target = tty_dup(si->target), *outdir = si->outdir ? tty_dup(si->outdir) : NULL;
	size_t i;

	fprintf(f, "\n== autoprof-bpf: %s ==\n", target);
	fprintf(f, "  %.2f s wall, %llu on-CPU samples at %u Hz (%.2f CPU-seconds)", si->wall_s,
		(unsigned long long)p->total_samples, p->frequency_hz,
		p->frequency_hz ? (double)p->total_samples / p->frequency_hz : 0.0);
	if (si->exit_code >= 0)
		fprintf(f, ", exit status %d", si->exit_code);
	fputc('\n', f);
	if (si->exit_signal > 0) {
		const char *ab = sigabbrev_np(si->exit_signal);

		if (ab)
			fprintf(f, "  the target was killed by SIG%s%s\n", ab,
				si->core_dumped ? " (core dumped)" : "");
		else
			fprintf(f, "  the target was killed by signal %d%s\n", si->exit_signal,
				si->core_dumped ? " (core dumped)" : "");
	}
	profile__completeness(p, &c);
	if (c.user_samples)
		fprintf(f, "  stack completeness: %.1f%% of user stacks reach the thread entry (%llu of %llu)\n",
			pct(c.complete, c.user_samples), (unsigned long long)c.complete,
			(unsigned long long)c.user_samples);
	if (c.user_samples && c.complete < c.user_samples * 0.95 &&
	    profile__counter(p, "user_stack_truncated"))
		fprintf(f, "    %llu stack copies hit the --stack-size limit: a larger one may help\n",
			(unsigned long long)profile__counter(p, "user_stack_truncated"));
	print_losses(f, p);
	print_observer(f, p);
	if (p->nr_procs > 1) {
		print_processes(f, p);
		print_services(f, p);
	}
	if (p->has_offcpu)
		ap_blocked_print(p, f);
	ap_async_print(p, f);
	ap_py_missing_print(p, f);
	if (!p->total_samples) {
		fprintf(f, "  no samples: the target used less CPU than one sampling period (%.1f ms)\n",
			p->frequency_hz ? 1000.0 / p->frequency_hz : 0.0);
	} else {
		build_functions(p, si->view, &t);
		fprintf(f, "\nTop functions by self time:\n");
		print_table(f, &t, p->total_samples, si->top_functions, true);
		print_symbol_hint(f, &t, p->total_samples);
		fprintf(f, "\nTop functions by total time:\n");
		print_table(f, &t, p->total_samples, si->top_functions, false);
		fprintf(f, "\nTop stacks (leaf last):\n");
		print_stacks(f, p, si->view, si->top_stacks);
		if (p->nr_threads > 1 || (p->nr_threads && p->threads[0].python_samples))
			print_threads(f, p);
	}
	if (p->has_offcpu) {
		print_wall(f, p);
		print_off_stacks(f, p, si->view, si->top_stacks);
	}
	if (p->has_syscalls)
		print_syscalls(f, p, 8);
	ap_memory_print(p, si->view, f);
	if (outdir) {
		struct strbuf more = { 0 };

		ap_formats_files(si->formats, &more);
		fprintf(f, "\nFiles: %s/ (report.md, findings.json, run.json, artifacts/, stacks.folded%s%s)\n",
			outdir, p->has_offcpu ? ", offcpu.folded" : "", more.buf ? more.buf : "");
		if (si->formats & AP_FMT_HTML)
			fprintf(f, "Open %s/report.html in a browser for the interactive flame graph.\n",
				outdir);
		sb_free(&more);
	}
	for (i = 0; i < t.nr; i++)
		free(t.rows[i].label);
	free(t.rows);
	hmap_free(&t.idx);
	free(target);
	free(outdir);
}
