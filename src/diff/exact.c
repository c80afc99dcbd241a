// SPDX-License-Identifier: MIT
/* `diff`'s exact deltas: wall time by reason per process and per function
 * (the off-CPU collector's scheduler accounting, offcpu.json) and syscall
 * calls, time, bytes and errors per process (syscalls.json). These are
 * measured, not sampled, so there is no test: a change counts when it
 * passes a floor (AP_DIFF_FLOOR_PCT of the base value and an absolute
 * floor per quantity), which keeps two runs of one program quiet. Processes
 * are matched by name (comm): pids differ from run to run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diff/diff.h"
#include "util.h"

const char *const ap_diff_wall_names[AP_DIFF_WALL__COUNT] = {
	[AP_DIFF_WALL_ONCPU] = "oncpu_s", [AP_DIFF_WALL_RUNNABLE] = "runnable_s",
	[AP_DIFF_WALL_IO] = "io_s",       [AP_DIFF_WALL_LOCK] = "lock_s",
	[AP_DIFF_WALL_IDLE] = "idle_s",   [AP_DIFF_WALL_GIL] = "gil_s",
	[AP_DIFF_WALL_SLEEP] = "sleep_s", [AP_DIFF_WALL_CHILD] = "child_s",
	[AP_DIFF_WALL_OTHER] = "other_s",
};
const char *const ap_diff_sys_names[AP_DIFF_SYS__COUNT] = {
	[AP_DIFF_SYS_CALLS] = "calls", [AP_DIFF_SYS_TIME] = "time_s",
	[AP_DIFF_SYS_BYTES] = "bytes", [AP_DIFF_SYS_ERRORS] = "errors",
};
static const double sys_floor[AP_DIFF_SYS__COUNT] = {
	AP_DIFF_FLOOR_CALLS, AP_DIFF_FLOOR_S, AP_DIFF_FLOOR_BYTES, AP_DIFF_FLOOR_CALLS,
};
/* the process metrics of each wall reason */
static const int proc_metric[AP_DIFF_WALL__COUNT] = {
	AP_M_P_ONCPU_S, AP_M_P_RUNNABLE_S, AP_M_P_IO_S,	   AP_M_P_LOCK_S,  AP_M_P_IDLE_S,
	AP_M_P_GIL_S,	AP_M_P_SLEEP_S,	   AP_M_P_CHILD_S, AP_M_P_OTHER_S,
};

bool ap_diff_beyond(double a, double b, double floor)
{
	double d = fabs(b - a);

	return d >= floor && d >= AP_DIFF_FLOOR_PCT / 100 * fabs(a);
}

/* one run's rows, before they are matched */
struct rows {
	struct ap_diff_exact *v;
	size_t n, cap;
};

static double *add_row(struct rows *r, const char *kind, const char *file, const char *name)
{
	struct ap_diff_exact *e;

	GROW(r->v, r->cap, r->n + 1);
	e = &r->v[r->n++];
	*e = (struct ap_diff_exact){ .kind = kind, .file = xstrdup(file), .name = xstrdup(name) };
	return e->v[0];
}

static int row_cmp(const void *a, const void *b)
{
	const struct ap_diff_exact *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);

	if (!c)
		c = strcmp(x->file, y->file);
	return c ? c : strcmp(x->name, y->name);
}

/* sort r and sum the rows of one identity into one (in v[0]) */
static void rows_fold(struct rows *r)
{
	size_t i, j = 0, q;

	if (!r->n)
		return;
	qsort(r->v, r->n, sizeof(*r->v), row_cmp);
	for (i = 1; i < r->n; i++) {
		if (!row_cmp(&r->v[j], &r->v[i])) {
			for (q = 0; q < AP_DIFF_EXACT_MAX; q++)
				r->v[j].v[0][q] += r->v[i].v[0][q];
			free(r->v[i].file), free(r->v[i].name);
			continue;
		}
		r->v[++j] = r->v[i];
	}
	r->n = j + 1;
}

static double num(const struct ap_subject *s, int id)
{
	double v = s->v[ap_metric_slot(id)].v;

	return isnan(v) ? 0 : v;
}

