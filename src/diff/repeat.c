// SPDX-License-Identifier: MIT
/* `diff BASEDIR NEWDIR` of two sets of repeated runs (`run --repeat N`):
 * each run is one observation, so a change is tested against the variance
 * between runs, not only against the sampling noise of pooled counts. Per
 * function, Welch's t-test of the per-run self share and of the per-run
 * self CPU-seconds, each family Holm-corrected over the functions tested;
 * the classes and the regression rule are those of the one-run diff
 * (diff.c): a regression is a function whose share and CPU-seconds both
 * grew beyond noise. The runs' CPU-seconds and wall times get one Welch
 * test each (uncorrected). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>
#include "diff/repeat.h"
#include "artifact/artifact.h"
#include "log.h"
#include "outdir.h"
#include "session.h"
#include "util.h"

static const char *const cpu_change_names[] = { "shrank", "noise", "grew" };

/* f's values per included run of s, of the function named like g (0 when s
 * does not have it); the caller frees */
static double *per_run(const struct ap_repeat_set *s, const struct ap_repeat_fn *g, bool secs)
{
	double *v = xcalloc(s->nr_included + 1, sizeof(*v));

	if (g)
		memcpy(v, secs ? g->self_s : g->share, s->nr_included * sizeof(*v));
	return v;
}

static const struct ap_repeat_fn *find_fn(const struct ap_repeat_set *s,
					  const struct ap_repeat_fn *f)
{
	size_t i;

	/* linear: sets hold hundreds of functions at most that matter; the
	 * untested ones are skipped by the caller */
	for (i = 0; i < s->nr_fns; i++)
		if (!strcmp(s->fns[i].name, f->name) && !strcmp(s->fns[i].kind, f->kind) &&
		    ap_diff_file_key(f->kind, s->fns[i].file) == ap_diff_file_key(f->kind, f->file))
			return &s->fns[i];
	return NULL;
}

static void test_fn(struct ap_rdiff *d, struct ap_rdiff_fn *r, const struct ap_repeat_fn *g[2])
{
	double *v[2][2];
	int i, k;

	for (i = 0; i < 2; i++)
		for (k = 0; k < 2; k++)
			v[i][k] = per_run(d->set[i], g[i], k);
	for (i = 0; i < 2; i++) {
		size_t n = d->set[i]->nr_included;

		r->share[i] = ap_mean(v[i][0], n);
		r->share_sd[i] = ap_sd(v[i][0], n);
		r->self_s[i] = ap_mean(v[i][1], n);
		r->self_s_sd[i] = ap_sd(v[i][1], n);
	}
	ap_welch(v[0][0], d->set[0]->nr_included, v[1][0], d->set[1]->nr_included, &r->t_share,
		 &r->df_share, &r->p_share);
	ap_welch(v[0][1], d->set[0]->nr_included, v[1][1], d->set[1]->nr_included, &r->t_abs,
		 &r->df_abs, &r->p_abs);
	for (i = 0; i < 2; i++)
		for (k = 0; k < 2; k++)
			free(v[i][k]);
}

static void add_fn(struct ap_rdiff *d, const struct ap_repeat_fn *f, int side, size_t *cap)
{
	const struct ap_repeat_fn *g[2];
	struct ap_rdiff_fn *r;
	char *loc;
	bool keep = true;

	g[side] = f;
	g[!side] = find_fn(d->set[!side], f);
	/* each function once: one the base has is added from the base */
	if (side == 1 && g[0])
		return;
	if (d->opts.focus) {
		loc = xasprintf("%s:%s", f->file, f->name);
		keep = !regexec(d->opts.focus, loc, 0, NULL, 0);
		free(loc);
	}
	if (!keep)
		return;
	GROW(d->fns, *cap, d->nr_fns + 1);
	r = &d->fns[d->nr_fns++];
	*r = (struct ap_rdiff_fn){ .name = f->name, .file = f->file, .kind = f->kind };
	test_fn(d, r, g);
	/* tested when it has enough samples in one set */
	if (!(g[0] && g[0]->tested) && !(g[1] && g[1]->tested))
		r->p_share = r->p_abs = NAN;
}

static void classify(struct ap_rdiff *d, struct ap_rdiff_fn *f)
{
	f->cls = ap_diff_verdict(f->p_share, f->p_abs, f->t_share, f->t_abs,
				 f->share[1] - f->share[0], d->opts.max_regression, &f->regression);
	d->nr_tested += f->cls != AP_DIFF_UNTESTED;
	d->nr_regressions += f->regression;
}

static int rank(const struct ap_rdiff_fn *f)
{
	return f->regression ? 2 : f->cls == AP_DIFF_ABSOLUTE || f->cls == AP_DIFF_SHARE;
}

