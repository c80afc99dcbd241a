// SPDX-License-Identifier: MIT
/* Repeated runs (src/diff/variance.c, repeat.c, repeat_io.c): the t and
 * chi-square tails against table values, Welch's test, the bimodal and
 * swing rules and the set diff on sets built in memory, and reading a set
 * from disk (a set of copies of tests/fixtures/diff/base; repeat.json may
 * name nothing outside the set). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "diff/repeat.h"
#include "util.h"
#include "unit.h"

TEST(repeat_stats_tables)
{
	double t, df, p;
	static const double a[] = { 1, 2, 3, 4, 5 }, b[] = { 2, 4, 6, 8, 10 };

	/* Student's t: the 97.5% quantiles of the tables */
	ASSERT_NEAR(ap_t_975(1), 12.706, 0.001, "t 0.975, 1 df");
	ASSERT_NEAR(ap_t_975(10), 2.228, 0.001, "t 0.975, 10 df");
	ASSERT_NEAR(ap_t_975(1000), 1.962, 0.001, "t 0.975, 1000 df");
	ASSERT_NEAR(ap_t_p2(2.228, 10), 0.05, 0.0005, "p of t 2.228, 10 df");
	ASSERT_NEAR(ap_t_p2(0, 5), 1, 1e-9, "p of t 0");
	/* chi-square: the 95% points */
	ASSERT_NEAR(ap_chi2_sf(3.841, 1), 0.05, 0.0005, "chi2 1 df");
	ASSERT_NEAR(ap_chi2_sf(18.307, 10), 0.05, 0.0005, "chi2 10 df");
	ASSERT_NEAR(ap_chi2_sf(0, 3), 1, 1e-9, "chi2 0");
	ASSERT_TRUE(ap_chi2_sf(200, 3) < 1e-40, "chi2 far out");
	/* Welch by hand: means 3 and 6, variances 2.5 and 10 over 5 each */
	ap_welch(a, 5, b, 5, &t, &df, &p);
	ASSERT_NEAR(t, 3 / sqrt(2.5), 1e-9, "welch t");
	ASSERT_NEAR(df, 6.25 / 1.0625, 1e-9, "welch df");
	ASSERT_TRUE(p > 0.09 && p < 0.12, "welch p");
	ap_welch(a, 5, a, 5, &t, &df, &p);
	ASSERT_NEAR(p, 1, 1e-9, "same samples: p 1");
	ap_welch(a, 1, b, 5, &t, &df, &p);
	ASSERT_TRUE(isnan(p), "one run: no test");
}

/* a set of n runs with walls w, 1000 samples at 100 Hz each, and functions
 * named by fn with self samples k[f][run] */
static void mk_set(struct ap_repeat_set *s, size_t n, const double *w, size_t nf,
		   const char *const *fn, const uint64_t (*k)[8])
{
	size_t i, j;

	memset(s, 0, sizeof(*s));
	s->dir = xstrdup("set");
	s->target = xstrdup("python3 w.py");
	s->requested = n;
	s->runs = xcalloc(n, sizeof(*s->runs));
	s->nr_runs = s->nr_included = n;
	for (j = 0; j < n; j++)
		s->runs[j] = (struct ap_repeat_run){ .name = xasprintf("run-%zu", j + 1),
						     .included = true, .wall_s = w[j], .hz = 100,
						     .samples = 1000 };
	s->fns = xcalloc(nf + 1, sizeof(*s->fns));
	s->nr_fns = nf;
	for (i = 0; i < nf; i++) {
		struct ap_repeat_fn *f = &s->fns[i];

		f->name = xstrdup(fn[i]);
		f->file = xstrdup("/app/w.py");
		f->kind = xstrdup("python");
		f->self = xcalloc(n, sizeof(*f->self));
		f->share = xcalloc(n, sizeof(*f->share));
		f->self_s = xcalloc(n, sizeof(*f->self_s));
		for (j = 0; j < n; j++) {
			f->self[j] = k[i][j];
			f->self_sum += k[i][j];
			f->share[j] = k[i][j] / 10.0;
			f->self_s[j] = k[i][j] / 100.0;
		}
	}
	ap_repeat__compute(s);
}

static const char *const names[] = { "hot", "cold", "tiny" };

