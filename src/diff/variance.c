// SPDX-License-Identifier: MIT
/* The run-to-run variance of a set of repeated runs (`run --repeat N`):
 * wall-time spread, each function's self share across runs (mean, sd, 95%
 * t interval of the mean), and two findings when the variance is abnormal.
 *
 * Bimodal wall time: the sorted wall times are cut at their largest gap
 * that leaves >= 2 runs on each side; it is a finding when that gap is
 * more than AP_REPEAT_GAP_SPREADS (3) times the larger cluster's range and
 * at least AP_REPEAT_GAP_MIN (10%) of the median. Why 3x the range: with
 * few runs one gap is often larger than the clusters' ranges by chance. A
 * simulation (4,000 sets each) of unimodal wall times gave these false
 * finding rates with 3x (1x, 2x): normal CV 3%: 1.5% at 4 runs, 0.9% at
 * 5, 0.05% at 8, 0 from 10 (4%, 3%, 0.7%, 0.3%); lognormal sigma 0.1: 6%
 * at 4, 3% at 5, 0.1% at 8, 0 from 10 (24%, 27%, 10%, 4%); a 5% exponential
 * tail: 4%, 3%, 1%, 0.3% (10%, 11%, 10%, 8%), all before the 10% floor,
 * which removes most of those.
 *
 * A swinging function: a chi-square test of homogeneity of its per-run
 * self samples against one common share (df = runs - 1), Holm-corrected
 * over the functions tested; a finding when p < AP_REPEAT_SWING_P and the
 * shares' spread is >= AP_REPEAT_SWING_RATIO times what sampling alone
 * predicts (sqrt(chi2 / df), the dispersion): a real program's runs vary a
 * little beyond sampling, and with many samples the test alone would flag
 * that; the ratio keeps the finding for swings that matter. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "diff/repeat.h"
#include "hashmap.h"
#include "log.h"
#include "outdir.h"
#include "util.h"

double ap_mean(const double *v, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += v[i];
	return n ? s / n : 0;
}

double ap_sd(const double *v, size_t n)
{
	double m = ap_mean(v, n), s = 0;
	size_t i;

	if (n < 2)
		return 0;
	for (i = 0; i < n; i++)
		s += (v[i] - m) * (v[i] - m);
	return sqrt(s / (n - 1));
}

/* continued fraction of the incomplete beta function (Lentz) */
static double betacf(double a, double b, double x)
{
	double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap, h, m2, aa, del;
	int m;

	d = 1 / (fabs(d) < 1e-300 ? 1e-300 : d);
	h = d;
	for (m = 1; m <= 300; m++) {
		m2 = 2 * m;
		aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1 + aa * d;
		d = 1 / (fabs(d) < 1e-300 ? 1e-300 : d);
		c = 1 + aa / c;
		c = fabs(c) < 1e-300 ? 1e-300 : c;
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1 + aa * d;
		d = 1 / (fabs(d) < 1e-300 ? 1e-300 : d);
		c = 1 + aa / c;
		c = fabs(c) < 1e-300 ? 1e-300 : c;
		del = d * c;
		h *= del;
		if (fabs(del - 1) < 1e-12)
			break;
	}
	return h;
}

/* the regularized incomplete beta I_x(a, b) */
static double betai(double a, double b, double x)
{
	double bt;

	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
	if (x < (a + 1) / (a + b + 2))
		return bt * betacf(a, b, x) / a;
	return 1 - bt * betacf(b, a, 1 - x) / b;
}

double ap_t_p2(double t, double df)
{
	if (isnan(t) || df <= 0)
		return NAN;
	if (isinf(t))
		return 0;
	return betai(df / 2, 0.5, df / (df + t * t));
}

double ap_t_975(double df)
{
	double lo = 0, hi = 1000, mid;
	int i;

	for (i = 0; i < 100; i++) { /* ap_t_p2 falls as t grows */
		mid = (lo + hi) / 2;
		if (ap_t_p2(mid, df) > 0.05)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

/* the regularized upper incomplete gamma Q(a, x) */
static double gammq(double a, double x)
{
	double gln = lgamma(a), sum, del, ap, b, c, d, h, an;
	int i;

	if (x <= 0)
		return 1;
	if (x < a + 1) { /* series for P */
		ap = a;
		sum = del = 1 / a;
		for (i = 0; i < 1000; i++) {
			ap += 1;
			del *= x / ap;
			sum += del;
			if (fabs(del) < fabs(sum) * 1e-14)
				break;
		}
		return 1 - sum * exp(-x + a * log(x) - gln);
	}
	b = x + 1 - a; /* continued fraction for Q */
	c = 1 / 1e-300;
	d = 1 / b;
	h = d;
	for (i = 1; i < 1000; i++) {
		an = -i * (i - a);
		b += 2;
		d = an * d + b;
		d = fabs(d) < 1e-300 ? 1e-300 : d;
		c = b + an / c;
		c = fabs(c) < 1e-300 ? 1e-300 : c;
		d = 1 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1) < 1e-14)
			break;
	}
	return exp(-x + a * log(x) - gln) * h;
}

