// SPDX-License-Identifier: MIT
/* The analyzer on synthetic artifacts (tests/fixtures/analyze/run1: one
 * process, 1000 samples, a worker thread with lock, idle and sleep time,
 * small writes, fsync, failing stats and an RSS growing 100 MB/s for 3 s): metric values,
 * the condition evaluator, confidence maths, pattern checking and the
 * determinism of findings.json. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "analyze/pattern.h"
#include "report/report.h"
#include "unit.h"
#include "util.h"

#define RUN1 "tests/fixtures/analyze/run1"

static double metric(const struct ap_analysis *an, enum ap_scope sc, const char *loc, const char *name)
{
	int id = ap_metric_find(name);
	size_t i;

	if (id < 0)
		return NAN;
	for (i = 0; i < an->nr_subj[sc]; i++)
		if (!strcmp(an->subj[sc][i].location, loc))
			return an->subj[sc][i].v[ap_metric_slot(id)].v;
	return NAN;
}

static int load(struct ap_analysis *an)
{
	return unit_analysis_load(an, RUN1);
}

static const struct ap_finding *finding(const struct ap_analysis *an, const char *id)
{
	size_t i;

	for (i = 0; i < an->nr_findings; i++)
		if (!strcmp(an->findings[i].id, id))
			return &an->findings[i];
	return NULL;
}

TEST(confidence_maths)
{
	double lo, hi;

	/* score test: 60 of 100 above 50% is z = 2 */
	ASSERT_NEAR(ap_binomial_confidence(60, 100, 0.5, true), 0.97725, 1e-4, "z=2");
	ASSERT_NEAR(ap_binomial_confidence(30, 100, 0.5, false), 0.99997, 1e-4, "below, z=4");
	ASSERT_NEAR(ap_binomial_confidence(20, 100, 0.2, true), 0.5, 1e-9, "at the threshold");
	ASSERT_TRUE(ap_binomial_confidence(10, 100, 0.2, true) < 0.01, "below the threshold");
	ASSERT_NEAR(ap_binomial_confidence(5, 5, 0, true), 1, 0, "degenerate threshold");
	ASSERT_NEAR(ap_binomial_confidence(0, 0, 0.5, true), 0, 0, "no samples");
	/* fewer samples, same share: less sure */
	ASSERT_TRUE(ap_binomial_confidence(6, 10, 0.5, true) < ap_binomial_confidence(600, 1000, 0.5, true),
		    "confidence grows with samples");
	ap_wilson95(1228, 2000, &lo, &hi);
	ASSERT_NEAR(lo, 0.592465, 1e-5, "wilson lo");
	ASSERT_NEAR(hi, 0.635098, 1e-5, "wilson hi");
	ap_wilson95(0, 10, &lo, &hi);
	ASSERT_NEAR(lo, 0, 1e-12, "wilson 0 of 10 lo");
	ASSERT_NEAR(hi, 0.277533, 1e-5, "wilson 0 of 10 hi");
}

