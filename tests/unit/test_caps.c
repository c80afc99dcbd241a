// SPDX-License-Identifier: MIT
/* Per-event records are capped (README, "Output size"): slow syscalls are
 * aggregated per (pid, syscall, stack) with their slowest examples, the
 * row table has a cap and what it drops is counted, the interval and sample
 * timelines stop at their caps and count the rest; syscalls.json 1.0 files
 * (one row per call) load into the aggregated form; proc.json points and
 * trace.json's bytes are capped too. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"
#include "artifact/artifact.h"
#include "analyze/analyze.h"
#include "collect/procstat.h"
#include "report/formats.h"
#include "profile/profile.h"
#include "util.h"

static uint32_t one_frame_stack(struct profile *p, const char *name)
{
	uint32_t f = profile__frame(p, AP_FRAME_USER, name, AP_NONE, 0x1000);

	return profile__stack(p, &f, 1);
}

TEST(slow_calls_aggregated)
{
	struct profile p;
	uint32_t a, b;
	int i;

	profile__init(&p);
	a = one_frame_stack(&p, "pool_wait");
	b = one_frame_stack(&p, "other_wait");
	/* 50 threads x 100 timed waits at one call site: one row */
	for (i = 0; i < 5000; i++) {
		struct ap_slow_example ex = { .tid = 100 + i % 50, .start_ns = 1000 + i,
					      .dur_ns = 20000000 + (i % 977) * 1000,
					      .ret = i % 10 ? 0 : -110 };

		ASSERT_TRUE(profile__add_slow(&p, 7, 35, a, &ex), "row kept");
	}
	profile__add_slow(&p, 7, 35, b, &(struct ap_slow_example){ .tid = 3, .dur_ns = 50000000 });
	ASSERT_EQ(p.nr_slow, 2, "two call sites, two rows");
	ASSERT_EQ(p.slow[0].count, 5000, "calls counted");
	ASSERT_EQ(p.slow[0].errors, 500, "errors counted");
	ASSERT_EQ(p.slow[0].max_ns, 20000000 + 976 * 1000, "max");
	ASSERT_EQ(p.slow[0].nr_examples, AP_SLOW_EXAMPLES, "examples capped");
	ASSERT_EQ(p.slow[0].ex[0].dur_ns, p.slow[0].max_ns, "slowest example first");
	for (i = 1; i < AP_SLOW_EXAMPLES; i++)
		ASSERT_TRUE(p.slow[0].ex[i].dur_ns <= p.slow[0].ex[i - 1].dur_ns, "examples by duration");
	ASSERT_EQ(profile__slow_calls(&p), 5001, "calls in rows");

	/* the row table is capped; the calls of rows that do not fit are counted */
	for (i = 0; i < AP_SLOW_ROWS_MAX + 10; i++)
		profile__add_slow(&p, 1000 + i, 35, a, &(struct ap_slow_example){ .dur_ns = 11000000 });
	ASSERT_EQ(p.nr_slow, AP_SLOW_ROWS_MAX, "rows capped");
	ASSERT_EQ(p.slow_dropped, 12, "calls beyond the cap counted");
	profile__add_slow(&p, 7, 35, a, &(struct ap_slow_example){ .dur_ns = 1 });
	ASSERT_EQ(p.slow_dropped, 12, "a known row still counts when the table is full");

	/* at the end: the rows with the most time, the rest counted */
	profile__trim_slow(&p, 3);
	ASSERT_EQ(p.nr_slow, 3, "trimmed");
	ASSERT_EQ(p.slow[0].stack, a, "most total time first");
	ASSERT_EQ(p.slow[0].count, 5001, "the pool row");
	ASSERT_EQ(p.slow[1].stack, b, "then the 50 ms one");
	ASSERT_EQ(p.slow_dropped, 12 + AP_SLOW_ROWS_MAX - 3, "trimmed calls counted");
	profile__add_slow(&p, 7, 35, b, &(struct ap_slow_example){ .dur_ns = 60000000 });
	ASSERT_EQ(p.slow[1].count, 2, "rows still found after the trim");
	profile__free(&p);
}

