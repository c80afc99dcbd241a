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
#include "analyze/range.h"
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

/* our own process is overhead, not a taker; kernel threads are one taker
 * named as kernel work */
TEST(contention_self_and_kernel)
{
	struct ap_analysis an;
	const struct ap_value *v;

	if (!CHECK(!unit_analysis_load(&an, CONTENTION), "load", "cannot load " CONTENTION))
		return;
	ASSERT_EQ(an.in.profiler_pid, 900, "run.json tool.pid");
	ASSERT_NEAR(pnum(&an, 100, "process.outside_wait_s"), 2.2, 1e-9, "hog + kernel, not us");
	ASSERT_NEAR(pnum(&an, 100, "process.kernel_wait_s"), 0.8, 1e-9, "kernel threads");
	ASSERT_NEAR(pnum(&an, 100, "process.profiler_wait_s"), 0.2, 1e-9, "our overhead");
	v = pval(&an, 100, "process.top_taker");
	ASSERT_STREQ(v ? v->s : "", "ap-hog (pid 500)", "the hog, over 0.8 s of kernel threads");
	ASSERT_NEAR(pnum(&an, 100, "process.top_taker_pct"), 1400.0 / 24, 1e-9, "hog's share");
	v = pval(&an, 200, "process.top_taker");
	ASSERT_STREQ(v ? v->s : "", "kernel threads (kworker/0:1 the busiest)", "kernel work as one taker");
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

	if (!CHECK(!unit_analysis_load(&an, CONTENTION), "load", "cannot load " CONTENTION))
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
		ASSERT_TRUE(strstr(f->explanation, "kernel threads (kworker/0:1 the busiest) most") != NULL,
			    f->explanation);
	}
	ap_analysis__free(&an);
}

#define RUN1 "tests/fixtures/analyze/run1"

/* run1 (python3 pid 100, 10 MB to 310 MB in 3 s, 100 MB/s to the end;
 * 8 GB available): exited during the run, or still running at its end */
static int load_run1(struct ap_analysis *an, bool alive)
{
	int fd = open(RUN1, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;
	size_t i;

	memset(an, 0, sizeof(*an));
	err = ap_input__load(&an->in, fd, RUN1);
	if (fd >= 0)
		close(fd);
	if (err)
		return -1;
	for (i = 0; i < an->in.prof.nr_procs; i++)
		if (alive) {
			an->in.prof.procs[i].exited = false;
			an->in.prof.procs[i].exit_status = -1;
		}
	ap_metrics__compute(an);
	return ap_patterns__load_builtin(an);
}

/* memory_exhaustion needs live growth: a 3 s loader that exits at 100 MB/s
 * is memory_growth at most; the same growth still running at the end of
 * the run is memory_exhaustion, a risk ranked before every timed finding */
TEST(memory_exhaustion_live_and_first)
{
	struct ap_analysis an;
	size_t i;

	if (!CHECK(!load_run1(&an, false), "load", "cannot load " RUN1))
		return;
	ap_analysis__evaluate(&an);
	ASSERT_NEAR(pnum(&an, 100, "process.alive_at_end"), 0, 0, "exited");
	ASSERT_TRUE(!finding_of(&an, "memory_exhaustion", 100), "exited while loading: no exhaustion");
	ASSERT_TRUE(finding_of(&an, "memory_growth", 100) != NULL, "still memory_growth");
	ap_analysis__free(&an);

	if (!CHECK(!load_run1(&an, true), "load", "cannot load " RUN1))
		return;
	ap_analysis__evaluate(&an);
	ASSERT_NEAR(pnum(&an, 100, "process.alive_at_end"), 1, 0, "running at the end");
	ASSERT_TRUE(finding_of(&an, "memory_exhaustion", 100) != NULL, "live growth: exhaustion");
	/* the risk (no time figure) first, then by time: hot_function's 8 s */
	ASSERT_STREQ(an.nr_findings ? an.findings[0].id : "", "memory_exhaustion#1", "the risk first");
	ASSERT_TRUE(an.nr_findings > 1 && !ap_finding__is_risk(&an.findings[1]), "one risk");
	for (i = 2; i < an.nr_findings; i++)
		if (!an.findings[i].dropped && !an.findings[i].uncertain &&
		    an.findings[i].pat->impact_metric >= 0 && an.findings[i - 1].pat->impact_metric >= 0)
			ASSERT_TRUE(an.findings[i].impact_s * an.findings[i].confidence <=
					    an.findings[i - 1].impact_s * an.findings[i - 1].confidence,
				    "the rest by time x confidence");
	ap_analysis__free(&an);
}

/* the agent's windows: their run.json name the agent's pid; an analysis
 * over a range of them knows it too */
TEST(contention_self_over_windows)
{
	char tmpl[] = "/tmp/ap-contention-XXXXXX", *cmd;
	struct ap_input in = { 0 };
	struct ap_range r = { .from = 0, .to = UINT64_MAX };
	int fd;

	if (!CHECK(mkdtemp(tmpl) != NULL, "temp dir", "mkdtemp"))
		return;
	cmd = xasprintf("cp -r " CONTENTION " %s/20261129T093000Z-000000 && "
			"cp -r " CONTENTION " %s/20261129T093015Z-000000", tmpl, tmpl);
	ASSERT_EQ(system(cmd), 0, "fixture windows");
	free(cmd);
	fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(ap_range__load(fd, tmpl, &r, &in), 0, "loaded");
	ASSERT_EQ(r.nr_windows, 2, "two windows");
	ASSERT_EQ(in.profiler_pid, 900, "the agent's pid from the windows");
	if (fd >= 0)
		close(fd);
	ap_input__free(&in);
	cmd = xasprintf("rm -rf %s", tmpl);
	ASSERT_EQ(system(cmd), 0, "cleanup");
	free(cmd);
}
