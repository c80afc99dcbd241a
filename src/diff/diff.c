// SPDX-License-Identifier: MIT
/* `diff BASE NEW`: match the functions of two analyses by kind, file and
 * name, and test each change. The self share gets a two-proportion z-test
 * (samples of the function in all samples of its run); the self CPU-seconds
 * get a Poisson z-test (a sample count is a Poisson count, its variance the
 * count itself), so a function whose share moved only because another one's
 * time changed is told apart from one whose own time changed. Both families
 * are Holm-corrected over the functions tested. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "diff/diff.h"
#include "outdir.h"
#include "util.h"

const char *const ap_diff_class_names[] = {
	[AP_DIFF_UNTESTED] = "untested",
	[AP_DIFF_NOISE] = "noise",
	[AP_DIFF_SHARE] = "share_shift",
	[AP_DIFF_ABSOLUTE] = "absolute",
};

struct fn_in {
	const char *name, *file, *kind;
	const char *key; /* file as runs of other versions share it (ap_diff_file_key) */
	uint64_t self, total;
};

const char *ap_subject_str(const struct ap_subject *s, int id)
{
	const char *v = s->v[ap_metric_slot(id)].s;

	return v ? v : "";
}

uint64_t ap_subject_count(const struct ap_subject *s, int id)
{
	double v = s->v[ap_metric_slot(id)].v;

	return isnan(v) || v < 0 ? 0 : (uint64_t)v;
}

static int fn_in_cmp(const void *a, const void *b)
{
	const struct fn_in *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);

	if (!c)
		c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->name, y->name);
}

/* the functions of an, sorted by identity, those of one identity summed
 * (app.py's main in two directories); *n set */
static struct fn_in *functions(const struct ap_analysis *an, size_t *n)
{
	struct fn_in *v = xcalloc(an->nr_subj[AP_SCOPE_FUNCTION] + 1, sizeof(*v));
	size_t i, m = 0;

	for (i = 0; i < an->nr_subj[AP_SCOPE_FUNCTION]; i++) {
		const struct ap_subject *s = &an->subj[AP_SCOPE_FUNCTION][i];

		v[i] = (struct fn_in){ .name = ap_subject_str(s, AP_M_F_NAME),
				       .file = ap_subject_str(s, AP_M_F_FILE),
				       .kind = ap_subject_str(s, AP_M_F_KIND),
				       .self = ap_subject_count(s, AP_M_F_SELF_SAMPLES),
				       .total = ap_subject_count(s, AP_M_F_TOTAL_SAMPLES) };
		v[i].key = ap_diff_file_key(v[i].kind, v[i].file);
	}
	qsort(v, an->nr_subj[AP_SCOPE_FUNCTION], sizeof(*v), fn_in_cmp);
	for (i = 0; i < an->nr_subj[AP_SCOPE_FUNCTION]; i++) {
		if (m && !fn_in_cmp(&v[m - 1], &v[i])) {
			v[m - 1].self += v[i].self, v[m - 1].total += v[i].total;
			continue;
		}
		v[m++] = v[i];
	}
	*n = m;
	return v;
}

double ap_norm_p2(double z)
{
	return erfc(fabs(z) / M_SQRT2);
}

static const double *holm_p;

static int holm_cmp(const void *a, const void *b)
{
	double x = holm_p[*(const size_t *)a], y = holm_p[*(const size_t *)b];

	return x < y ? -1 : x > y;
}

void ap_holm(double *p, size_t n)
{
	size_t *idx = xcalloc(n + 1, sizeof(*idx)), m = 0, i;
	double run = 0;

	for (i = 0; i < n; i++)
		if (!isnan(p[i]))
			idx[m++] = i;
	holm_p = p;
	qsort(idx, m, sizeof(*idx), holm_cmp);
	/* adjusted p_(i) = max over j <= i of (m - j) p_(j), capped at 1 */
	for (i = 0; i < m; i++) {
		double a = fmin(1.0, (double)(m - i) * p[idx[i]]);

		run = fmax(run, a);
		p[idx[i]] = run;
	}
	free(idx);
}

static void add_fn(struct ap_diff *d, const struct fn_in *b, const struct fn_in *n, size_t *cap)
{
	struct ap_diff_fn *f;
	const struct fn_in *id = n ? n : b; /* NEW's file where both have it */
	char *loc;
	bool keep = true;

	if (d->opts.focus) {
		loc = xasprintf("%s:%s", id->file, id->name);
		keep = !regexec(d->opts.focus, loc, 0, NULL, 0);
		free(loc);
	}
	if (!keep)
		return;
	GROW(d->fns, *cap, d->nr_fns + 1);
	f = &d->fns[d->nr_fns++];
	*f = (struct ap_diff_fn){ .name = id->name, .file = id->file, .kind = id->kind,
				  .z_share = NAN, .p_share = NAN, .z_abs = NAN, .p_abs = NAN };
	f->self[0] = b ? b->self : 0, f->total[0] = b ? b->total : 0;
	f->self[1] = n ? n->self : 0, f->total[1] = n ? n->total : 0;
}

