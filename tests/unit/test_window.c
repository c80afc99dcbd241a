// SPDX-License-Identifier: MIT
/* The agent's window summary (window.json) on a profile built by hand:
 * processes ranked and capped, totals, counters, store and cost. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "artifact/window_json.h"
#include "profile/profile.h"
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
