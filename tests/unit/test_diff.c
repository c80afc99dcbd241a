// SPDX-License-Identifier: MIT
/* `diff` on the synthetic runs of tests/fixtures/diff (gen.py): main() calls
 * a, b and c (1000 self samples each at 100 Hz) and tiny (20). double: a's
 * work doubled; moved: 500 of b's samples moved to a; tiny: tiny 20 -> 26;
 * other: base's counts under another command line. */
#include <math.h>
#include "diff/diff.h"
#include "unit.h"

#define FX "tests/fixtures/diff/"

static const struct ap_diff_fn *fn(const struct ap_diff *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nr_fns; i++)
		if (!strcmp(d->fns[i].name, name))
			return &d->fns[i];
	return NULL;
}

/* diff of base and fixture name; 0 or -1 */
static int diff_of(const char *name, const struct ap_diff_opts *opts, struct ap_diff *d,
		   struct ap_analysis *b, struct ap_analysis *n)
{
	memset(d, 0, sizeof(*d));
	if (unit_analysis_load(b, FX "base") || unit_analysis_load(n, name))
		return -1;
	return ap_diff__compute(d, b, n, opts);
}

static void done(struct ap_diff *d, struct ap_analysis *b, struct ap_analysis *n)
{
	ap_diff__free(d);
	ap_analysis__free(b);
	ap_analysis__free(n);
}

TEST(diff_doubled_is_regression)
{
	struct ap_analysis b, n;
	struct ap_diff d;
	const struct ap_diff_fn *a, *bf;

	if (!ASSERT_EQ(diff_of(FX "double", &(struct ap_diff_opts){ 0 }, &d, &b, &n), 0, "load"))
		return;
	ASSERT_EQ(d.nr_regressions, 1, "one regression");
	ASSERT_STREQ(d.fns[0].name, "a", "a named first");
	a = fn(&d, "a");
	if (ASSERT_TRUE(a != NULL, "a compared")) {
		ASSERT_EQ(a->cls, AP_DIFF_ABSOLUTE, "a: absolute");
		ASSERT_TRUE(a->regression, "a: regression");
		ASSERT_TRUE(a->p_share < 1e-6, "a: p tiny");
		ASSERT_NEAR(a->self_s[1] - a->self_s[0], 10.0, 1e-9, "a: +10 CPU-s");
	}
	bf = fn(&d, "b");
	if (ASSERT_TRUE(bf != NULL, "b compared")) {
		ASSERT_EQ(bf->cls, AP_DIFF_SHARE, "b: only its share moved");
		ASSERT_TRUE(!bf->regression, "b: no regression");
	}
	ASSERT_TRUE(d.same_target, "same command");
	ASSERT_EQ(d.cpu_change, 1, "doubled: the run took more CPU time");
	done(&d, &b, &n);
}

TEST(diff_max_regression_and_focus)
{
	struct ap_analysis b, n;
	struct ap_diff d;
	struct ap_diff_opts o = { .max_regression = 20 };
	regex_t re;

	if (!ASSERT_EQ(diff_of(FX "double", &o, &d, &b, &n), 0, "load"))
		return;
	ASSERT_EQ(d.nr_regressions, 0, "+16.6 points is under 20");
	done(&d, &b, &n);
	regcomp(&re, ":(b|c)$", REG_EXTENDED | REG_NOSUB);
	o = (struct ap_diff_opts){ .focus = &re };
	if (ASSERT_EQ(diff_of(FX "double", &o, &d, &b, &n), 0, "load")) {
		ASSERT_EQ(d.nr_fns, 2, "b and c only");
		ASSERT_EQ(d.nr_regressions, 0, "a left out");
	}
	done(&d, &b, &n);
	regfree(&re);
}

TEST(diff_moved_work)
{
	struct ap_analysis b, n;
	struct ap_diff d;
	const struct ap_diff_fn *a, *bf, *c;

	if (!ASSERT_EQ(diff_of(FX "moved", &(struct ap_diff_opts){ 0 }, &d, &b, &n), 0, "load"))
		return;
	a = fn(&d, "a"), bf = fn(&d, "b"), c = fn(&d, "c");
	if (ASSERT_TRUE(a && bf && c, "compared")) {
		ASSERT_TRUE(a->cls == AP_DIFF_ABSOLUTE && a->z_abs > 0, "a grew");
		ASSERT_TRUE(bf->cls == AP_DIFF_ABSOLUTE && bf->z_abs < 0, "b shrank");
		ASSERT_TRUE(!bf->regression, "b: no regression");
		ASSERT_EQ(c->cls, AP_DIFF_NOISE, "c unchanged");
	}
	ASSERT_NEAR(d.cpu_s[1], d.cpu_s[0], 1e-9, "equal total");
	ASSERT_EQ(d.cpu_change, 0, "moved work: the run's CPU time is unchanged");
	done(&d, &b, &n);
}

/* with the default speed noise (20%), a's +50% in one pair of runs is within
 * what the machine's speed alone can do: both named by their shares, no
 * regression; a's doubled work still is one */
