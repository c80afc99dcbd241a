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
#include "python/pythreads.h"
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

/* the task lists the attach reads for the suspended tasks */
TEST(pytasks_lists_match_asyncio_debug)
{
	const uint64_t *sec[] = { aio314, aio315 };
	struct py_async_offsets o;
	int minor;

	for (minor = 14; minor <= 15; minor++) {
		const uint64_t *d = sec[minor - 14];

		ASSERT_EQ(pythreads__async_offsets(minor, &o), 0, "known version");
		ASSERT_EQ(o.task_node, d[6], "TaskObj.task_node");
		ASSERT_EQ(o.interp_tasks, d[8], "PyInterpreterState.asyncio_tasks_head");
		ASSERT_EQ(o.tstate_tasks, d[12], "_PyThreadStateImpl.asyncio_tasks_head");
	}
	ASSERT_EQ(pythreads__async_offsets(13, &o), -ENOTSUP, "no task lists before 3.14");
	ASSERT_EQ(pythreads__async_offsets(16, &o), -ENOTSUP, "an unknown version is refused");
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

/* review item 2, 3, 6 (src/collect/pytasks.c): the cache key, the read
 * budgets and failed reads. A session with no processes: a Task not in
 * the cache gets no frame (no process to read), one in it gets its own. */
#include "collect/collect.h"
#include "session.h"

static const char *task_of(struct cpu_collector *cc, const struct ap_cpu_sample *s)
{
	const struct profile *p = &cc->ses->prof;

	collect_pytask_begin(cc, s);
	return cc->task_on ? profile__s(p, p->frames[cc->task_frame].name) : NULL;
}

TEST(pytasks_key_and_exec)
{
	static struct ap_session ses;
	static struct cpu_collector cc;
	static struct ap_cpu_sample a, b, c;
	const char *t;

	profile__init(&ses.prof);
	cc.ses = &ses;
	a.type = b.type = c.type = AP_REC_SAMPLE;
	a.nr_py = b.nr_py = c.nr_py = 1;
	a.tgid = b.tgid = 10;
	c.tgid = 11;
	a.aux[0] = b.aux[0] = c.aux[0] = 0x7f0000001000ull;
	a.aux[1] = 0x7f0000002000ull; /* its name object */
	b.aux[1] = 0x7f0000003000ull; /* the next Task at the same address */
	c.aux[1] = a.aux[1];
	collect_pytask_result(&cc, &a, "alpha", 0x55, false);
	collect_pytask_result(&cc, &c, "gamma", 0x66, false);
	t = task_of(&cc, &a);
	ASSERT_STREQ(t ? t : "(none)", "[task alpha]", "a read name is kept");
	ASSERT_EQ(cc.task_code, 0x55, "with its coroutine's code");
	ASSERT_TRUE(!task_of(&cc, &b), "another Task at a reused address is not alpha");
	collect_pytasks_exec(&cc, 10);
	ASSERT_TRUE(!task_of(&cc, &a), "an exec'd process's names go");
	t = task_of(&cc, &c);
	ASSERT_STREQ(t ? t : "(none)", "[task gamma]", "another process's stay");
	collect_pytasks_free(&cc);
	profile__free(&ses.prof);
}

TEST(pytasks_read_budgets)
{
	static struct cpu_collector cc;
	uint64_t now = 5000000000ull;
	int i, err = 0;

	ASSERT_EQ(collect_pytask_admit(&cc, 1, now), 0, "a first read");
	collect_pytask_spent(&cc, AP_PYTASK_BUDGET_NS);
	ASSERT_EQ(collect_pytask_admit(&cc, 2, now + 1), -EAGAIN,
		  "the window's time is spent, for every process");
	ASSERT_EQ(cc.pytask_deferred, 1, "counted");
	now += AP_PYTASK_WINDOW_NS;
	ASSERT_EQ(collect_pytask_admit(&cc, 2, now), 0, "the next window reads again");
	for (i = 1; i < AP_PYTASK_READS_MAX && !err; i++)
		err = collect_pytask_admit(&cc, 3, now);
	ASSERT_EQ(err, 0, "a process's reads up to its cap");
	ASSERT_EQ(collect_pytask_admit(&cc, 3, now), 0, "its last one");
	ASSERT_EQ(collect_pytask_admit(&cc, 3, now), -EDQUOT, "then none this window");
	ASSERT_EQ(collect_pytask_admit(&cc, 4, now), 0, "another process still reads");
	ASSERT_EQ(cc.pytask_deferred, 2, "counted");
	ASSERT_EQ(collect_pytask_admit(&cc, 3, now + AP_PYTASK_WINDOW_NS), 0,
		  "the next window it reads again");
	collect_pytasks_free(&cc);
}

TEST(pytasks_failed_reads_retried)
{
	static struct ap_session ses;
	static struct cpu_collector cc;
	static struct ap_cpu_sample a;
	const char *t;
	int i;

	profile__init(&ses.prof);
	cc.ses = &ses;
	a.type = AP_REC_SAMPLE;
	a.nr_py = 1;
	a.tgid = 10;
	a.aux[0] = 0x7f0000001000ull;
	collect_pytask_result(&cc, &a, NULL, 0, false);
	ASSERT_TRUE(cc.task_on, "a deferred read shows [task ?]");
	ASSERT_TRUE(!task_of(&cc, &a), "but is not kept");
	for (i = 1; i < AP_PYTASK_TRIES; i++) {
		collect_pytask_result(&cc, &a, NULL, 0, true);
		ASSERT_TRUE(!task_of(&cc, &a), "a failed read is not kept");
	}
	collect_pytask_result(&cc, &a, NULL, 0, true);
	t = task_of(&cc, &a);
	ASSERT_STREQ(t ? t : "(none)", "[task ?]", "after AP_PYTASK_TRIES failures it is");
	collect_pytasks_free(&cc);
	profile__free(&ses.prof);
}