static int delta_cmp(const void *a, const void *b)
{
	const struct ap_rdiff_fn *x = a, *y = b;
	double dx = fabs(x->share[1] - x->share[0]), dy = fabs(y->share[1] - y->share[0]);
	int c = rank(y) - rank(x);

	if (c)
		return c;
	if (dx != dy)
		return dx < dy ? 1 : -1;
	c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->file, y->file);
}

/* the runs' CPU-seconds (samples / hz) and wall times of set s */
static void run_values(const struct ap_repeat_set *s, double *cpu, double *wall)
{
	size_t i, n = 0;

	for (i = 0; i < s->nr_runs; i++) {
		if (!s->runs[i].included)
			continue;
		cpu[n] = s->runs[i].samples / s->runs[i].hz;
		wall[n++] = s->runs[i].wall_s;
	}
}

static void holm_family(struct ap_rdiff *d, bool abs)
{
	double *p = xcalloc(d->nr_fns + 1, sizeof(*p));
	size_t i;

	for (i = 0; i < d->nr_fns; i++)
		p[i] = abs ? d->fns[i].p_abs : d->fns[i].p_share;
	ap_holm(p, d->nr_fns);
	for (i = 0; i < d->nr_fns; i++)
		*(abs ? &d->fns[i].p_abs : &d->fns[i].p_share) = p[i];
	free(p);
}

int ap_rdiff__compute(struct ap_rdiff *d, const struct ap_repeat_set *base,
		      const struct ap_repeat_set *new, const struct ap_diff_opts *opts)
{
	double *cpu[2], *wall[2], df;
	size_t i, cap = 0;
	int s;

	if (base->nr_included < 2 || new->nr_included < 2)
		return -EINVAL;
	d->set[0] = base;
	d->set[1] = new;
	d->opts = *opts;
	d->same_target = !strcmp(base->target ?: "", new->target ?: "");
	for (s = 0; s < 2; s++) {
		cpu[s] = xcalloc(d->set[s]->nr_included + 1, sizeof(double));
		wall[s] = xcalloc(d->set[s]->nr_included + 1, sizeof(double));
		run_values(d->set[s], cpu[s], wall[s]);
		d->cpu_s[s] = ap_mean(cpu[s], d->set[s]->nr_included);
		d->cpu_sd[s] = ap_sd(cpu[s], d->set[s]->nr_included);
	}
	ap_welch(cpu[0], base->nr_included, cpu[1], new->nr_included, &d->t_cpu, &df, &d->p_cpu);
	ap_welch(wall[0], base->nr_included, wall[1], new->nr_included, &d->wall_t, &df,
		 &d->wall_p);
	for (s = 0; s < 2; s++) {
		free(cpu[s]);
		free(wall[s]);
	}
	for (s = 0; s < 2; s++)
		for (i = 0; i < d->set[s]->nr_fns; i++)
			add_fn(d, &d->set[s]->fns[i], s, &cap);
	holm_family(d, false);
	holm_family(d, true);
	for (i = 0; i < d->nr_fns; i++)
		classify(d, &d->fns[i]);
	if (d->nr_fns)
		qsort(d->fns, d->nr_fns, sizeof(*d->fns), delta_cmp);
	return 0;
}

void ap_rdiff__free(struct ap_rdiff *d)
{
	if (!d)
		return;
	free(d->fns);
	d->fns = NULL;
	d->nr_fns = 0;
}

static cJSON *fn_json(const struct ap_rdiff_fn *f)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "name", f->name);
	cJSON_AddStringToObject(j, "file", f->file);
	cJSON_AddStringToObject(j, "kind", f->kind);
	cJSON_AddItemToObject(j, "self_pct_mean", ap_json_pair(f->share[0], f->share[1]));
	cJSON_AddItemToObject(j, "self_pct_sd", ap_json_pair(f->share_sd[0], f->share_sd[1]));
	cJSON_AddItemToObject(j, "self_s_mean", ap_json_pair(f->self_s[0], f->self_s[1]));
	cJSON_AddItemToObject(j, "self_s_sd", ap_json_pair(f->self_s_sd[0], f->self_s_sd[1]));
	cJSON_AddNumberToObject(j, "self_pct_delta", f->share[1] - f->share[0]);
	cJSON_AddNumberToObject(j, "self_s_delta", f->self_s[1] - f->self_s[0]);
	cJSON_AddItemToObject(j, "t_share", ap_json_num_or_null(f->t_share));
	cJSON_AddItemToObject(j, "df_share", ap_json_num_or_null(f->df_share));
	cJSON_AddItemToObject(j, "p_share", ap_json_num_or_null(f->p_share));
	cJSON_AddItemToObject(j, "t_abs", ap_json_num_or_null(f->t_abs));
	cJSON_AddItemToObject(j, "df_abs", ap_json_num_or_null(f->df_abs));
	cJSON_AddItemToObject(j, "p_abs", ap_json_num_or_null(f->p_abs));
	cJSON_AddStringToObject(j, "class", ap_diff_class_names[f->cls]);
	cJSON_AddBoolToObject(j, "regression", f->regression);
	return j;
}

