// SPDX-License-Identifier: MIT
/* A set of repeated runs in and out: repeat.json (AP_SCHEMA_REPEAT) written
 * by `run --repeat N` and read back by `diff`, and the summary printed on
 * the terminal and written as repeat.md. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "diff/repeat.h"
#include "log.h"
#include "outdir.h"
#include "util.h"

static cJSON *num_or_null(double v)
{
	return isnan(v) || isinf(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static cJSON *runs_json(const struct ap_repeat_set *s)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < s->nr_runs; i++) {
		const struct ap_repeat_run *r = &s->runs[i];
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "dir", r->name);
		cJSON_AddBoolToObject(j, "included", r->included);
		if (r->excluded)
			cJSON_AddStringToObject(j, "excluded", r->excluded);
		else
			cJSON_AddNullToObject(j, "excluded");
		if (r->exit_status >= 0)
			cJSON_AddNumberToObject(j, "exit_status", r->exit_status);
		else
			cJSON_AddNullToObject(j, "exit_status");
		cJSON_AddItemToObject(j, "wall_s", num_or_null(r->included ? r->wall_s : NAN));
		cJSON_AddNumberToObject(j, "samples", r->samples);
		cJSON_AddItemToArray(a, j);
	}
	return a;
}

static cJSON *wall_json(const struct ap_repeat_wall *w)
{
	cJSON *j = cJSON_CreateObject(), *b = cJSON_CreateObject();

	cJSON_AddNumberToObject(j, "min", w->min);
	cJSON_AddNumberToObject(j, "median", w->median);
	cJSON_AddNumberToObject(j, "max", w->max);
	cJSON_AddNumberToObject(j, "mean", w->mean);
	cJSON_AddNumberToObject(j, "sd", w->sd);
	cJSON_AddNumberToObject(j, "cv", w->cv);
	cJSON_AddBoolToObject(b, "found", w->bimodal);
	cJSON_AddNumberToObject(b, "gap_s", w->gap);
	cJSON_AddNumberToObject(b, "low_runs", w->lo_n);
	cJSON_AddNumberToObject(b, "high_runs", w->hi_n);
	cJSON_AddNumberToObject(b, "low_max_s", w->lo_max);
	cJSON_AddNumberToObject(b, "high_min_s", w->hi_min);
	cJSON_AddNumberToObject(b, "low_range_s", w->lo_range);
	cJSON_AddNumberToObject(b, "high_range_s", w->hi_range);
	cJSON_AddItemToObject(j, "largest_gap", b);
	return j;
}

static cJSON *fn_json(const struct ap_repeat_set *s, const struct ap_repeat_fn *f)
{
	cJSON *j = cJSON_CreateObject(), *sh = cJSON_CreateObject(), *per = cJSON_CreateArray();
	cJSON *sw = cJSON_CreateObject(), *ks = cJSON_CreateArray();
	size_t i;

	cJSON_AddStringToObject(j, "name", f->name);
	cJSON_AddStringToObject(j, "file", f->file);
	cJSON_AddStringToObject(j, "kind", f->kind);
	cJSON_AddNumberToObject(j, "self_samples", f->self_sum);
	for (i = 0; i < s->nr_included; i++) {
		cJSON_AddItemToArray(per, cJSON_CreateNumber(f->share[i]));
		cJSON_AddItemToArray(ks, cJSON_CreateNumber(f->self[i]));
	}
	cJSON_AddItemToObject(j, "self_samples_per_run", ks);
	cJSON_AddNumberToObject(sh, "mean", f->mean);
	cJSON_AddNumberToObject(sh, "sd", f->sd);
	cJSON_AddItemToObject(sh, "ci95_low", num_or_null(f->mean - f->ci95));
	cJSON_AddItemToObject(sh, "ci95_high", num_or_null(f->mean + f->ci95));
	cJSON_AddItemToObject(sh, "per_run", per);
	cJSON_AddItemToObject(j, "self_pct", sh);
	cJSON_AddItemToObject(sw, "chi2", num_or_null(f->chi2));
	cJSON_AddNumberToObject(sw, "df", f->df);
	cJSON_AddItemToObject(sw, "p", num_or_null(f->p_swing));
	cJSON_AddItemToObject(sw, "dispersion", num_or_null(f->ratio));
	cJSON_AddBoolToObject(sw, "found", f->swing);
	cJSON_AddItemToObject(j, "swing", sw);
	return j;
}

static cJSON *findings_json(const struct ap_repeat_set *s)
{
	cJSON *a = cJSON_CreateArray(), *j, *e;
	const struct ap_repeat_wall *w = &s->wall;
	size_t i;

	if (w->bimodal) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "kind", "bimodal_wall_time");
		cJSON_AddStringToObject(j, "summary",
					"the wall times fall in two clusters: their gap is more than 3 "
					"times the larger cluster's range");
		e = wall_json(w);
		cJSON_AddItemToObject(j, "evidence", e);
		cJSON_AddItemToArray(a, j);
	}
	for (i = 0; i < s->nr_fns; i++) {
		const struct ap_repeat_fn *f = &s->fns[i];

		if (!f->swing)
			continue;
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "kind", "share_swing");
		cJSON_AddStringToObject(j, "function", f->name);
		cJSON_AddStringToObject(j, "file", f->file);
		cJSON_AddStringToObject(j, "summary",
					"its self share varies across runs far beyond its sampling noise");
		cJSON_AddItemToObject(j, "evidence", fn_json(s, f));
		cJSON_AddItemToArray(a, j);
	}
	return a;
}

cJSON *ap_repeat__json(const struct ap_repeat_set *s)
{
	cJSON *j = cJSON_CreateObject(), *fns = cJSON_CreateArray(), *t = cJSON_CreateObject();
	size_t i;

	cJSON_AddStringToObject(j, "schema", AP_SCHEMA_REPEAT);
	cJSON_AddStringToObject(j, "target", s->target ? s->target : "");
	cJSON_AddNumberToObject(j, "requested", s->requested);
	cJSON_AddNumberToObject(j, "completed", s->nr_runs);
	cJSON_AddNumberToObject(j, "included", s->nr_included);
	cJSON_AddBoolToObject(j, "interrupted", s->interrupted);
	cJSON_AddItemToObject(j, "runs", runs_json(s));
	cJSON_AddItemToObject(j, "wall_s", wall_json(&s->wall));
	cJSON_AddStringToObject(t, "share_interval",
				"mean +- t(0.975, runs - 1) * sd / sqrt(runs)");
	cJSON_AddStringToObject(t, "swing", "chi-square homogeneity of per-run self samples, Holm "
					    "over the functions tested");
	cJSON_AddNumberToObject(t, "swing_p", AP_REPEAT_SWING_P);
	cJSON_AddNumberToObject(t, "swing_dispersion", AP_REPEAT_SWING_RATIO);
	cJSON_AddStringToObject(t, "bimodal", "largest gap with >= 2 runs each side, > "
					      "gap_spreads x the larger range and >= gap_min x median");
	cJSON_AddNumberToObject(t, "gap_spreads", AP_REPEAT_GAP_SPREADS);
	cJSON_AddNumberToObject(t, "gap_min", AP_REPEAT_GAP_MIN);
	cJSON_AddNumberToObject(t, "min_samples", AP_DIFF_MIN_SAMPLES);
	cJSON_AddItemToObject(j, "tests", t);
	cJSON_AddItemToObject(j, "findings", findings_json(s));
	cJSON_AddNumberToObject(j, "functions_tested", s->nr_tested);
	cJSON_AddNumberToObject(j, "functions_untested", s->nr_fns - s->nr_tested);
	for (i = 0; i < s->nr_fns && s->fns[i].tested; i++)
		cJSON_AddItemToArray(fns, fn_json(s, &s->fns[i]));
	cJSON_AddItemToObject(j, "functions", fns);
	return j;
}

/* "run-N" and nothing else: repeat.json names directories below the set */
static bool run_name_ok(const char *n)
{
	long v;

	return !strncmp(n, "run-", 4) && !parse_long(n + 4, 1, AP_REPEAT_MAX, &v);
}

