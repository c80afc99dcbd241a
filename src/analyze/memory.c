// SPDX-License-Identifier: MIT
/* The memory metrics of a process (issue 18): what the memory collector
 * recorded (profile->mem rows and the profile->mem_times timeline, model in
 * profile/profile.h) read against the resident-set timeline of proc.json.
 * Every value stays NAN (text: NULL) without the collector's data, so the
 * patterns that need it are listed as not evaluated and memory_growth's
 * text is unchanged.
 *
 * A "site" is where memory is touched in the program: the innermost Python
 * frame of a stack (qualname, file and line: one line of code), else its
 * innermost native frame outside the C library and the dynamic loader
 * (malloc's own frames say nothing), else its leaf. A stack with no frames
 * was not captured (a mapping call over the stack-capture rate). The leak,
 * growth and transient sites are "app sites": the innermost Python frame
 * outside libraries (ap_py_library_file(), as the CPU findings' "innermost
 * caller outside libraries"), the line in the user's code that keeps what
 * the library built (csv.py's DictReader.__next__ makes the row, the
 * caller's line stores it); without one, the site as above. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/analyze.h"
#include "hashmap.h"
#include "util.h"

/* a mapping this large, unmapped this soon, is a large transient mapping.
 * 64 MiB: twice glibc's largest dynamic mmap threshold (32 MiB on 64-bit,
 * DEFAULT_MMAP_THRESHOLD_MAX), so it is a buffer malloc always hands to the
 * kernel and back, never a heap arena or an allocator's own growth; each
 * round trip maps, zero-fills and faults 16384 fresh pages. 1 s: well inside
 * one iteration of a loop that could keep the buffer instead. */
#define AP_TRANSIENT_MIN_BYTES (64ull << 20)
#define AP_TRANSIENT_MAX_NS 1000000000ull
/* the leak fit's intervals, and the fifths whose presence it counts */
#define AP_LEAK_BINS 20
#define AP_LEAK_PARTS 5
#define AP_LEAK_MIN_QUINTILES 4
#define AP_LEAK_MIN_FIT 0.8
#define AP_LEAK_MAX_SHARE 2.0 /* slope / RSS slope: above, the memory comes back (churn) */
#define AP_SITE_MIN_SAMPLES 5 /* a leak site with fewer says nothing */
#define AP_PATH_MAX_FRAMES 8

static void setv(struct ap_subject *s, int id, double v)
{
	s->v[ap_metric_slot(id)].v = v;
}

static void setp(struct ap_subject *s, int id, uint64_t k, uint64_t n)
{
	struct ap_value *v = &s->v[ap_metric_slot(id)];

	v->v = n ? 100.0 * k / n : NAN;
	v->k = k, v->n = n;
}

static void sets_own(struct ap_analysis *an, struct ap_subject *s, int id, char *c)
{
	GROW(an->owned, an->cap_owned, an->nr_owned + 1);
	an->owned[an->nr_owned++] = c;
	s->v[ap_metric_slot(id)].s = c;
	s->v[ap_metric_slot(id)].v = 0;
}

static double getv(const struct ap_subject *s, int id)
{
	return s->v[ap_metric_slot(id)].v;
}

static bool libc_module(const struct profile *p, uint32_t mod)
{
	const char *path, *b;

	if (mod == AP_NONE)
		return false;
	path = profile__s(p, p->modules[mod].path);
	b = strrchr(path, '/');
	b = b ? b + 1 : path;
	return !strncmp(b, "libc.so", 7) || !strncmp(b, "libc-", 5) || !strncmp(b, "ld-linux", 8) ||
	       !strncmp(b, "ld-musl", 7) || !strncmp(b, "libc.musl", 9);
}

/* the site frame of a stack (see the top; app: an app site), or AP_NONE for
 * a stack not captured */