TEST(metrics_from_fixture)
{
	struct ap_analysis an;
	const char *fn = "/app/main.py:score:42", *pr = "pid 100 (python3)";
	const char *worker = "pid 100 tid 101 (worker)";

	if (!CHECK(!load(&an), "load", "cannot load " RUN1))
		return;
	ASSERT_NEAR(metric(&an, AP_SCOPE_RUN, "run", "run.cpu_s"), 10, 1e-9, "run cpu");
	ASSERT_NEAR(metric(&an, AP_SCOPE_RUN, "run", "run.cpu_util_pct"), 25, 1e-9, "10 CPU-s on 4 CPUs in 10 s");
	ASSERT_NEAR(metric(&an, AP_SCOPE_RUN, "run", "run.demand_cores"), 1.1, 1e-9, "(10 + 1) / 10");
	/* functions: score is the innermost Python frame in 800 of 1000 */
	ASSERT_NEAR(metric(&an, AP_SCOPE_FUNCTION, fn, "function.self_pct"), 80, 1e-9, "score self");
	ASSERT_NEAR(metric(&an, AP_SCOPE_FUNCTION, fn, "function.hot_line_pct"), 75, 1e-9, "line 42");
	ASSERT_NEAR(metric(&an, AP_SCOPE_FUNCTION, "/app/main.py:main", "function.total_pct"), 100, 1e-9, "main total");
	ASSERT_NEAR(metric(&an, AP_SCOPE_FUNCTION, "/app/main.py:main", "function.self_samples"), 0, 0, "main self");
	ASSERT_NEAR(metric(&an, AP_SCOPE_FUNCTION, "libpython3.12.so.1.0:_PyEval_EvalFrameDefault",
			   "function.runtime"), 1, 0, "interpreter");
	ASSERT_NEAR(metric(&an, AP_SCOPE_FUNCTION, "libpython3.12.so.1.0:_PyEval_EvalFrameDefault",
			   "function.max_recursion"), 2, 0, "two eval frames per stack");
	ASSERT_NEAR(metric(&an, AP_SCOPE_STACK, "main > score", "stack.pct"), 80, 1e-9, "path, lines ignored");
	/* the worker: 4 s of contention, 2 s idle in threading.py, 3 s of 1 ms sleeps */
	ASSERT_NEAR(metric(&an, AP_SCOPE_THREAD, worker, "thread.lock_s"), 4, 1e-9, "lock");
	ASSERT_NEAR(metric(&an, AP_SCOPE_THREAD, worker, "thread.idle_s"), 2, 1e-9, "idle wait");
	ASSERT_NEAR(metric(&an, AP_SCOPE_THREAD, worker, "thread.sleeps_per_s"), 300, 1e-9, "sleeps/s");
	ASSERT_NEAR(metric(&an, AP_SCOPE_THREAD, worker, "thread.sleep_avg_ms"), 1, 1e-9, "sleep length");
	ASSERT_TRUE(isnan(metric(&an, AP_SCOPE_THREAD, worker, "thread.gil_held_pct")), "no samples: no share");
	/* the process: 20 thread-s, 2 idle -> 18 active */
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.active_s"), 18, 1e-9, "active");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.lock_pct"), 400.0 / 18, 1e-9, "lock share");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.lock_threads"), 1, 0, "one thread blocks");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.ctx_switches_per_s"), 510, 1e-9, "switches");
	/* demand: 10 s on CPU + 1 s runnable of 18 s active; of the 1 s waited,
	 * 0.6 s went to stress-ng (not followed), 0.1 s to an idle CPU, 0.3 s
	 * to its own thread */
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.demand_pct"), 1100.0 / 18, 1e-9, "demand");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.cpu_wait_pct"), 100.0 / 11, 1e-9, "waiting");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.outside_wait_s"), 0.6, 1e-9, "outside");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.outside_wait_pct"), 60.0 / 11, 1e-9, "outside share");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.top_taker_pct"), 60, 1e-9, "top taker share");
	{
		int id = ap_metric_find("process.top_taker");

		ASSERT_STREQ(an.subj[AP_SCOPE_PROCESS][0].v[ap_metric_slot(id)].s, "stress-ng (pid 500)", "top taker");
	}
	/* timeline: 10 MB -> 310 MB in 3 s; the exiting sample (rss 0) is ignored */
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.rss_growth_mb"), 300, 1e-9, "growth");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.rss_slope_mb_s"), 100, 1e-6, "slope");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.rss_rising_pct"), 100, 1e-9, "rising");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.rss_late_slope_mb_s"), 100, 1e-6, "late slope");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.rss_late_slope_pct"), 100, 1e-6, "steady");
	ASSERT_NEAR(metric(&an, AP_SCOPE_RUN, "run", "run.mem_available_mb"), 8192, 1e-9, "MemAvailable");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.minor_faults_per_s"), 30000 / 3.05, 1e-6, "faults");
	ASSERT_NEAR(metric(&an, AP_SCOPE_PROCESS, pr, "process.threads_peak"), 2, 0, "threads");
	/* syscalls */
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: write (file)", "syscall.avg_bytes"), 10, 1e-9, "bytes");
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: write (file)", "syscall.p50_us"), 4, 0, "median bucket");
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: write (file)", "syscall.p99_us"), 8, 0, "p99 bucket");
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: fsync (file)", "syscall.wall_pct"), 30, 1e-9, "fsync share");
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: newfstatat", "syscall.error_pct"), 75, 1e-9, "errors");
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: newfstatat", "syscall.failures"), 3000, 0, "ENOENT fails");
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: newfstatat", "syscall.failed_s"), 0.15, 1e-9,
		    "time in the failing stats: 3000 of 4000 calls of 0.2 s");
	/* the GIL's timed waits: ETIMEDOUT and EAGAIN from futex are how it works */
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: futex", "syscall.error_pct"), 80, 1e-9, "futex errors");
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: futex", "syscall.expected_errors"), 4000, 0, "all expected");
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: futex", "syscall.failures"), 0, 0, "no futex failures");
	/* would-block on a socket, 1200 of 3000 calls: an event loop's normal reads */
	ASSERT_NEAR(metric(&an, AP_SCOPE_SYSCALL, "pid 100: recvfrom (socket)", "syscall.failures"), 0, 0,
		    "EAGAIN under half the calls is expected");
	ap_analysis__free(&an);
}

