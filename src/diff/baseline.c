// SPDX-License-Identifier: MIT
/* Baselines: a run's budgets as JSON (AP_SCHEMA_BASELINE), and the gate of
 * `diff --baseline`. Wall time and syscalls are measured exactly: a budget
 * is exceeded when the new value is over it by more than the tolerance and
 * by more than a small absolute floor. CPU-seconds are sampled: the new
 * value must also be beyond noise, by a one-sided Poisson test of the new
 * count against the budget grown by the tolerance, Holm-corrected over the
 * sampled budgets tested (as `diff` corrects over its functions). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "artifact/artifact.h"
#include "diff/baseline.h"
#include "diff/diff.h"
#include "log.h"
#include "util.h"

const char *const ap_budget_kind_names[] = {
	[AP_BUDGET_WALL] = "wall_s",         [AP_BUDGET_CPU] = "cpu_s",
	[AP_BUDGET_FUNCTION] = "function",   [AP_BUDGET_CALLS] = "syscall_calls",
	[AP_BUDGET_SYSCALL_S] = "syscall_s", [AP_BUDGET_BYTES] = "syscall_bytes",
};

const char *const ap_budget_verdict_names[] = {
	[AP_BUDGET_OK] = "ok",           [AP_BUDGET_NOISE] = "noise",
	[AP_BUDGET_UNTESTED] = "untested", [AP_BUDGET_GONE] = "gone",
	[AP_BUDGET_EXCEEDED] = "exceeded",
};

bool ap_baseline_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	/* "x.json" would read as a path in diff --baseline */
	if (!n || n > AP_BASELINE_NAME_MAX || name[0] == '.' || name[0] == '-' ||
	    (n >= 5 && !strcmp(name + n - 5, ".json")))
		return false;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    name[i]))
			return false;
	return true;
}

/* the functions of an analysis */
struct fn_row {
	const char *name, *file, *kind;
	const char *key; /* file as other versions share it (ap_diff_file_key) */
	uint64_t self;
};

static int fn_id_cmp(const void *a, const void *b)
{
	const struct fn_row *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);

	if (!c)
		c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->name, y->name);
}

static int fn_self_cmp(const void *a, const void *b)
{
	const struct fn_row *x = a, *y = b;

	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	return fn_id_cmp(a, b);
}

static struct fn_row *fn_rows(const struct ap_analysis *an, size_t *n,
			      int (*cmp)(const void *, const void *))
{
	size_t i, nr = an->nr_subj[AP_SCOPE_FUNCTION];
	struct fn_row *v = xcalloc(nr + 1, sizeof(*v));

	for (i = 0; i < nr; i++) {
		const struct ap_subject *s = &an->subj[AP_SCOPE_FUNCTION][i];

		v[i] = (struct fn_row){ .name = ap_subject_str(s, AP_M_F_NAME),
					.file = ap_subject_str(s, AP_M_F_FILE),
					.kind = ap_subject_str(s, AP_M_F_KIND),
					.self = ap_subject_count(s, AP_M_F_SELF_SAMPLES) };
		v[i].key = ap_diff_file_key(v[i].kind, v[i].file);
	}
	qsort(v, nr, sizeof(*v), cmp);
	*n = nr;
	return v;
}

/* a run's syscalls summed over processes and fd kinds */
struct sc_sum {
	uint32_t nr;
	char name[32];
	uint64_t calls, bytes, ns;
};

static int sc_nr_cmp(const void *a, const void *b)
{
	const struct sc_sum *x = a, *y = b;

	return x->nr < y->nr ? -1 : x->nr > y->nr;
}