TEST(repeat_bimodal_rule)
{
	static const uint64_t k[3][8] = { { 500, 500, 500, 500, 500 } };
	static const double two[] = { 0.30, 0.91, 0.31, 0.90 };
	static const double close[] = { 1.00, 1.06, 1.01, 1.05 };
	static const double three[] = { 0.30, 0.31, 0.50, 0.90, 0.91 };
	struct ap_repeat_set s;

	mk_set(&s, 4, two, 1, names, k);
	ASSERT_TRUE(s.wall.bimodal, "0.3 s and 0.9 s: bimodal");
	ASSERT_EQ(s.wall.lo_n, 2, "2 low runs");
	ASSERT_EQ(s.wall.hi_n, 2, "2 high runs");
	ASSERT_NEAR(s.wall.gap, 0.59, 1e-9, "the gap");
	ASSERT_NEAR(s.wall.median, 0.605, 1e-9, "median");
	ASSERT_NEAR(s.wall.min, 0.30, 1e-9, "min");
	ASSERT_NEAR(s.wall.max, 0.91, 1e-9, "max");
	ap_repeat__free(&s);
	/* a gap larger than the clusters, but under 10% of the median */
	mk_set(&s, 4, close, 1, names, k);
	ASSERT_TRUE(!s.wall.bimodal, "1.00-1.06 s: not bimodal");
	ap_repeat__free(&s);
	/* a run between the clusters: no gap is 3x the larger range */
	mk_set(&s, 5, three, 1, names, k);
	ASSERT_TRUE(!s.wall.bimodal, "a run in between: not bimodal");
	ap_repeat__free(&s);
}

TEST(repeat_swing_rule)
{
	static const double w[] = { 1, 1, 1, 1, 1, 1 };
	/* hot steady within sampling, cold swinging, tiny too small to test */
	static const uint64_t k[3][8] = { { 500, 510, 490, 505, 495, 500 },
					  { 300, 500, 300, 500, 300, 500 },
					  { 3, 5, 2, 4, 3, 4 } };
	struct ap_repeat_set s;
	size_t i;

	mk_set(&s, 6, w, 3, names, k);
	ASSERT_EQ(s.nr_tested, 2, "hot and cold tested");
	ASSERT_EQ(s.nr_swings, 1, "one swing");
	for (i = 0; i < s.nr_fns; i++) {
		const struct ap_repeat_fn *f = &s.fns[i];

		if (!strcmp(f->name, "hot")) {
			ASSERT_TRUE(!f->swing, "hot: steady");
			ASSERT_TRUE(f->ratio < 1, "hot: within sampling");
			ASSERT_NEAR(f->mean, 50, 1e-9, "hot: mean share");
			ASSERT_TRUE(f->mean - f->ci95 < 50 && 50 < f->mean + f->ci95,
				    "hot: interval");
		} else if (!strcmp(f->name, "cold")) {
			ASSERT_TRUE(f->swing, "cold: swings");
			ASSERT_EQ(f->df, 5, "cold: df");
			ASSERT_TRUE(f->ratio > 5, "cold: far beyond sampling");
			ASSERT_TRUE(f->p_swing < 1e-10, "cold: p");
		} else {
			ASSERT_TRUE(!f->tested && !f->swing, "tiny: untested");
		}
	}
	ASSERT_STREQ(s.fns[0].name, "hot", "tested first, by share");
	ap_repeat__free(&s);
}