/* a pattern from text; NULL and the message in err when rejected */
static const struct ap_pattern *pattern(struct ap_analysis *an, const char *text, char *err, size_t len)
{
	*err = 0;
	if (ap_patterns__load_text(an, text, strlen(text), "t.json", err, len))
		return NULL;
	return &an->pats[an->nr_pats - 1];
}

TEST(evaluator)
{
	struct ap_analysis an;
	char err[512];
	const struct ap_finding *f;

	if (!CHECK(!load(&an), "load", "cannot load " RUN1))
		return;
	/* any/all, "in", a value relative to another metric, text matching */
	ASSERT_TRUE(pattern(&an, "{\"id\": \"t_any\", \"title\": \"t\", \"scope\": \"syscall\", \"severity\": \"low\","
			    "\"when\": {\"any\": [{\"metric\": \"syscall.name\", \"op\": \"in\", \"value\": [\"fsync\", \"x\"]},"
			    " {\"all\": [{\"metric\": \"syscall.errors\", \"op\": \">\", \"value\": {\"metric\": \"syscall.count\", \"times\": 0.5}},"
			    "  {\"metric\": \"syscall.name\", \"op\": \"matches\", \"value\": \"newf*\"}]}]},"
			    "\"impact\": \"syscall.total_s\", \"explanation\": \"{syscall.name} {syscall.count}\","
			    "\"suggestions\": [\"s\"], \"verify\": \"v\"}", err, sizeof(err)), err);
	/* a share near its threshold: found, but uncertain */
	ASSERT_TRUE(pattern(&an, "{\"id\": \"t_edge\", \"title\": \"t\", \"scope\": \"function\", \"severity\": \"low\","
			    "\"when\": {\"all\": [{\"metric\": \"function.self_pct\", \"op\": \">=\", \"value\": 19},"
			    " {\"metric\": \"function.kind\", \"op\": \"==\", \"value\": \"python\"}]},"
			    "\"explanation\": \"{function.name}\", \"suggestions\": [\"s\"], \"verify\": \"v\"}", err, sizeof(err)), err);
	/* missing data: a pycall pattern on a run without --py-calls is not evaluated */
	ASSERT_TRUE(pattern(&an, "{\"id\": \"t_py\", \"title\": \"t\", \"scope\": \"pycall\", \"severity\": \"low\","
			    "\"when\": {\"all\": [{\"metric\": \"pycall.entries\", \"op\": \">\", \"value\": 1}]},"
			    "\"explanation\": \"x\", \"suggestions\": [\"s\"], \"verify\": \"v\"}", err, sizeof(err)), err);
	/* minimum samples: 1000 samples in the run, 2000 asked */
	ASSERT_TRUE(pattern(&an, "{\"id\": \"t_min\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\","
			    "\"when\": {\"all\": [{\"metric\": \"run.samples\", \"op\": \">\", \"value\": 1}]},"
			    "\"min_samples\": 2000, \"explanation\": \"x\", \"suggestions\": [\"s\"], \"verify\": \"v\"}",
			    err, sizeof(err)), err);
	ap_analysis__evaluate(&an);
	f = finding(&an, "t_any#1");
	ASSERT_TRUE(f && !strcmp(f->subj->location, "pid 100: fsync (file)"), "any: fsync by name, first by impact");
	ASSERT_STREQ(f ? f->explanation : NULL, "fsync 10", "template");
	f = finding(&an, "t_any#2");
	ASSERT_TRUE(f && !strcmp(f->subj->location, "pid 100: newfstatat"), "all: errors > count/2 and name glob");
	ASSERT_TRUE(!finding(&an, "t_any#3"), "write matches neither branch");
	f = finding(&an, "t_edge#2"); /* helper: 200 of 1000 against 19% */
	ASSERT_TRUE(f && f->uncertain && f->confidence > 0.5 && f->confidence < 0.8, "near threshold is uncertain");
	f = finding(&an, "t_edge#1");
	ASSERT_TRUE(f && !f->uncertain && f->confidence == 0.999, "80% against 19%: capped at 0.999");
	ASSERT_TRUE(!finding(&an, "t_min#1"), "under min_samples");
	ASSERT_TRUE(an.nr_skipped == 1 && !strcmp(an.skipped[0].pattern, "t_py") &&
		    strstr(an.skipped[0].reason, "--py-calls"), "t_py listed as not evaluated");
	ap_analysis__free(&an);
}