static cJSON *set_json(const struct ap_rdiff *d, int i)
{
	cJSON *j = cJSON_CreateObject();
	const struct ap_repeat_set *s = d->set[i];

	cJSON_AddStringToObject(j, "dir", s->dir);
	cJSON_AddStringToObject(j, "target", s->target ? s->target : "");
	cJSON_AddNumberToObject(j, "runs", s->nr_included);
	cJSON_AddNumberToObject(j, "cpu_s_mean", d->cpu_s[i]);
	cJSON_AddNumberToObject(j, "cpu_s_sd", d->cpu_sd[i]);
	cJSON_AddNumberToObject(j, "wall_s_mean", s->wall.mean);
	cJSON_AddNumberToObject(j, "wall_s_sd", s->wall.sd);
	return j;
}

static int cpu_change(const struct ap_rdiff *d)
{
	return !(d->p_cpu < AP_DIFF_ALPHA) ? 0 : d->t_cpu > 0 ? 1 : -1;
}

cJSON *ap_rdiff__json(const struct ap_rdiff *d)
{
	cJSON *j = cJSON_CreateObject(), *fns = cJSON_CreateArray(), *t = cJSON_CreateObject();
	size_t i;

	cJSON_AddStringToObject(j, "schema", AP_SCHEMA_DIFF_REPEAT);
	cJSON_AddItemToObject(j, "base", set_json(d, 0));
	cJSON_AddItemToObject(j, "new", set_json(d, 1));
	cJSON_AddBoolToObject(j, "same_target", d->same_target);
	cJSON_AddNumberToObject(j, "cpu_s_delta", d->cpu_s[1] - d->cpu_s[0]);
	cJSON_AddItemToObject(j, "p_cpu", ap_json_num_or_null(d->p_cpu));
	cJSON_AddStringToObject(j, "cpu_change", cpu_change_names[cpu_change(d) + 1]);
	cJSON_AddNumberToObject(j, "wall_s_delta", d->set[1]->wall.mean - d->set[0]->wall.mean);
	cJSON_AddItemToObject(j, "p_wall", ap_json_num_or_null(d->wall_p));
	cJSON_AddStringToObject(t, "share", "Welch t-test of the per-run self shares");
	cJSON_AddStringToObject(t, "absolute", "Welch t-test of the per-run self CPU-seconds");
	cJSON_AddStringToObject(t, "correction", "Holm, over the functions tested");
	cJSON_AddNumberToObject(t, "alpha", AP_DIFF_ALPHA);
	cJSON_AddNumberToObject(t, "min_samples_per_run", AP_DIFF_MIN_SAMPLES);
	cJSON_AddNumberToObject(t, "max_regression_pct", d->opts.max_regression);
	cJSON_AddItemToObject(j, "tests", t);
	cJSON_AddNumberToObject(j, "functions_tested", d->nr_tested);
	cJSON_AddNumberToObject(j, "regressions", d->nr_regressions);
	for (i = 0; i < d->nr_fns; i++)
		cJSON_AddItemToArray(fns, fn_json(&d->fns[i]));
	cJSON_AddItemToObject(j, "functions", fns);
	return j;
}

static const char *verdict(const struct ap_rdiff_fn *f)
{
	switch (f->cls) {
	case AP_DIFF_ABSOLUTE:
		return f->t_abs > 0 ? "real: its CPU time grew" : "real: its CPU time shrank";
	case AP_DIFF_SHARE:
		return "share shift only: its CPU time did not change, others' did";
	case AP_DIFF_NOISE:
		return "within the run-to-run variance";
	default:
		return "too few samples to tell";
	}
}

static void print_fn(const struct ap_rdiff_fn *f, FILE *out)
{
	const char *file = strrchr(f->file, '/');

	fprintf(out, "  %+6.1f pts  %s (%s)\n", f->share[1] - f->share[0], f->name,
		file ? file + 1 : *f->file ? f->file : f->kind);
	fprintf(out, "             self %.1f%% (sd %.1f) -> %.1f%% (sd %.1f), %.3f s -> %.3f s, "
		"p %.2g; %s%s\n", f->share[0], f->share_sd[0], f->share[1], f->share_sd[1],
		f->self_s[0], f->self_s[1], isnan(f->p_share) ? 1.0 : f->p_share, verdict(f),
		f->regression ? " -> REGRESSION" : "");
}