static void process_rows(const struct ap_analysis *an, struct rows *r)
{
	size_t i, q;

	for (i = 0; i < an->nr_subj[AP_SCOPE_PROCESS]; i++) {
		const struct ap_subject *s = &an->subj[AP_SCOPE_PROCESS][i];
		const char *comm = s->v[ap_metric_slot(AP_M_P_COMM)].s;
		double *v = add_row(r, "process", "", comm ? comm : "");

		for (q = 0; q < AP_DIFF_WALL__COUNT; q++)
			v[q] = num(s, proc_metric[q]);
	}
}

static int wall_reason(const struct ap_analysis *an, const struct ap_off_row *o)
{
	switch (o->reason) {
	case AP_OFF_PREEMPTED:
	case AP_OFF_RUNQUEUE:
		return AP_DIFF_WALL_RUNNABLE;
	case AP_OFF_GIL:
		return AP_DIFF_WALL_GIL;
	case AP_OFF_LOCK: /* idle waits apart, as process.lock_s and idle_s */
		return an->stack_idle && an->stack_idle[o->stack] ? AP_DIFF_WALL_IDLE :
								    AP_DIFF_WALL_LOCK;
	case AP_OFF_SLEEP:
		return AP_DIFF_WALL_SLEEP;
	case AP_OFF_IO_DISK:
	case AP_OFF_IO_NET:
	case AP_OFF_IO_PIPE:
	case AP_OFF_POLL:
		return AP_DIFF_WALL_IO;
	case AP_OFF_CHILD:
		return AP_DIFF_WALL_CHILD;
	default:
		return AP_DIFF_WALL_OTHER;
	}
}

/* the function a blocked stack is charged to: its innermost Python frame,
 * else its innermost user frame, else its leaf; AP_NONE for an empty one */
static uint32_t site_frame(const struct profile *p, uint32_t stack)
{
	const struct ap_stack *st;
	uint32_t i, fr, user = AP_NONE;

	if (stack >= p->nr_stacks || !p->stacks[stack].len)
		return AP_NONE;
	st = &p->stacks[stack];
	for (i = st->len; i-- > 0;) {
		fr = p->stack_frames[st->off + i];
		if (p->frames[fr].kind == AP_FRAME_PYTHON)
			return fr;
		if (user == AP_NONE && p->frames[fr].kind == AP_FRAME_USER)
			user = fr;
	}
	return user != AP_NONE ? user : p->stack_frames[st->off + st->len - 1];
}

static void function_rows(const struct ap_analysis *an, struct rows *r)
{
	const struct profile *p = &an->in.prof;
	size_t i;

	for (i = 0; i < p->nr_off; i++) {
		const struct ap_off_row *o = &p->off[i];
		uint32_t fr = site_frame(p, o->stack);
		const struct ap_frame *f;
		double *v;

		if (fr == AP_NONE)
			continue;
		f = &p->frames[fr];
		v = add_row(r, ap_frame_kind_names[f->kind],
			    ap_diff_file_key(ap_frame_kind_names[f->kind],
					     f->module == AP_NONE ? "" :
								    profile__s(p, p->modules[f->module].path)),
			    profile__s(p, f->name));
		v[wall_reason(an, o)] = o->ns / 1e9;
	}
}

static void syscall_rows(const struct ap_analysis *an, struct rows *r)
{
	const struct profile *p = &an->in.prof;
	char nb[32], pb[32];
	size_t i;

	for (i = 0; i < p->nr_sys; i++) {
		const struct ap_sys_row *s = &p->sys[i];
		const struct ap_process *pr = profile__find_process(p, s->pid);
		const char *name = ap_syscall_name(s->nr), *comm = pr ? profile__s(p, pr->comm) : "";
		double *v;

		if (!name)
			snprintf(nb, sizeof(nb), "syscall_%u", s->nr), name = nb;
		if (!*comm)
			snprintf(pb, sizeof(pb), "pid %u", s->pid), comm = pb;
		v = add_row(r, "syscall", comm, name);
		v[AP_DIFF_SYS_CALLS] = s->count;
		v[AP_DIFF_SYS_TIME] = s->total_ns / 1e9;
		v[AP_DIFF_SYS_BYTES] = s->bytes;
		v[AP_DIFF_SYS_ERRORS] = s->errors;
	}
}