/* thread-seconds are not wall seconds: 20 s of thread time in a process
 * that ran 10 s puts at most 10 s at stake; the rank weighs by confidence */
TEST(impact_capped_and_ranked)
{
	struct ap_analysis an;
	char err[512];
	const struct ap_finding *f;

	if (!CHECK(!load(&an), "load", "cannot load " RUN1))
		return;
	ASSERT_TRUE(pattern(&an, "{\"id\": \"t_threads\", \"title\": \"t\", \"scope\": \"process\", \"severity\": \"low\","
			    "\"when\": {\"all\": [{\"metric\": \"process.thread_s\", \"op\": \">\", \"value\": 1}]},"
			    "\"impact\": \"process.thread_s\", \"explanation\": \"x\", \"suggestions\": [\"s\"], \"verify\": \"v\"}",
			    err, sizeof(err)), err);
	/* 9 s at stake but only 0.5 sure that score's share is over 80%:
	 * ranks after a certain 8 s (hot_function) */
	ASSERT_TRUE(pattern(&an, "{\"id\": \"t_unsure\", \"title\": \"t\", \"scope\": \"function\", \"severity\": \"high\","
			    "\"when\": {\"all\": [{\"metric\": \"function.self_pct\", \"op\": \">=\", \"value\": 80},"
			    " {\"metric\": \"function.kind\", \"op\": \"==\", \"value\": \"python\"}]},"
			    "\"impact\": \"run.wall_s\", \"explanation\": \"x\", \"suggestions\": [\"s\"], \"verify\": \"v\"}",
			    err, sizeof(err)), err);
	ASSERT_EQ(ap_patterns__load_builtin(&an), 0, "built-in patterns load");
	ap_analysis__evaluate(&an);
	f = finding(&an, "t_threads#1");
	ASSERT_TRUE(f != NULL, "found");
	if (f) {
		ASSERT_NEAR(f->impact_raw_s, 20, 1e-9, "raw: thread-seconds");
		ASSERT_NEAR(f->impact_s, 10, 1e-9, "capped at the process's wall time");
	}
	ASSERT_TRUE(!finding(&an, "failing_syscalls#2"), "futex timeouts are not failing syscalls");
	f = finding(&an, "t_unsure#1");
	ASSERT_TRUE(f && f->uncertain, "at its threshold: uncertain");
	ASSERT_STREQ(an.findings[0].id, "t_threads#1", "10 s x 1 first");
	ASSERT_STREQ(an.findings[1].id, "hot_function#1", "8 s x 0.999 before 10 s x 0.5");
	ap_analysis__free(&an);
}

