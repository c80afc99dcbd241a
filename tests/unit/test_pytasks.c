// SPDX-License-Identifier: MIT
/* issue 16 point 5: the asyncio offsets (src/python/offsets.c) agree with
 * the .AsyncioDebug sections (Py_AsyncioModuleDebugOffsets) of Debian
 * unstable's builds, copied below as words (objcopy --only-section):
 *   3.14: _asyncio.cpython-314-x86_64-linux-gnu.so of python3.14 3.14.10-1
 *   3.15: python3.15 3.15.2-1 (the module is built into the executable)
 * and a stack's "[task NAME]" frame is found by profile__stack_task(). */
#include <errno.h>
#include <stdint.h>
#include "profile/profile.h"
#include "python/offsets.h"
#include "unit.h"

/* asyncio_task_object {size, task_name, task_awaited_by, task_is_task,
 * task_awaited_by_is_set, task_coro, task_node}, asyncio_interpreter_state
 * {size, asyncio_tasks_head}, asyncio_thread_state {size,
 * asyncio_running_loop, asyncio_running_task, asyncio_tasks_head} */
static const uint64_t aio314[13] = { 168, 136, 96, 108, 109, 128, 152,
				     225864, 10880, 936, 864, 872, 880 };
static const uint64_t aio315[13] = { 168, 136, 96, 108, 109, 128, 152,
				     226240, 10856, 1104, 1024, 1032, 1048 };

TEST(pytasks_offsets_match_asyncio_debug)
{
	const uint64_t *sec[] = { aio314, aio315 };
	struct ap_py_asyncio a;
	int minor;

	for (minor = 14; minor <= 15; minor++) {
		const uint64_t *d = sec[minor - 14];

		ASSERT_EQ(pyoffsets__asyncio(minor, &a), 0, "known version");
		ASSERT_EQ(a.task_name, d[1], "TaskObj.task_name");
		ASSERT_EQ(a.task_coro, d[5], "TaskObj.task_coro");
		ASSERT_EQ(a.task_size, d[0], "sizeof(TaskObj)");
		ASSERT_EQ(a.task_is_task, d[3], "TaskObj.task_is_task");
		ASSERT_EQ(a.tstate_running_task, d[11], "_PyThreadStateImpl.asyncio_running_task");
		/* PyGenObject.gi_iframe is not in the section: offsetof() on
		 * both versions' headers, and _Py_DebugOffsets gen_object */
		ASSERT_EQ(a.gen_iframe, 72, "PyGenObject.gi_iframe");
	}
	ASSERT_EQ(pyoffsets__asyncio(13, &a), -ENOTSUP, "3.13 has no running task in its tstate");
	ASSERT_EQ(pyoffsets__asyncio(16, &a), -ENOTSUP, "an unknown version is refused");
}

TEST(pytasks_stack_task)
{
	struct profile p = { 0 };
	uint32_t fr[4], s1, s2;
	char buf[64];
	const char *t;

	profile__init(&p);
	fr[0] = profile__frame(&p, AP_FRAME_USER, "main", AP_NONE, 0);
	fr[1] = profile__py_frame(&p, "run", profile__module(&p, "/x/base_events.py", ""), 3);
	fr[2] = profile__py_frame(&p, "[task fetch [2]]", AP_NONE, 0);
	fr[3] = profile__py_frame(&p, "worker", profile__module(&p, "/x/app.py", ""), 7);
	s1 = profile__stack(&p, fr, 4);
	s2 = profile__stack(&p, fr, 2);
	t = profile__stack_task(&p, s1, buf, sizeof(buf));
	ASSERT_STREQ(t, "fetch [2]", "the task's name, brackets inside kept");
	ASSERT_TRUE(!profile__stack_task(&p, s2, buf, sizeof(buf)), "a stack with no task frame");
	ASSERT_TRUE(!profile__stack_task(&p, 12345, buf, sizeof(buf)), "no such stack");
	profile__free(&p);
}
