// SPDX-License-Identifier: MIT
/* trace.json: the run as Chrome trace events (JSON object format), for
 * Perfetto and chrome://tracing. Per thread, on one track:
 *  - the sampled stacks as nested B/E slices: consecutive samples that
 *    share a prefix keep those slices open; a slice closes one sample
 *    period after its last sample, or where the thread blocks;
 *  - each off-CPU interval of at least --trace-min-block as an X slice
 *    "off-CPU: <reason>" with its blocked and runnable parts and stack.
 * Slow syscalls (the slowest few of each process, syscall and stack) are
 * async slices (b/e) on their process; RSS and CPU % of
 * each process are counters. Timestamps are µs since profiling start. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/analyze.h"
#include "report/formats.h"

size_t ap_trace_timeline_bytes = 64u << 20;

static const char *const class_names[AP_FC__COUNT] = { "python", "native", "kernel", "interpreter" };

/* Events are written one by one as they are made (the whole array as one
 * cJSON tree took ~7x the file's size in memory): event() prints the
 * previous one, which is complete by then, and returns the new one. */
struct tr {
	const struct ap_pics *x;
	struct strbuf *out;
	cJSON *ev;                  /* the event being filled in */
	size_t nr_ev;
	size_t samples_cut, ivals_cut; /* not drawn: over ap_trace_timeline_bytes */
	uint64_t cut_ns[AP_OFF__COUNT];    /* ... the time of those intervals */
	uint64_t t0;
	double floor_us;            /* no event of the current thread before this */
};

static double us(const struct tr *t, uint64_t ns)
{
	return ns > t->t0 ? (ns - t->t0) / 1000.0 : 0;
}

static void event_flush(struct tr *t)
{
	char *text;

	if (!t->ev)
		return;
	text = cJSON_PrintUnformatted(t->ev);
	if (t->nr_ev++)
		sb_puts(t->out, ",");
	sb_puts(t->out, text);
	free(text);
	cJSON_Delete(t->ev);
	t->ev = NULL;
}

/* a new event; the previous one is written and must not be touched again */
static cJSON *event(struct tr *t, const char *ph, uint32_t pid, uint32_t tid, double ts)
{
	cJSON *o = cJSON_CreateObject();

	event_flush(t);
	cJSON_AddStringToObject(o, "ph", ph);
	cJSON_AddNumberToObject(o, "pid", pid);
	cJSON_AddNumberToObject(o, "tid", tid);
	cJSON_AddNumberToObject(o, "ts", ts);
	t->ev = o;
	return o;
}

static void metadata(struct tr *t, const char *what, uint32_t pid, uint32_t tid, const char *name)
{
	cJSON *o = event(t, "M", pid, tid, 0);

	cJSON_AddStringToObject(o, "name", what);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "args"), "name", name);
}

/* "a > b > c", root first, at most the innermost 24 frames */
static char *stack_text(const struct ap_pics *x, uint32_t stack)
{
	struct strbuf sb = { 0 };
	uint32_t n, i;
	const uint32_t *fr = ap_pics_stack(x, stack, &n);

	for (i = n > 24 ? n - 24 : 0; i < n; i++)
		sb_printf(&sb, "%s%s", sb.len ? " > " : (n > 24 ? "... > " : ""), x->labels[fr[i]]);
	if (!sb.buf)
		sb_puts(&sb, "");
	return sb.buf;
}

static const struct profile *sort_p;

