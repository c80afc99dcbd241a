// SPDX-License-Identifier: MIT
/* The profile model, its folded rendering, the cpu.json round trip and the
 * terminal summary, on a profile built by hand. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "profile/profile.h"
#include "report/report.h"
#include "unit.h"
#include "util.h"

/* main -> work -> {hot, cold}, a kernel tail on one stack, two threads */
static void build(struct profile *p)
{
	uint32_t exe, libc, kmod, f_start, f_main, f_work, f_hot, f_cold, f_k, f_unk, f_semi;
	uint32_t s1[5], s2[4], s3[3];

	profile__init(p);
	p->frequency_hz = 99;
	p->duration_s = 1.5;
	exe = profile__module(p, "/usr/bin/app", "abcd");
	libc = profile__module(p, "/lib/x86_64-linux-gnu/libc.so.6", "ef01");
	kmod = profile__module(p, "[kernel.kallsyms]", "");
	f_start = profile__frame(p, AP_FRAME_USER, "_start", exe, 0x1000);
	f_main = profile__frame(p, AP_FRAME_USER, "main", exe, 0x1100);
	f_work = profile__frame(p, AP_FRAME_USER, "work", exe, 0x1200);
	f_hot = profile__frame(p, AP_FRAME_USER, "hot", exe, 0x1300);
	f_cold = profile__frame(p, AP_FRAME_USER, "cold", libc, 0x1400);
	f_k = profile__frame(p, AP_FRAME_KERNEL, "vfs_write", kmod, 0xffffffff81000300ull);
	f_unk = profile__frame(p, AP_FRAME_USER, "[unknown]", libc, 0);
	f_semi = profile__frame(p, AP_FRAME_USER, "a;b", exe, 0x1500);
	memcpy(s1, (uint32_t[]){ f_start, f_main, f_work, f_hot, f_k }, sizeof(s1));
	memcpy(s2, (uint32_t[]){ f_start, f_main, f_work, f_cold }, sizeof(s2));
	memcpy(s3, (uint32_t[]){ f_unk, f_semi, f_hot }, sizeof(s3));
	uint32_t a = profile__stack(p, s1, 5), b = profile__stack(p, s2, 4), c = profile__stack(p, s3, 3);

	profile__add(p, 10, 10, "app", a, AP_COUNT_GIL, 60);
	profile__add(p, 10, 11, "worker", a, 0, 15);
	profile__add(p, 10, 11, "worker", b, 0, 20);
	profile__add(p, 10, 10, "app", c, 0, 5);
	struct ap_process *pr = profile__process(p, 10);
	pr->comm = profile__str(p, "app");
	pr->exe = profile__str(p, "/usr/bin/app");
	pr->cmdline = profile__str(p, "app --run");
	profile__set_counter(p, "ringbuf_full", 3);
	profile__set_counter(p, "big", 1ull << 60);
}

TEST(profile_interning)
{
	struct profile p;
	uint32_t f;

	build(&p);
	ASSERT_EQ(p.total_samples, 100, "total");
	ASSERT_EQ(p.nr_threads, 2, "threads");
	ASSERT_EQ(p.nr_stacks, 3, "stacks");
	ASSERT_EQ(p.nr_counts, 4, "distinct (pid, tid, stack)");
	f = profile__frame(&p, AP_FRAME_USER, "hot", 0, 0x1300);
	ASSERT_EQ(f, 3, "frames are interned");
	ASSERT_EQ(p.threads[1].samples, 35, "thread 11");
	struct ap_completeness c;
	profile__completeness(&p, &c);
	ASSERT_EQ(c.user_samples, 100, "every stack has user frames");
	ASSERT_EQ(c.complete, 95, "the [unknown]-rooted stack is incomplete");
	profile__free(&p);
}

TEST(folded_output)
{
	struct profile p;
	struct strbuf sb = { 0 };

	build(&p);
	folded_render(&p, AP_VIEW_MIXED, &sb);
	/* sorted, merged across threads, ';' in names escaped, _[k] on kernel frames */
	ASSERT_STREQ(sb.buf,
		     "app;[libc.so.6];a:b;hot 5\n"
		     "app;_start;main;work;cold 20\n"
		     "app;_start;main;work;hot;vfs_write_[k] 75\n",
		     "folded text");
	sb_free(&sb);
	profile__free(&p);
}