/* the change of CPU-seconds s0 = k0 / hz0 -> s1 = k1 / hz1 of two Poisson
 * counts (Var(k / hz) = k / hz^2) on a machine whose speed varies by the
 * fraction sigma from run to run (Var(s1 - s0) grows by sigma^2 s0 s1:
 * nothing for a function in one run only): z and its two-sided p */
static void poisson_z(double k0, double hz0, double k1, double hz1, double sigma, double *z,
		      double *p)
{
	double s0 = k0 / hz0, s1 = k1 / hz1;
	double se = sqrt(k0 / (hz0 * hz0) + k1 / (hz1 * hz1) + sigma * sigma * s0 * s1);

	*z = se > 0 ? (s1 - s0) / se : 0;
	*p = ap_norm_p2(*z);
}

/* both tests of one function, p uncorrected */
static void test_fn(const struct ap_diff *d, struct ap_diff_fn *f)
{
	double n0 = d->samples[0], n1 = d->samples[1], k0 = f->self[0], k1 = f->self[1];
	double p0 = n0 ? k0 / n0 : 0, p1 = n1 ? k1 / n1 : 0, pool, se;
	int i;

	for (i = 0; i < 2; i++) {
		double n = d->samples[i];

		f->self_pct[i] = n ? 100.0 * f->self[i] / n : 0;
		f->total_pct[i] = n ? 100.0 * f->total[i] / n : 0;
		f->self_s[i] = f->self[i] / d->hz[i];
		f->total_s[i] = f->total[i] / d->hz[i];
	}
	if (f->self[0] < AP_DIFF_MIN_SAMPLES && f->self[1] < AP_DIFF_MIN_SAMPLES)
		return;
	if (!n0 || !n1)
		return;
	pool = (k0 + k1) / (n0 + n1);
	se = sqrt(pool * (1 - pool) * (1 / n0 + 1 / n1));
	f->z_share = se > 0 ? (p1 - p0) / se : 0;
	f->p_share = ap_norm_p2(f->z_share);
	poisson_z(f->self[0], d->hz[0], f->self[1], d->hz[1], d->opts.speed_noise, &f->z_abs,
		  &f->p_abs);
}

enum ap_diff_class ap_diff_verdict(double p_share, double p_abs, double z_share, double z_abs,
				   double share_delta, double max_regression, bool *regression)
{
	enum ap_diff_class cls;

	if (regression)
		*regression = false;
	if (isnan(p_share) || isnan(p_abs))
		return AP_DIFF_UNTESTED;
	/* own time changed beyond noise, in the direction of its share or with
	 * the share steady (the whole run grew with it) */
	if (p_abs < AP_DIFF_ALPHA)
		cls = AP_DIFF_ABSOLUTE;
	else if (p_share < AP_DIFF_ALPHA)
		cls = AP_DIFF_SHARE;
	else
		cls = AP_DIFF_NOISE;
	if (regression)
		*regression = cls == AP_DIFF_ABSOLUTE && z_abs > 0 && p_share < AP_DIFF_ALPHA &&
			      z_share > 0 && share_delta >= max_regression;
	return cls;
}

static void classify(struct ap_diff *d, struct ap_diff_fn *f)
{
	f->cls = ap_diff_verdict(f->p_share, f->p_abs, f->z_share, f->z_abs,
				 f->self_pct[1] - f->self_pct[0], d->opts.max_regression,
				 &f->regression);
	d->nr_tested += f->cls != AP_DIFF_UNTESTED;
	d->nr_regressions += f->regression;
}

/* 2 a regression, 1 another real change, 0 noise or untested */
static int rank(const struct ap_diff_fn *f)
{
	return f->regression ? 2 : f->cls == AP_DIFF_ABSOLUTE || f->cls == AP_DIFF_SHARE;
}

/* regressions first, then the other real changes, each by the size of the
 * change of self share */
static int delta_cmp(const void *a, const void *b)
{
	const struct ap_diff_fn *x = a, *y = b;
	double dx = fabs(x->self_pct[1] - x->self_pct[0]);
	double dy = fabs(y->self_pct[1] - y->self_pct[0]);
	int c = rank(y) - rank(x);

	if (c)
		return c;
	if (dx != dy)
		return dx < dy ? 1 : -1;
	c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->file, y->file);
}