/* (pid, tid, time) order */
static int thread_time_cmp(uint32_t pa, uint32_t ta, uint64_t a, uint32_t pb, uint32_t tb, uint64_t b)
{
	if (pa != pb)
		return pa < pb ? -1 : 1;
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int by_thread_time(const void *a, const void *b)
{
	const struct ap_sample_time *x = &sort_p->times[*(const size_t *)a];
	const struct ap_sample_time *y = &sort_p->times[*(const size_t *)b];

	return thread_time_cmp(x->pid, x->tid, x->t_ns, y->pid, y->tid, y->t_ns);
}

static int by_thread_start(const void *a, const void *b)
{
	const struct ap_interval *x = &sort_p->ivals[*(const size_t *)a];
	const struct ap_interval *y = &sort_p->ivals[*(const size_t *)b];

	return thread_time_cmp(x->pid, x->tid, x->start_ns, y->pid, y->tid, y->start_ns);
}

/* the open slices of one thread */
struct track {
	uint32_t pid, tid;
	uint32_t *open;
	uint32_t nr_open;
	double last_us;             /* the last sample */
};

static void close_to(struct tr *t, struct track *k, uint32_t depth, double ts)
{
	if (ts < t->floor_us)
		ts = t->floor_us;
	while (k->nr_open > depth) {
		k->nr_open--;
		event(t, "E", k->pid, k->tid, ts);
	}
	t->floor_us = ts;
}

static void on_sample(struct tr *t, struct track *k, const struct ap_sample_time *s, double period_us)
{
	const struct profile *p = t->x->p;
	double ts = us(t, s->t_ns);
	uint32_t n, i, c = 0;
	const uint32_t *fr = ap_pics_stack(t->x, s->stack, &n);
	cJSON *o;

	if (k->nr_open && ts > k->last_us + 2 * period_us)
		close_to(t, k, 0, k->last_us + period_us);
	if (ts < t->floor_us)
		ts = t->floor_us;
	while (c < k->nr_open && c < n && k->open[c] == fr[c])
		c++;
	close_to(t, k, c, ts);
	for (i = c; i < n; i++) {
		o = event(t, "B", k->pid, k->tid, ts);

		cJSON_AddStringToObject(o, "name", t->x->labels[fr[i]]);
		cJSON_AddStringToObject(o, "cat", class_names[ap_frame_class(p, fr[i])]);
		k->open[k->nr_open++] = fr[i];
	}
	/* the sample itself, a tick on the thread's track */
	o = event(t, "i", k->pid, k->tid, ts);
	cJSON_AddStringToObject(o, "name", "sample");
	cJSON_AddStringToObject(o, "s", "t");
	k->last_us = ts;
}

static void on_interval(struct tr *t, struct track *k, const struct ap_interval *iv, double period_us)
{
	double start = us(t, iv->start_ns), end = start + (iv->block_ns + iv->runq_ns) / 1000.0;
	char name[64], *st;
	cJSON *o, *a;

	if (k->nr_open)
		close_to(t, k, 0, k->last_us + period_us < start ? k->last_us + period_us : start);
	if (start < t->floor_us)
		start = t->floor_us;
	if (end < start)
		end = start;
	snprintf(name, sizeof(name), "off-CPU: %s", ap_off_reason_names[iv->reason]);
	o = event(t, "X", k->pid, k->tid, start);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "cat", "offcpu");
	cJSON_AddNumberToObject(o, "dur", end - start);
	a = cJSON_AddObjectToObject(o, "args");
	cJSON_AddStringToObject(a, "reason", ap_off_reason_names[iv->reason]);
	cJSON_AddNumberToObject(a, "blocked_ms", iv->block_ns / 1e6);
	cJSON_AddNumberToObject(a, "runnable_ms", iv->runq_ns / 1e6);
	if (iv->stack != AP_NONE) {
		st = stack_text(t->x, iv->stack);
		cJSON_AddStringToObject(a, "stack", st);
		free(st);
	}
	t->floor_us = end;
}

/* one thread's samples ts[i0, i1) and intervals is[j0, j1) */
struct span {
	uint32_t pid, tid;
	size_t i0, i1, j0, j1;
};

static int by_size(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	size_t nx = x->i1 - x->i0 + x->j1 - x->j0, ny = y->i1 - y->i0 + y->j1 - y->j0;

	if (nx != ny)
		return nx < ny ? -1 : 1;
	return thread_time_cmp(x->pid, x->tid, 0, y->pid, y->tid, 0);
}