static bool same_profile(const struct profile *a, const struct profile *b)
{
	struct strbuf x = { 0 }, y = { 0 };
	bool same;

	folded_render(a, AP_VIEW_FULL, &x);
	folded_render(b, AP_VIEW_FULL, &y);
	same = x.buf && y.buf && !strcmp(x.buf, y.buf);
	sb_free(&x);
	sb_free(&y);
	return same;
}

TEST(cpu_json_round_trip)
{
	char dir[] = "/tmp/ap-unit-XXXXXX", *path, *cmd;
	struct profile p, q;
	size_t i;
	int fd;

	build(&p);
	ASSERT_TRUE(mkdtemp(dir) != NULL, "temp dir");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(cpu_json__write(&p, fd), 0, "write");
	close(fd);
	path = xasprintf("%s/artifacts/cpu.json", dir);
	profile__init(&q);
	ASSERT_EQ(cpu_json__load(&q, path), 0, "load");
	ASSERT_EQ(q.total_samples, p.total_samples, "total samples");
	ASSERT_EQ(q.nr_frames, p.nr_frames, "frames");
	ASSERT_EQ(q.nr_stacks, p.nr_stacks, "stacks");
	ASSERT_EQ(q.nr_counts, p.nr_counts, "counts");
	ASSERT_EQ(q.nr_threads, p.nr_threads, "threads");
	for (i = 0; i < p.nr_frames && i < q.nr_frames; i++)
		ASSERT_EQ(q.frames[i].addr, p.frames[i].addr, "frame address survives (> 2^53 too)");
	ASSERT_STREQ(profile__s(&q, q.threads[1].comm), "worker", "thread name");
	ASSERT_EQ(profile__counter(&q, "big"), 1ull << 60, "64-bit counter");
	ASSERT_EQ(q.frequency_hz, 99, "frequency");
	ASSERT_EQ(q.counts[0].flags, AP_COUNT_GIL, "per-sample GIL flag survives");
	ASSERT_TRUE(same_profile(&p, &q), "same folded output after the round trip");
	profile__free(&q);

	/* a future major version is refused with a message, not misread */
	cmd = xasprintf("sed -i 's#autoprof.cpu/1#autoprof.cpu/2#' %s", path);
	ASSERT_EQ(system(cmd), 0, "rewrite schema");
	profile__init(&q);
	ASSERT_TRUE(cpu_json__load(&q, path) < 0, "unknown major version rejected");
	profile__free(&q);
	free(cmd);
	/* a stack that points past the frame table */
	ASSERT_EQ(write_file_atomic(dir, "bad.json",
		"{\"schema\":\"autoprof.cpu/1\",\"strings\":[\"\"],\"frames\":[],\"stacks\":[[5]]}", 66),
		0, "write malformed");
	free(path);
	path = xasprintf("%s/bad.json", dir);
	profile__init(&q);
	ASSERT_TRUE(cpu_json__load(&q, path) < 0, "dangling frame index rejected");
	profile__free(&q);
	profile__init(&q);
	ASSERT_TRUE(cpu_json__load_buf(&q, "{\"schema\":\"autoprof.cpu/1\",\"counters\":[1]}", 41,
				       "t") < 0, "counters must be an object (fuzzer crash)");
	profile__free(&q);
	profile__init(&q);
	ASSERT_TRUE(cpu_json__load(&q, "/nonexistent.json") < 0, "missing file");
	profile__free(&q);
	cmd = xasprintf("rm -rf %s", dir);
	ASSERT_EQ(system(cmd), 0, "cleanup");
	free(cmd);
	free(path);
	profile__free(&p);
}

TEST(summary_text)
{
	struct summary_info si = { .target = "app --run", .wall_s = 1.5, .exit_code = 0,
				   .outdir = "out", .top_functions = 15, .top_stacks = 5 };
	struct profile p;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	build(&p);
	summary_print(&p, &si, f);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "100 on-CPU samples at 99 Hz") != NULL, "totals line");
	ASSERT_TRUE(strstr(buf, "95.0% of user stacks reach the thread entry (95 of 100)") != NULL,
		    "completeness");
	ASSERT_TRUE(strstr(buf, "losses: ringbuf_full 3") != NULL, "losses shown");
	/* vfs_write is the leaf of 75 samples; hot is on 80 stacks */
	ASSERT_TRUE(strstr(buf, "   75.0%   75.0%       75  vfs_write ([kernel.kallsyms])") != NULL,
		    "top self row");
	ASSERT_TRUE(strstr(buf, "    5.0%   80.0%       80  hot (app)") != NULL, "total of hot");
	if (unit_failed_checks)
		fputs(buf, stderr);
	free(buf);
	profile__free(&p);
}

