// SPDX-License-Identifier: MIT
/* The two outputs of `diff`: diff.json (AP_SCHEMA_DIFF; every function
 * compared, in ap_diff's order: regressions first) and the terminal
 * summary (the top regressions and improvements, each with its verdict). */
#include <math.h>
#include <string.h>
#include "diff/diff.h"

static const char *const cpu_change_names[] = { "shrank", "noise", "grew" };

cJSON *ap_json_num_or_null(double v)
{
	return isnan(v) || isinf(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

cJSON *ap_json_pair(double a, double b)
{
	cJSON *j = cJSON_CreateArray();

	cJSON_AddItemToArray(j, cJSON_CreateNumber(a));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(b));
	return j;
}

static cJSON *fn_json(const struct ap_diff_fn *f)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "name", f->name);
	cJSON_AddStringToObject(j, "file", f->file);
	cJSON_AddStringToObject(j, "kind", f->kind);
	cJSON_AddItemToObject(j, "self_samples", ap_json_pair(f->self[0], f->self[1]));
	cJSON_AddItemToObject(j, "total_samples", ap_json_pair(f->total[0], f->total[1]));
	cJSON_AddItemToObject(j, "self_pct", ap_json_pair(f->self_pct[0], f->self_pct[1]));
	cJSON_AddItemToObject(j, "total_pct", ap_json_pair(f->total_pct[0], f->total_pct[1]));
	cJSON_AddItemToObject(j, "self_s", ap_json_pair(f->self_s[0], f->self_s[1]));
	cJSON_AddItemToObject(j, "total_s", ap_json_pair(f->total_s[0], f->total_s[1]));
	cJSON_AddNumberToObject(j, "self_pct_delta", f->self_pct[1] - f->self_pct[0]);
	cJSON_AddNumberToObject(j, "total_pct_delta", f->total_pct[1] - f->total_pct[0]);
	cJSON_AddNumberToObject(j, "self_s_delta", f->self_s[1] - f->self_s[0]);
	cJSON_AddNumberToObject(j, "total_s_delta", f->total_s[1] - f->total_s[0]);
	cJSON_AddItemToObject(j, "z_share", ap_json_num_or_null(f->z_share));
	cJSON_AddItemToObject(j, "p_share", ap_json_num_or_null(f->p_share));
	cJSON_AddItemToObject(j, "z_abs", ap_json_num_or_null(f->z_abs));
	cJSON_AddItemToObject(j, "p_abs", ap_json_num_or_null(f->p_abs));
	cJSON_AddStringToObject(j, "class", ap_diff_class_names[f->cls]);
	cJSON_AddBoolToObject(j, "regression", f->regression);
	return j;
}

static cJSON *run_json(const struct ap_diff *d, int i)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "dir", i ? d->new_dir : d->base_dir);
	cJSON_AddStringToObject(j, "target", d->target[i]);
	cJSON_AddNumberToObject(j, "samples", d->samples[i]);
	cJSON_AddNumberToObject(j, "frequency_hz", d->hz[i]);
	cJSON_AddNumberToObject(j, "cpu_s", d->cpu_s[i]);
	cJSON_AddNumberToObject(j, "wall_s", d->wall_s[i]);
	return j;
}

cJSON *ap_diff__json(const struct ap_diff *d)
{
	cJSON *j = cJSON_CreateObject(), *fns = cJSON_CreateArray(), *t = cJSON_CreateObject();
	size_t i;

	cJSON_AddStringToObject(j, "schema", AP_SCHEMA_DIFF);
	cJSON_AddItemToObject(j, "base", run_json(d, 0));
	cJSON_AddItemToObject(j, "new", run_json(d, 1));
	cJSON_AddBoolToObject(j, "same_target", d->same_target);
	cJSON_AddNumberToObject(j, "cpu_s_delta", d->cpu_s[1] - d->cpu_s[0]);
	cJSON_AddNumberToObject(j, "p_cpu", d->p_cpu);
	cJSON_AddStringToObject(j, "cpu_change", cpu_change_names[d->cpu_change + 1]);
	cJSON_AddStringToObject(t, "share", "two-proportion z-test of self samples in all samples");
	cJSON_AddStringToObject(t, "absolute", "Poisson z-test of self CPU-seconds (samples / frequency_hz), "
				"plus the machine's speed noise");
	cJSON_AddStringToObject(t, "correction", "Holm, over the functions tested");
	cJSON_AddNumberToObject(t, "alpha", AP_DIFF_ALPHA);
	cJSON_AddNumberToObject(t, "min_samples", AP_DIFF_MIN_SAMPLES);
	cJSON_AddNumberToObject(t, "max_regression_pct", d->opts.max_regression);
	cJSON_AddNumberToObject(t, "speed_noise_pct", 100 * d->opts.speed_noise);
	cJSON_AddItemToObject(j, "tests", t);
	cJSON_AddNumberToObject(j, "functions_tested", d->nr_tested);
	cJSON_AddNumberToObject(j, "regressions", d->nr_regressions);
	cJSON_AddNumberToObject(j, "regressions_waived", d->nr_waived);
	for (i = 0; i < d->nr_fns; i++)
		cJSON_AddItemToArray(fns, fn_json(&d->fns[i]));
	cJSON_AddItemToObject(j, "functions", fns);
	if (d->baseline)
		cJSON_AddItemToObject(j, "baseline", cJSON_Duplicate(d->baseline, true));
	ap_diff__exact_json(d, j);
	ap_diff_paths__json(d, j);
	return j;
}