static uint32_t site_of(const struct profile *p, uint32_t stack, bool app)
{
	const struct ap_stack *st;
	const uint32_t *fr;
	uint32_t i, user = AP_NONE, py = AP_NONE;

	if (stack >= p->nr_stacks)
		return AP_NONE;
	st = &p->stacks[stack];
	if (!st->len)
		return AP_NONE;
	fr = &p->stack_frames[st->off];
	for (i = st->len; i > 0; i--) {
		const struct ap_frame *f = &p->frames[fr[i - 1]];

		if (f->kind == AP_FRAME_PYTHON) {
			if (!app || (f->module != AP_NONE &&
				     !ap_py_library_file(profile__s(p, p->modules[f->module].path))))
				return fr[i - 1];
			if (py == AP_NONE)
				py = fr[i - 1];
		}
		if (f->kind == AP_FRAME_USER && user == AP_NONE && !libc_module(p, f->module))
			user = fr[i - 1];
	}
	if (py != AP_NONE)
		return py;
	return user != AP_NONE ? user : fr[st->len - 1];
}

static char *site_text(const struct profile *p, uint32_t frame)
{
	const struct ap_frame *f;
	const char *file, *name;

	if (frame == AP_NONE)
		return xstrdup("(stack not captured)");
	f = &p->frames[frame];
	name = profile__s(p, f->name);
	file = f->module == AP_NONE ? "" : profile__s(p, p->modules[f->module].path);
	if (f->kind == AP_FRAME_PYTHON)
		return f->line ? xasprintf("%s (%s:%u)", name, file, f->line) :
				 xasprintf("%s (%s)", name, file);
	if (f->kind == AP_FRAME_KERNEL)
		return xasprintf("%s ([kernel])", name);
	return xasprintf("%s (%s)", name, *file ? (strrchr(file, '/') ? strrchr(file, '/') + 1 : file) :
						  "[unknown]");
}

/* the call path of a stack, outermost first: its Python frames, or its
 * native frames where it has none; the innermost AP_PATH_MAX_FRAMES */
static char *path_text(const struct profile *p, uint32_t stack)
{
	struct strbuf sb = { 0 };
	const struct ap_stack *st;
	const uint32_t *fr;
	uint32_t i, n = 0, skip;

	if (stack >= p->nr_stacks || !p->stacks[stack].len)
		return xstrdup("(stack not captured)");
	st = &p->stacks[stack];
	fr = &p->stack_frames[st->off];
	for (i = 0; i < st->len; i++)
		n += p->frames[fr[i]].kind == (st->python ? AP_FRAME_PYTHON : AP_FRAME_USER);
	skip = n > AP_PATH_MAX_FRAMES ? n - AP_PATH_MAX_FRAMES : 0;
	if (skip)
		sb_puts(&sb, "...");
	for (i = 0, n = 0; i < st->len; i++) {
		const struct ap_frame *f = &p->frames[fr[i]];

		if (f->kind != (st->python ? AP_FRAME_PYTHON : AP_FRAME_USER) || n++ < skip)
			continue;
		sb_printf(&sb, "%s%s", sb.len ? " > " : "", profile__s(p, f->name));
	}
	if (!sb.buf)
		return site_text(p, site_of(p, stack, false));
	return sb.buf;
}

/* per site: bytes and samples, and the heaviest stack */
struct site_acc {
	uint32_t site;
	uint64_t bytes, samples;
	uint32_t top_stack;
	uint64_t top_bytes;
	double bins[AP_LEAK_BINS];  /* bytes per interval of the timeline */
};

struct sites {
	struct hmap idx;
	struct site_acc *v;
	size_t n, cap;
	bool app; /* keyed by app sites */
};

static struct site_acc *site_get(struct sites *ss, uint32_t site)
{
	bool is_new;
	uint64_t *slot = hmap_upsert(&ss->idx, &site, sizeof(site), ss->n, &is_new);

