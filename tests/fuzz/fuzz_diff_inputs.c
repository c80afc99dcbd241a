// SPDX-License-Identifier: MIT
/* libFuzzer target: the readers of the files a user hands to `diff`, on
 * arbitrary bytes: a baseline (`diff --baseline`, autoprof.baseline/1) and
 * a set's repeat.json (autoprof.repeat/1). A baseline that parses gates
 * an empty run (its part of diff.json and its terminal summary written);
 * a repeat.json that parses is summarised as `diff` would once its runs
 * were loaded (wall times from the input's bytes, no functions):
 * statistics, repeat.json's tree, the terminal and Markdown summaries. */
#include <stdio.h>
#include <string.h>
#include "diff/baseline.h"
#include "diff/repeat.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static FILE *devnull;
	struct ap_repeat_set s;
	struct ap_baseline b;
	size_t i;

	ap_log_set_verbosity(-1);
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (!ap_baseline__parse(&b, (const char *)data, size, "fuzz")) {
		struct ap_baseline_gate g;
		struct ap_analysis an;

		memset(&an, 0, sizeof(an));
		profile__init(&an.in.prof);
		ap_baseline__gate(&g, &b, &an, 10, NULL);
		cJSON_Delete(ap_baseline_gate__json(&g, &b, "fuzz"));
		if (devnull)
			ap_baseline_gate__print(&g, &b, "fuzz", "fuzz", devnull);
		ap_baseline_gate__free(&g);
		profile__free(&an.in.prof);
		ap_baseline__free(&b);
	}
	memset(&s, 0, sizeof(s));
	if (!ap_repeat__parse(&s, (const char *)data, size, "fuzz")) {
		for (i = 0; i < s.nr_runs; i++) {
			s.runs[i].wall_s = data[i % size] / 16.0;
			s.nr_included += s.runs[i].included;
		}
		ap_repeat__compute(&s);
		cJSON_Delete(ap_repeat__json(&s));
		if (devnull) {
			ap_repeat__print(&s, false, devnull);
			ap_repeat__print(&s, true, devnull);
		}
	}
	ap_repeat__free(&s);
	return 0;
}