TEST(diff_speed_noise)
{
	struct ap_diff_opts o = { .speed_noise = AP_DIFF_SPEED_NOISE };
	struct ap_analysis b, n;
	struct ap_diff d;
	const struct ap_diff_fn *a, *bf;

	if (!ASSERT_EQ(diff_of(FX "moved", &o, &d, &b, &n), 0, "load"))
		return;
	a = fn(&d, "a"), bf = fn(&d, "b");
	if (ASSERT_TRUE(a && bf, "compared")) {
		ASSERT_EQ(a->cls, AP_DIFF_SHARE, "a: its share grew, its CPU time within the speed noise");
		ASSERT_TRUE(bf->cls == AP_DIFF_SHARE || bf->cls == AP_DIFF_ABSOLUTE, "b named");
		ASSERT_TRUE(a->p_abs > 0.05 && a->p_share < 1e-6, "a: p of CPU-s and share");
	}
	ASSERT_EQ(d.nr_regressions, 0, "moved work is no regression");
	done(&d, &b, &n);
	if (!ASSERT_EQ(diff_of(FX "double", &o, &d, &b, &n), 0, "load"))
		return;
	a = fn(&d, "a");
	if (ASSERT_TRUE(a != NULL, "a compared"))
		ASSERT_TRUE(a->regression && d.fns == a, "doubled: a is a regression, first");
	/* the run: 30.2 -> 40.2 CPU-s, a third more, within the speed noise */
	ASSERT_EQ(d.cpu_change, 0, "doubled a: the run's +33% is not beyond the speed noise");
	done(&d, &b, &n);
}

TEST(diff_identical_and_tiny)
{
	struct ap_analysis b, n;
	struct ap_diff d;
	const struct ap_diff_fn *t;
	size_t i;

	if (ASSERT_EQ(diff_of(FX "base", &(struct ap_diff_opts){ 0 }, &d, &b, &n), 0, "load")) {
		ASSERT_EQ(d.nr_regressions, 0, "identical: no regression");
		ASSERT_EQ(d.nr_tested, 4, "a, b, c, tiny tested (main has no self samples)");
		for (i = 0; i < d.nr_fns; i++)
			ASSERT_TRUE(d.fns[i].cls <= AP_DIFF_NOISE, "identical: no change");
	}
	done(&d, &b, &n);
	if (ASSERT_EQ(diff_of(FX "tiny", &(struct ap_diff_opts){ 0 }, &d, &b, &n), 0, "load")) {
		t = fn(&d, "tiny");
		if (ASSERT_TRUE(t != NULL, "tiny compared"))
			ASSERT_EQ(t->cls, AP_DIFF_NOISE, "20 -> 26 samples is noise");
		ASSERT_EQ(d.nr_regressions, 0, "tiny: no regression");
	}
	done(&d, &b, &n);
	if (ASSERT_EQ(diff_of(FX "other", &(struct ap_diff_opts){ 0 }, &d, &b, &n), 0, "load"))
		ASSERT_TRUE(!d.same_target, "another command line noticed");
	done(&d, &b, &n);
}

TEST(diff_holm)
{
	double p[] = { 0.01, 0.04, NAN, 0.03 };

	ap_holm(p, 4);
	ASSERT_NEAR(p[0], 0.03, 1e-12, "smallest times 3");
	ASSERT_NEAR(p[3], 0.06, 1e-12, "next times 2");
	ASSERT_NEAR(p[1], 0.06, 1e-12, "last: max(0.04, 0.06)");
	ASSERT_TRUE(isnan(p[2]), "untested stays untested");
	ASSERT_NEAR(ap_norm_p2(1.959964), 0.05, 1e-5, "two-sided 5%");
}

/* the file part of a function's identity across versions, environments and
 * checkouts (diff/ident.c) */
TEST(diff_file_key)
{
	static const char *const cases[][3] = {
		{ "python", "/usr/lib/python3.11/difflib.py", "<stdlib>/difflib.py" },
		{ "python", "/root/.pyenv/versions/3.12.1/lib/python3.12/json/encoder.py",
		  "<stdlib>/json/encoder.py" },
		{ "python", "/opt/lib/python3.13t/json/encoder.py", "<stdlib>/json/encoder.py" },
		{ "python", "/x/venv/lib/python3.11/site-packages/requests/api.py",
		  "<site-packages>/requests/api.py" },
		{ "python", "/usr/lib/python3/dist-packages/yaml/reader.py",
		  "<site-packages>/yaml/reader.py" },
		{ "python", "/tmp/nu17/v1/app.py", "app.py" },
		{ "python", "bench.py", "bench.py" },
		{ "python", "<frozen importlib._bootstrap>", "<frozen importlib._bootstrap>" },
		{ "python", "<stdlib>/json/encoder.py", "<stdlib>/json/encoder.py" },
		{ "user", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", "libpython.so" },
		{ "user", "/usr/bin/python3.11", "python" },
		{ "user", "/usr/bin/python3.13t", "python" },
		{ "user", "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "libz.so" },
		{ "user", "/lib64/ld-linux-x86-64.so.2", "ld-linux-x86-64.so" },
		{ "user", "/usr/lib/x86_64-linux-gnu/libc.so.6", "libc.so" },
		{ "user", "/work/build/tests/cwork", "cwork" },
		{ "user", "libpython.so", "libpython.so" },
		{ "kernel", "", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_TRUE(!strcmp(ap_diff_file_key(cases[i][0], cases[i][1]), cases[i][2]),
			    cases[i][1]);
	ASSERT_TRUE(ap_diff_file_key("python", "/a/app.py") == ap_diff_file_key("python", "/b/app.py"),
		    "interned: one pointer per key");
}
