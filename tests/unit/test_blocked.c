// SPDX-License-Identifier: MIT
/* Threads blocked for the whole run (src/report/blocked.c): found by the
 * attach snapshot's root frame, grouped when they wait alike, each placed
 * by the program's own frames down to the innermost Python frame; every
 * view keeps the root frame. */
#include <stdlib.h>
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