/* a whole number in [lo, hi], or -EINVAL (a double out of int's range
 * must not be converted) */
static int get_int(const cJSON *v, int lo, int hi, int *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
	    v->valuedouble != floor(v->valuedouble))
		return -EINVAL;
	*out = (int)v->valuedouble;
	return 0;
}

int ap_repeat__parse(struct ap_repeat_set *s, const char *text, size_t len, const char *what)
{
	cJSON *j, *runs, *r;
	const char *schema;
	size_t cap = 0;
	int err = 0;

	j = cJSON_ParseWithLength(text, len);
	runs = cJSON_GetObjectItem(j, "runs");
	schema = cJSON_GetStringValue(cJSON_GetObjectItem(j, "schema"));
	if (!j || !cJSON_IsArray(runs) || !schema || strcmp(schema, AP_SCHEMA_REPEAT) ||
	    get_int(cJSON_GetObjectItem(j, "requested"), 2, AP_REPEAT_MAX, &s->requested)) {
		ap_err("diff: %s: not a %s document", what, AP_SCHEMA_REPEAT);
		err = -EINVAL;
		goto out;
	}
	s->interrupted = cJSON_IsTrue(cJSON_GetObjectItem(j, "interrupted"));
	cJSON_ArrayForEach(r, runs) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(r, "dir"));
		const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(r, "excluded"));
		struct ap_repeat_run *rr;
		int st;

		if (!name || !run_name_ok(name) || s->nr_runs >= AP_REPEAT_MAX) {
			ap_err("diff: %s: a run that is not run-1 .. run-%d", what, AP_REPEAT_MAX);
			err = -EINVAL;
			goto out;
		}
		if (get_int(cJSON_GetObjectItem(r, "exit_status"), 0, 255, &st))
			st = -1;
		GROW(s->runs, cap, s->nr_runs + 1);
		rr = &s->runs[s->nr_runs++];
		*rr = (struct ap_repeat_run){
			.name = xstrdup(name),
			.included = cJSON_IsTrue(cJSON_GetObjectItem(r, "included")),
			.excluded = why ? xstrdup(why) : NULL,
			.exit_status = st,
		};
	}
