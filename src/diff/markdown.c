// SPDX-License-Identifier: MIT
/* diff.md: the diff as a Markdown report, written beside diff.json. It is
 * a list of sections (md_sections[]), each a function that writes its
 * heading and body: a new part of the diff adds one line to that table. */
#include <math.h>
#include <string.h>
#include "diff/diff.h"

/* s in a Markdown table cell: the characters that would break it escaped,
 * control characters (a name from the target) as "?" as on a terminal */
void ap_diff_md_cell(const char *s, FILE *f)
{
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '|' || c == '\\' || c == '`' || c == '*' || c == '_' || c == '<')
			fputc('\\', f);
		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

static void md_verdict(const struct ap_diff *d, size_t top, FILE *f)
{
	(void)top;
	fprintf(f, "# diff\n\n`%s` -> `%s`\n\n", d->base_dir, d->new_dir);
	if (d->nr_regressions)
		fprintf(f, "**%zu significant regression%s** (exit status 1).", d->nr_regressions,
			d->nr_regressions == 1 ? "" : "s");
	else
		fprintf(f, "**No significant regression** (exit status 0).");
	fprintf(f, " CPU %.2f s -> %.2f s (%+.2f s, %s, p %.2g: %s); wall %.2f s -> %.2f s; "
		   "%zu functions compared, %zu tested, Holm-corrected.\n",
		d->cpu_s[0], d->cpu_s[1], d->cpu_s[1] - d->cpu_s[0],
		ap_diff_pct_text(d->cpu_s[0], d->cpu_s[1]), d->p_cpu,
		d->cpu_change > 0 ? "more CPU time" : d->cpu_change < 0 ? "less CPU time" :
									"unchanged within noise",
		d->wall_s[0], d->wall_s[1], d->nr_fns, d->nr_tested);
	if (!d->same_target) {
		fprintf(f, "\nDifferent targets: ");
		ap_diff_md_cell(d->target[0], f);
		fprintf(f, " and ");
		ap_diff_md_cell(d->target[1], f);
		fprintf(f, "; compared anyway.\n");
	}
}

enum fn_pick { PICK_REGRESSION, PICK_IMPROVEMENT, PICK_SHARE };

static bool picked(const struct ap_diff_fn *fn, enum fn_pick k)
{
	switch (k) {
	case PICK_REGRESSION:
		return fn->regression;
	case PICK_IMPROVEMENT:
		return fn->cls == AP_DIFF_ABSOLUTE && fn->z_abs < 0;
	default:
		return fn->cls == AP_DIFF_SHARE ||
		       (fn->cls == AP_DIFF_ABSOLUTE && fn->z_abs > 0 && !fn->regression);
	}
}

static void md_functions(const struct ap_diff *d, size_t top, FILE *f, enum fn_pick k)
{
	size_t i, n = 0;

	for (i = 0; i < d->nr_fns && n < top; i++) {
		const struct ap_diff_fn *fn = &d->fns[i];

		if (!picked(fn, k))
			continue;
		if (!n++)
			fprintf(f, "| function | file | self share | self CPU | p (share, CPU) |\n"
				   "|---|---|---|---|---|\n");
		fputs("| ", f);
		ap_diff_md_cell(fn->name, f);
		fputs(" | ", f);
		ap_diff_md_cell(*fn->file ? fn->file : fn->kind, f);
		fprintf(f, " | %.1f%% -> %.1f%% (%+.1f pts) | %.2f s -> %.2f s (%+.2f s) | %.2g, %.2g |\n",
			fn->self_pct[0], fn->self_pct[1], fn->self_pct[1] - fn->self_pct[0],
			fn->self_s[0], fn->self_s[1], fn->self_s[1] - fn->self_s[0], fn->p_share,
			fn->p_abs);
	}
	if (!n)
		fprintf(f, "None.\n");
}

static void md_regressions(const struct ap_diff *d, size_t top, FILE *f)
{
	fprintf(f, "Functions whose self share and self CPU time both grew beyond noise"
		   " (--max-regression %.1f points).\n\n", d->opts.max_regression);
	md_functions(d, top, f, PICK_REGRESSION);
}

static void md_improvements(const struct ap_diff *d, size_t top, FILE *f)
{
	fprintf(f, "Functions whose self CPU time shrank beyond noise.\n\n");
	md_functions(d, top, f, PICK_IMPROVEMENT);
}

static void md_shifts(const struct ap_diff *d, size_t top, FILE *f)
{
	fprintf(f, "Other real changes that are not regressions: a share that moved while the"
		   " function's own CPU time did not (another function's time changed), or CPU"
		   " time that grew with the share steady or under --max-regression.\n\n");
	md_functions(d, top, f, PICK_SHARE);
}