double ap_chi2_sf(double x, double df)
{
	return df > 0 ? gammq(df / 2, x / 2) : NAN;
}

void ap_welch(const double *a, size_t na, const double *b, size_t nb, double *t, double *df,
	      double *p)
{
	double ma = ap_mean(a, na), mb = ap_mean(b, nb), sa = ap_sd(a, na), sb = ap_sd(b, nb);
	double va = na ? sa * sa / na : 0, vb = nb ? sb * sb / nb : 0, se = sqrt(va + vb);

	if (na < 2 || nb < 2) {
		*t = *df = *p = NAN;
		return;
	}
	if (se <= 0) { /* both constant */
		*t = ma == mb ? 0 : (mb > ma ? INFINITY : -INFINITY);
		*df = na + nb - 2;
		*p = ma == mb ? 1 : 0;
		return;
	}
	*t = (mb - ma) / se;
	*df = (va + vb) * (va + vb) /
	      ((va > 0 ? va * va / (na - 1) : 0) + (vb > 0 ? vb * vb / (nb - 1) : 0));
	*p = ap_t_p2(*t, *df);
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void wall_stats(struct ap_repeat_set *s)
{
	struct ap_repeat_wall *w = &s->wall;
	double *v = xcalloc(s->nr_included + 1, sizeof(*v));
	size_t i, n = 0, k;

	for (i = 0; i < s->nr_runs; i++)
		if (s->runs[i].included)
			v[n++] = s->runs[i].wall_s;
	memset(w, 0, sizeof(*w));
	if (!n)
		goto out;
	qsort(v, n, sizeof(*v), dbl_cmp);
	w->min = v[0];
	w->max = v[n - 1];
	w->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	w->mean = ap_mean(v, n);
	w->sd = ap_sd(v, n);
	w->cv = w->mean > 0 ? w->sd / w->mean : 0;
	/* the largest gap with >= 2 runs on each side */
	for (k = 2; k + 2 <= n; k++) {
		if (v[k] - v[k - 1] <= w->gap)
			continue;
		w->gap = v[k] - v[k - 1];
		w->lo_n = k;
		w->hi_n = n - k;
		w->lo_max = v[k - 1];
		w->hi_min = v[k];
		w->lo_range = v[k - 1] - v[0];
		w->hi_range = v[n - 1] - v[k];
	}
	w->bimodal = w->lo_n >= 2 &&
		     w->gap > AP_REPEAT_GAP_SPREADS * fmax(w->lo_range, w->hi_range) &&
		     w->gap >= AP_REPEAT_GAP_MIN * w->median;
out:
	free(v);
}

static void fn_stats(struct ap_repeat_set *s, struct ap_repeat_fn *f)
{
	size_t n = s->nr_included, j;
	double ksum = 0, nsum = 0, pool, x2 = 0;

	f->mean = ap_mean(f->share, n);
	f->sd = ap_sd(f->share, n);
	f->ci95 = n >= 2 ? ap_t_975(n - 1) * f->sd / sqrt(n) : NAN;
	f->chi2 = f->p_swing = f->ratio = NAN;
	f->tested = n >= 2 && (double)f->self_sum / n >= AP_DIFF_MIN_SAMPLES;
	if (!f->tested)
		return;
	for (j = 0; j < s->nr_runs; j++) {
		if (!s->runs[j].included)
			continue;
		nsum += s->runs[j].samples;
	}
	ksum = f->self_sum;
	pool = nsum ? ksum / nsum : 0;
	for (j = 0, n = 0; j < s->nr_runs; j++) {
		double nj = s->runs[j].samples, e = nj * pool, var = e * (1 - pool);

		if (!s->runs[j].included)
			continue;
		if (var > 0)
			x2 += (f->self[n] - e) * (f->self[n] - e) / var;
		n++;
	}
	f->chi2 = x2;
	f->df = n - 1;
	f->p_swing = ap_chi2_sf(x2, f->df);
	f->ratio = sqrt(x2 / f->df);
}

static int fn_cmp(const void *a, const void *b)
{
	const struct ap_repeat_fn *x = a, *y = b;

	if (x->tested != y->tested)
		return x->tested ? -1 : 1;
	if (x->mean != y->mean)
		return x->mean < y->mean ? 1 : -1;
	return strcmp(x->name, y->name);
}

void ap_repeat__compute(struct ap_repeat_set *s)
{
	double *p;
	size_t i;

	wall_stats(s);
	s->nr_tested = s->nr_swings = 0;
	for (i = 0; i < s->nr_fns; i++) {
		fn_stats(s, &s->fns[i]);
		s->nr_tested += s->fns[i].tested;
	}
	p = xcalloc(s->nr_fns + 1, sizeof(*p));
	for (i = 0; i < s->nr_fns; i++)
		p[i] = s->fns[i].p_swing;
	ap_holm(p, s->nr_fns);
	for (i = 0; i < s->nr_fns; i++) {
		struct ap_repeat_fn *f = &s->fns[i];

		f->p_swing = p[i];
		f->swing = f->tested && f->p_swing < AP_REPEAT_SWING_P &&
			   f->ratio >= AP_REPEAT_SWING_RATIO;
		s->nr_swings += f->swing;
	}
	free(p);
	if (s->nr_fns)
		qsort(s->fns, s->nr_fns, sizeof(*s->fns), fn_cmp);
}

/* add run j's (the j-th included) functions to s */
static void add_run(struct ap_repeat_set *s, struct hmap *ids, size_t *cap, size_t j,
		    const struct ap_analysis *an, double hz, uint64_t samples)
{
	size_t i, n = s->nr_included;

	for (i = 0; i < an->nr_subj[AP_SCOPE_FUNCTION]; i++) {
		const struct ap_subject *su = &an->subj[AP_SCOPE_FUNCTION][i];
		const char *name = ap_subject_str(su, AP_M_F_NAME), *file = ap_subject_str(su, AP_M_F_FILE);
		const char *kind = ap_subject_str(su, AP_M_F_KIND);
		uint64_t k = ap_subject_count(su, AP_M_F_SELF_SAMPLES), *slot;
		const char *fkey = ap_diff_file_key(kind, file); /* other versions' too */
		char *key = xasprintf("%s%c%s%c%s", kind, 0, fkey, 0, name);
		size_t klen = strlen(kind) + strlen(fkey) + strlen(name) + 2;
		struct ap_repeat_fn *f;
		bool is_new;

		slot = hmap_upsert(ids, key, klen, s->nr_fns, &is_new);
		free(key);
		if (is_new) {
			GROW(s->fns, *cap, s->nr_fns + 1);
			f = &s->fns[s->nr_fns++];
			*f = (struct ap_repeat_fn){ .name = xstrdup(name), .file = xstrdup(file),
						    .kind = xstrdup(kind) };
			f->self = xcalloc(n + 1, sizeof(*f->self));
			f->share = xcalloc(n + 1, sizeof(*f->share));
			f->self_s = xcalloc(n + 1, sizeof(*f->self_s));
		}
		f = &s->fns[*slot];
		f->self[j] += k;
		f->self_sum += k;
		f->share[j] = samples ? 100.0 * f->self[j] / samples : 0;
		f->self_s[j] = f->self[j] / hz;
	}
}

/* the analysis of s->dir/name, or NULL with a line printed */
static struct ap_analysis *load_one(const struct ap_repeat_set *s, const char *name, unsigned uid)
{
	char *path = xasprintf("%s/%s", s->dir, name);
	struct ap_analysis *an = ap_diff_load_run(path, uid, false);

	free(path);
	return an;
}

int ap_repeat__load(struct ap_repeat_set *s, unsigned uid)
{
	struct hmap ids = { 0 };
	size_t i, j = 0, cap = 0;
	int err = 0;

	s->nr_included = 0;
	for (i = 0; i < s->nr_runs; i++)
		s->nr_included += s->runs[i].included;
	for (i = 0; i < s->nr_runs; i++) {
		struct ap_repeat_run *r = &s->runs[i];
		struct ap_analysis *an;

		if (!r->included)
			continue;
		an = load_one(s, r->name, uid);
		if (!an) {
			err = -EIO;
			break;
		}
		r->hz = an->in.prof.frequency_hz ? an->in.prof.frequency_hz : 1;
		r->wall_s = an->in.wall_s;
		r->samples = an->nr_subj[AP_SCOPE_RUN] ?
				     ap_subject_count(&an->subj[AP_SCOPE_RUN][0], AP_M_RUN_SAMPLES) : 0;
		if (!s->target && an->in.target)
			s->target = xstrdup(an->in.target);
		add_run(s, &ids, &cap, j++, an, r->hz, r->samples);
		/* only the counts are kept: 100 runs never hold 100 profiles */
		ap_analysis__free(an);
		free(an);
	}
	hmap_free(&ids);
	if (err)
		return err;
	ap_repeat__compute(s);
	return 0;
}

void ap_repeat__free(struct ap_repeat_set *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nr_runs; i++) {
		free(s->runs[i].name);
		free(s->runs[i].excluded);
	}
	for (i = 0; i < s->nr_fns; i++) {
		free(s->fns[i].name);
		free(s->fns[i].file);
		free(s->fns[i].kind);
		free(s->fns[i].self);
		free(s->fns[i].share);
		free(s->fns[i].self_s);
	}
	free(s->runs);
	free(s->fns);
	free(s->dir);
	free(s->target);
	memset(s, 0, sizeof(*s));
}
