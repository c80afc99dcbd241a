// SPDX-License-Identifier: MIT
/* The exact deltas and findings' changes in diff.json ("wall", "syscalls",
 * "findings") and in the terminal summary: one short block each, with only
 * what moved beyond the floors (diff.h), so identical runs print none. */
#include <math.h>
#include <string.h>
#include "diff/diff.h"

static bool is_sys(const struct ap_diff_exact *e)
{
	return !strcmp(e->kind, "syscall");
}

static const char *quantity(const struct ap_diff_exact *e, int q)
{
	return is_sys(e) ? ap_diff_sys_names[q] : ap_diff_wall_names[q];
}

const char *ap_diff_exact_label(const struct ap_diff_exact *e, char *buf, size_t len)
{
	const char *base = strrchr(e->file, '/');

	if (!strcmp(e->kind, "process"))
		snprintf(buf, len, "process %s", e->name);
	else if (is_sys(e))
		snprintf(buf, len, "%s: %s", e->file, e->name);
	else
		snprintf(buf, len, "%s (%s)", e->name, base ? base + 1 : *e->file ? e->file : e->kind);
	return buf;
}

const char *ap_diff_exact_change(const struct ap_diff_exact *e, int q, char *buf, size_t len)
{
	double a = e->v[0][q], b = e->v[1][q];
	char rel[32] = "new";
	bool secs = !is_sys(e) || q == AP_DIFF_SYS_TIME, bytes = is_sys(e) && q == AP_DIFF_SYS_BYTES;

	if (a > 0)
		snprintf(rel, sizeof(rel), "%+.0f%%", 100 * (b - a) / a);
	if (secs)
		snprintf(buf, len, "%s %.3f s -> %.3f s (%+.3f s, %s)", quantity(e, q), a, b, b - a, rel);
	else if (bytes)
		snprintf(buf, len, "%s %.2f MB -> %.2f MB (%+.2f MB, %s)", quantity(e, q), a / 1e6,
			 b / 1e6, (b - a) / 1e6, rel);
	else
		snprintf(buf, len, "%s %.0f -> %.0f (%+.0f, %s)", quantity(e, q), a, b, b - a, rel);
	return buf;
}

static cJSON *row_json(const struct ap_diff_exact *e, int nq, bool oncpu)
{
	cJSON *j = cJSON_CreateObject(), *ch = cJSON_CreateArray(), *p;
	int q;

	if (is_sys(e)) {
		cJSON_AddStringToObject(j, "process", e->file);
		cJSON_AddStringToObject(j, "name", e->name);
	} else {
		cJSON_AddStringToObject(j, "name", e->name);
		if (strcmp(e->kind, "process")) {
			cJSON_AddStringToObject(j, "file", e->file);
			cJSON_AddStringToObject(j, "kind", e->kind);
		}
	}
	for (q = 0; q < nq; q++) {
		if (!is_sys(e) && q == AP_DIFF_WALL_ONCPU && !oncpu)
			continue;
		p = cJSON_AddArrayToObject(j, quantity(e, q));
		cJSON_AddItemToArray(p, cJSON_CreateNumber(e->v[0][q]));
		cJSON_AddItemToArray(p, cJSON_CreateNumber(e->v[1][q]));
		if (e->changed & (1u << q))
			cJSON_AddItemToArray(ch, cJSON_CreateString(quantity(e, q)));
	}
	cJSON_AddItemToObject(j, "changed", ch);
	return j;
}

static cJSON *floor_json(bool sys)
{
	cJSON *f = cJSON_CreateObject();

	cJSON_AddNumberToObject(f, "pct", AP_DIFF_FLOOR_PCT);
	cJSON_AddNumberToObject(f, "s", AP_DIFF_FLOOR_S);
	if (sys) {
		cJSON_AddNumberToObject(f, "calls", AP_DIFF_FLOOR_CALLS);
		cJSON_AddNumberToObject(f, "errors", AP_DIFF_FLOOR_CALLS);
		cJSON_AddNumberToObject(f, "bytes", AP_DIFF_FLOOR_BYTES);
	}
	return f;
}

static bool over_floor(const struct ap_diff_exact *e)
{
	int q;

	for (q = 0; q < AP_DIFF_WALL__COUNT; q++)
		if (e->v[0][q] >= AP_DIFF_FLOOR_S || e->v[1][q] >= AP_DIFF_FLOOR_S)
			return true;
	return false;
}

