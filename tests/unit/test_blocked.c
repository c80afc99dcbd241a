// SPDX-License-Identifier: MIT
/* Threads blocked for the whole run (src/report/blocked.c): found by the
 * attach snapshot's root frame, grouped when they wait alike, each placed
 * by the program's own frames down to the innermost Python frame; every
 * view keeps the root frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "artifact/artifact.h"
#include "profile/merge.h"
#include "report/report.h"
#include "unit.h"

static uint32_t blocked_stack(struct profile *p, bool python, const char *leaf_py)
{
	uint32_t mod = profile__module(p, "/usr/bin/python3.11", "");
	uint32_t app = profile__module(p, "/srv/app/x.py", "");
	uint32_t lib = profile__module(p, "/usr/lib/python3.11/queue.py", "");
	uint32_t thr = profile__module(p, "/usr/lib/python3.11/threading.py", "");
	uint32_t fr[12], n = 0;

	fr[n++] = profile__frame(p, AP_FRAME_USER, "[blocked in futex since before profiling]",
				 AP_NONE, 0);
	fr[n++] = profile__frame(p, AP_FRAME_USER, "_start", mod, 0x1000);
	if (python) {
		fr[n++] = profile__py_frame(p, "<module>", app, 1);
		fr[n++] = profile__py_frame(p, "main", app, 9);
		fr[n++] = profile__py_frame(p, leaf_py, app, 4);
		fr[n++] = profile__py_frame(p, "Queue.get", lib, 171);
		fr[n++] = profile__py_frame(p, "Condition.wait", thr, 320);
		fr[n++] = profile__frame(p, AP_FRAME_USER, "_PyEval_EvalFrameDefault", mod, 0x2000);
	}
	fr[n++] = profile__frame(p, AP_FRAME_USER, "read", mod, 0x3000);
	fr[n++] = profile__frame(p, AP_FRAME_KERNEL, "do_syscall_64", AP_NONE, 0xffffffff81000000ull);
	return profile__stack(p, fr, n);
}

TEST(blocked_threads_grouped_and_placed)
{
	struct profile p;
	struct ap_blocked_thread *v = NULL;
	uint32_t s_work, s_other, s_native, plain, fr[1], out[16], nv;
	size_t n;
	int tid;

	profile__init(&p);
	p.has_offcpu = true;
	s_work = blocked_stack(&p, true, "work");
	s_other = blocked_stack(&p, true, "other");
	s_native = blocked_stack(&p, false, NULL);
	fr[0] = profile__frame(&p, AP_FRAME_USER, "_start", AP_NONE, 0);
	plain = profile__stack(&p, fr, 1);
	for (tid = 10; tid <= 15; tid++)
		profile__thread(&p, 10, tid, "python3.11")->accounted = true;
	/* 12 and 10 wait alike (10 is the main thread: its group comes first) */
	profile__add_off(&p, 10, 12, s_work, AP_OFF_LOCK, 2000000000, 1);
	profile__add_off(&p, 10, 10, s_work, AP_OFF_LOCK, 2000000000, 1);
	profile__add_off(&p, 10, 11, s_other, AP_OFF_LOCK, 2000000000, 1);
	profile__add_off(&p, 10, 13, s_native, AP_OFF_IO_PIPE, 2000000000, 1);
	profile__add_off(&p, 10, 14, plain, AP_OFF_SLEEP, 1000000, 1); /* ran: not listed */
	/* its first wait under the snapshot's stack, then it ran: not listed */
	profile__add_off(&p, 10, 15, s_work, AP_OFF_LOCK, 500000000, 1);
	profile__thread(&p, 10, 15, "python3.11")->nr_vol = 3;
	n = ap_blocked_threads(&p, &v);
	ASSERT_EQ(n, 4, "threads blocked since before profiling");
	if (n == 4) {
		ASSERT_EQ(v[0].tid, 10, "the main thread's group first");
		ASSERT_EQ(v[1].tid, 12, "... with the thread waiting alike");
		ASSERT_EQ(ap_blocked_group(v, n, 0), 2, "two threads in the first group");
		ASSERT_EQ(ap_blocked_of_pid(v, n, 0), 4, "four of the process");
		ASSERT_EQ(v[0].of, 6, "of the six threads accounted");
		ASSERT_STREQ(v[0].syscall, "futex", "the syscall from the root frame");
		ASSERT_STREQ(v[0].where,
			     "main (x.py:9) > work (x.py:4) > Queue.get (queue.py:171) > "
			     "Condition.wait (threading.py:320)",
			     "from the caller of the program's innermost frame to the leaf");
		ASSERT_EQ(v[2].tid, 11, "then thread 11");
		ASSERT_STREQ(v[3].where, "read", "no Python: the innermost native frame");
		ASSERT_EQ(v[3].reason, AP_OFF_IO_PIPE, "its reason");
	}
	free(v);
	nv = profile__view(&p, &p.stacks[s_work], AP_VIEW_MIXED, out);
	ASSERT_TRUE(nv > 0 && out[0] == p.stack_frames[p.stacks[s_work].off],
		    "the mixed view keeps the root frame");
	nv = profile__view(&p, &p.stacks[s_work], AP_VIEW_PYTHON, out);
	ASSERT_TRUE(nv > 0 && out[0] == p.stack_frames[p.stacks[s_work].off],
		    "the Python view keeps the root frame");
	profile__free(&p);
}