	if (is_new) {
		GROW(ss->v, ss->cap, ss->n + 1);
		ss->v[ss->n++] = (struct site_acc){ .site = site, .top_stack = AP_NONE };
	}
	return &ss->v[*slot];
}

static void site_add(struct sites *ss, const struct profile *p, uint32_t stack, uint64_t bytes,
		     uint64_t samples, int bin)
{
	struct site_acc *a = site_get(ss, site_of(p, stack, ss->app));

	a->bytes += bytes;
	a->samples += samples;
	if (bin >= 0)
		a->bins[bin] += bytes;
	/* the heaviest stack: per row (rows are per stack), or the first seen */
	if (a->top_stack == AP_NONE || bytes > a->top_bytes)
		a->top_stack = stack, a->top_bytes = bytes;
}

/* the site of the most bytes (the smaller site id on ties), or NULL */
static const struct site_acc *site_top(const struct sites *ss)
{
	const struct site_acc *best = NULL;
	size_t i;

	for (i = 0; i < ss->n; i++) {
		const struct site_acc *a = &ss->v[i];

		if (!best || a->bytes > best->bytes || (a->bytes == best->bytes && a->site < best->site))
			best = a;
	}
	return best;
}

static void sites_free(struct sites *ss)
{
	hmap_free(&ss->idx);
	free(ss->v);
	memset(ss, 0, sizeof(*ss));
}

static double rel_s(const struct profile *p, uint64_t t_ns)
{
	return t_ns > p->start_mono_ns ? (t_ns - p->start_mono_ns) / 1e9 : 0;
}

