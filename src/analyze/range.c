// SPDX-License-Identifier: MIT
/* The analysis of a time range of the agent's store (range.h): windows
 * picked by the start time in their names, each loaded as a run directory
 * (ap_input__load: our files only, no links followed) and merged into one
 * profile; then the same metrics and patterns as for one run, and a view
 * by service. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "analyze/pattern.h"
#include "analyze/range.h"
#include "log.h"
#include "profile/merge.h"
#include "report/report.h"
#include "sink/store.h"
#include "util.h"

int ap_time_parse(const char *s, uint64_t now_real_ns, uint64_t *out)
{
	struct tm tm = { .tm_mday = 1 };
	char unit = 0, *end;
	const char *rest;
	uint64_t mult;
	long v;
	time_t t;

	if (!strcmp(s, "now")) {
		*out = now_real_ns;
		return 0;
	}
	if (s[0] == '-') {
		errno = 0;
		v = strtol(s + 1, &end, 10);
		if (errno || end == s + 1 || s[1] < '0' || s[1] > '9' || v < 0 || strlen(end) != 1)
			return -EINVAL;
		unit = *end;
		mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
		if (!mult || (uint64_t)v * mult * 1000000000ull / 1000000000ull / mult != (uint64_t)v ||
		    (uint64_t)v * mult * 1000000000ull > now_real_ns)
			return -EINVAL;
		*out = now_real_ns - (uint64_t)v * mult * 1000000000ull;
		return 0;
	}
	/* ISO 8601, UTC: date, then optionally [T ]HH:MM[:SS], then optionally Z */
	rest = strptime(s, "%Y-%m-%d", &tm);
	if (!rest)
		return -EINVAL;
	if (*rest == 'T' || *rest == ' ') {
		const char *r = strptime(rest + 1, "%H:%M:%S", &tm);

		rest = r ? r : strptime(rest + 1, "%H:%M", &tm);
		if (!rest)
			return -EINVAL;
	}
	if (*rest == 'Z')
		rest++;
	if (*rest)
		return -EINVAL;
	t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*out = (uint64_t)t * 1000000000ull;
	return 0;
}

static void input_init(struct ap_input *in)
{
	memset(in, 0, sizeof(*in));
	profile__init(&in->prof);
}

/* one window into in; 0 or -errno (a message logged) */
static int merge_window(int fd, const char *dir, const char *name, struct ap_input *in,
			double *wall_s)
{
	char *label = xasprintf("%s/%s", dir, name);
	struct ap_input w;
	int wfd, err;

	wfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (wfd < 0) {
		err = -errno;
		ap_warn("analyze: %s: %s", label, ap_errstr(err));
		free(label);
		return err;
	}
	err = ap_input__load(&w, wfd, label);
	close(wfd);
	if (!err) {
		profile__merge(&in->prof, &w.prof);
		*wall_s = w.wall_s;
		if (!in->nr_cpus)
			in->nr_cpus = w.nr_cpus;
		if (!in->profiler_pid) /* the agent's pid: one process for every window */
			in->profiler_pid = w.profiler_pid;
		in->interrupted |= w.interrupted;
	}
	ap_input__free(&w);
	free(label);
	return err;
}

int ap_range__load(int fd, const char *dir, struct ap_range *r, struct ap_input *in)
{
	char **names = NULL;
	uint64_t t;
	double wall;
	int n, i, err = 0;

	input_init(in);
	r->nr_windows = r->nr_skipped = 0;
	r->covered_s = 0;
	n = ap_store_list(fd, &names);
	if (n < 0) {
		ap_err("analyze: %s: reading the store: %s", dir, ap_errstr(n));
		return n;
	}
	for (i = 0; i < n; i++) {
		if (ap_store_window_time(names[i], &t) || t < r->from || t > r->to)
			continue;
		wall = 0;
		if (merge_window(fd, dir, names[i], in, &wall)) {
			r->nr_skipped++;
			continue;
		}
		if (!r->nr_windows++) {
			snprintf(r->first, sizeof(r->first), "%s", names[i]);
			r->first_ns = t;
		}
		snprintf(r->last, sizeof(r->last), "%s", names[i]);
		r->last_end_ns = t + (uint64_t)(wall * 1e9);
		r->covered_s += wall;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!r->nr_windows) {
		err = -ENOENT;
		goto out;
	}
	/* the analyzer's wall time is the time the windows cover (gaps between
	 * them, such as the agent not running, are not counted) */
	in->wall_s = in->prof.duration_s = r->covered_s;
	{
		uint64_t lost = profile__counter(&in->prof, "ringbuf_full");

		in->lost_pct = lost ? 100.0 * lost / (lost + in->prof.total_samples) : 0;
	}
out:
	in->target = xasprintf("%zu windows of %s", r->nr_windows, dir);
	return err;
}