static int sc_calls_cmp(const void *a, const void *b)
{
	const struct sc_sum *x = a, *y = b;

	if (x->calls != y->calls)
		return x->calls < y->calls ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* the syscalls of p that were called, by calls; *n set. Rows are sorted by
 * number and merged (a number comes from the artifact: no table by it) */
static struct sc_sum *sc_sums(const struct profile *p, size_t *n)
{
	struct sc_sum *v = xcalloc(p->nr_sys + 1, sizeof(*v));
	size_t i, m = 0;

	for (i = 0; i < p->nr_sys; i++)
		v[i] = (struct sc_sum){ .nr = p->sys[i].nr, .calls = p->sys[i].count,
					.bytes = p->sys[i].bytes, .ns = p->sys[i].total_ns };
	qsort(v, p->nr_sys, sizeof(*v), sc_nr_cmp);
	for (i = 0; i < p->nr_sys; i++) {
		const char *name;

		if (m && v[m - 1].nr == v[i].nr) {
			v[m - 1].calls += v[i].calls;
			v[m - 1].bytes += v[i].bytes;
			v[m - 1].ns += v[i].ns;
			continue;
		}
		v[m] = v[i];
		name = ap_syscall_name(v[m].nr);
		if (name)
			snprintf(v[m].name, sizeof(v[m].name), "%s", name);
		else
			snprintf(v[m].name, sizeof(v[m].name), "syscall_%u", v[m].nr);
		m++;
	}
	/* rows without calls (none are written, but a hand-made artifact) */
	for (i = 0; i < m;) {
		if (v[i].calls)
			i++;
		else
			v[i] = v[--m];
	}
	qsort(v, m, sizeof(*v), sc_calls_cmp);
	*n = m;
	return v;
}

/* the interpreter (runtime label) and executable of the process with the
 * most samples: the target, in a launched run */
static void main_process(const struct profile *p, const char **runtime, const char **exe)
{
	const struct ap_process *best = NULL;
	size_t i;

	for (i = 0; i < p->nr_procs; i++)
		if (!best || p->procs[i].samples > best->samples)
			best = &p->procs[i];
	*runtime = best ? profile__s(p, best->runtime) : "";
	*exe = best ? profile__s(p, best->exe) : "";
}

static double run_hz(const struct ap_analysis *an)
{
	return an->in.prof.frequency_hz ? an->in.prof.frequency_hz : 1;
}

static uint64_t run_samples(const struct ap_analysis *an)
{
	return an->nr_subj[AP_SCOPE_RUN] ? ap_subject_count(&an->subj[AP_SCOPE_RUN][0], AP_M_RUN_SAMPLES) : 0;
}

cJSON *ap_baseline__build(const struct ap_analysis *an, const char *name, const char *source)
{
	cJSON *j = cJSON_CreateObject(), *fns = cJSON_CreateArray(), *scs = cJSON_CreateArray();
	cJSON *interp = cJSON_CreateObject();
	const char *runtime, *exe;
	struct fn_row *f;
	struct sc_sum *s;
	double hz = run_hz(an);
	size_t i, nf, ns;
	char when[32];

	format_utc(now_real_ns(), when, sizeof(when));
	main_process(&an->in.prof, &runtime, &exe);
	cJSON_AddStringToObject(j, "schema", AP_SCHEMA_BASELINE);
	cJSON_AddStringToObject(j, "name", name);
	cJSON_AddStringToObject(j, "created", when);
	cJSON_AddStringToObject(j, "source", source);
	cJSON_AddStringToObject(j, "target", an->in.target ? an->in.target : "");
	cJSON_AddStringToObject(interp, "runtime", runtime);
	cJSON_AddStringToObject(interp, "exe", exe);
	cJSON_AddItemToObject(j, "interpreter", interp);
	cJSON_AddNumberToObject(j, "frequency_hz", hz);
	cJSON_AddNumberToObject(j, "wall_s", an->in.wall_s);
	cJSON_AddNumberToObject(j, "samples", run_samples(an));
	cJSON_AddNumberToObject(j, "cpu_s", run_samples(an) / hz);
	f = fn_rows(an, &nf, fn_self_cmp);
	for (i = 0; i < nf && i < AP_BASELINE_TOP_FNS && f[i].self; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", f[i].name);
		cJSON_AddStringToObject(o, "file", f[i].file);
		cJSON_AddStringToObject(o, "kind", f[i].kind);
		cJSON_AddNumberToObject(o, "self_samples", f[i].self);
		cJSON_AddNumberToObject(o, "self_s", f[i].self / hz);
		cJSON_AddItemToArray(fns, o);
	}
	free(f);
	cJSON_AddItemToObject(j, "functions", fns);
	cJSON_AddBoolToObject(j, "has_syscalls", an->in.prof.has_syscalls);
	s = sc_sums(&an->in.prof, &ns);
	for (i = 0; i < ns && i < AP_BASELINE_MAX_SYSCALLS; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", s[i].name);
		cJSON_AddNumberToObject(o, "calls", s[i].calls);
		cJSON_AddNumberToObject(o, "time_s", s[i].ns / 1e9);
		cJSON_AddNumberToObject(o, "bytes", s[i].bytes);
		cJSON_AddItemToArray(scs, o);
	}
	free(s);
	cJSON_AddItemToObject(j, "syscalls", scs);
	cJSON_AddNumberToObject(j, "syscalls_dropped", ns > AP_BASELINE_MAX_SYSCALLS ?
								ns - AP_BASELINE_MAX_SYSCALLS : 0);
	return j;
}

/* field key of o: a string (NULL when absent or another type) */
static const char *get_str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* field key of o: a finite number >= 0 (integral when whole); 0 or -EINVAL */
static int get_num(const cJSON *o, const char *key, bool whole, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    (whole && (v->valuedouble != floor(v->valuedouble) || v->valuedouble > 0x1p53)))
		return -EINVAL;
	*out = v->valuedouble;
	return 0;
}