/* the span of the resident-set timeline (points above 0), false if none */
static bool rss_span(const struct ap_input *in, uint32_t pid, double *t0, double *t1)
{
	size_t i, k;

	for (i = 0; i < in->nr_series; i++) {
		const struct ap_series *sr = &in->series[i];
		bool any = false;

		if (sr->pid != pid)
			continue;
		for (k = 0; k < sr->n; k++) {
			if (isnan(sr->rss_kb[k]) || isnan(sr->t[k]) || sr->rss_kb[k] <= 0)
				continue;
			if (!any)
				*t0 = sr->t[k];
			*t1 = sr->t[k];
			any = true;
		}
		return any && *t1 > *t0; /* the first series of a pid, as metrics.c */
	}
	return false;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* the median of the last fifth of the timeline minus the first point, MB */
static double rss_net(const struct ap_series *sr)
{
	size_t end = ap_rss_before_teardown(sr), i, n = 0, first = SIZE_MAX;
	double t_from, *v, med;

	for (i = 0; i < end && first == SIZE_MAX; i++)
		if (ap_rss_point(sr, i))
			first = i;
	if (first == SIZE_MAX || end - 1 <= first)
		return NAN;
	t_from = sr->t[end - 1] - (sr->t[end - 1] - sr->t[first]) / 5;
	v = xmalloc(end * sizeof(*v));
	for (i = first + 1; i < end; i++)
		if (ap_rss_point(sr, i) && sr->t[i] >= t_from)
			v[n++] = sr->rss_kb[i];
	if (!n) {
		free(v);
		return NAN;
	}
	qsort(v, n, sizeof(*v), dbl_cmp);
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	free(v);
	return (med - sr->rss_kb[first]) / 1024;
}

/* rows: totals, top site, mappings */
static void rows_metrics(struct ap_analysis *an, struct ap_subject *s, const uint32_t *rows, size_t nr)
{
	const struct profile *p = &an->in.prof;
	struct sites ss = { 0 };
	uint64_t fb = 0, fs = 0, mb = 0, ub = 0, mc = 0, uc = 0;
	const struct site_acc *top;
	double growth = getv(s, AP_M_P_RSS_NET_MB), wall = getv(s, AP_M_P_WALL_S);
	size_t i;

	for (i = 0; i < nr; i++) {
		const struct ap_mem_row *r = &p->mem[rows[i]];

		switch (r->kind) {
		case AP_MEM_FAULT:
			fb += r->bytes, fs += r->count;
			site_add(&ss, p, r->stack, r->bytes, r->count, -1);
			break;
		case AP_MEM_MAP: mb += r->bytes, mc += r->count; break;
		case AP_MEM_UNMAP: ub += r->bytes, uc += r->count; break;
		default: break;
		}
	}
	setv(s, AP_M_P_FAULT_SAMPLES, fs);
	setv(s, AP_M_P_FAULT_MB, fb / 1048576.0);
	if (wall > 0)
		setv(s, AP_M_P_FAULT_MB_S, fb / 1048576.0 / wall);
	if (!isnan(growth))
		setv(s, AP_M_P_FAULT_CHURN, fb / 1048576.0 / fmax(growth, 1));
	setv(s, AP_M_P_MAP_MB, mb / 1048576.0);
	setv(s, AP_M_P_UNMAP_MB, ub / 1048576.0);
	setv(s, AP_M_P_MAP_CALLS, mc);
	setv(s, AP_M_P_UNMAP_CALLS, uc);
	if ((top = site_top(&ss)) && top->bytes) {
		sets_own(an, s, AP_M_P_FAULT_TOP, site_text(p, top->site));
		sets_own(an, s, AP_M_P_FAULT_TOP_PATH, path_text(p, top->top_stack));
		setv(s, AP_M_P_FAULT_TOP_SAMPLES, top->samples);
		setv(s, AP_M_P_FAULT_TOP_MB, top->bytes / 1048576.0);
		setp(s, AP_M_P_FAULT_TOP_PCT, top->samples, fs);
		if (!isnan(growth))
			setv(s, AP_M_P_FAULT_TOP_CHURN, top->bytes / 1048576.0 / fmax(growth, 1));
	}
	sites_free(&ss);
}

struct tref {
	uint64_t t;
	size_t i;
};

static int tref_cmp(const void *a, const void *b)
{
	const struct tref *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* the end of a process that exited: its last memory event or resident-set
 * point, seconds from the start; INFINITY while it was still running */
static double exit_s(const struct ap_analysis *an, const struct ap_subject *s,
		     const struct tref *tr, size_t nr)
{
	double end = nr ? rel_s(&an->in.prof, tr[nr - 1].t) : 0, r0, r1;

	if (getv(s, AP_M_P_ALIVE_AT_END) != 0)
		return INFINITY;
	if (rss_span(&an->in, s->pid, &r0, &r1) && r1 > end)
		end = r1;
	return end;
}

/* large transient mappings: a large map, then an unmap of the same start
 * address in the same process within AP_TRANSIENT_MAX_NS, not in the last
 * AP_TRANSIENT_EXIT_S of a process that exited (a buffer freed on the way
 * out: sort's one buffer, an interpreter's objects at its exit; the exit's
 * own unmapping makes no munmap call at all) */
#define AP_TRANSIENT_EXIT_S 0.5
static void transient_metrics(struct ap_analysis *an, struct ap_subject *s, const struct tref *tr,
			      size_t nr)
{
	const struct profile *p = &an->in.prof;
	struct hmap open = { 0 };
	struct sites ss = { .app = true };
	uint64_t n = 0, bytes = 0, largest = 0, life_max = 0, v;
	const struct site_acc *top;
	double wall = getv(s, AP_M_P_WALL_S), cut = exit_s(an, s, tr, nr) - AP_TRANSIENT_EXIT_S;
	size_t i;

	for (i = 0; i < nr; i++) {
		const struct ap_mem_time *m = &p->mem_times[tr[i].i];

		if (m->kind == AP_MEM_MAP && m->bytes >= AP_TRANSIENT_MIN_BYTES) {
			hmap_put(&open, &m->addr, sizeof(m->addr), tr[i].i);
		} else if (m->kind == AP_MEM_UNMAP && hmap_get(&open, &m->addr, sizeof(m->addr), &v) &&
			   v != UINT64_MAX) {
			const struct ap_mem_time *o = &p->mem_times[v];
			uint64_t life = m->t_ns - o->t_ns;

			hmap_put(&open, &m->addr, sizeof(m->addr), UINT64_MAX);
			/* most of it given back (a trim of its tail is not the buffer's end) */
			if (m->t_ns < o->t_ns || life > AP_TRANSIENT_MAX_NS || 2 * m->bytes < o->bytes ||
			    rel_s(p, m->t_ns) >= cut)
				continue;
			n++, bytes += o->bytes;
			largest = o->bytes > largest ? o->bytes : largest;
			life_max = life > life_max ? life : life_max;
			site_add(&ss, p, o->stack, o->bytes, 1, -1);
		}
	}
	setv(s, AP_M_P_TRANSIENT_MAPS, n);
	setv(s, AP_M_P_TRANSIENT_MB, bytes / 1048576.0);
	if (wall > 0)
		setv(s, AP_M_P_TRANSIENT_PER_S, n / wall);
	if (n) {
		setv(s, AP_M_P_TRANSIENT_LARGEST_MB, largest / 1048576.0);
		setv(s, AP_M_P_TRANSIENT_LIFE_MS, life_max / 1e6);
	}
	if ((top = site_top(&ss))) {
		sets_own(an, s, AP_M_P_TRANSIENT_SITE, site_text(p, top->site));
		sets_own(an, s, AP_M_P_TRANSIENT_PATH, path_text(p, top->top_stack));
		setv(s, AP_M_P_TRANSIENT_SITE_MAPS, top->samples);
	} else {
		setv(s, AP_M_P_TRANSIENT_SITE_MAPS, 0);
	}
	hmap_free(&open);
	sites_free(&ss);
}

/* least squares of y over x; slope, and R^2 (0 when y does not vary) */
static void fit(const double *x, const double *y, int n, double *slope, double *r2)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, d, vy;
	int i;

	for (i = 0; i < n; i++)
		sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i], syy += y[i] * y[i];
	d = n * sxx - sx * sx;
	vy = n * syy - sy * sy;
	*slope = d > 0 ? (n * sxy - sx * sy) / d : NAN;
	*r2 = d > 0 && vy > 0 ? (n * sxy - sx * sy) * (n * sxy - sx * sy) / (d * vy) : 0;
}

