// SPDX-License-Identifier: MIT
/* The agent's window summary (window.json) on a profile built by hand:
 * processes ranked and capped, totals, counters, store and cost. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "artifact/window_json.h"
#include "profile/compact.h"
#include "profile/profile.h"
#include "report/report.h"
#include "unit.h"
#include "util.h"

static double num(const cJSON *o, const char *path1, const char *path2)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, path1);

	if (path2)
		x = cJSON_GetObjectItemCaseSensitive(x, path2);
	return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

TEST(window_json_summary)
{
	struct ap_window_info wi = {
		.seq = 3,
		.start_real_ns = 1796000000000000000ull,
		.end_real_ns = 1796000015000000000ull,
		.start_mono_ns = 1000000000ull,
		.end_mono_ns = 16000000000ull,
		.nr_cpus = 2,
		.deleted = 2, .deleted_total = 5, .dropped = 1, .dropped_total = 1,
		.cpu_s = 0.15, .rss_kb = 20000, .max_rss_kb = 30000,
	};
	struct profile p;
	uint32_t f, s, pid;
	cJSON *root, *procs, *first;

	profile__init(&p);
	p.frequency_hz = 19;
	f = profile__frame(&p, AP_FRAME_USER, "main", AP_NONE, 0x10);
	s = profile__stack(&p, &f, 1);
	/* more processes than the cap: pid N gets N samples */
	for (pid = 1; pid <= AP_WINDOW_PROCS_MAX + 10; pid++) {
		profile__add(&p, pid, pid, "w", s, 0, pid);
		profile__process(&p, pid)->comm = profile__str(&p, "w");
	}
	profile__process(&p, AP_WINDOW_PROCS_MAX + 10)->service = profile__str(&p, "web.service");
	profile__process(&p, 99999); /* seen, never sampled: not listed */
	profile__set_counter(&p, "ringbuf_full", 7);
	root = window_json__build(&p, &wi);
	procs = cJSON_GetObjectItemCaseSensitive(root, "processes");
	ASSERT_EQ(cJSON_GetArraySize(procs), AP_WINDOW_PROCS_MAX, "processes capped");
	ASSERT_EQ(num(root, "processes_omitted", NULL), 10, "the rest counted");
	first = cJSON_GetArrayItem(procs, 0);
	ASSERT_EQ(num(first, "pid", NULL), AP_WINDOW_PROCS_MAX + 10, "most samples first");
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(first, "service")), "web.service",
		     "its service");
	ASSERT_NEAR(num(first, "cpu_s", NULL), (AP_WINDOW_PROCS_MAX + 10) / 19.0, 1e-9, "cpu_s");
	ASSERT_EQ(num(root, "totals", "processes"), AP_WINDOW_PROCS_MAX + 10, "sampled processes");
	ASSERT_EQ(num(root, "totals", "samples"), p.total_samples, "total samples");
	ASSERT_NEAR(num(root, "window", "duration_s"), 15, 1e-9, "duration");
	ASSERT_EQ(num(root, "counters", "ringbuf_full"), 7, "counters copied");
	ASSERT_EQ(num(root, "store", "windows_deleted"), 2, "deletions of the window");
	ASSERT_EQ(num(root, "store", "windows_dropped_total"), 1, "drops since start");
	ASSERT_NEAR(num(root, "agent", "cpu_pct"), 1.0, 1e-9, "0.15 s of 15 s is 1%");
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(root, "schema")), AP_SCHEMA_WINDOW,
		     "schema");
	cJSON_Delete(root);
	profile__free(&p);
}

