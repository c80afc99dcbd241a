/* SPDX-License-Identifier: MIT */
/* `analyze STORE [--from T] [--to T]`: the windows of the agent's store
 * that started in a time range, merged into one input for the analyzer,
 * and the per-service view of the result. */
#ifndef AP_ANALYZE_RANGE_H
#define AP_ANALYZE_RANGE_H

#include <stdint.h>
#include <stdio.h>
#include "analyze/analyze.h"

/* A time for --from/--to: ISO 8601 UTC ("2026-11-29T11:30:15Z", the "Z",
 * seconds and time optional; a space for the "T"), an offset back from now
 * ("-10m", "-90s", "-2h", "-1d"), or "now". CLOCK_REALTIME ns into *out;
 * 0 or -EINVAL. */
int ap_time_parse(const char *s, uint64_t now_real_ns, uint64_t *out);

struct ap_range {
	uint64_t from, to;         /* the range asked for (CLOCK_REALTIME ns) */
	char first[32], last[32];  /* the first and last window merged */
	uint64_t first_ns, last_end_ns; /* start of the first, end of the last */
	size_t nr_windows;         /* merged */
	size_t nr_skipped;         /* in range but unreadable (a message each) */
	double covered_s;          /* sum of the windows' durations */
};

/* Merge into in (initialized here) every window of the store directory fd
 * (dir names it in messages) whose start lies in [r->from, r->to]. 0,
 * -ENOENT when no window could be read, or -errno. Free in with
 * ap_input__free() either way. */
int ap_range__load(int fd, const char *dir, struct ap_range *r, struct ap_input *in);

/* compute and evaluate an analysis whose input is filled (built-in patterns
 * and those of patterns_dir); 0 or -errno */
int ap_analysis__run(struct ap_analysis *an, const char *patterns_dir);

/* the services of the profile ranked by samples, with their processes and
 * the findings about them (top per service) */
void ap_services_print(const struct ap_analysis *an, int top, FILE *f);

#endif