TEST(slow_calls_json)
{
	/* a 1.0 file: one row per call, the same call site twice */
	static const char v10[] =
		"{\"schema\":\"autoprof.syscalls/1\",\"slow_threshold_ms\":10,\"slow_calls\":["
		"{\"pid\":10,\"tid\":11,\"syscall\":\"nanosleep\",\"start_s\":0.5,\"duration_us\":20000,"
		"\"ret\":0,\"stack\":[\"w\"],\"frames\":[{\"kind\":\"user\",\"name\":\"w\",\"module\":\"\",\"addr\":0}]},"
		"{\"pid\":10,\"tid\":12,\"syscall\":\"nanosleep\",\"start_s\":0.6,\"duration_us\":30000,"
		"\"ret\":-4,\"errno\":\"EINTR\",\"stack\":[\"w\"],\"frames\":[{\"kind\":\"user\",\"name\":\"w\",\"module\":\"\",\"addr\":0}]}]}";
	struct profile p, q;
	char *a, *b;
	cJSON *o;

	profile__init(&p);
	ASSERT_EQ(syscalls_json__load_buf(&p, v10, sizeof(v10) - 1, "v10"), 0, "1.0 loads");
	ASSERT_EQ(p.nr_slow, 1, "one call site");
	ASSERT_EQ(p.slow[0].count, 2, "two calls");
	ASSERT_EQ(p.slow[0].errors, 1, "one error");
	ASSERT_EQ(p.slow[0].total_ns, 50000000, "total");
	ASSERT_EQ(p.slow[0].ex[0].tid, 12, "slowest example first");
	p.slow_dropped = 7;

	a = cJSON_PrintUnformatted(o = syscalls_json__build(&p));
	cJSON_Delete(o);
	ASSERT_TRUE(strstr(a, "\"schema\":\"autoprof.syscalls/1.1\"") != NULL, "minor version");
	ASSERT_TRUE(strstr(a, "\"slow_calls_dropped\":7") != NULL, "dropped calls in the file");
	ASSERT_TRUE(strstr(a, "\"pid\":10,\"syscall\":\"nanosleep\",\"tid\":12,\"start_s\":0.6,"
			      "\"duration_us\":30000,\"ret\":-4,\"errno\":\"EINTR\",\"count\":2,\"errors\":1,"
			      "\"total_us\":50000,\"max_us\":30000,\"examples\":[") != NULL,
		    "row: the slowest call's fields, then the aggregate");
	profile__init(&q);
	ASSERT_EQ(syscalls_json__load_buf(&q, a, strlen(a), "a"), 0, "1.1 loads");
	b = cJSON_PrintUnformatted(o = syscalls_json__build(&q));
	cJSON_Delete(o);
	ASSERT_STREQ(b, a, "written, loaded and written again: the same bytes");
	free(a);
	free(b);
	profile__free(&p);
	profile__free(&q);
}

TEST(timeline_caps)
{
	struct profile p;
	struct ap_interval iv = { .block_ns = 2000000, .stack = AP_NONE };
	size_t i;

	profile__init(&p);
	for (i = 0; i < AP_TIMELINE_MAX + 5; i++)
		profile__add_time(&p, 1, 1, 0, i);
	ASSERT_EQ(p.nr_times, AP_TIMELINE_MAX, "timeline capped");
	ASSERT_EQ(p.times_dropped, 5, "samples beyond the cap counted");
	for (i = 0; i < AP_INTERVALS_MAX + 3; i++)
		profile__add_interval(&p, &iv);
	ASSERT_EQ(p.nr_ivals, AP_INTERVALS_MAX, "intervals capped");
	ASSERT_EQ(p.ivals_dropped, 3, "intervals beyond the cap counted");
	profile__free(&p);
}

/* proc.json keeps at most AP_PROCSTAT_POINTS_MAX points per process over
 * the whole run: at the cap, every other point goes and the rate halves */
