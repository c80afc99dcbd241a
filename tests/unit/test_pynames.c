// SPDX-License-Identifier: MIT
/* Names (issue 15 item 8): Python thread names through cpu.json and
 * offcpu.json (and old files without them), the summary's thread rows,
 * and the names given to functions namedtuple and dataclasses generate. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "artifact/artifact.h"
#include "profile/profile.h"
#include "python/pyproc.h"
#include "report/report.h"
#include "unit.h"
#include "util.h"

static void build(struct profile *p)
{
	uint32_t src = 0, fr, st;
	struct ap_thread *t;

	profile__init(p);
	p->frequency_hz = 99;
	p->duration_s = 1;
	p->has_offcpu = true;
	src = profile__module(p, "/app/w.py", "");
	fr = profile__py_frame(p, "spin", src, 3);
	st = profile__stack(p, &fr, 1);
	profile__add(p, 10, 10, "python3.11", st, 0, 30);
	profile__add(p, 10, 11, "python3.11", st, 0, 50);
	profile__add(p, 10, 12, "python3.11", st, 0, 20);
	profile__thread(p, 10, 11, NULL)->pyname = profile__str(p, "Worker-1");
	profile__thread(p, 10, 12, NULL)->pyname = profile__str(p, "ThreadPoolExecutor-0_3");
	t = profile__thread(p, 10, 11, NULL);
	t->accounted = true;
	t->start_ns = 1000000000;
	t->end_ns = 2000000000;
	t->oncpu_ns = 500000000;
	profile__process(p, 10)->comm = profile__str(p, "python3.11");
}

TEST(python_thread_names_round_trip)
{
	char *dir = unit_temp_dir("pynames"), *path;
	struct profile p, q;
	const struct ap_thread *t;
	int fd;

	build(&p);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(cpu_json__write(&p, fd), 0, "write cpu.json");
	ASSERT_EQ(offcpu_json__write(&p, fd), 0, "write offcpu.json");
	close(fd);
	path = xasprintf("%s/artifacts/cpu.json", dir);
	profile__init(&q);
	ASSERT_EQ(cpu_json__load(&q, path), 0, "load cpu.json");
	t = profile__find_thread(&q, 10, 11);
	ASSERT_TRUE(t != NULL, "thread 11");
	if (t) {
		ASSERT_STREQ(profile__s(&q, t->pyname), "Worker-1", "python_name survives");
		ASSERT_STREQ(profile__s(&q, t->comm), "python3.11", "comm kept beside it");
		ASSERT_STREQ(profile__thread_name(&q, t), "Worker-1", "shown name");
	}
	t = profile__find_thread(&q, 10, 10);
	if (ASSERT_TRUE(t != NULL, "thread 10"))
		ASSERT_STREQ(profile__thread_name(&q, t), "python3.11", "no Python name: the comm");
	free(path);
	path = xasprintf("%s/artifacts/offcpu.json", dir);
	ASSERT_EQ(offcpu_json__load(&q, path), 0, "load offcpu.json");
	t = profile__find_thread(&q, 10, 11);
	if (ASSERT_TRUE(t != NULL, "thread 11 after offcpu.json"))
		ASSERT_STREQ(profile__s(&q, t->pyname), "Worker-1", "offcpu.json python_name");
	profile__free(&q);

	/* a run directory from before python_name: loads, names are the comms */
	free(path);
	path = xasprintf("sed -i 's/\"python_name\":\"[^\"]*\",//g' %s/artifacts/cpu.json", dir);
	ASSERT_EQ(system(path), 0, "strip python_name");
	free(path);
	path = xasprintf("%s/artifacts/cpu.json", dir);
	profile__init(&q);
	ASSERT_EQ(cpu_json__load(&q, path), 0, "load an old cpu.json");
	t = profile__find_thread(&q, 10, 11);
	if (ASSERT_TRUE(t != NULL, "old: thread 11"))
		ASSERT_STREQ(profile__thread_name(&q, t), "python3.11", "old: the comm");
	profile__free(&q);
	free(path);
	unit_rm_rf(dir);
	profile__free(&p);
}