static int parse_fns(struct ap_baseline *b, const cJSON *arr, const char *what)
{
	const cJSON *o;
	double k;
	size_t n = 0;

	b->fns = xcalloc(cJSON_GetArraySize(arr) + 1, sizeof(*b->fns));
	cJSON_ArrayForEach(o, arr) {
		struct ap_baseline_fn *f = &b->fns[n];

		f->name = get_str(o, "name");
		f->file = get_str(o, "file");
		f->kind = get_str(o, "kind");
		if (!f->name || !f->file || !f->kind || get_num(o, "self_samples", true, &k)) {
			ap_err("%s: functions[%zu]: needs name, file, kind and self_samples", what, n);
			return -EINVAL;
		}
		f->samples = k;
		n++;
	}
	b->nr_fns = n;
	return 0;
}

static int parse_scs(struct ap_baseline *b, const cJSON *arr, const char *what)
{
	const cJSON *o;
	double calls, bytes;
	size_t n = 0;

	b->scs = xcalloc(cJSON_GetArraySize(arr) + 1, sizeof(*b->scs));
	cJSON_ArrayForEach(o, arr) {
		struct ap_baseline_sc *s = &b->scs[n];

		s->name = get_str(o, "name");
		if (!s->name || get_num(o, "calls", true, &calls) ||
		    get_num(o, "time_s", false, &s->time_s) || get_num(o, "bytes", true, &bytes)) {
			ap_err("%s: syscalls[%zu]: needs name, calls, time_s and bytes", what, n);
			return -EINVAL;
		}
		s->calls = calls, s->bytes = bytes;
		n++;
	}
	b->nr_scs = n;
	return 0;
}

int ap_baseline__parse(struct ap_baseline *b, const char *text, size_t len, const char *what)
{
	const cJSON *fns, *scs, *interp;
	double samples;
	int err = -EINVAL;

	memset(b, 0, sizeof(*b));
	b->root = json_parse_checked(text, len, what, AP_SCHEMA_BASELINE);
	if (!b->root)
		return -EINVAL;
	fns = cJSON_GetObjectItemCaseSensitive(b->root, "functions");
	scs = cJSON_GetObjectItemCaseSensitive(b->root, "syscalls");
	interp = cJSON_GetObjectItemCaseSensitive(b->root, "interpreter");
	b->name = get_str(b->root, "name");
	b->created = get_str(b->root, "created");
	b->source = get_str(b->root, "source");
	b->target = get_str(b->root, "target");
	b->runtime = get_str(interp, "runtime");
	b->exe = get_str(interp, "exe");
	b->has_syscalls = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b->root, "has_syscalls"));
	if (!b->name || !b->target || get_num(b->root, "frequency_hz", false, &b->hz) || !b->hz ||
	    get_num(b->root, "wall_s", false, &b->wall_s) ||
	    get_num(b->root, "samples", true, &samples) || !cJSON_IsArray(fns) ||
	    !cJSON_IsArray(scs)) {
		ap_err("%s: needs name, target, frequency_hz, wall_s, samples, functions and syscalls",
		       what);
		goto err_out;
	}
	b->samples = samples;
	if (!b->created)
		b->created = "";
	if (!b->source)
		b->source = "";
	if (!b->runtime)
		b->runtime = "";
	if (!b->exe)
		b->exe = "";
	err = parse_fns(b, fns, what);
	if (!err)
		err = parse_scs(b, scs, what);
	if (!err)
		return 0;