static double floor_of(const struct ap_diff_exact *e, int q)
{
	return strcmp(e->kind, "syscall") ? AP_DIFF_FLOOR_S : sys_floor[q];
}

/* changed bits and score of a matched row of nq quantities */
static void judge(struct ap_diff_exact *e, int nq)
{
	int q;

	for (q = 0; q < nq; q++) {
		double a = e->v[0][q], b = e->v[1][q], fl = floor_of(e, q);

		if (!ap_diff_beyond(a, b, fl))
			continue;
		e->changed |= 1u << q;
		e->score = fmax(e->score, fabs(b - a) / fl);
	}
}

/* changed first, then by the size of the change in floors */
static int out_cmp(const void *a, const void *b)
{
	const struct ap_diff_exact *x = a, *y = b;

	if (!x->changed != !y->changed)
		return x->changed ? -1 : 1;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return row_cmp(a, b);
}

/* match the folded rows of both runs into *out (owning their strings) */
static void match(struct rows *b, struct rows *n, int nq, struct ap_diff_exact **out, size_t *nr)
{
	size_t i = 0, j = 0, cap = 0;
	struct ap_diff_exact *e;
	int c;

	rows_fold(b);
	rows_fold(n);
	*out = NULL, *nr = 0;
	while (i < b->n || j < n->n) {
		c = i == b->n ? 1 : j == n->n ? -1 : row_cmp(&b->v[i], &n->v[j]);
		GROW(*out, cap, *nr + 1);
		e = &(*out)[(*nr)++];
		*e = c > 0 ? n->v[j] : b->v[i];
		memset(e->v, 0, sizeof(e->v));
		if (c <= 0)
			memcpy(e->v[0], b->v[i].v[0], sizeof(e->v[0]));
		if (c >= 0)
			memcpy(e->v[1], n->v[j].v[0], sizeof(e->v[1]));
		if (!c)
			free(n->v[j].file), free(n->v[j].name);
		i += c <= 0;
		j += c >= 0;
		judge(e, nq);
	}
	free(b->v), free(n->v);
	if (*nr)
		qsort(*out, *nr, sizeof(**out), out_cmp);
}

void ap_diff__compute_exact(struct ap_diff *d, const struct ap_analysis *base,
			    const struct ap_analysis *new)
{
	struct rows rb = { 0 }, rn = { 0 };

	d->has_wall = base->in.prof.has_offcpu && new->in.prof.has_offcpu;
	d->has_sys = base->in.prof.has_syscalls && new->in.prof.has_syscalls;
	if (d->has_wall) {
		process_rows(base, &rb);
		function_rows(base, &rb);
		process_rows(new, &rn);
		function_rows(new, &rn);
		match(&rb, &rn, AP_DIFF_WALL__COUNT, &d->wall, &d->nr_wall);
	}
	if (d->has_sys) {
		rb = (struct rows){ 0 }, rn = (struct rows){ 0 };
		syscall_rows(base, &rb);
		syscall_rows(new, &rn);
		match(&rb, &rn, AP_DIFF_SYS__COUNT, &d->sys, &d->nr_sys);
	}
}

void ap_diff__exact_free(struct ap_diff *d)
{
	size_t i;

	for (i = 0; i < d->nr_wall; i++)
		free(d->wall[i].file), free(d->wall[i].name);
	for (i = 0; i < d->nr_sys; i++)
		free(d->sys[i].file), free(d->sys[i].name);
	for (i = 0; i < d->nr_found; i++)
		free(d->found[i].subject);
	free(d->wall), free(d->sys), free(d->found);
	d->wall = d->sys = NULL;
	d->found = NULL;
	d->nr_wall = d->nr_sys = d->nr_found = 0;
}