/* the asyncio tasks suspended at the attach (profile.atasks): chains as
 * text, the terminal's 10 first and "N more", offcpu.json both ways, and
 * the window and merge keep them */
static void add_task(struct profile *p, uint32_t pid, const char *name, uint32_t depth, bool cut)
{
	struct ap_async_frame fr[4] = {
		{ "outer", "/srv/app/x.py", 37 }, { "middle", "/srv/app/x.py", 33 },
		{ "inner", "/srv/app/x.py", 29 }, { "sleep", "/usr/lib/python3.14/asyncio/tasks.py", 716 },
	};
	struct ap_async_task t = { .pid = pid, .tid = pid, .name = (char *)name, .waits = "Future",
				   .cut = cut, .nr_chain = depth, .chain = fr };

	profile__add_async_task(p, &t);
}

TEST(async_tasks_text_artifact_window)
{
	struct profile p, q, win;
	struct strbuf sb = { 0 };
	char *buf = NULL, *text;
	size_t len = 0, i;
	FILE *f;
	cJSON *j;
	char name[16];

	profile__init(&p);
	add_task(&p, 7, "deep", 4, false);
	add_task(&p, 7, "a|b", 2, true);
	add_task(&p, 7, "bare", 0, false);
	for (i = 0; i < 11; i++) {
		snprintf(name, sizeof(name), "t%zu", i);
		add_task(&p, 8, name, 1, false);
	}
	ASSERT_EQ(p.nr_atasks, 14, "tasks added");
	ASSERT_EQ(ap_async_of_pid(&p, 0), 3, "three of pid 7");
	ASSERT_EQ(ap_async_of_pid(&p, 3), 11, "eleven of pid 8");
	ap_async_chain(&p.atasks[0], &sb);
	ASSERT_STREQ(sb.buf, "outer (x.py:37) > middle (x.py:33) > inner (x.py:29) > sleep (tasks.py:716)",
		     "the chain, the task's coroutine first, base names");
	sb.len = 0;
	ap_async_where(&p.atasks[0], &sb);
	ASSERT_STREQ(sb.buf, "sleep (tasks.py:716)", "waiting in: the innermost coroutine");
	sb.len = 0;
	ap_async_chain(&p.atasks[1], &sb);
	ASSERT_STREQ(sb.buf, "outer (x.py:37) > middle (x.py:33) > ...", "a cut chain says so");
	sb.len = 0;
	ap_async_where(&p.atasks[1], &sb);
	ASSERT_STREQ(sb.buf, "?", "a cut chain: the innermost is not known");
	sb.len = 0;
	ap_async_chain(&p.atasks[2], &sb);
	ASSERT_STREQ(sb.buf, "?", "no frame read");
	sb_free(&sb);

	f = open_memstream(&buf, &len);
	ap_async_print(&p, f);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "Suspended asyncio tasks at the attach: 3 of pid 7") != NULL,
		    "a block per process");
	ASSERT_TRUE(strstr(buf, "t9 ") && !strstr(buf, "t10 "), "the 10 first of pid 8");
	ASSERT_TRUE(strstr(buf, "... and 1 more") != NULL, "then how many more");
	free(buf);

	/* offcpu.json and back */
	p.has_offcpu = true;
	j = offcpu_json__build(&p);
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	profile__init(&q);
	ASSERT_EQ(offcpu_json__load_buf(&q, text, strlen(text), "offcpu.json"), 0, "loads");
	free(text);
	ASSERT_TRUE(q.has_atasks, "the artifact has the task list");
	ASSERT_EQ(q.nr_atasks, 14, "every task back");
	if (q.nr_atasks == 14) {
		ASSERT_STREQ(q.atasks[1].name, "a|b", "its name");
		ASSERT_TRUE(q.atasks[1].cut, "its chain cut");
		ASSERT_EQ(q.atasks[0].nr_chain, 4, "its chain");
		ASSERT_STREQ(q.atasks[0].chain[3].file, "/usr/lib/python3.14/asyncio/tasks.py",
			     "the full file name");
		ASSERT_EQ(q.atasks[0].chain[2].line, 29, "and line");
	}
	profile__free(&q);

	/* a window takes them; a merge copies them */
	profile__take_window(&p, &win);
	ASSERT_EQ(win.nr_atasks, 14, "the window has them");
	ASSERT_EQ(p.nr_atasks, 0, "the next window starts without");
	profile__init(&q);
	profile__merge(&q, &win);
	ASSERT_EQ(q.nr_atasks, 14, "merged");
	ASSERT_TRUE(q.has_atasks, "merged: the list is there");
	profile__free(&q);
	profile__window_free(&win);
	profile__free(&p);
}