/* the stack of the process's fault rows with the most bytes at site, else dflt */
static uint32_t heaviest_stack(const struct profile *p, const uint32_t *rows, size_t nr_rows,
			       uint32_t site, uint32_t dflt)
{
	uint64_t best = 0;
	size_t i;

	for (i = 0; i < nr_rows; i++) {
		const struct ap_mem_row *r = &p->mem[rows[i]];

		if (r->kind == AP_MEM_FAULT && r->bytes > best && site_of(p, r->stack, true) == site)
			best = r->bytes, dflt = r->stack;
	}
	return dflt;
}

/* The on-CPU time of the function holding site (a frame of its kind, file and
 * name on the stack, once per sample) as a percentage of the process's wall
 * time; NAN without CPU sampling or a wall time. A loader (a job reading a
 * CSV into a dict until it exits) spends its life in the code that builds
 * what it keeps; a leak grows beside the program's other work. */
static double site_cpu_pct(const struct profile *p, const struct ap_subject *s, uint32_t site)
{
	const struct ap_frame *sf = &p->frames[site];
	double wall = getv(s, AP_M_P_WALL_S);
	uint64_t n = 0;
	size_t i;
	uint32_t k;

	if (!(wall > 0) || !p->frequency_hz)
		return NAN;
	for (i = 0; i < p->nr_counts; i++) {
		const struct ap_count *c = &p->counts[i];
		const struct ap_stack *st;

		if (c->pid != s->pid || c->stack >= p->nr_stacks)
			continue;
		st = &p->stacks[c->stack];
		for (k = 0; k < st->len; k++) {
			const struct ap_frame *f = &p->frames[p->stack_frames[st->off + k]];

			if (f->kind == sf->kind && f->module == sf->module && f->name == sf->name) {
				n += c->count;
				break;
			}
		}
	}
	return fmin(100.0 * n / p->frequency_hz / wall, 100);
}