/* the threads' spans in the (pid, tid, time)-sorted samples and intervals */
static struct span *spans_of(const struct profile *p, const size_t *ts, const size_t *is, size_t *nr)
{
	struct span *sp = NULL;
	size_t i = 0, j = 0, n = 0, cap = 0;

	while (i < p->nr_times || j < p->nr_ivals) {
		const struct ap_sample_time *s = i < p->nr_times ? &p->times[ts[i]] : NULL;
		const struct ap_interval *v = j < p->nr_ivals ? &p->ivals[is[j]] : NULL;
		bool take_s = s && (!v || thread_time_cmp(s->pid, s->tid, 0, v->pid, v->tid, 0) <= 0);
		struct span x = { take_s ? s->pid : v->pid, take_s ? s->tid : v->tid, i, i, j, j };

		while (x.i1 < p->nr_times && p->times[ts[x.i1]].pid == x.pid && p->times[ts[x.i1]].tid == x.tid)
			x.i1++;
		while (x.j1 < p->nr_ivals && p->ivals[is[x.j1]].pid == x.pid && p->ivals[is[x.j1]].tid == x.tid)
			x.j1++;
		GROW(sp, cap, n + 1);
		sp[n++] = x;
		i = x.i1;
		j = x.j1;
	}
	*nr = n;
	return sp;
}

/* Thread by thread, samples and intervals merged by time. The threads'
 * slices share ap_trace_timeline_bytes: smallest thread first, each may use
 * an equal share of what is left, so small threads are drawn whole and the
 * busiest ones up to their share; what is cut is counted. */
static void threads(struct tr *t)
{
	const struct profile *p = t->x->p;
	double period_us = p->frequency_hz ? 1e6 / p->frequency_hz : 10000;
	size_t *ts = xcalloc(p->nr_times + 1, sizeof(*ts)), *is = xcalloc(p->nr_ivals + 1, sizeof(*is));
	size_t n, r, nr_spans, left = ap_trace_timeline_bytes;
	uint32_t maxlen = 1;
	struct track k = { 0 };
	struct span *sp;

	for (n = 0; n < p->nr_times; n++)
		ts[n] = n;
	for (n = 0; n < p->nr_ivals; n++)
		is[n] = n;
	sort_p = p;
	qsort(ts, p->nr_times, sizeof(*ts), by_thread_time);
	qsort(is, p->nr_ivals, sizeof(*is), by_thread_start);
	for (n = 0; n < p->nr_stacks; n++)
		if (t->x->vlen[n] > maxlen)
			maxlen = t->x->vlen[n];
	k.open = xcalloc(maxlen, sizeof(*k.open));
	sp = spans_of(p, ts, is, &nr_spans);
	if (nr_spans > 1)
		qsort(sp, nr_spans, sizeof(*sp), by_size);
	for (r = 0; r < nr_spans; r++) {
		size_t i = sp[r].i0, j = sp[r].j0, start, budget = left / (nr_spans - r);

		event_flush(t);
		start = t->out->len;
		k.pid = sp[r].pid;
		k.tid = sp[r].tid;
		k.nr_open = 0;
		k.last_us = 0;
		t->floor_us = 0;
		while (i < sp[r].i1 || j < sp[r].j1) {
			const struct ap_sample_time *s = i < sp[r].i1 ? &p->times[ts[i]] : NULL;
			const struct ap_interval *v = j < sp[r].j1 ? &p->ivals[is[j]] : NULL;

			if (t->out->len - start > budget) {
				t->samples_cut += sp[r].i1 - i;
				t->ivals_cut += sp[r].j1 - j;
				for (; j < sp[r].j1; j++) {
					t->cut_ns[p->ivals[is[j]].reason] += p->ivals[is[j]].block_ns;
					t->cut_ns[AP_OFF_RUNQUEUE] += p->ivals[is[j]].runq_ns;
				}
				break;
			}
			if (s && (!v || s->t_ns <= v->start_ns)) {
				on_sample(t, &k, s, period_us);
				i++;
			} else {
				on_interval(t, &k, v, period_us);
				j++;
			}
		}
		close_to(t, &k, 0, k.last_us + period_us);
		event_flush(t);
		left -= t->out->len - start < left ? t->out->len - start : left;
	}
	free(sp);
	free(k.open);
	free(ts);
	free(is);
}