TEST(python_thread_names_summary)
{
	struct summary_info si = { .target = "t", .exit_code = 0, .top_functions = 3, .top_stacks = 1 };
	struct profile p;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	build(&p);
	summary_print(&p, &si, f);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "     10      11 Worker-1 ") != NULL, "threads table: the Python name");
	/* longer than the 16-column field: head and tail, where pool threads differ */
	ASSERT_TRUE(strstr(buf, "     10      12 ThreadP..tor-0_3") != NULL, "long name: head..tail");
	ASSERT_TRUE(strstr(buf, "10/11           Worker-1 ") != NULL, "wall-clock row");
	if (unit_failed_checks)
		fputs(buf, stderr);
	free(buf);
	profile__free(&p);
}

static char *gen(int minor, const char *name, const char *file, int line, const char *arg0)
{
	struct py_code pc = { .minor = minor, .firstlineno = line, .qualname = (char *)name,
			      .filename = (char *)file };

	return pycode__generated_name(&pc, arg0);
}

TEST(generated_function_names)
{
	struct {
		int minor;
		const char *name, *file;
		int line;
		const char *arg0, *want; /* want NULL: left as it is */
	} c[] = {
		/* namedtuple's __new__: exec'd def (3.8, 3.9), eval'd lambda (3.10+) */
		{ 8, "__new__", "<string>", 1, "_cls", "namedtuple __new__ (generated)" },
		{ 10, "<lambda>", "<string>", 1, "_cls", "namedtuple __new__ (generated)" },
		{ 13, "<lambda>", "<string>", 1, "_cls", "namedtuple __new__ (generated)" },
		/* a lambda of the user's own eval() is not one */
		{ 12, "<lambda>", "<string>", 1, "x", NULL },
		{ 12, "<lambda>", "<string>", 1, NULL, NULL },
		{ 12, "<lambda>", "app.py", 1, "_cls", NULL },
		/* dataclasses: co_qualname from 3.11, the name and line before */
		{ 11, "__create_fn__.<locals>.__init__", "<string>", 2, NULL, "dataclass __init__ (generated)" },
		{ 13, "__create_fn__.<locals>.__eq__", "<string>", 8, NULL, "dataclass __eq__ (generated)" },
		{ 9, "__init__", "<string>", 2, "self", "dataclass __init__ (generated)" },
		{ 10, "__lt__", "<string>", 2, "self", "dataclass __lt__ (generated)" },
		{ 10, "__init__", "<string>", 7, "self", NULL },
		{ 12, "__init__", "<string>", 2, "self", NULL },
		{ 12, "__create_fn__.<locals>.__init__.<locals>.f", "<string>", 3, NULL, NULL },
		{ 10, "work", "<string>", 2, NULL, NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *got = gen(c[i].minor, c[i].name, c[i].file, c[i].line, c[i].arg0), what[128];

		snprintf(what, sizeof(what), "3.%d %s %s:%d", c[i].minor, c[i].name, c[i].file, c[i].line);
		if (c[i].want)
			ASSERT_STREQ(got, c[i].want, what);
		else
			CHECK(!got, what, "renamed to \"%s\"", got);
		free(got);
	}
}

/* only what could be namedtuple's __new__ (line 1) costs a read of the
 * target's memory (issue 15 review, item 9): a lambda eval'd per item at
 * another line must not */
TEST(generated_arg0_wanted)
{
	struct py_code pc = { .minor = 12, .firstlineno = 1, .qualname = "<lambda>",
			      .filename = "<string>" };

	ASSERT_TRUE(pycode__wants_arg0(&pc), "<string> <lambda> at line 1");
	pc.qualname = "__new__";
	ASSERT_TRUE(pycode__wants_arg0(&pc), "<string> __new__ at line 1");
	pc.firstlineno = 3;
	ASSERT_TRUE(!pycode__wants_arg0(&pc), "<string> __new__ at line 3");
	pc.qualname = "<lambda>";
	ASSERT_TRUE(!pycode__wants_arg0(&pc), "<string> <lambda> at line 3");
	pc.firstlineno = 1;
	pc.filename = "app.py";
	ASSERT_TRUE(!pycode__wants_arg0(&pc), "app.py <lambda> at line 1");
}