/* The leak candidate and the code of the late growth, from the fault samples
 * on the timeline */
static void timeline_metrics(struct ap_analysis *an, struct ap_subject *s, const struct tref *tr,
			     size_t nr, const uint32_t *rows, size_t nr_rows)
{
	const struct profile *p = &an->in.prof;
	struct sites ss = { .app = true }, late = { .app = true };
	double t0 = NAN, t1 = NAN, span, r0 = 0, r1 = 0, late_from = NAN, late_to = NAN;
	double rss_slope = getv(s, AP_M_P_RSS_SLOPE);
	double x[AP_LEAK_BINS], best_slope = NAN, best_r2 = 0;
	uint64_t total = 0, late_n = 0;
	const struct site_acc *best = NULL, *top;
	int best_q = 0, b;
	bool best_steady = false;
	size_t i;

	for (i = 0; i < nr; i++) {
		const struct ap_mem_time *m = &p->mem_times[tr[i].i];
		double t = rel_s(p, m->t_ns);

		if (m->kind != AP_MEM_FAULT)
			continue;
		if (isnan(t0))
			t0 = t;
		t1 = t;
		total++;
	}
	if (!total)
		return;
	span = t1 - t0;
	if (rss_span(&an->in, s->pid, &r0, &r1))
		late_from = r0 + 2 * (r1 - r0) / 3, late_to = r1;
	else if (span > 0)
		late_from = t0 + 2 * span / 3, late_to = t1;
	for (i = 0; i < nr; i++) {
		const struct ap_mem_time *m = &p->mem_times[tr[i].i];
		double t = rel_s(p, m->t_ns);

		if (m->kind != AP_MEM_FAULT)
			continue;
		b = span > 0 ? (int)((t - t0) / span * AP_LEAK_BINS) : 0;
		b = b < 0 ? 0 : b >= AP_LEAK_BINS ? AP_LEAK_BINS - 1 : b;
		site_add(&ss, p, m->stack, m->bytes, 1, b);
		if (!isnan(late_from) && t >= late_from && t <= late_to) {
			site_add(&late, p, m->stack, m->bytes, 1, -1);
			late_n++;
		}
	}
	for (b = 0; b < AP_LEAK_BINS; b++)
		x[b] = t0 + span * (b + 1) / AP_LEAK_BINS;
	/* the steadiest large site: steady ones first, then by slope */
	for (i = 0; span > 0 && i < ss.n; i++) {
		const struct site_acc *a = &ss.v[i];
		double y[AP_LEAK_BINS], cum = 0, slope, r2;
		int q = 0, k;
		bool steady;

		if (a->site == AP_NONE || a->samples < AP_SITE_MIN_SAMPLES)
			continue;
		for (b = 0; b < AP_LEAK_BINS; b++)
			y[b] = (cum += a->bins[b]) / 1048576.0;
		for (k = 0; k < AP_LEAK_PARTS; k++) {
			int per = AP_LEAK_BINS / AP_LEAK_PARTS;

			for (b = k * per; b < (k + 1) * per; b++)
				if (a->bins[b] > 0) {
					q++;
					break;
				}
		}
		fit(x, y, AP_LEAK_BINS, &slope, &r2);
		if (isnan(slope))
			continue;
		steady = q >= AP_LEAK_MIN_QUINTILES && r2 >= AP_LEAK_MIN_FIT &&
			 !(rss_slope > 0 && slope > AP_LEAK_MAX_SHARE * rss_slope);
		if (!best || steady > best_steady || (steady == best_steady && slope > best_slope)) {
			best = a, best_slope = slope, best_r2 = r2, best_q = q, best_steady = steady;
		}
	}
	if (best) {
		sets_own(an, s, AP_M_P_LEAK_SITE, site_text(p, best->site));
		sets_own(an, s, AP_M_P_LEAK_PATH,
			 path_text(p, heaviest_stack(p, rows, nr_rows, best->site, best->top_stack)));
		setv(s, AP_M_P_LEAK_SAMPLES, best->samples);
		setv(s, AP_M_P_LEAK_MB, best->bytes / 1048576.0);
		setp(s, AP_M_P_LEAK_FAULT_PCT, best->samples, total);
		setv(s, AP_M_P_LEAK_SLOPE, best_slope);
		setv(s, AP_M_P_LEAK_FIT_PCT, 100 * best_r2);
		setv(s, AP_M_P_LEAK_QUINTILES, best_q);
		if (rss_slope > 0)
			setv(s, AP_M_P_LEAK_SHARE_PCT, 100 * best_slope / rss_slope);
		setv(s, AP_M_P_LEAK_SITE_CPU_PCT, site_cpu_pct(p, s, best->site));
	}
	if ((top = site_top(&late)) && top->bytes) {
		char *site = site_text(p, top->site);

		setv(s, AP_M_P_GROWTH_SITE_MB, top->bytes / 1048576.0);
		setp(s, AP_M_P_GROWTH_SITE_PCT, top->samples, late_n);
		sets_own(an, s, AP_M_P_GROWTH_CODE,
			 xasprintf(" Over that last third the memory first touched (page faults) came "
				   "most from %s: %.0f MB, %.0f%% of its %llu page-fault samples.",
				   site, top->bytes / 1048576.0, 100.0 * top->samples / late_n,
				   (unsigned long long)late_n));
		sets_own(an, s, AP_M_P_GROWTH_SITE, site);
	}
	sites_free(&ss);
	sites_free(&late);
}