TEST(repeat_set_diff)
{
	static const double w[] = { 1, 1, 1, 1, 1 };
	/* per 1000 samples; new: hot's work doubled (cold's samples kept,
	 * the runs 500 samples longer: shares from each run's samples) */
	static const uint64_t kb[3][8] = { { 400, 420, 390, 410, 405 },
					   { 400, 380, 410, 395, 400 } };
	static const uint64_t kn[3][8] = { { 800, 820, 790, 810, 805 },
					   { 400, 390, 405, 410, 395 } };
	struct ap_repeat_set b, n;
	struct ap_rdiff d = { 0 };
	size_t j;

	mk_set(&b, 5, w, 2, names, kb);
	mk_set(&n, 5, w, 2, names, kn);
	for (j = 0; j < 5; j++) { /* the new runs are longer: 1400 samples */
		size_t i;

		n.runs[j].samples = 1400;
		for (i = 0; i < 2; i++)
			n.fns[i].share[j] = 100.0 * n.fns[i].self[j] / 1400;
	}
	ap_repeat__compute(&n);
	if (!ASSERT_EQ(ap_rdiff__compute(&d, &b, &n, &(struct ap_diff_opts){ 0 }), 0, "compute"))
		goto out;
	ASSERT_EQ(d.nr_regressions, 1, "one regression");
	ASSERT_STREQ(d.fns[0].name, "hot", "hot first");
	ASSERT_TRUE(d.fns[0].regression && d.fns[0].cls == AP_DIFF_ABSOLUTE, "hot: real, grew");
	ASSERT_NEAR(d.fns[0].self_s[1] - d.fns[0].self_s[0], 4.0, 1e-9, "hot: +4 s a run");
	ASSERT_STREQ(d.fns[1].name, "cold", "cold second");
	ASSERT_TRUE(!d.fns[1].regression && d.fns[1].cls == AP_DIFF_SHARE, "cold: share shift");
	ASSERT_TRUE(d.t_cpu > 0 && d.p_cpu < 0.05, "the runs took more CPU");
	ap_rdiff__free(&d);
	/* the other way round: an improvement */
	memset(&d, 0, sizeof(d));
	ap_rdiff__compute(&d, &n, &b, &(struct ap_diff_opts){ 0 });
	ASSERT_EQ(d.nr_regressions, 0, "reverse: no regression");
	ASSERT_TRUE(d.fns[0].cls == AP_DIFF_ABSOLUTE && d.fns[0].t_abs < 0, "reverse: hot shrank");
	ap_rdiff__free(&d);
	/* a set against itself */
	memset(&d, 0, sizeof(d));
	ap_rdiff__compute(&d, &b, &b, &(struct ap_diff_opts){ 0 });
	ASSERT_EQ(d.nr_regressions, 0, "same: no regression");
	ASSERT_TRUE(d.fns[0].cls == AP_DIFF_NOISE, "same: noise");
out:
	ap_rdiff__free(&d);
	ap_repeat__free(&b);
	ap_repeat__free(&n);
}

static int copy_file(const char *from, const char *to)
{
	size_t len;
	char *buf = read_file(from, &len);
	FILE *f;

	if (!buf)
		return -1;
	f = fopen(to, "w");
	if (!f || fwrite(buf, 1, len, f) != len) {
		free(buf);
		if (f)
			fclose(f);
		return -1;
	}
	free(buf);
	return fclose(f);
}

static int write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(s, f);
	return fclose(f);
}

TEST(repeat_read_set)
{
	char *dir = unit_temp_dir("repeat"), *p;
	struct ap_repeat_set s;
	int i, err = 0;

	if (!ASSERT_TRUE(dir != NULL, "temp dir"))
		return;
	for (i = 1; i <= 3 && !err; i++) {
		p = xasprintf("%s/run-%d", dir, i);
		err |= mkdir(p, 0755);
		free(p);
		p = xasprintf("%s/run-%d/artifacts", dir, i);
		err |= mkdir(p, 0755);
		free(p);
		p = xasprintf("%s/run-%d/run.json", dir, i);
		err |= copy_file("tests/fixtures/diff/base/run.json", p);
		free(p);
		p = xasprintf("%s/run-%d/artifacts/cpu.json", dir, i);
		err |= copy_file("tests/fixtures/diff/base/artifacts/cpu.json", p);
		free(p);
	}
	p = xasprintf("%s/repeat.json", dir);
	err |= write_str(p, "{\"schema\": \"autoprof.repeat/1\", \"requested\": 4, \"interrupted\": "
			    "true, \"runs\": [{\"dir\": \"run-1\", \"included\": true}, {\"dir\": "
			    "\"run-2\", \"included\": true}, {\"dir\": \"run-3\", \"included\": false, "
			    "\"excluded\": \"cut short by INT\"}]}");
	if (!ASSERT_EQ(err, 0, "the set written"))
		goto out;
	if (ASSERT_EQ(ap_repeat__read(&s, dir, geteuid()), 0, "read")) {
		ASSERT_EQ(s.nr_runs, 3, "3 runs");
		ASSERT_EQ(s.nr_included, 2, "2 included");
		ASSERT_TRUE(s.interrupted, "interrupted");
		ASSERT_EQ(s.nr_tested, 4, "a, b, c, tiny tested (20 samples a run)");
		ASSERT_NEAR(s.wall.sd, 0, 1e-12, "copies: no spread");
		ASSERT_TRUE(!s.wall.bimodal && !s.nr_swings, "copies: no finding");
		ASSERT_STREQ(s.target, "python3 w.py", "target");
	}
	ap_repeat__free(&s);
	/* a run named outside the set is refused */
	err = write_str(p, "{\"schema\": \"autoprof.repeat/1\", \"runs\": [{\"dir\": \"../run-1\", "
			   "\"included\": true}]}");
	ASSERT_TRUE(!err && ap_repeat__read(&s, dir, geteuid()) == -EINVAL, "../run-1 refused");
	ap_repeat__free(&s);
out:
	free(p);
	unit_rm_rf(dir);
}