static size_t print_side(const struct ap_rdiff *d, int dir, size_t top, FILE *out)
{
	size_t i, n = 0;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < d->nr_fns && n < top; i++) {
			const struct ap_rdiff_fn *f = &d->fns[i];
			double delta = f->share[1] - f->share[0];
			bool real = f->cls == AP_DIFF_ABSOLUTE || f->cls == AP_DIFF_SHARE;

			if (real != !pass || (dir > 0 ? delta <= 0 : delta >= 0) ||
			    f->cls == AP_DIFF_UNTESTED)
				continue;
			print_fn(f, out);
			n++;
		}
	return n;
}

void ap_rdiff__print(const struct ap_rdiff *d, size_t top, FILE *out)
{
	int c = cpu_change(d);

	fprintf(out, "diff of repeated runs %s (%zu runs) -> %s (%zu runs)\n", d->set[0]->dir,
		d->set[0]->nr_included, d->set[1]->dir, d->set[1]->nr_included);
	fprintf(out, "  CPU per run %.3f s (sd %.3f) -> %.3f s (sd %.3f), p %.2g: %s; wall %.3f s -> "
		"%.3f s, p %.2g\n", d->cpu_s[0], d->cpu_sd[0], d->cpu_s[1], d->cpu_sd[1], d->p_cpu,
		c > 0 ? "more CPU time" : c < 0 ? "less CPU time" : "unchanged within the "
		"run-to-run variance", d->set[0]->wall.mean, d->set[1]->wall.mean, d->wall_p);
	fprintf(out, "  %zu functions compared, %zu tested (>= %d self samples per run), Welch "
		"t-tests across runs, Holm-corrected\n", d->nr_fns, d->nr_tested,
		AP_DIFF_MIN_SAMPLES);
	fprintf(out, "\nGrew (mean self share, points):\n");
	if (!print_side(d, 1, top, out))
		fprintf(out, "  none\n");
	fprintf(out, "\nShrank (mean self share, points):\n");
	if (!print_side(d, -1, top, out))
		fprintf(out, "  none\n");
	fprintf(out, "\n%zu significant regression%s\n", d->nr_regressions,
		d->nr_regressions == 1 ? "" : "s");
}

static bool has_repeat_json(const char *dir)
{
	char *p = xasprintf("%s/repeat.json", dir);
	struct stat st;
	bool yes = !lstat(p, &st);

	free(p);
	return yes;
}

int ap_rdiff__cmd(const char *base, const char *new, const struct ap_diff_opts *opts,
		  const char *outdir, size_t top, bool quiet, unsigned uid)
{
	struct ap_repeat_set set[2] = { 0 };
	struct ap_rdiff d = { 0 };
	const char *dir = outdir ? outdir : new;
	bool rb = has_repeat_json(base), rn = has_repeat_json(new);
	int ret = AP_EXIT_FAILED, fd, err;
	cJSON *j;

	if (!rb && !rn)
		return -1;
	if (rb != rn) {
		fprintf(stderr, "autoprof-bpf diff: %s is a set of repeated runs (--repeat) and %s is "
			"one run: compare two of a kind, e.g. %s/run-1\n", rb ? base : new,
			rb ? new : base, rb ? base : new);
		return AP_EXIT_USAGE;
	}
	if (ap_repeat__read(&set[0], base, uid) || ap_repeat__read(&set[1], new, uid))
		goto out;
	if (ap_rdiff__compute(&d, &set[0], &set[1], opts)) {
		ap_err("diff: %s: fewer than 2 complete runs to compare",
		       set[0].nr_included < 2 ? base : new);
		goto out;
	}
	if (!d.same_target)
		fprintf(stderr, "autoprof-bpf diff: warning: different targets: '%s' and '%s'; "
			"compared anyway\n", set[0].target ?: "", set[1].target ?: "");
	fd = ap_run_dir_open(dir, uid);
	if (fd < 0)
		goto out;
	if (!fstatat(fd, "diff.json", &(struct stat){ 0 }, AT_SYMLINK_NOFOLLOW))
		fprintf(stderr, "autoprof-bpf diff: replacing %s/diff.json\n", dir);
	j = ap_rdiff__json(&d);
	err = json_write_atomic(fd, "diff.json", j);
	cJSON_Delete(j);
	close(fd);
	if (err) {
		ap_err("diff: writing %s/diff.json: %s", dir, ap_errstr(err));
		goto out;
	}
	if (!quiet) {
		ap_rdiff__print(&d, top, stdout);
		printf("Written: %s/diff.json\n", dir);
	}
	ret = d.nr_regressions ? 1 : 0;
out:
	ap_rdiff__free(&d);
	ap_repeat__free(&set[0]);
	ap_repeat__free(&set[1]);
	return ret;
}