/* per function (scope function: one subject per (kind, file, name) over all
 * processes, made by metrics.c from the CPU samples): the page faults whose
 * site it is */
static void function_metrics(struct ap_analysis *an)
{
	const struct profile *p = &an->in.prof;
	struct hmap idx = { 0 };
	uint64_t (*acc)[2] = NULL, all = 0, v;
	size_t n = 0, cap = 0, i;
	struct strbuf key = { 0 };

	for (i = 0; i < p->nr_mem; i++) {
		const struct ap_mem_row *r = &p->mem[i];
		uint32_t site = r->kind == AP_MEM_FAULT ? site_of(p, r->stack, false) : AP_NONE;
		const struct ap_frame *f;
		bool is_new;
		uint64_t *slot;

		if (r->kind != AP_MEM_FAULT)
			continue;
		all += r->count;
		if (site == AP_NONE)
			continue;
		f = &p->frames[site];
		key.len = 0;
		sb_printf(&key, "%s%c%s%c%s", ap_frame_kind_names[f->kind], 0,
			  f->module == AP_NONE ? "" : profile__s(p, p->modules[f->module].path), 0,
			  profile__s(p, f->name));
		slot = hmap_upsert(&idx, key.buf, key.len, n, &is_new);
		if (is_new) {
			GROW(acc, cap, n + 1);
			acc[n][0] = acc[n][1] = 0;
			n++;
		}
		acc[*slot][0] += r->bytes;
		acc[*slot][1] += r->count;
	}
	for (i = 0; i < an->nr_subj[AP_SCOPE_FUNCTION]; i++) {
		struct ap_subject *s = &an->subj[AP_SCOPE_FUNCTION][i];
		const char *kind = s->v[ap_metric_slot(AP_M_F_KIND)].s;
		const char *file = s->v[ap_metric_slot(AP_M_F_FILE)].s;
		const char *name = s->v[ap_metric_slot(AP_M_F_NAME)].s;
		uint64_t bytes = 0, samples = 0;

		if (!kind || !file || !name)
			continue;
		key.len = 0;
		sb_printf(&key, "%s%c%s%c%s", kind, 0, file, 0, name);
		if (hmap_get(&idx, key.buf, key.len, &v))
			bytes = acc[v][0], samples = acc[v][1];
		setv(s, AP_M_F_FAULT_SAMPLES, samples);
		setv(s, AP_M_F_FAULT_MB, bytes / 1048576.0);
		setp(s, AP_M_F_FAULT_PCT, samples, all);
	}
	sb_free(&key);
	hmap_free(&idx);
	free(acc);
}