TEST(procstat_points_capped)
{
	char dir[] = "/tmp/ap-unit-procstat-XXXXXX", *path, *text;
	struct procstat *ps = procstat__new(0);
	struct hmap tracked = { 0 };
	uint32_t pid = getpid();
	const cJSON *pr, *t;
	cJSON *root;
	size_t len, n;
	int i, dfd;

	hmap_put(&tracked, &pid, sizeof(pid), 1);
	for (i = 1; i <= 3 * AP_PROCSTAT_POINTS_MAX; i++)
		procstat__sample(ps, &tracked, i * AP_PROCSTAT_INTERVAL_NS);
	ASSERT_TRUE(mkdtemp(dir) != NULL, "temp dir");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dfd >= 0, "temp dir open");
	ASSERT_EQ(procstat__write(ps, dfd), 0, "written");
	close(dfd);
	path = xasprintf("%s/artifacts/proc.json", dir);
	text = read_file(path, &len);
	root = text ? cJSON_Parse(text) : NULL;
	pr = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "processes"), 0);
	t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pr, "series"), "t_s");
	n = cJSON_GetArraySize(t);
	ASSERT_TRUE(n >= AP_PROCSTAT_POINTS_MAX / 2 && n < AP_PROCSTAT_POINTS_MAX, "points capped");
	ASSERT_NEAR(cJSON_GetArrayItem(t, 0)->valuedouble, 0.1, 1e-9, "from the start");
	ASSERT_TRUE(cJSON_GetArrayItem(t, n - 1)->valuedouble >= 3 * AP_PROCSTAT_POINTS_MAX * 0.1 - 0.4,
		    "to the end");
	cJSON_Delete(root);
	free(text);
	unlink(path);
	free(path);
	path = xasprintf("%s/artifacts", dir);
	rmdir(path);
	free(path);
	rmdir(dir);
	hmap_free(&tracked);
	procstat__free(ps);
}

/* trace.json: the threads' slices share a budget (64 MB; 1 MB here),
 * smallest thread first; a thread whose every sample re-opens 60 frames is
 * cut there, a small one is drawn whole, and what was cut is counted */
TEST(trace_budget)
{
	struct ap_input in = { .target = "t" };
	struct profile *p = &in.prof;
	struct strbuf sb = { 0 };
	size_t drawn = 0, notdrawn, saved = ap_trace_timeline_bytes;
	struct ap_pics x;
	uint32_t fa[60], fb[60], sa, sb_, i;
	const char *c, *m;
	char name[32];

	profile__init(p);
	p->frequency_hz = 100;
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "a%u", i);
		fa[i] = profile__frame(p, AP_FRAME_USER, name, AP_NONE, 0x1000 + i);
		snprintf(name, sizeof(name), "b%u", i);
		fb[i] = profile__frame(p, AP_FRAME_USER, name, AP_NONE, 0x2000 + i);
	}
	sa = profile__stack(p, fa, 60);
	sb_ = profile__stack(p, fb, 60);
	for (i = 0; i < 2000; i++)
		profile__add_time(p, 1, 1, i & 1 ? sa : sb_, i * 10000000ull);
	for (i = 0; i < 10; i++)
		profile__add_time(p, 1, 2, sa, i * 10000000ull);
	ap_pics_init(&x, &in, AP_VIEW_FULL, -1);
	ap_trace_timeline_bytes = 1u << 20;
	trace_render(&x, &sb);
	ap_trace_timeline_bytes = saved;
	ASSERT_TRUE(sb.len > 900000 && sb.len < 1200000, "about 1 MB");
	ASSERT_TRUE(sb.len && sb.buf[sb.len - 1] == '}', "a whole document");
	for (c = sb.buf; (c = strstr(c, "\"ph\":\"i\"")); c++)
		drawn++;
	m = strstr(sb.buf, "\"samples_not_drawn\":");
	notdrawn = m ? strtoul(m + strlen("\"samples_not_drawn\":"), NULL, 10) : 0;
	ASSERT_TRUE(notdrawn > 1000, "the busy thread cut");
	ASSERT_EQ(drawn + notdrawn, 2010, "every sample drawn or counted");
	ASSERT_TRUE(strstr(sb.buf, "{\"ph\":\"i\",\"pid\":1,\"tid\":2,\"ts\":90000,") != NULL,
		    "the small thread drawn whole");
	sb_free(&sb);
	ap_pics_free(&x);
	profile__free(p);
}