static const char *verdict(const struct ap_diff_fn *f)
{
	switch (f->cls) {
	case AP_DIFF_ABSOLUTE:
		return f->z_abs > 0 ? "real: its CPU time grew" : "real: its CPU time shrank";
	case AP_DIFF_SHARE:
		return "share shift only: its CPU time did not change, others' did";
	case AP_DIFF_NOISE:
		return "noise";
	default:
		return "too few samples to tell";
	}
}

static void print_fn(const struct ap_diff_fn *f, FILE *out)
{
	const char *file = strrchr(f->file, '/');

	fprintf(out, "  %+6.1f pts  %s (%s)\n", f->self_pct[1] - f->self_pct[0], f->name,
		file ? file + 1 : *f->file ? f->file : f->kind);
	fprintf(out, "             self %.1f%% -> %.1f%%, %.2f s -> %.2f s (%+.2f s), p %.2g; %s%s\n",
		f->self_pct[0], f->self_pct[1], f->self_s[0], f->self_s[1],
		f->self_s[1] - f->self_s[0],
		isnan(f->p_share) ? 1.0 : f->p_share, verdict(f),
		f->regression ? " -> REGRESSION" :
		f->cls != AP_DIFF_ABSOLUTE || f->z_abs < 0 ? "" :
		f->p_share >= AP_DIFF_ALPHA || f->z_share <= 0 ?
						" (its share did not grow beyond noise)" :
						" (under --max-regression)");
}

/* up to top functions whose self share moved in direction dir (+1 grew,
 * -1 shrank), the real changes before the shifts and the noise */
static size_t print_side(const struct ap_diff *d, int dir, size_t top, FILE *out)
{
	size_t i, n = 0;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < d->nr_fns && n < top; i++) {
			const struct ap_diff_fn *f = &d->fns[i];
			double delta = f->self_pct[1] - f->self_pct[0];
			bool real = f->cls == AP_DIFF_ABSOLUTE || f->cls == AP_DIFF_SHARE;

			if (real != !pass || (dir > 0 ? delta <= 0 : delta >= 0) ||
			    f->cls == AP_DIFF_UNTESTED)
				continue;
			print_fn(f, out);
			n++;
		}
	return n;
}

void ap_diff__print(const struct ap_diff *d, size_t top, FILE *out)
{
	fprintf(out, "diff %s -> %s\n", d->base_dir, d->new_dir);
	fprintf(out, "  samples %llu -> %llu, CPU %.2f s -> %.2f s (%+.2f s, %s, p %.2g: %s), wall %.2f s -> %.2f s\n",
		(unsigned long long)d->samples[0], (unsigned long long)d->samples[1], d->cpu_s[0],
		d->cpu_s[1], d->cpu_s[1] - d->cpu_s[0], ap_diff_pct_text(d->cpu_s[0], d->cpu_s[1]),
		d->p_cpu,
		d->cpu_change > 0   ? "more CPU time" :
		d->cpu_change < 0   ? "less CPU time" :
				      "unchanged within noise",
		d->wall_s[0], d->wall_s[1]);
	fprintf(out, "  %zu functions compared, %zu tested (>= %d self samples in a run), Holm-corrected\n",
		d->nr_fns, d->nr_tested, AP_DIFF_MIN_SAMPLES);
	fprintf(out, "\nGrew (self share, points):\n");
	if (!print_side(d, 1, top, out))
		fprintf(out, "  none\n");
	fprintf(out, "\nShrank (self share, points):\n");
	if (!print_side(d, -1, top, out))
		fprintf(out, "  none\n");
	ap_diff__exact_print(d, top, out);
	ap_diff_paths__print(d, 3, out);
	fprintf(out, "\n%zu significant regression%s\n", d->nr_regressions,
		d->nr_regressions == 1 ? "" : "s");
	if (d->nr_waived)
		fprintf(out, "(%zu function%s grew beyond noise while the run as a whole took less CPU time: not counted as regressions)\n",
			d->nr_waived, d->nr_waived == 1 ? "" : "s");
}

/* "+29%", "-59%" (NEW against BASE), "new" when BASE is 0 */
const char *ap_diff_pct_text(double base, double new)
{
	static __thread char buf[32];

	if (base <= 0)
		return new > 0 ? "new" : "+0%";
	snprintf(buf, sizeof(buf), "%+.0f%%", 100 * (new - base) / base);
	return buf;
}
