// SPDX-License-Identifier: MIT
/* libFuzzer target: the readers of the files a user hands to `diff`, on
 * arbitrary bytes: a baseline (`diff --baseline`, autoprof.baseline/1) and
 * a set's repeat.json (autoprof.repeat/1). A baseline that parses gates
 * an empty run and tests/fixtures/baseline/base (functions and syscalls
 * to match; run from the top of the tree, as tests/fuzz/run.sh does), its
 * part of diff.json and its terminal summary written each time;
 * a repeat.json that parses is summarised as `diff` would once its runs
 * were loaded (wall times from the input's bytes, no functions):
 * statistics, repeat.json's tree, the terminal and Markdown summaries. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "diff/baseline.h"
#include "diff/repeat.h"
#include "log.h"

#define FIXTURE "tests/fixtures/baseline/base"

static FILE *devnull;

static void gate(const struct ap_baseline *b, const struct ap_analysis *an)
{
	struct ap_baseline_gate g;

	ap_baseline__gate(&g, b, an, 10, NULL);
	cJSON_Delete(ap_baseline_gate__json(&g, b, "fuzz"));
	ap_baseline_gate__print(&g, b, "fuzz", "fuzz", devnull);
	ap_baseline_gate__free(&g);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct ap_analysis empty, fixture;
	struct ap_repeat_set s;
	struct ap_baseline b;
	size_t i;
	int fd;

	ap_log_set_verbosity(-1);
	if (!devnull) { /* once: the runs the baselines gate */
		devnull = fopen("/dev/null", "w");
		profile__init(&empty.in.prof);
		fd = open(FIXTURE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (!devnull || fd < 0 || ap_input__load(&fixture.in, fd, FIXTURE)) {
			fprintf(stderr, "fuzz_diff_inputs: cannot load %s: run from the top of "
					"the tree\n", FIXTURE);
			abort();
		}
		close(fd);
		ap_metrics__compute(&fixture);
	}
	if (!ap_baseline__parse(&b, (const char *)data, size, "fuzz")) {
		gate(&b, &empty);
		gate(&b, &fixture);
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
		ap_repeat__print(&s, false, devnull);
		ap_repeat__print(&s, true, devnull);
	}
	ap_repeat__free(&s);
	return 0;
}