/* each slow-call row's examples (its slowest calls) as async slices */
static void slow_calls(struct tr *t)
{
	const struct profile *p = t->x->p;
	size_t i, id = 0;
	uint32_t j;

	for (i = 0; i < p->nr_slow; i++) {
		const struct ap_slow_call *sc = &p->slow[i];
		const char *name = ap_syscall_name(sc->nr);
		char *st = stack_text(t->x, sc->stack);

		for (j = 0; j < sc->nr_examples; j++) {
			const struct ap_slow_example *ex = &sc->ex[j];
			cJSON *b = event(t, "b", sc->pid, ex->tid, us(t, ex->start_ns)), *e;
			cJSON *a = cJSON_AddObjectToObject(b, "args");

			id++;
			cJSON_AddStringToObject(b, "name", name ? name : "syscall");
			cJSON_AddStringToObject(b, "cat", "slow_syscall");
			cJSON_AddNumberToObject(b, "id", id);
			cJSON_AddNumberToObject(a, "tid", ex->tid);
			cJSON_AddNumberToObject(a, "duration_ms", ex->dur_ns / 1e6);
			cJSON_AddNumberToObject(a, "ret", (double)ex->ret);
			/* the row this call stands for */
			cJSON_AddNumberToObject(a, "calls_from_this_stack", (double)sc->count);
			cJSON_AddNumberToObject(a, "total_ms_from_this_stack", sc->total_ns / 1e6);
			cJSON_AddStringToObject(a, "stack", st);
			e = event(t, "e", sc->pid, ex->tid, us(t, ex->start_ns + ex->dur_ns));
			cJSON_AddStringToObject(e, "name", name ? name : "syscall");
			cJSON_AddStringToObject(e, "cat", "slow_syscall");
			cJSON_AddNumberToObject(e, "id", id);
		}
		free(st);
	}
}

static void counters(struct tr *t)
{
	const struct ap_input *in = t->x->in;
	size_t i, j;

	for (i = 0; i < in->nr_series; i++) {
		const struct ap_series *s = &in->series[i];

		for (j = 0; j < s->n; j++) {
			cJSON *o, *a;

			if (s->rss_kb[j] == s->rss_kb[j]) {
				o = event(t, "C", s->pid, s->pid, s->t[j] * 1e6);
				cJSON_AddStringToObject(o, "name", "RSS (MB)");
				a = cJSON_AddObjectToObject(o, "args");
				cJSON_AddNumberToObject(a, "rss_mb", s->rss_kb[j] / 1024);
			}
			if (s->cpu_pct[j] == s->cpu_pct[j]) {
				o = event(t, "C", s->pid, s->pid, s->t[j] * 1e6);
				cJSON_AddStringToObject(o, "name", "CPU (%)");
				a = cJSON_AddObjectToObject(o, "args");
				cJSON_AddNumberToObject(a, "cpu_pct", s->cpu_pct[j]);
			}
		}
	}
}

/* per reason: [ms in the intervals shown, ms in all], so a reader knows what
 * blocks shorter than --trace-min-block left off the timeline (fast disk
 * reads are often all under 1 ms) */