err_out:
	ap_baseline__free(b);
	return err;
}

void ap_baseline__free(struct ap_baseline *b)
{
	if (!b)
		return;
	cJSON_Delete(b->root);
	free(b->fns);
	free(b->scs);
	memset(b, 0, sizeof(*b));
}

static struct ap_budget *add_budget(struct ap_baseline_gate *g, size_t *cap, enum ap_budget_kind k,
				    const char *name, const char *file, double budget, double value)
{
	struct ap_budget *x;

	GROW(g->budgets, *cap, g->nr + 1);
	x = &g->budgets[g->nr++];
	*x = (struct ap_budget){ .kind = k, .name = name, .file = file, .budget = budget,
				 .value = value, .z = NAN, .p = NAN, .verdict = AP_BUDGET_OK };
	return x;
}

/* an exact budget: over by more than the tolerance and the floor */
static void judge_exact(struct ap_budget *x, double tol, double floor)
{
	if (x->value <= x->budget * (1 + tol))
		x->verdict = AP_BUDGET_OK;
	else
		x->verdict = x->value - x->budget > floor ? AP_BUDGET_EXCEEDED : AP_BUDGET_NOISE;
}

/* a sampled budget: k0 samples at hz0 against k1 at hz1; the test of
 * k1 / hz1 > (1 + tol) k0 / hz0, both Poisson counts; p uncorrected */
static void test_sampled(struct ap_budget *x, uint64_t k0, double hz0, uint64_t k1, double hz1,
			 double tol)
{
	double f = 1 + tol, se = sqrt(k1 / (hz1 * hz1) + f * f * k0 / (hz0 * hz0));

	x->samples[0] = k0, x->samples[1] = k1;
	x->budget = k0 / hz0, x->value = k1 / hz1;
	if (k0 < AP_DIFF_MIN_SAMPLES && k1 < AP_DIFF_MIN_SAMPLES) {
		x->verdict = AP_BUDGET_UNTESTED;
		return;
	}
	x->z = se > 0 ? (x->value - f * x->budget) / se : 0;
	x->p = 0.5 * erfc(x->z / M_SQRT2);
}

static void gate_functions(struct ap_baseline_gate *g, size_t *cap, const struct ap_baseline *b,
			   const struct ap_analysis *new, double tol, const regex_t *focus)
{
	size_t i, nn;
	struct fn_row *n = fn_rows(new, &nn, fn_id_cmp), key, *hit;
	double hz = run_hz(new);

	for (i = 0; i < b->nr_fns; i++) {
		const struct ap_baseline_fn *f = &b->fns[i];
		struct ap_budget *x;

		if (focus) {
			char *loc = xasprintf("%s:%s", f->file, f->name);
			bool keep = !regexec(focus, loc, 0, NULL, 0);

			free(loc);
			if (!keep)
				continue;
		}
		key = (struct fn_row){ .name = f->name, .file = f->file, .kind = f->kind,
					.key = ap_diff_file_key(f->kind, f->file) };
		hit = bsearch(&key, n, nn, sizeof(*n), fn_id_cmp);
		x = add_budget(g, cap, AP_BUDGET_FUNCTION, f->name, f->file, 0, 0);
		test_sampled(x, f->samples, b->hz, hit ? hit->self : 0, hz, tol);
		if (!hit) { /* gone: not a failure, and not a test */
			x->verdict = AP_BUDGET_GONE;
			x->z = x->p = NAN;
		}
	}
	free(n);
}