static void run_facts(struct ap_diff *d, int i, const struct ap_analysis *an)
{
	d->target[i] = an->in.target ? an->in.target : "";
	d->hz[i] = an->in.prof.frequency_hz ? an->in.prof.frequency_hz : 1;
	d->samples[i] = an->nr_subj[AP_SCOPE_RUN] ?
				ap_subject_count(&an->subj[AP_SCOPE_RUN][0], AP_M_RUN_SAMPLES) : 0;
	d->cpu_s[i] = d->samples[i] / d->hz[i];
	d->wall_s[i] = an->in.wall_s;
}

int ap_diff__compute(struct ap_diff *d, const struct ap_analysis *base,
		     const struct ap_analysis *new, const struct ap_diff_opts *opts)
{
	size_t nb, nn, i = 0, j = 0, cap = 0;
	struct fn_in *b = functions(base, &nb), *n = functions(new, &nn);
	double *p;
	int c;

	d->opts = *opts;
	run_facts(d, 0, base);
	run_facts(d, 1, new);
	d->same_target = !strcmp(d->target[0], d->target[1]);
	poisson_z(d->samples[0], d->hz[0], d->samples[1], d->hz[1], d->opts.speed_noise, &d->z_cpu,
		  &d->p_cpu);
	d->cpu_change = d->p_cpu >= AP_DIFF_ALPHA ? 0 : d->z_cpu > 0 ? 1 : -1;
	while (i < nb || j < nn) {
		c = i == nb ? 1 : j == nn ? -1 : fn_in_cmp(&b[i], &n[j]);
		if (c < 0)
			add_fn(d, &b[i++], NULL, &cap);
		else if (c > 0)
			add_fn(d, NULL, &n[j++], &cap);
		else
			add_fn(d, &b[i++], &n[j++], &cap);
	}
	free(b);
	free(n);
	for (i = 0; i < d->nr_fns; i++)
		test_fn(d, &d->fns[i]);
	/* Holm over the functions tested, each family apart */
	p = xcalloc(d->nr_fns + 1, sizeof(*p));
	for (i = 0; i < d->nr_fns; i++)
		p[i] = d->fns[i].p_share;
	ap_holm(p, d->nr_fns);
	for (i = 0; i < d->nr_fns; i++)
		d->fns[i].p_share = p[i], p[i] = d->fns[i].p_abs;
	ap_holm(p, d->nr_fns);
	for (i = 0; i < d->nr_fns; i++)
		d->fns[i].p_abs = p[i];
	free(p);
	for (i = 0; i < d->nr_fns; i++)
		classify(d, &d->fns[i]);
	/* a run that took less CPU time as a whole is no regression: what grew
	 * in it (a speed-up that moved work into another function) is named,
	 * not counted */
	for (i = 0; d->cpu_change < 0 && i < d->nr_fns; i++)
		if (d->fns[i].regression) {
			d->fns[i].regression = false;
			d->nr_regressions--, d->nr_waived++;
		}
	if (d->nr_fns)
		qsort(d->fns, d->nr_fns, sizeof(*d->fns), delta_cmp);
	ap_diff__compute_exact(d, base, new);
	ap_diff__compute_findings(d, base, new);
	d->tree = ap_diff_tree__build(d, base, new);
	return 0;
}

void ap_diff__free(struct ap_diff *d)
{
	if (!d)
		return;
	ap_diff_tree__free(d->tree);
	d->tree = NULL;
	free(d->fns);
	d->fns = NULL;
	d->nr_fns = 0;
	ap_diff__exact_free(d);
}

void ap_diff__test(const struct ap_diff *d, const uint64_t k[2], double *z_share, double *p_share,
		   double *z_abs, double *p_abs)
{
	struct ap_diff_fn f = { .self = { k[0], k[1] }, .z_share = NAN, .p_share = NAN,
				.z_abs = NAN, .p_abs = NAN };

	test_fn(d, &f);
	*z_share = f.z_share, *p_share = f.p_share, *z_abs = f.z_abs, *p_abs = f.p_abs;
}

struct ap_analysis *ap_diff_load_run(const char *dir, unsigned uid, bool findings)
{
	struct ap_analysis *an = xcalloc(1, sizeof(*an));
	int fd = ap_run_dir_open(dir, uid), err;

	if (fd < 0) {
		free(an);
		return NULL;
	}
	err = ap_input__load(&an->in, fd, dir);
	close(fd);
	if (err) { /* the loader said why, in one line */
		ap_input__free(&an->in);
		free(an);
		return NULL;
	}
	ap_metrics__compute(an);
	/* the built-in patterns, for the findings that appeared or went away */
	if (findings && !ap_patterns__load_builtin(an))
		ap_analysis__evaluate(an);
	return an;
}
