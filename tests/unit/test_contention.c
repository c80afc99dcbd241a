// SPDX-License-Identifier: MIT
/* cpu_contention on synthetic artifacts (tests/fixtures/analyze/contention,
 * a 2 s run on 2 CPUs, autoprof-bpf is pid 900 in run.json's tool.pid):
 * pid 100, two threads each 0.8 s on CPU and 1.2 s runnable: 1.4 s of the
 * waits went to ap-hog, 0.8 s to kernel threads, 0.2 s to autoprof-bpf;
 * pid 200, one thread 1.0 s on CPU and 1.0 s runnable: 0.9 s to kernel
 * threads, 0.1 s to autoprof-bpf (issue 15 review items 5 and 6). */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "analyze/pattern.h"
#include "unit.h"
#include "util.h"

#define CONTENTION "tests/fixtures/analyze/contention"

static const struct ap_subject *proc_subj(const struct ap_analysis *an, uint32_t pid)
{
	size_t i;

	for (i = 0; i < an->nr_subj[AP_SCOPE_PROCESS]; i++)
		if (an->subj[AP_SCOPE_PROCESS][i].pid == pid)
			return &an->subj[AP_SCOPE_PROCESS][i];
	return NULL;
}

static const struct ap_value *pval(const struct ap_analysis *an, uint32_t pid, const char *name)
{
	const struct ap_subject *s = proc_subj(an, pid);
	int id = ap_metric_find(name);

	return s && id >= 0 ? &s->v[ap_metric_slot(id)] : NULL;
}

static double pnum(const struct ap_analysis *an, uint32_t pid, const char *name)
{
	const struct ap_value *v = pval(an, pid, name);

	return v ? v->v : NAN;
}

static const struct ap_finding *finding_of(const struct ap_analysis *an, const char *pattern,
					   uint32_t pid)
{
	size_t i;

	for (i = 0; i < an->nr_findings; i++)
		if (!strcmp(an->findings[i].pat->id, pattern) && an->findings[i].subj->pid == pid &&
		    !an->findings[i].dropped)
			return &an->findings[i];
	return NULL;
}

static int load_dir(struct ap_analysis *an, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	memset(an, 0, sizeof(*an));
	err = ap_input__load(&an->in, fd, dir);
	if (fd >= 0)
		close(fd);
	if (err)
		return -1;
	ap_metrics__compute(an);
	return 0;
}

/* our own process is overhead, not a taker; kernel threads are one taker
 * named as kernel work */
TEST(contention_self_and_kernel)
{
	struct ap_analysis an;
	const struct ap_value *v;

	if (!CHECK(!load_dir(&an, CONTENTION), "load", "cannot load " CONTENTION))
		return;
	ASSERT_EQ(an.in.profiler_pid, 900, "run.json tool.pid");
	ASSERT_NEAR(pnum(&an, 100, "process.outside_wait_s"), 2.2, 1e-9, "hog + kernel, not us");
	ASSERT_NEAR(pnum(&an, 100, "process.kernel_wait_s"), 0.8, 1e-9, "kernel threads");
	ASSERT_NEAR(pnum(&an, 100, "process.profiler_wait_s"), 0.2, 1e-9, "our overhead");
	v = pval(&an, 100, "process.top_taker");
	ASSERT_STREQ(v ? v->s : "", "ap-hog (pid 500)", "the hog, over 0.8 s of kernel threads");
	ASSERT_NEAR(pnum(&an, 100, "process.top_taker_pct"), 1400.0 / 24, 1e-9, "hog's share");
	v = pval(&an, 200, "process.top_taker");
	ASSERT_STREQ(v ? v->s : "", "kernel threads (kworker/0:1 most)", "kernel work as one taker");
	ASSERT_NEAR(pnum(&an, 200, "process.top_taker_pct"), 90, 1e-9, "kernel share");
	ASSERT_NEAR(pnum(&an, 200, "process.profiler_wait_s"), 0.1, 1e-9, "our overhead, pid 200");
	ap_analysis__free(&an);
}

/* at stake is wall time: 2.2 thread-s of waiting in a 2 s process whose
 * 1.6 CPU-s on two CPUs take 0.8 s put at most 1.2 s at stake; a single
 * thread's wait (0.9 s: our 0.1 s is not counted) is its wall time */
TEST(contention_wall_stake)
{
	struct ap_analysis an;
	const struct ap_finding *f;

	if (!CHECK(!load_dir(&an, CONTENTION), "load", "cannot load " CONTENTION))
		return;
	ASSERT_NEAR(pnum(&an, 100, "process.outside_wall_s"), 1.2, 1e-9, "2 - 1.6 / 2");
	ASSERT_NEAR(pnum(&an, 200, "process.outside_wall_s"), 0.9, 1e-9, "one thread: its wait");
	ASSERT_EQ(ap_patterns__load_builtin(&an), 0, "built-in patterns load");
	ap_analysis__evaluate(&an);
	f = finding_of(&an, "cpu_contention", 100);
	if (CHECK(f != NULL, "cpu_contention", "no finding for pid 100")) {
		ASSERT_NEAR(f->impact_s, 1.2, 1e-9, "wall time at stake, not 2.2 thread-s");
		ASSERT_TRUE(strstr(f->explanation, "ap-hog (pid 500) most") != NULL, f->explanation);
		ASSERT_TRUE(strstr(f->explanation, "autoprof-bpf itself had the CPU for 0.20 s") != NULL,
			    f->explanation);
		ASSERT_TRUE(strstr(f->explanation, "kernel threads 0.80 s") != NULL, f->explanation);
	}
	f = finding_of(&an, "cpu_contention", 200);
	if (CHECK(f != NULL, "cpu_contention", "no finding for pid 200")) {
		ASSERT_NEAR(f->impact_s, 0.9, 1e-9, "one thread: 0.9 s, not 1.0 with our 0.1 s");
		ASSERT_TRUE(strstr(f->explanation, "kernel threads (kworker/0:1 most)") != NULL,
			    f->explanation);
	}
	ap_analysis__free(&an);
}