/* a stack whose last 12 frames are all kernel keeps its innermost Python
 * frame in the summary, so the time is tied to the program */
TEST(summary_keeps_python_frame)
{
	struct summary_info si = { .target = "t", .exit_code = -1, .top_functions = 5,
				   .top_stacks = 1 };
	uint32_t fr[20], n = 0, src, k, i;
	struct profile p;
	char *buf = NULL, name[16];
	size_t len = 0;
	FILE *f;

	profile__init(&p);
	p.frequency_hz = 99;
	src = profile__module(&p, "/app/io.py", "");
	k = profile__module(&p, "[kernel.kallsyms]", "");
	fr[n++] = profile__py_frame(&p, "<module>", src, 1);
	fr[n++] = profile__py_frame(&p, "load", src, 7);
	for (i = 0; i < 15; i++) {
		snprintf(name, sizeof(name), "kfn%u", i);
		fr[n++] = profile__frame(&p, AP_FRAME_KERNEL, name, k, 0xffffffff81000000ull + i);
	}
	profile__add(&p, 1, 1, "io", profile__stack(&p, fr, n), 0, 10);
	f = open_memstream(&buf, &len);
	summary_print(&p, &si, f);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "... 1 frames ... load (io.py:7) > ... 3 frames ... > kfn3_[k] > ") != NULL,
		    "innermost Python frame kept before the kernel tail");
	if (unit_failed_checks)
		fputs(buf, stderr);
	free(buf);
	profile__free(&p);
}

/* off-CPU rows, thread accounting and syscalls: offcpu.folded weights in
 * microseconds with the reason as leaf, the wall-clock table, the artifacts */
