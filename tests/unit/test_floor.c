// SPDX-License-Identifier: MIT
/* A share of a tiny process is no finding (tests/fixtures/analyze/tiny_process,
 * at 999 Hz): pid 300, a wrapper that lived 33 samples, has 7 of them (21%,
 * 7 ms) in the page-fault handler; pid 301 has 1000 of 3800 (26%). The
 * patterns that judge a share of the process's samples also need 20
 * matching samples: page_fault_heavy fired on such a wrapper in CI. */
#include "analyze/analyze.h"
#include "analyze/pattern.h"
#include "unit.h"

static bool fired_on(const struct ap_analysis *an, const char *pattern, const char *loc)
{
	size_t i;

	for (i = 0; i < an->nr_findings; i++) {
		const struct ap_finding *f = &an->findings[i];

		if (!strcmp(f->pat->id, pattern) && !strncmp(f->subj->location, loc, strlen(loc)))
			return true;
	}
	return false;
}

TEST(share_of_a_tiny_process)
{
	struct ap_analysis an;

	if (!CHECK(!unit_analysis_load(&an, "tests/fixtures/analyze/tiny_process"), "load",
		   "cannot load tests/fixtures/analyze/tiny_process"))
		return;
	ASSERT_EQ(ap_patterns__load_builtin(&an), 0, "built-in patterns load");
	ap_analysis__evaluate(&an);
	ASSERT_TRUE(!fired_on(&an, "page_fault_heavy", "pid 300 "), "no finding on 7 samples of a wrapper");
	ASSERT_TRUE(fired_on(&an, "page_fault_heavy", "pid 301 "), "1000 samples of page faults are one");
	ap_analysis__free(&an);
}

/* The exit's teardown is not the program's timeline (tests/fixtures/analyze/
 * teardown: the CI run of the pattern table's grow workload, 18 -> 188 MB
 * in 3.5 s, then 16 MB and 0 as the interpreter exits): growth and slopes
 * end at 188 MB, and memory_growth fires; the peak is still the peak. */
TEST(rss_teardown_tail)
{
	struct ap_analysis an;
	int id;
	bool fired = false;
	size_t i;

	if (!CHECK(!unit_analysis_load(&an, "tests/fixtures/analyze/teardown"), "load",
		   "cannot load tests/fixtures/analyze/teardown"))
		return;
	ASSERT_EQ(ap_patterns__load_builtin(&an), 0, "built-in patterns load");
	ap_analysis__evaluate(&an);
	id = ap_metric_find("process.rss_growth_mb");
	ASSERT_TRUE(an.nr_subj[AP_SCOPE_PROCESS] == 1, "one process");
	if (id >= 0 && an.nr_subj[AP_SCOPE_PROCESS] == 1)
		ASSERT_NEAR(an.subj[AP_SCOPE_PROCESS][0].v[ap_metric_slot(id)].v, 170, 1e-9,
			    "growth up to the last point before teardown");
	id = ap_metric_find("process.rss_peak_mb");
	if (id >= 0 && an.nr_subj[AP_SCOPE_PROCESS] == 1)
		ASSERT_NEAR(an.subj[AP_SCOPE_PROCESS][0].v[ap_metric_slot(id)].v, 188, 1e-9, "peak");
	for (i = 0; i < an.nr_findings; i++)
		fired |= !strcmp(an.findings[i].pat->id, "memory_growth") && !an.findings[i].uncertain;
	ASSERT_TRUE(fired, "memory_growth on a process growing to its end");
	ap_analysis__free(&an);
}