/* the changed rows of v (of kind: process rows, function rows or all) */
static size_t md_exact(const struct ap_diff_exact *v, size_t n, int nq, int kind, size_t top,
		       FILE *f)
{
	char lb[512], cb[160];
	size_t i, m = 0;
	int q;

	for (i = 0; i < n && m < top && v[i].changed; i++) {
		if (kind >= 0 && kind != !strcmp(v[i].kind, "process"))
			continue;
		if (!m++)
			fprintf(f, "| subject | change |\n|---|---|\n");
		fputs("| ", f);
		ap_diff_md_cell(ap_diff_exact_label(&v[i], lb, sizeof(lb)), f);
		fputs(" |", f);
		for (q = 0; q < nq; q++)
			if (v[i].changed & (1u << q)) {
				fputc(' ', f);
				ap_diff_md_cell(ap_diff_exact_change(&v[i], q, cb, sizeof(cb)), f);
				fputs(";", f);
			}
		fputs(" |\n", f);
	}
	return m;
}

static void md_wall(const struct ap_diff *d, size_t top, FILE *f)
{
	if (!d->has_wall) {
		fprintf(f, "Not compared: a run has no off-CPU accounting (offcpu.json).\n");
		return;
	}
	fprintf(f, "Exact (scheduler accounting, not sampled). Shown: changes of at least %.0f%%"
		   " and %.0f ms. Functions are charged the off-CPU time of the stacks where"
		   " they are the innermost Python frame (else the innermost native one).\n\n"
		   "Processes (by name):\n\n",
		AP_DIFF_FLOOR_PCT, AP_DIFF_FLOOR_S * 1e3);
	if (!md_exact(d->wall, d->nr_wall, AP_DIFF_WALL__COUNT, 1, top, f))
		fprintf(f, "No change.\n");
	fprintf(f, "\nFunctions (off-CPU time):\n\n");
	if (!md_exact(d->wall, d->nr_wall, AP_DIFF_WALL__COUNT, 0, top, f))
		fprintf(f, "No change.\n");
}

static void md_syscalls(const struct ap_diff *d, size_t top, FILE *f)
{
	if (!d->has_sys) {
		fprintf(f, "Not compared: a run has no syscall accounting (syscalls.json).\n");
		return;
	}
	fprintf(f, "Exact counts per process name and call. Shown: changes of at least %.0f%% and"
		   " %d calls or errors, %.0f ms, %d KiB.\n\n",
		AP_DIFF_FLOOR_PCT, AP_DIFF_FLOOR_CALLS, AP_DIFF_FLOOR_S * 1e3,
		AP_DIFF_FLOOR_BYTES / 1024);
	if (!md_exact(d->sys, d->nr_sys, AP_DIFF_SYS__COUNT, -1, top, f))
		fprintf(f, "No change.\n");
}

static void md_found(const struct ap_diff *d, size_t top, FILE *f, int change)
{
	size_t i, n = 0;

	for (i = 0; i < d->nr_found && n < top; i++) {
		const struct ap_diff_finding *x = &d->found[i];

		if (x->change != change)
			continue;
		if (!n++)
			fprintf(f, "| pattern | subject | severity | wall time at stake |\n"
				   "|---|---|---|---|\n");
		fputs("| ", f);
		ap_diff_md_cell(x->pattern, f);
		fputs(" | ", f);
		ap_diff_md_cell(x->subject, f);
		fprintf(f, " | %s | %.2f s |\n", x->severity, x->impact_s);
	}
	if (!n)
		fprintf(f, "None.\n");
}

static void md_findings(const struct ap_diff *d, size_t top, FILE *f)
{
	if (!d->has_findings) {
		fprintf(f, "Not compared.\n");
		return;
	}
	fprintf(f, "By pattern and subject (pids left out); uncertain findings not counted.\n\n"
		   "Appeared in NEW:\n\n");
	md_found(d, top, f, +1);
	fprintf(f, "\nGone since BASE:\n\n");
	md_found(d, top, f, -1);
}

static const struct md_section {
	const char *title; /* NULL: no heading */
	void (*write)(const struct ap_diff *d, size_t top, FILE *f);
} md_sections[] = {
	{ NULL, md_verdict },
	{ "Regressions", md_regressions },
	{ "Improvements", md_improvements },
	{ "Share shifts and other changes", md_shifts },
	{ NULL, ap_diff_paths__md }, /* its own heading (diff/paths.c) */
	{ "Wall time by reason", md_wall },
	{ "Syscalls", md_syscalls },
	{ "Findings that appeared or went away", md_findings },
};

void ap_diff__markdown(const struct ap_diff *d, size_t top, FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(md_sections) / sizeof(md_sections[0]); i++) {
		if (md_sections[i].title)
			fprintf(f, "\n## %s\n\n", md_sections[i].title);
		md_sections[i].write(d, top, f);
	}
}