static cJSON *wall_json(const struct ap_diff *d)
{
	cJSON *w = cJSON_CreateObject(), *pr, *fn;
	size_t i;

	cJSON_AddStringToObject(w, "basis", "exact");
	cJSON_AddItemToObject(w, "floor", floor_json(false));
	pr = cJSON_AddArrayToObject(w, "processes");
	fn = cJSON_AddArrayToObject(w, "functions");
	for (i = 0; i < d->nr_wall; i++) {
		const struct ap_diff_exact *e = &d->wall[i];
		bool proc = !strcmp(e->kind, "process");

		/* a function under the floor in both runs could not have changed:
		 * left out (thousands of them on a large profile) */
		if (!proc && !e->changed && !over_floor(e))
			continue;
		cJSON_AddItemToArray(proc ? pr : fn, row_json(e, AP_DIFF_WALL__COUNT, proc));
	}
	return w;
}

static cJSON *sys_json(const struct ap_diff *d)
{
	cJSON *s = cJSON_CreateObject(), *rows;
	size_t i;

	cJSON_AddStringToObject(s, "basis", "exact");
	cJSON_AddItemToObject(s, "floor", floor_json(true));
	rows = cJSON_AddArrayToObject(s, "rows");
	for (i = 0; i < d->nr_sys; i++)
		cJSON_AddItemToArray(rows, row_json(&d->sys[i], AP_DIFF_SYS__COUNT, false));
	return s;
}

static cJSON *findings_json(const struct ap_diff *d)
{
	cJSON *f = cJSON_CreateObject(), *ap, *gone, *o;
	size_t i;

	ap = cJSON_AddArrayToObject(f, "appeared");
	gone = cJSON_AddArrayToObject(f, "gone");
	for (i = 0; i < d->nr_found; i++) {
		const struct ap_diff_finding *x = &d->found[i];

		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "pattern", x->pattern);
		cJSON_AddStringToObject(o, "title", x->title ? x->title : "");
		cJSON_AddStringToObject(o, "severity", x->severity);
		cJSON_AddStringToObject(o, "subject", x->subject);
		cJSON_AddNumberToObject(o, "impact_s", x->impact_s);
		cJSON_AddItemToArray(x->change > 0 ? ap : gone, o);
	}
	return f;
}

void ap_diff__exact_json(const struct ap_diff *d, cJSON *j)
{
	cJSON_AddItemToObject(j, "wall", d->has_wall ? wall_json(d) : cJSON_CreateNull());
	cJSON_AddItemToObject(j, "syscalls", d->has_sys ? sys_json(d) : cJSON_CreateNull());
	cJSON_AddItemToObject(j, "findings", d->has_findings ? findings_json(d) : cJSON_CreateNull());
}

/* up to top changed rows of v, one line each */
static void print_rows(const struct ap_diff_exact *v, size_t n, int nq, size_t top, FILE *out)
{
	char lb[512], cb[160];
	size_t i;
	int q;

	for (i = 0; i < n && i < top && v[i].changed; i++) {
		fprintf(out, "  %s:", ap_diff_exact_label(&v[i], lb, sizeof(lb)));
		for (q = 0; q < nq; q++)
			if (v[i].changed & (1u << q))
				fprintf(out, "%s %s", q == __builtin_ctz(v[i].changed) ? "" : ";",
					ap_diff_exact_change(&v[i], q, cb, sizeof(cb)));
		fputc('\n', out);
	}
}

void ap_diff__exact_print(const struct ap_diff *d, size_t top, FILE *out)
{
	size_t i, n;

	if (d->nr_wall && d->wall[0].changed) {
		fprintf(out, "\nWall time by reason (exact; changes of %.0f%% and %.0f ms or more):\n",
			AP_DIFF_FLOOR_PCT, AP_DIFF_FLOOR_S * 1e3);
		print_rows(d->wall, d->nr_wall, AP_DIFF_WALL__COUNT, top, out);
	}
	if (d->nr_sys && d->sys[0].changed) {
		fprintf(out, "\nSyscalls (exact; changes of %.0f%% and %d calls, %.0f ms or %d KiB or more):\n",
			AP_DIFF_FLOOR_PCT, AP_DIFF_FLOOR_CALLS, AP_DIFF_FLOOR_S * 1e3,
			AP_DIFF_FLOOR_BYTES / 1024);
		print_rows(d->sys, d->nr_sys, AP_DIFF_SYS__COUNT, top, out);
	}
	/* appeared, then gone (their order in d->found), up to top of each */
	for (i = n = 0; i < d->nr_found; i++, n++) {
		const struct ap_diff_finding *f = &d->found[i];

		if (!i || f->change != d->found[i - 1].change) {
			fprintf(out, "\nFindings %s:\n", f->change > 0 ? "that appeared" : "gone");
			n = 0;
		}
		if (n < top)
			fprintf(out, "  %s %s: %s\n", f->change > 0 ? "+" : "-", f->pattern,
				f->subject);
	}
}