TEST(window_json_write)
{
	char dir[] = "/tmp/ap-unit-XXXXXX";
	struct ap_window_info wi = { .seq = 1, .end_mono_ns = 1 };
	struct profile p;
	cJSON *root;
	int fd;

	profile__init(&p);
	ASSERT_TRUE(mkdtemp(dir) != NULL, "temp dir");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(window_json__write(&p, &wi, fd), 0, "write");
	root = json_load_checked_at(fd, "window.json", "window.json", AP_SCHEMA_WINDOW);
	ASSERT_TRUE(root != NULL, "reads back with its schema");
	ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(root, "processes")), 0, "no processes");
	cJSON_Delete(root);
	unlinkat(fd, "window.json", 0);
	close(fd);
	rmdir(dir);
	profile__free(&p);
}

/* a window over tables of only what it uses: same stacks, rows, totals */
TEST(window_compact)
{
	struct profile live, win, c;
	struct strbuf a = { 0 }, b = { 0 };
	uint32_t f[4], used, unused, mod;
	struct ap_thread *t;
	struct ap_interval iv = { .start_ns = 5, .block_ns = 7, .pid = 1, .tid = 2, .reason = 1 };
	int i;

	profile__init(&live);
	live.frequency_hz = 19;
	mod = profile__module(&live, "/usr/bin/app", "abcd");
	f[0] = profile__frame(&live, AP_FRAME_USER, "main", mod, 0x10);
	f[1] = profile__frame(&live, AP_FRAME_USER, "hot", mod, 0x20);
	f[2] = profile__py_frame(&live, "work", mod, 7);
	/* an earlier window's symbols, unused by this one */
	for (i = 0; i < 100; i++) {
		char name[32];

		snprintf(name, sizeof(name), "old_%d", i);
		f[3] = profile__frame(&live, AP_FRAME_USER, name, AP_NONE, i);
		unused = profile__stack(&live, &f[3], 1);
	}
	used = profile__stack(&live, f, 3);
	profile__add(&live, 1, 2, "app", used, AP_COUNT_GIL, 5);
	profile__add_off(&live, 1, 2, used, 1, 1000, 3);
	profile__add_time(&live, 1, 2, used, 42);
	iv.stack = used;
	profile__add_interval(&live, &iv);
	t = profile__thread(&live, 1, 2, "app");
	t->accounted = true;
	t->oncpu_ns = 77;
	profile__process(&live, 1)->service = profile__str(&live, "web.service");
	profile__set_counter(&live, "ringbuf_full", 3);
	live.has_offcpu = true;
	profile__take_window(&live, &win);
	profile__compact(&win, &c);
	ASSERT_EQ(c.nr_stacks, 1, "one stack used");
	ASSERT_EQ(c.nr_frames, 3, "its three frames");
	ASSERT_EQ(c.nr_modules, 1, "one module");
	ASSERT_TRUE(win.nr_stacks > 100, "the window borrowed every stack");
	ASSERT_EQ(c.total_samples, 5, "samples");
	ASSERT_EQ(c.threads[0].gil_samples, 5, "GIL samples");
	ASSERT_EQ(c.threads[0].python_samples, 5, "Python samples");
	ASSERT_EQ(c.threads[0].oncpu_ns, 77, "scheduler totals");
	ASSERT_EQ(c.nr_off, 1, "off-CPU row");
	ASSERT_EQ(c.off[0].stack, 0, "... on the compact stack");
	ASSERT_EQ(c.nr_times, 1, "timeline");
	ASSERT_EQ(c.ivals[0].stack, 0, "interval's stack");
	ASSERT_STREQ(profile__s(&c, c.procs[0].service), "web.service", "labels");
	ASSERT_EQ(profile__counter(&c, "ringbuf_full"), 3, "counters");
	ASSERT_TRUE(c.has_offcpu && c.frequency_hz == 19, "scalars");
	folded_render(&win, AP_VIEW_FULL, &a);
	folded_render(&c, AP_VIEW_FULL, &b);
	ASSERT_STREQ(b.buf, a.buf, "the same folded stacks");
	sb_free(&a);
	sb_free(&b);
	profile__free(&c);
	profile__window_free(&win);
	profile__free(&live);
	(void)unused;
}
