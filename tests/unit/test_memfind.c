// SPDX-License-Identifier: MIT
/* issue 18, memory findings (src/analyze/memory.c, patterns leak_candidate,
 * page_fault_churn, large_transient_mapping; memory_growth naming the
 * code): the analyze fixture (tests/fixtures/analyze/run1: pid 100, its
 * resident set growing 100 MB/s from 10 to 310 MB over 3 s) with memory
 * rows and a memory timeline added through profile__add_mem() and
 * profile__add_mem_time(), as the memory collector and memory.json's
 * loader fill them. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "analyze/pattern.h"
#include "report/report.h"
#include "unit.h"
#include "util.h"

#define RUN1 "tests/fixtures/analyze/run1"
#define PID 100
#define MIB (1ull << 20)

struct mem {
	struct ap_analysis an;
	uint32_t s_leak, s_load, s_churn, s_buf, s_none;
};

static uint32_t py_stack(struct profile *p, const char *fn, uint32_t line)
{
	uint32_t mod = profile__module(p, "/app/main.py", NULL);
	uint32_t fr[3] = { profile__py_frame(p, "<module>", mod, 50),
			   profile__py_frame(p, "main", mod, 45), profile__py_frame(p, fn, mod, line) };

	return profile__stack(p, fr, 3);
}

/* the fixture loaded, metrics not computed yet */
static int setup(struct mem *m, bool memory)
{
	int fd = open(RUN1, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;
	struct profile *p = &m->an.in.prof;

	memset(m, 0, sizeof(*m));
	err = fd >= 0 ? ap_input__load(&m->an.in, fd, RUN1) : -1;
	if (fd >= 0)
		close(fd);
	if (err)
		return -1;
	p->has_memory = memory;
	m->s_leak = py_stack(p, "leak", 12);
	m->s_load = py_stack(p, "load", 30);
	m->s_churn = py_stack(p, "churn", 21);
	m->s_buf = py_stack(p, "scratch", 40);
	m->s_none = profile__stack(p, NULL, 0);
	return 0;
}

/* n page-fault samples of w bytes each, evenly from t0 to t1 seconds */
static void faults(struct mem *m, uint32_t stack, int n, double t0, double t1, uint64_t w)
{
	struct profile *p = &m->an.in.prof;
	int i;

	for (i = 0; i < n; i++) {
		double t = n > 1 ? t0 + (t1 - t0) * i / (n - 1) : t0;
		struct ap_mem_time mt = {
			.t_ns = p->start_mono_ns + (uint64_t)(t * 1e9), .bytes = w,
			.addr = 0x7f0000000000ull + (uint64_t)i * 4096, .pid = PID, .tid = PID,
			.stack = stack, .kind = AP_MEM_FAULT,
		};

		profile__add_mem_time(p, &mt);
	}
	profile__add_mem(p, PID, PID, stack, AP_MEM_FAULT, n * w, n);
}

static void mapping(struct mem *m, uint32_t stack, int kind, double t, uint64_t addr, uint64_t len)
{
	struct profile *p = &m->an.in.prof;
	struct ap_mem_time mt = {
		.t_ns = p->start_mono_ns + (uint64_t)(t * 1e9), .bytes = len, .addr = addr,
		.pid = PID, .tid = PID, .stack = stack, .kind = kind,
	};

	profile__add_mem_time(p, &mt);
	profile__add_mem(p, PID, PID, stack, kind, len, 1);
}

/* the resident set: from 10 MB, growing to top_mb by t_top, flat after */
static void rss_plateau(struct mem *m, double top_mb, double t_top)
{
	size_t i, k;

	for (i = 0; i < m->an.in.nr_series; i++) {
		struct ap_series *sr = &m->an.in.series[i];

		for (k = 0; k < sr->n; k++) {
			double t = sr->t[k];

			if (sr->rss_kb[k] <= 0)
				continue; /* the exit */
			sr->rss_kb[k] = 1024 * (t >= t_top ? top_mb : 10 + (top_mb - 10) * t / t_top);
		}
	}
}

static void analyze(struct mem *m)
{
	ap_metrics__compute(&m->an);
	ap_patterns__load_builtin(&m->an);
	ap_analysis__evaluate(&m->an);
	if (getenv("MFIND_DEBUG")) { /* the findings' texts, for a look */
		size_t i;

		for (i = 0; i < m->an.nr_findings; i++)
			fprintf(stderr, "%s (%.3f): %s\n", m->an.findings[i].id,
				m->an.findings[i].confidence, m->an.findings[i].explanation);
	}
}

static const struct ap_finding *finding(const struct ap_analysis *an, const char *pat)
{
	size_t i;

	for (i = 0; i < an->nr_findings; i++)
		if (!strcmp(an->findings[i].pat->id, pat) && !an->findings[i].dropped)
			return &an->findings[i];
	return NULL;
}

static const struct ap_value *pv(const struct ap_analysis *an, const char *name)
{
	int id = ap_metric_find(name);

	if (id < 0 || !an->nr_subj[AP_SCOPE_PROCESS])
		return NULL;
	return &an->subj[AP_SCOPE_PROCESS][0].v[ap_metric_slot(id)];
}

static double pnum(const struct ap_analysis *an, const char *name)
{
	const struct ap_value *v = pv(an, name);

	return v ? v->v : NAN;
}

static double fnum(const struct ap_analysis *an, const char *loc, const char *name)
{
	int id = ap_metric_find(name);
	size_t i;

	for (i = 0; id >= 0 && i < an->nr_subj[AP_SCOPE_FUNCTION]; i++)
		if (!strcmp(an->subj[AP_SCOPE_FUNCTION][i].location, loc))
			return an->subj[AP_SCOPE_FUNCTION][i].v[ap_metric_slot(id)].v;
	return NAN;
}

static const char *ptext(const struct ap_analysis *an, const char *name)
{
	const struct ap_value *v = pv(an, name);

	return v && v->s ? v->s : "";
}

/* a steady leak in one function (1 MiB every 10 ms for 3 s: 100 MB/s, the
 * resident set's slope) among a one-off load at the start (60 MiB in the
 * first 0.2 s, the most bytes of any site early on) */
TEST(memfind_leak_named)
{
	struct mem m;
	const struct ap_finding *f, *g;

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	faults(&m, m.s_load, 60, 0.0, 0.2, MIB);
	faults(&m, m.s_leak, 290, 0.05, 2.95, MIB);
	analyze(&m);
	ASSERT_STREQ(ptext(&m.an, "process.leak_site"), "leak (/app/main.py:12)", "leak site");
	ASSERT_NEAR(pnum(&m.an, "process.leak_slope_mb_s"), 100, 8, "its slope, MB/s");
	ASSERT_NEAR(pnum(&m.an, "process.leak_share_pct"), 100, 10, "all of the growth");
	ASSERT_EQ(pnum(&m.an, "process.leak_quintiles"), 5, "in every fifth");
	ASSERT_TRUE(pnum(&m.an, "process.leak_fit_pct") > 95, "a straight line");
	ASSERT_STREQ(ptext(&m.an, "process.leak_path"), "<module> > main > leak", "call path");
	f = finding(&m.an, "leak_candidate");
	if (CHECK(f != NULL, "leak_candidate", "no finding")) {
		ASSERT_TRUE(strstr(f->explanation, "leak (/app/main.py:12)") &&
				    !strstr(f->explanation, "load (") && strstr(f->explanation, "MB/s"),
			    f->explanation);
		ASSERT_TRUE(f->confidence >= AP_MIN_CONFIDENCE, "sure: 290 samples");
	}
	/* memory_growth names the code of the late growth, with its numbers */
	g = finding(&m.an, "memory_growth");
	if (CHECK(g != NULL, "memory_growth", "no finding")) {
		cJSON *j = ap_findings_json(&m.an);
		char *s = cJSON_PrintUnformatted(j);

		ASSERT_TRUE(strstr(g->explanation, "came most from leak (/app/main.py:12)") != NULL,
			    g->explanation);
		ASSERT_TRUE(strstr(s, "\"process.growth_site\":\"leak (/app/main.py:12)\"") &&
				    strstr(s, "\"process.growth_site_mb\":"),
			    "evidence names the code");
		free(s);
		cJSON_Delete(j);
	}
	ASSERT_TRUE(!finding(&m.an, "page_fault_churn"), "a leak is not churn");
	ASSERT_TRUE(!finding(&m.an, "large_transient_mapping"), "no mappings");
	ap_analysis__free(&m.an);
}

/* the same leak with only 8 samples (a sample each 0.37 s): too few */
TEST(memfind_leak_few_samples)
{
	struct mem m;

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	faults(&m, m.s_leak, 8, 0.05, 2.95, 36 * MIB);
	analyze(&m);
	ASSERT_STREQ(ptext(&m.an, "process.leak_site"), "leak (/app/main.py:12)", "still measured");
	ASSERT_TRUE(!finding(&m.an, "leak_candidate"), "8 samples are not a finding");
	ap_analysis__free(&m.an);
}

/* a working set loaded in 0.5 s, then flat while a small steady stream of
 * faults goes on (a reused buffer re-touched): no leak candidate */
TEST(memfind_plateau_no_leak)
{
	struct mem m;

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	rss_plateau(&m, 200, 0.5);
	faults(&m, m.s_load, 190, 0.0, 0.5, MIB);
	faults(&m, m.s_leak, 100, 0.05, 2.95, MIB / 4);
	analyze(&m);
	ASSERT_TRUE(pnum(&m.an, "process.rss_late_slope_mb_s") < 1, "plateau");
	ASSERT_TRUE(!finding(&m.an, "leak_candidate"), "a working set is not a leak");
	ASSERT_TRUE(!finding(&m.an, "memory_growth"), "nor growth");
	ap_analysis__free(&m.an);
}

/* a loop allocating and releasing: 2000 MiB touched in churn() while the
 * resident set grows by 190 MB and stays */
TEST(memfind_churn)
{
	struct mem m;
	const struct ap_finding *f;

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	rss_plateau(&m, 200, 0.5);
	faults(&m, m.s_load, 190, 0.0, 0.5, MIB);
	faults(&m, m.s_churn, 500, 0.5, 2.95, 4 * MIB);
	/* score(), a function with CPU samples in the fixture, at another line */
	faults(&m, py_stack(&m.an.in.prof, "score", 44), 30, 1.0, 1.2, MIB);
	analyze(&m);
	ASSERT_NEAR(fnum(&m.an, "/app/main.py:score:42", "function.fault_mb"), 30, 1e-9,
		    "function scope: its page-fault bytes");
	ASSERT_NEAR(fnum(&m.an, "/app/main.py:score:42", "function.fault_pct"), 100.0 * 30 / 720,
		    1e-9, "... and its share");
	ASSERT_EQ(fnum(&m.an, "/app/main.py:helper:7", "function.fault_samples"), 0,
		  "none for a function without");
	ASSERT_STREQ(ptext(&m.an, "process.fault_top"), "churn (/app/main.py:21)", "top site");
	ASSERT_NEAR(pnum(&m.an, "process.rss_net_mb"), 190, 1e-6, "net growth: the plateau");
	ASSERT_NEAR(pnum(&m.an, "process.fault_top_churn_x"), 2000.0 / 190, 0.01, "x the growth");
	f = finding(&m.an, "page_fault_churn");
	if (CHECK(f != NULL, "page_fault_churn", "no finding"))
		ASSERT_TRUE(strstr(f->explanation, "churn (/app/main.py:21) in pid 100") &&
				    strstr(f->explanation, "2000 MB") && f->nr_suggestions == 3 &&
				    strstr(f->suggestions[1], "MALLOC_TRIM_THRESHOLD_"),
			    f->explanation);
	ASSERT_TRUE(!finding(&m.an, "leak_candidate"), "churn is not a leak");
	ap_analysis__free(&m.an);
}

/* mmap 128 MiB, munmap 10 ms later, twice from one line (a loop); a 128
 * MiB mapping kept, a 1 MiB transient one, and a 128 MiB one unmapped after
 * 2 s do not count */
TEST(memfind_transient_mapping)
{
	struct mem m;
	const struct ap_finding *f;

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	mapping(&m, m.s_buf, AP_MEM_MAP, 1.0, 0x7f1000000000ull, 128 * MIB + 4096);
	mapping(&m, m.s_none, AP_MEM_UNMAP, 1.01, 0x7f1000000000ull, 128 * MIB + 4096);
	mapping(&m, m.s_buf, AP_MEM_MAP, 1.5, 0x7f1000000000ull, 128 * MIB);
	mapping(&m, m.s_none, AP_MEM_UNMAP, 1.505, 0x7f1000000000ull, 128 * MIB);
	mapping(&m, m.s_load, AP_MEM_MAP, 0.1, 0x7f2000000000ull, 128 * MIB);
	mapping(&m, m.s_load, AP_MEM_MAP, 0.2, 0x7f3000000000ull, MIB);
	mapping(&m, m.s_none, AP_MEM_UNMAP, 0.21, 0x7f3000000000ull, MIB);
	mapping(&m, m.s_load, AP_MEM_MAP, 0.3, 0x7f4000000000ull, 128 * MIB);
	mapping(&m, m.s_none, AP_MEM_UNMAP, 2.3, 0x7f4000000000ull, 128 * MIB);
	/* 128 MiB of which only the first 16 MiB are unmapped at once: not the buffer's end */
	mapping(&m, m.s_load, AP_MEM_MAP, 0.4, 0x7f5000000000ull, 128 * MIB);
	mapping(&m, m.s_none, AP_MEM_UNMAP, 0.41, 0x7f5000000000ull, 16 * MIB);
	analyze(&m);
	ASSERT_EQ(pnum(&m.an, "process.transient_maps"), 2, "two transient mappings");
	ASSERT_EQ(pnum(&m.an, "process.transient_site_maps"), 2, "both from scratch()");
	ASSERT_NEAR(pnum(&m.an, "process.transient_life_ms"), 10, 0.01, "10 ms");
	ASSERT_NEAR(pnum(&m.an, "process.map_mb"), 5 * 128 + 1 + 4096.0 / MIB, 1e-6, "mapped");
	ASSERT_EQ(pnum(&m.an, "process.unmap_calls"), 5, "unmap calls");
	f = finding(&m.an, "large_transient_mapping");
	if (CHECK(f != NULL, "large_transient_mapping", "no finding"))
		ASSERT_TRUE(strstr(f->explanation, "from scratch (/app/main.py:40)") &&
				    strstr(f->explanation, "<module> > main > scratch"),
			    f->explanation);
	ap_analysis__free(&m.an);
}

/* a process that exited (the fixture's pid 100, last seen at 3.0 s): its
 * buffers freed on the way out (unmapped after 2.5 s) are no transient
 * mappings, and one buffer mapped and unmapped once is no loop; the same
 * mappings in a process still running at the end are */
static void exit_mappings(struct mem *m)
{
	mapping(m, m->s_load, AP_MEM_MAP, 0.5, 0x7f1000000000ull, 512 * MIB);
	mapping(m, m->s_none, AP_MEM_UNMAP, 0.9, 0x7f1000000000ull, 512 * MIB);
	mapping(m, m->s_buf, AP_MEM_MAP, 2.6, 0x7f2000000000ull, 128 * MIB);
	mapping(m, m->s_none, AP_MEM_UNMAP, 2.75, 0x7f2000000000ull, 128 * MIB);
	mapping(m, m->s_buf, AP_MEM_MAP, 2.8, 0x7f3000000000ull, 128 * MIB);
	mapping(m, m->s_none, AP_MEM_UNMAP, 2.95, 0x7f3000000000ull, 128 * MIB);
}

TEST(memfind_transient_at_exit)
{
	struct mem m;

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	exit_mappings(&m);
	analyze(&m);
	ASSERT_EQ(pnum(&m.an, "process.transient_maps"), 1, "only load()'s, before the exit");
	ASSERT_EQ(pnum(&m.an, "process.transient_site_maps"), 1, "once from load()");
	ASSERT_STREQ(ptext(&m.an, "process.transient_site"), "load (/app/main.py:30)", "its site");
	ASSERT_TRUE(!finding(&m.an, "large_transient_mapping"), "no loop, freed at the exit");
	ap_analysis__free(&m.an);

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	m.an.in.prof.procs[0].exited = false;
	exit_mappings(&m);
	analyze(&m);
	ASSERT_EQ(pnum(&m.an, "process.transient_maps"), 3, "running: all three");
	ASSERT_EQ(pnum(&m.an, "process.transient_site_maps"), 1, "load()'s 512 MiB the most bytes");
	ASSERT_TRUE(!finding(&m.an, "large_transient_mapping"), "still no loop at that site");
	ap_analysis__free(&m.an);
}

/* csvload.py: line 6 of <module> loops over csv.DictReader, whose
 * __next__ (csv.py, the standard library) builds each row the line keeps:
 * the leak and growth sites are that line, not the library's */
static uint32_t csv_stack(struct profile *p, uint32_t app_line, uint32_t lib_line)
{
	uint32_t app = profile__module(p, "/app/csvload.py", NULL);
	uint32_t lib = profile__module(p, "/usr/lib/python3.11/csv.py", NULL);
	uint32_t fr[2] = { profile__py_frame(p, "<module>", app, app_line),
			   profile__py_frame(p, "DictReader.__next__", lib, lib_line) };

	return profile__stack(p, fr, 2);
}

static void csv_load(struct mem *m)
{
	struct profile *p = &m->an.in.prof;

	faults(m, csv_stack(p, 6, 119), 200, 0.05, 2.95, MIB);
	faults(m, csv_stack(p, 6, 111), 90, 0.06, 2.96, MIB);
}

TEST(memfind_leak_app_site)
{
	struct mem m;
	const struct ap_finding *f;

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	csv_load(&m);
	analyze(&m);
	ASSERT_STREQ(ptext(&m.an, "process.leak_site"), "<module> (/app/csvload.py:6)",
		     "the user's line, not csv.py's");
	ASSERT_STREQ(ptext(&m.an, "process.growth_site"), ptext(&m.an, "process.leak_site"),
		     "memory_growth names the same line");
	ASSERT_STREQ(ptext(&m.an, "process.fault_top"),
		     "DictReader.__next__ (/usr/lib/python3.11/csv.py:119)",
		     "fault_top stays the innermost Python frame");
	ASSERT_NEAR(pnum(&m.an, "process.leak_site_cpu_pct"), 0, 1e-9, "no CPU samples in it");
	f = finding(&m.an, "leak_candidate");
	if (CHECK(f != NULL, "leak_candidate", "no finding: the growth is beside other work"))
		ASSERT_TRUE(strstr(f->explanation, "<module> (/app/csvload.py:6) in pid 100") &&
				    strstr(f->explanation, "exited during the run"),
			    f->explanation);
	ap_analysis__free(&m.an);
}

/* the same growth in a job that spent its life loading it (the loading code
 * on a CPU 90% of the process's wall time) and exited: no leak candidate;
 * still running at the end, it is one */
TEST(memfind_load_then_exit)
{
	struct mem m;
	double wall;

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	csv_load(&m);
	ap_metrics__compute(&m.an); /* the process's wall time, for the CPU to add */
	wall = pnum(&m.an, "process.wall_s");
	ap_analysis__free(&m.an);
	if (!CHECK(wall > 0, "wall", "no process wall time"))
		return;

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	csv_load(&m);
	profile__add(&m.an.in.prof, PID, PID, "python3", csv_stack(&m.an.in.prof, 5, 119), 0,
		     (uint64_t)(0.9 * wall * m.an.in.prof.frequency_hz));
	analyze(&m);
	ASSERT_NEAR(pnum(&m.an, "process.leak_site_cpu_pct"), 90, 1, "the loader's CPU");
	ASSERT_STREQ(ptext(&m.an, "process.leak_site"), "<module> (/app/csvload.py:6)", "site");
	ASSERT_TRUE(!finding(&m.an, "leak_candidate"), "load-then-exit is no leak");
	ap_analysis__free(&m.an);

	if (!CHECK(!setup(&m, true), "load", "cannot load " RUN1))
		return;
	m.an.in.prof.procs[0].exited = false;
	csv_load(&m);
	profile__add(&m.an.in.prof, PID, PID, "python3", csv_stack(&m.an.in.prof, 5, 119), 0,
		     (uint64_t)(0.9 * wall * m.an.in.prof.frequency_hz));
	analyze(&m);
	ASSERT_TRUE(finding(&m.an, "leak_candidate") != NULL, "growing while running: a candidate");
	ap_analysis__free(&m.an);
}

/* no memory data: no memory metric, none of the memory findings, the memory
 * patterns listed as not evaluated, memory_growth as before */
TEST(memfind_no_memory_data)
{
	struct mem m;
	const struct ap_finding *g;
	bool listed = false;
	size_t i;

	if (!CHECK(!setup(&m, false), "load", "cannot load " RUN1))
		return;
	analyze(&m);
	ASSERT_TRUE(isnan(pnum(&m.an, "process.fault_mb")) && !*ptext(&m.an, "process.leak_site"),
		    "no values");
	ASSERT_TRUE(!finding(&m.an, "leak_candidate") && !finding(&m.an, "page_fault_churn") &&
			    !finding(&m.an, "large_transient_mapping"),
		    "no memory findings");
	for (i = 0; i < m.an.nr_skipped; i++)
		listed |= !strcmp(m.an.skipped[i].pattern, "large_transient_mapping") &&
			  strstr(m.an.skipped[i].reason, "memory.json");
	ASSERT_TRUE(listed, "not evaluated, for want of memory.json");
	g = finding(&m.an, "memory_growth");
	if (CHECK(g != NULL, "memory_growth", "no finding")) {
		cJSON *j = ap_findings_json(&m.an);
		char *s = cJSON_PrintUnformatted(j);

		ASSERT_TRUE(!strstr(g->explanation, "page faults") &&
				    g->explanation[strlen(g->explanation) - 1] == '.',
			    g->explanation);
		ASSERT_TRUE(!strstr(s, "growth_site") && !strstr(s, "growth_code"),
			    "no memory evidence");
		free(s);
		cJSON_Delete(j);
	}
	ap_analysis__free(&m.an);
}