void ap_metrics__memory(struct ap_analysis *an)
{
	const struct profile *p = &an->in.prof;
	struct hmap rows_of = { 0 }, series_of = { 0 };
	uint32_t **rows = NULL;
	struct tref **times = NULL;
	size_t *nr_rows = NULL, *nr_times = NULL, *cap_rows = NULL, *cap_times = NULL;
	size_t np = an->nr_subj[AP_SCOPE_PROCESS], i;
	uint64_t v;

	for (i = 0; i < an->in.nr_series; i++) {
		const struct ap_series *sr = &an->in.series[i];

		if (hmap_get(&series_of, &sr->pid, sizeof(uint32_t), &v))
			continue; /* the first series of a pid, as metrics.c */
		hmap_put(&series_of, &sr->pid, sizeof(uint32_t), i);
	}
	for (i = 0; i < np; i++) {
		struct ap_subject *s = &an->subj[AP_SCOPE_PROCESS][i];

		if (hmap_get(&series_of, &s->pid, sizeof(uint32_t), &v))
			setv(s, AP_M_P_RSS_NET_MB, rss_net(&an->in.series[v]));
	}
	hmap_free(&series_of);
	if (!p->has_memory || !np)
		return;
	rows = xcalloc(np, sizeof(*rows));
	times = xcalloc(np, sizeof(*times));
	nr_rows = xcalloc(np, sizeof(size_t));
	cap_rows = xcalloc(np, sizeof(size_t));
	nr_times = xcalloc(np, sizeof(size_t));
	cap_times = xcalloc(np, sizeof(size_t));
	function_metrics(an);
	for (i = 0; i < np; i++)
		hmap_put(&rows_of, &an->subj[AP_SCOPE_PROCESS][i].pid, sizeof(uint32_t), i);
	for (i = 0; i < p->nr_mem; i++) {
		if (!hmap_get(&rows_of, &p->mem[i].pid, sizeof(uint32_t), &v))
			continue;
		GROW(rows[v], cap_rows[v], nr_rows[v] + 1);
		rows[v][nr_rows[v]++] = i;
	}
	for (i = 0; i < p->nr_mem_times; i++) {
		if (!hmap_get(&rows_of, &p->mem_times[i].pid, sizeof(uint32_t), &v))
			continue;
		GROW(times[v], cap_times[v], nr_times[v] + 1);
		times[v][nr_times[v]++] = (struct tref){ p->mem_times[i].t_ns, i };
	}
	for (i = 0; i < np; i++) {
		struct ap_subject *s = &an->subj[AP_SCOPE_PROCESS][i];

		/* arrival order is time order per CPU only */
		if (nr_times[i])
			qsort(times[i], nr_times[i], sizeof(**times), tref_cmp);
		rows_metrics(an, s, rows[i], nr_rows[i]);
		transient_metrics(an, s, times[i], nr_times[i]);
		timeline_metrics(an, s, times[i], nr_times[i], rows[i], nr_rows[i]);
		free(rows[i]);
		free(times[i]);
	}
	hmap_free(&rows_of);
	free(rows), free(times), free(nr_rows), free(cap_rows), free(nr_times), free(cap_times);
}