int ap_analysis__run(struct ap_analysis *an, const char *patterns_dir)
{
	int err = ap_patterns__load_builtin(an);

	if (err)
		return err;
	/* a bad user pattern is reported; the others still run */
	if (patterns_dir && ap_patterns__load_dir(an, patterns_dir)) {
		ap_warn("patterns: the files above were skipped; the others were evaluated");
		an->rejected_patterns = true;
	}
	ap_metrics__compute(an);
	ap_analysis__evaluate(an);
	return 0;
}

struct svc_row {
	uint32_t service;   /* string id, 0: none */
	uint64_t samples;
	size_t nr_procs;
};

static int cmp_svc(const void *a, const void *b)
{
	const struct svc_row *x = a, *y = b;

	return x->samples != y->samples ? (x->samples < y->samples ? 1 : -1) :
					  (x->service > y->service) - (x->service < y->service);
}

static uint32_t service_of(const struct profile *p, uint32_t pid)
{
	const struct ap_process *pr = pid == AP_NONE ? NULL : profile__find_process(p, pid);

	return pr ? pr->service : 0;
}

static uint32_t subject_pid(const struct ap_subject *s)
{
	for (; s; s = s->parent)
		if (s->pid != AP_NONE)
			return s->pid;
	return AP_NONE;
}

void ap_services_print(const struct ap_analysis *an, int top, FILE *f)
{
	const struct profile *p = &an->in.prof;
	struct svc_row *rows = xcalloc(p->nr_procs + 1, sizeof(*rows));
	size_t nr = 0, i, k;

	for (i = 0; i < p->nr_procs; i++) {
		const struct ap_process *pr = &p->procs[i];

		if (!pr->samples)
			continue;
		for (k = 0; k < nr && rows[k].service != pr->service; k++)
			;
		if (k == nr)
			rows[nr++] = (struct svc_row){ .service = pr->service };
		rows[k].samples += pr->samples;
		rows[k].nr_procs++;
	}
	qsort(rows, nr, sizeof(*rows), cmp_svc);
	fprintf(f, "\nServices (by on-CPU samples):\n");
	if (!nr)
		fprintf(f, "  none: no samples\n");
	for (i = 0; i < nr; i++) {
		char *name = tty_dup(rows[i].service ? profile__s(p, rows[i].service) : "(no service)");
		int shown = 0;

		fprintf(f, "  %-40s %5.1f%%  %llu samples, %zu process%s\n", name,
			p->total_samples ? 100.0 * rows[i].samples / p->total_samples : 0,
			(unsigned long long)rows[i].samples, rows[i].nr_procs,
			rows[i].nr_procs == 1 ? "" : "es");
		free(name);
		for (k = 0; k < an->nr_findings && shown < top; k++) {
			const struct ap_finding *x = &an->findings[k];
			uint32_t pid = subject_pid(x->subj);
			char *loc;

			if (x->dropped || x->uncertain || pid == AP_NONE ||
			    service_of(p, pid) != rows[i].service)
				continue;
			loc = tty_dup(x->subj->location);
			fprintf(f, "      - %s: %s\n", x->pat->title, loc);
			free(loc);
			shown++;
		}
	}
	free(rows);
}