TEST(bad_patterns)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "{\"id\": \"a\",\n \"title\": \"t\" \"scope\": \"run\"}", "t.json:2:15: invalid JSON" },
		{ "{\"id\": \"a\"} trailing", "t.json:1:13: invalid JSON" },
		{ "[1]", "field (top level): a pattern file holds one JSON object" },
		{ "{\"id\": \"Bad-Id\"}", "field id: \"Bad-Id\": use lower-case" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"galaxy\"}", "field scope: unknown scope \"galaxy\"" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"huge\"}", "field severity" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"colour\": 1}",
		  "field colour: unknown field" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\"}", "field when: missing" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"run.nope\", \"op\": \">\", \"value\": 1}]}}",
		  "pattern a, field when.all[0].metric: unknown metric \"run.nope\"" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"function.self_pct\", \"op\": \">\", \"value\": 1}]}}",
		  "not visible from scope \"run\"" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"process\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"match.pct\", \"op\": \">\", \"value\": 1}]}}",
		  "match metrics need \"frames\"" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"run.samples\", \"op\": \"~\", \"value\": 1}]}}",
		  "field when.all[0].op: unknown operator \"~\"" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"process\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"process.comm\", \"op\": \">\", \"value\": 1}]}}",
		  "text metric \"process.comm\" takes" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"run.samples\", \"op\": \">\", \"value\": \"many\"}]}}",
		  "field when.all[0].value: expected a number" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": {\"all\": []}}",
		  "\"all\" must be a non-empty array" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"run.samples\", \"op\": \">\", \"value\": 1}]},"
		  " \"impact\": \"run.samples\"}", "field impact: \"run.samples\" is in count, not seconds" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"run.samples\", \"op\": \">\", \"value\": 1}]},"
		  " \"explanation\": \"{run.samples:3f}\"}", "field explanation: bad format in {run.samples:3f}" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"run.samples\", \"op\": \">\", \"value\": 1}]},"
		  " \"explanation\": \"{run.sample}\"}", "field explanation: unknown metric \"run.sample\"" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": {\"all\": [{\"metric\": \"run.samples\", \"op\": \">\", \"value\": 1}]},"
		  " \"explanation\": \"x\", \"suggestions\": []}", "field suggestions: missing" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"function\", \"severity\": \"low\", \"frames\": {\"any\": [{\"kind\": \"python\"}]}}",
		  "field frames: only scopes run, process and thread" },
		{ "{\"id\": \"a\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"frames\": {\"any\": [{\"kind\": \"java\"}]}}",
		  "field frames.any[0]: \"kind\" must be python, native or kernel" },
	};
	struct ap_analysis an = { 0 };
	char err[512];
	size_t i;

	for (i = 0; i < AP_ARRAY_SIZE(cases); i++) {
		int ret = ap_patterns__load_text(&an, cases[i].text, strlen(cases[i].text), "t.json", err,
						 sizeof(err));

		CHECK(ret == -22 && strstr(err, cases[i].want) && !strncmp(err, "t.json", 6), "rejected",
		      "case %zu: ret %d, message \"%s\", want \"%s\"", i, ret, err, cases[i].want);
	}
	ASSERT_EQ(an.nr_pats, 0, "nothing loaded");
	/* ids are unique among user files */
	const char *ok = "{\"id\": \"dup\", \"title\": \"t\", \"scope\": \"run\", \"severity\": \"low\", \"when\": "
			 "{\"all\": [{\"metric\": \"run.samples\", \"op\": \">\", \"value\": 1}]}, \"explanation\": \"x\","
			 " \"suggestions\": [\"s\"], \"verify\": \"v\"}";
	ASSERT_EQ(ap_patterns__load_text(&an, ok, strlen(ok), "a.json", err, sizeof(err)), 0, "first");
	ASSERT_EQ(ap_patterns__load_text(&an, ok, strlen(ok), "b.json", err, sizeof(err)), -22, "duplicate");
	ASSERT_TRUE(strstr(err, "b.json: pattern dup: id already defined in a.json") != NULL, err);
	ap_patterns__free(&an);
}

/* every built-in pattern loads; the whole fixture run gives the expected
 * findings, ranked by time at stake, the same bytes twice */
TEST(builtin_patterns_on_fixture)
{
	struct ap_analysis an, an2;
	char *a, *b;
	cJSON *j;
	/* by time at stake: 8 s, 3 s, 3 s, 0.15 s, 0.04 s, none (100 MB/s to the
	 * end, but the process exited after 3 s: memory_growth, not
	 * memory_exhaustion; test_contention.c has it alive at the end) */
	static const char *const want[] = { "hot_function#1", "fsync_heavy#1", "short_sleep_polling#1",
					    "failing_syscalls#1", "small_io#1", "memory_growth#1" };
	size_t i, k = 0;

	if (!CHECK(!load(&an), "load", "cannot load " RUN1))
		return;
	ASSERT_EQ(ap_patterns__load_builtin(&an), 0, "built-in patterns load");
	ASSERT_TRUE(an.nr_pats >= 20, "at least 20 patterns");
	ap_analysis__evaluate(&an);
	for (i = 0; i < an.nr_findings; i++) {
		const struct ap_finding *f = &an.findings[i];

		if (f->dropped || f->uncertain)
			continue;
		if (CHECK(k < AP_ARRAY_SIZE(want), "extra finding", "%s at %s", f->id, f->subj->location))
			ASSERT_STREQ(f->id, want[k], "rank order");
		k++;
	}
	ASSERT_EQ(k, AP_ARRAY_SIZE(want), "findings");
	ASSERT_TRUE(!finding(&an, "lock_contention#1"), "one thread blocking is not contention");
	ASSERT_TRUE(!finding(&an, "memory_exhaustion#1"), "growth that exited with its process");
	ASSERT_TRUE(finding(&an, "hot_function#2") && finding(&an, "hot_function#2")->uncertain,
		    "helper at exactly 20% is uncertain");
	j = ap_findings_json(&an);
	a = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	ASSERT_TRUE(strstr(a, "\"location\":\"/app/main.py:score:42\"") && strstr(a, "\"ci95_pct\""), a);
	if (!load(&an2)) {
		ap_patterns__load_builtin(&an2);
		ap_analysis__evaluate(&an2);
		j = ap_findings_json(&an2);
		b = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		ASSERT_STREQ(a, b, "deterministic");
		free(b);
		ap_analysis__free(&an2);
	}
	free(a);
	ap_analysis__free(&an);
}