TEST(offcpu_and_syscalls)
{
	struct summary_info si = { .target = "t", .exit_code = 0, .top_functions = 5, .top_stacks = 3 };
	struct strbuf sb = { 0 };
	struct profile p;
	struct ap_thread *t;
	char *buf = NULL, *json;
	size_t len = 0;
	uint32_t src, fr[2], st;
	cJSON *o;
	FILE *f;

	build(&p);
	p.has_offcpu = p.has_syscalls = true;
	p.slow_ns = 10000000;
	src = profile__module(&p, "/app/sl.py", "");
	fr[0] = profile__py_frame(&p, "<module>", src, 5);
	fr[1] = profile__py_frame(&p, "nap", src, 2);
	st = profile__stack(&p, fr, 2);
	profile__add_off(&p, 10, 10, st, AP_OFF_SLEEP, 900000000, 90);
	profile__add_off(&p, 10, 10, st, AP_OFF_SLEEP, 50000000, 5);  /* merged */
	profile__add_off(&p, 10, 10, st, AP_OFF_RUNQUEUE, 1500, 0);
	profile__add_off(&p, 10, 11, st, AP_OFF_GIL, 400, 1);          /* < 1 us: no line */
	t = profile__thread(&p, 10, 10, NULL);
	t->accounted = true;
	t->start_ns = 1000000000;
	t->end_ns = 2000000000;
	t->oncpu_ns = 40000000;
	t->off_ns[AP_OFF_SLEEP] = 950000000;
	t->off_ns[AP_OFF_RUNQUEUE] = 10000000;
	GROW(p.sys, p.cap_sys, 1);
	p.sys[p.nr_sys++] = (struct ap_sys_row){ .pid = 10, .nr = 1, .fd_kind = AP_FD_FILE, .count = 4,
						 .errors = 1, .total_ns = 8000, .max_ns = 5000,
						 .bytes = 300, .hist = { 1, 0, 2, 1 } };
	GROW(p.sys_errs, p.cap_sys_errs, 1);
	p.sys_errs[p.nr_sys_errs++] = (struct ap_sys_err){ 10, 1, 9 /* EBADF */, 1 };

	profile__add_slow(&p, 10, 230, st, &(struct ap_slow_example){ .tid = 10, .start_ns = 1500000,
								     .dur_ns = 50000000 });

	folded_render_off(&p, AP_VIEW_MIXED, &sb);
	ASSERT_TRUE(strstr(sb.buf, "app;<module> (sl.py:5);nap (sl.py:2);[sleep] 950000\n") != NULL,
		    "sleep rows merged, in us, reason leaf");
	ASSERT_TRUE(strstr(sb.buf, "app;<module> (sl.py:5);nap (sl.py:2);[runqueue] 1\n") != NULL,
		    "runqueue row");
	ASSERT_TRUE(strstr(sb.buf, "[gil]") == NULL, "sub-microsecond rows left out");

	f = open_memstream(&buf, &len);
	summary_print(&p, &si, f);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "  10/10           app                  1.00    4.0%    0.0%    0.0%    0.0%"
			       "   95.0%    0.0%    1.0%    0.0%") != NULL, "wall-clock row");
	ASSERT_TRUE(strstr(buf, "950.0 ms") != NULL && strstr(buf, "sleep\n     <module> (sl.py:5) > nap (sl.py:2)"),
		    "top off-CPU stack");
	ASSERT_TRUE(strstr(buf, "write              file           4       1") != NULL, "syscall row");

	o = offcpu_json__build(&p);
	json = cJSON_PrintUnformatted(o);
	ASSERT_TRUE(strstr(json, "\"off_ns\":{\"runqueue\":10000000,\"sleep\":950000000}") != NULL,
		    "thread off_ns by reason");
	ASSERT_TRUE(strstr(json, "\"offcpu_ns\":960000000") != NULL, "thread total");
	free(json);
	cJSON_Delete(o);
	o = syscalls_json__build(&p);
	json = cJSON_PrintUnformatted(o);
	ASSERT_TRUE(strstr(json, "\"name\":\"write\",\"nr\":1,\"fd_kind\":\"file\",\"count\":4,\"errors\":1,"
			       "\"errnos\":{\"EBADF\":1}") != NULL, "syscall row with errno names");
	ASSERT_TRUE(strstr(json, "\"hist_log2_us\":[1,0,2,1]") != NULL, "histogram trimmed");
	ASSERT_TRUE(strstr(json, "\"syscall\":\"clock_nanosleep\"") != NULL &&
		    strstr(json, "\"stack\":[\"<module> (sl.py:5)\",\"nap (sl.py:2)\"]") != NULL,
		    "slow call named, with its stack");
	free(json);
	cJSON_Delete(o);

	/* the loaders give back what was written, byte for byte */
	{
		struct profile q;
		char *a, *b;

		profile__init(&q);
		a = cJSON_PrintUnformatted(o = offcpu_json__build(&p));
		cJSON_Delete(o);
		ASSERT_EQ(offcpu_json__load_buf(&q, a, strlen(a), "offcpu.json"), 0, "offcpu.json loads");
		b = cJSON_PrintUnformatted(o = offcpu_json__build(&q));
		cJSON_Delete(o);
		CHECK(!strcmp(a, b), "offcpu.json round trip", "%s\n  vs %s", a, b);
		free(a);
		free(b);
		a = cJSON_PrintUnformatted(o = syscalls_json__build(&p));
		cJSON_Delete(o);
		ASSERT_EQ(syscalls_json__load_buf(&q, a, strlen(a), "syscalls.json"), 0, "syscalls.json loads");
		b = cJSON_PrintUnformatted(o = syscalls_json__build(&q));
		cJSON_Delete(o);
		CHECK(!strcmp(a, b), "syscalls.json round trip", "%s\n  vs %s", a, b);
		free(a);
		free(b);
		ASSERT_TRUE(syscalls_json__load_buf(&q, "{\"schema\":\"autoprof.syscalls/2\"}", 33, "x") ==
			    -ENOTSUP, "another major version is refused");
		ASSERT_TRUE(offcpu_json__load_buf(&q, "{\"schema\":\"autoprof.offcpu/1\",\"offcpu\":"
						  "[{\"reason\":\"nap\",\"stack\":0}]}", 66, "x") == -EINVAL,
			    "an unknown reason is refused");
		profile__free(&q);
	}
	if (unit_failed_checks)
		fprintf(stderr, "%s\n%s", sb.buf, buf);
	sb_free(&sb);
	free(buf);
	profile__free(&p);
}