static void gate_syscalls(struct ap_baseline_gate *g, size_t *cap, const struct ap_baseline *b,
			  const struct ap_analysis *new, double tol)
{
	size_t i, j, ns;
	struct sc_sum *s = sc_sums(&new->in.prof, &ns);

	for (i = 0; i < b->nr_scs; i++) {
		const struct ap_baseline_sc *sc = &b->scs[i];
		const struct sc_sum *hit = NULL;
		size_t first = g->nr; /* an index: add_budget may move g->budgets */
		int k, nr = sc->bytes ? 3 : 2;

		for (j = 0; j < ns && !hit; j++)
			if (!strcmp(s[j].name, sc->name))
				hit = &s[j];
		judge_exact(add_budget(g, cap, AP_BUDGET_CALLS, sc->name, NULL, sc->calls,
				       hit ? hit->calls : 0),
			    tol, AP_BASELINE_FLOOR_CALLS);
		judge_exact(add_budget(g, cap, AP_BUDGET_SYSCALL_S, sc->name, NULL, sc->time_s,
				       hit ? hit->ns / 1e9 : 0),
			    tol, AP_BASELINE_FLOOR_SYSCALL_S);
		if (nr == 3)
			judge_exact(add_budget(g, cap, AP_BUDGET_BYTES, sc->name, NULL, sc->bytes,
					       hit ? hit->bytes : 0),
				    tol, AP_BASELINE_FLOOR_BYTES);
		for (k = 0; k < nr && !hit; k++) /* not measured, or not called */
			g->budgets[first + k].verdict = new->in.prof.has_syscalls ?
								AP_BUDGET_GONE :
								AP_BUDGET_UNTESTED;
	}
	free(s);
}

int ap_baseline__gate(struct ap_baseline_gate *g, const struct ap_baseline *b,
		      const struct ap_analysis *new, double tolerance_pct, const regex_t *focus)
{
	double tol = tolerance_pct / 100, *p;
	const char *exe;
	struct ap_budget *x;
	size_t i, cap = 0;

	memset(g, 0, sizeof(*g));
	g->tolerance_pct = tolerance_pct;
	g->new_target = new->in.target ? new->in.target : "";
	g->same_target = !strcmp(g->new_target, b->target);
	main_process(&new->in.prof, &g->new_runtime, &exe);
	g->same_runtime = !strcmp(g->new_runtime, b->runtime);
	x = add_budget(g, &cap, AP_BUDGET_WALL, NULL, NULL, b->wall_s, new->in.wall_s);
	judge_exact(x, tol, AP_BASELINE_FLOOR_WALL_S);
	x = add_budget(g, &cap, AP_BUDGET_CPU, NULL, NULL, 0, 0);
	test_sampled(x, b->samples, b->hz, run_samples(new), run_hz(new), tol);
	gate_functions(g, &cap, b, new, tol, focus);
	/* Holm over the sampled budgets tested, then their verdicts */
	p = xcalloc(g->nr + 1, sizeof(*p));
	for (i = 0; i < g->nr; i++)
		p[i] = g->budgets[i].p;
	ap_holm(p, g->nr);
	for (i = 0; i < g->nr; i++) {
		x = &g->budgets[i];
		x->p = p[i];
		if (isnan(x->p))
			continue;
		if (x->value <= x->budget * (1 + tol))
			x->verdict = AP_BUDGET_OK;
		else
			x->verdict = x->p < AP_DIFF_ALPHA ? AP_BUDGET_EXCEEDED : AP_BUDGET_NOISE;
	}
	free(p);
	gate_syscalls(g, &cap, b, new, tol);
	for (i = 0; i < g->nr; i++)
		g->nr_exceeded += g->budgets[i].verdict == AP_BUDGET_EXCEEDED;
	return 0;
}

void ap_baseline_gate__free(struct ap_baseline_gate *g)
{
	if (!g)
		return;
	free(g->budgets);
	memset(g, 0, sizeof(*g));
}