static void coverage(cJSON *o, const struct profile *p, const uint64_t *cut_ns)
{
	uint64_t in[AP_OFF__COUNT] = { 0 }, all[AP_OFF__COUNT] = { 0 };
	size_t i;
	int r;

	for (i = 0; i < p->nr_ivals; i++) {
		in[p->ivals[i].reason] += p->ivals[i].block_ns;
		in[AP_OFF_RUNQUEUE] += p->ivals[i].runq_ns;
	}
	for (r = 0; r < AP_OFF__COUNT; r++)
		in[r] -= cut_ns[r] < in[r] ? cut_ns[r] : in[r];
	for (i = 0; i < p->nr_threads; i++)
		for (r = 0; r < AP_OFF__COUNT; r++)
			all[r] += p->threads[i].off_ns[r];
	for (r = 0; r < AP_OFF__COUNT; r++) {
		cJSON *a;

		if (!all[r])
			continue;
		a = cJSON_AddArrayToObject(o, ap_off_reason_names[r]);
		cJSON_AddItemToArray(a, cJSON_CreateNumber(round(in[r] / 1e3) / 1e3));
		cJSON_AddItemToArray(a, cJSON_CreateNumber(round(all[r] / 1e3) / 1e3));
	}
}

void trace_render(const struct ap_pics *x, struct strbuf *out)
{
	const struct profile *p = x->p;
	struct tr t = { .x = x, .out = out, .t0 = p->start_mono_ns };
	cJSON *root = cJSON_CreateObject(), *meta;
	char name[512], *text;
	size_t i;

	sb_puts(out, "{\"traceEvents\":[");
	for (i = 0; i < p->nr_procs; i++) {
		const struct ap_process *pr = &p->procs[i];

		snprintf(name, sizeof(name), "%s (%u)", profile__s(p, pr->comm), pr->pid);
		metadata(&t, "process_name", pr->pid, pr->pid, name);
	}
	for (i = 0; i < p->nr_threads; i++) {
		const struct ap_thread *th = &p->threads[i];

		snprintf(name, sizeof(name), "%s %u", profile__thread_name(p, th), th->tid);
		metadata(&t, "thread_name", th->pid, th->tid, name);
	}
	threads(&t);
	slow_calls(&t);
	counters(&t);
	event_flush(&t);
	sb_puts(out, "],");
	cJSON_AddStringToObject(root, "displayTimeUnit", "ms");
	meta = cJSON_AddObjectToObject(root, "otherData");
	cJSON_AddStringToObject(meta, "exporter", "autoprof-bpf " AP_VERSION);
	cJSON_AddStringToObject(meta, "target", x->in->target);
	cJSON_AddNumberToObject(meta, "frequency_hz", p->frequency_hz);
	cJSON_AddNumberToObject(meta, "samples", (double)p->nr_times);
	cJSON_AddNumberToObject(meta, "offcpu_intervals", (double)p->nr_ivals);
	/* what the caps left off (README, "Output size") */
	cJSON_AddNumberToObject(meta, "samples_not_on_timeline",
				(double)profile__counter(p, "timeline_samples_dropped"));
	cJSON_AddNumberToObject(meta, "offcpu_intervals_not_on_timeline",
				(double)profile__counter(p, "offcpu_intervals_dropped"));
	cJSON_AddNumberToObject(meta, "samples_not_drawn", (double)t.samples_cut);
	cJSON_AddNumberToObject(meta, "offcpu_intervals_not_drawn", (double)t.ivals_cut);
	cJSON_AddNumberToObject(meta, "slow_calls", (double)profile__slow_calls(p));
	cJSON_AddNumberToObject(meta, "slow_call_stacks", (double)p->nr_slow);
	cJSON_AddNumberToObject(meta, "offcpu_interval_min_us", p->interval_min_ns / 1000.0);
	cJSON_AddBoolToObject(meta, "timeline", p->has_timeline);
	coverage(cJSON_AddObjectToObject(meta, "offcpu_ms_on_timeline"), p, t.cut_ns);
	text = cJSON_PrintUnformatted(root);
	sb_puts(out, text + 1); /* the rest of the object, after the events */
	free(text);
	cJSON_Delete(root);
}