out:
	cJSON_Delete(j);
	return err;
}

int ap_repeat__read(struct ap_repeat_set *s, const char *dir, unsigned uid)
{
	char *text = NULL, *what;
	size_t len;
	int fd, err = 0;

	memset(s, 0, sizeof(*s));
	s->dir = xstrdup(dir);
	fd = ap_run_dir_open(dir, uid);
	if (fd < 0)
		return fd;
	text = read_file_at(fd, "repeat.json", O_NOFOLLOW, AP_READ_MAX, &len);
	if (!text)
		err = -errno;
	close(fd);
	if (err)
		return err;
	what = xasprintf("%s/repeat.json", dir);
	err = ap_repeat__parse(s, text, len, what);
	free(what);
	free(text);
	if (!err)
		err = ap_repeat__load(s, uid);
	return err;
}

static const char *base_name(const char *f)
{
	const char *b = strrchr(f, '/');

	return b ? b + 1 : f;
}

void ap_repeat__print(const struct ap_repeat_set *s, bool md, FILE *f)
{
	const struct ap_repeat_wall *w = &s->wall;
	const char *ind = md ? "- " : "  ";
	size_t i, shown = 0;

	fprintf(f, md ? "# Repeated runs: %s\n\n" : "repeat: %s\n", s->target ? s->target : "");
	fprintf(f, "%s%zu of %d runs complete, %zu in the statistics%s\n", ind, s->nr_runs,
		s->requested, s->nr_included, s->interrupted ? " (interrupted)" : "");
	for (i = 0; i < s->nr_runs; i++)
		if (s->runs[i].excluded)
			fprintf(f, "%s%s left out: %s\n", ind, s->runs[i].name, s->runs[i].excluded);
	if (!s->nr_included)
		return;
	fprintf(f, "%swall: min %.3f s, median %.3f s, max %.3f s; mean %.3f s, sd %.3f s (CV %.1f%%)\n",
		ind, w->min, w->median, w->max, w->mean, w->sd, 100 * w->cv);
	fprintf(f, md ? "\n## Findings\n\n" : "\nFindings:\n");
	if (w->bimodal)
		fprintf(f, "%sbimodal wall time: %d runs up to %.3f s, %d from %.3f s; the gap %.3f s is "
			"%.1fx the larger cluster's range (%.3f s)\n", ind, w->lo_n, w->lo_max,
			w->hi_n, w->hi_min, w->gap,
			w->gap / fmax(fmax(w->lo_range, w->hi_range), 1e-9),
			fmax(w->lo_range, w->hi_range));
	for (i = 0; i < s->nr_fns; i++) {
		const struct ap_repeat_fn *g = &s->fns[i];
		double lo = g->share[0], hi = g->share[0];
		size_t k;

		if (!g->swing)
			continue;
		for (k = 1; k < s->nr_included; k++)
			lo = fmin(lo, g->share[k]), hi = fmax(hi, g->share[k]);
		fprintf(f, "%s%s (%s) swings: self share %.1f%% to %.1f%% across runs, sd %.1f pts, "
			"%.1fx what sampling predicts (chi-square %.0f on %d df, p %.2g)\n", ind,
			g->name, base_name(g->file), lo, hi, g->sd, g->ratio, g->chi2, g->df,
			g->p_swing);
	}
	if (!w->bimodal && !s->nr_swings)
		fprintf(f, "%snone: the variance is what sampling and a steady machine give\n", ind);
	fprintf(f, md ? "\n## Self share across runs\n\n| function | file | mean | 95%% interval "
			"| sd | dispersion |\n|---|---|---|---|---|---|\n" :
			"\nSelf share across runs (mean [95%% interval], sd; dispersion = sd / sampling "
			"sd):\n");
	for (i = 0; i < s->nr_fns && s->fns[i].tested && shown < 10; i++, shown++) {
		const struct ap_repeat_fn *g = &s->fns[i];

		if (md)
			fprintf(f, "| %s | %s | %.2f%% | %.2f - %.2f | %.2f | %.2f |\n", g->name,
				base_name(g->file), g->mean, g->mean - g->ci95, g->mean + g->ci95,
				g->sd, g->ratio);
		else
			fprintf(f, "  %6.2f%% [%.2f, %.2f], sd %.2f, dispersion %.2f  %s (%s)\n",
				g->mean, g->mean - g->ci95, g->mean + g->ci95, g->sd, g->ratio,
				g->name, base_name(g->file));
	}
	if (!shown)
		fprintf(f, "%snone with %d self samples per run on average\n", ind,
			AP_DIFF_MIN_SAMPLES);
}
