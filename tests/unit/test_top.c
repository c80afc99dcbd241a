// SPDX-License-Identifier: MIT
/* `top`'s model and text: windows built by hand (a Python process and a
 * native one), the filter, the modes, and lines cut to the width; and the
 * view of a saved run (the analyze fixture) loaded with ap_input__load. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "top/top.h"
#include "unit.h"
#include "util.h"

/* one second: pid 20 "python3" runs work (app.py) -> hot (app.py), in
 * libpython3.12; pid 30 "cruncher" runs main -> crunch; weights py, nat */
static void window(struct profile *p, uint64_t py, uint64_t nat)
{
	uint32_t exe, lpy, app, kmod, f[8], s_py, s_nat;

	profile__init(p);
	p->frequency_hz = 99;
	p->duration_s = 1.0;
	exe = profile__module(p, "/usr/bin/cruncher", "");
	lpy = profile__module(p, "/usr/lib/x86_64-linux-gnu/libpython3.12.so.1.0", "");
	p->modules[lpy].flags |= AP_MOD_PY_RUNTIME;
	app = profile__module(p, "/srv/app.py", "");
	kmod = profile__module(p, "[kernel.kallsyms]", "");
	f[0] = profile__frame(p, AP_FRAME_USER, "main", exe, 0x1000);
	f[1] = profile__frame(p, AP_FRAME_USER, "crunch", exe, 0x1100);
	f[2] = profile__frame(p, AP_FRAME_USER, "_PyEval_EvalFrameDefault", lpy, 0x2000);
	f[3] = profile__py_frame(p, "work", app, 10);
	f[4] = profile__py_frame(p, "Model.hot", app, 42);
	f[5] = profile__frame(p, AP_FRAME_KERNEL, "clear_page_erms", kmod, 0xffffffff81000000ull);
	s_py = profile__stack(p, (uint32_t[]){ f[2], f[3], f[2], f[4] }, 4);
	s_nat = profile__stack(p, (uint32_t[]){ f[0], f[1], f[5] }, 3);
	if (py)
		profile__add(p, 20, 20, "python3", s_py, 0, py);
	if (nat)
		profile__add(p, 30, 31, "cruncher", s_nat, 0, nat);
	p->total_samples = py + nat;
}

static const struct top_func *func(const struct top_model *m, const char *label)
{
	size_t i;

	for (i = 0; i < m->nr_funcs; i++)
		if (!strcmp(m->funcs[i].label, label))
			return &m->funcs[i];
	return NULL;
}

static const struct top_proc *proc(const struct top_model *m, uint32_t pid)
{
	size_t i;

	for (i = 0; i < m->nr_procs; i++)
		if (m->procs[i].pid == pid)
			return &m->procs[i];
	return NULL;
}

TEST(top_model_window)
{
	struct top_model m;
	struct profile w;
	const struct top_func *f;
	const struct top_proc *p;

	top_model__init(&m);
	m.nr_cpus = 2;
	window(&w, 90, 30);
	top_model__add(&m, &w);
	ASSERT_EQ(m.nr_procs, 2, "two processes");
	p = proc(&m, 20);
	if (ASSERT_TRUE(p != NULL, "python process")) {
		ASSERT_STREQ(p->comm, "python3", "its name");
		ASSERT_STREQ(p->runtime, "CPython 3.12", "runtime from the interpreter's file");
		ASSERT_NEAR(top_model__proc_cpu(&m, p), 100.0 * 90 / 99, 0.01, "CPU % of one CPU");
	}
	p = proc(&m, 30);
	if (ASSERT_TRUE(p != NULL, "native process"))
		ASSERT_TRUE(p->runtime == NULL, "no runtime for native code");
	f = func(&m, "Model.hot (app.py:42)");
	if (ASSERT_TRUE(f != NULL, "Python function named as the profile labels it")) {
		ASSERT_NEAR(f->self, 90, 0.001, "self");
		ASSERT_NEAR(f->total, 90, 0.001, "total");
	}
	f = func(&m, "work (app.py:10)");
	if (ASSERT_TRUE(f != NULL, "caller")) {
		ASSERT_NEAR(f->self, 0, 0.001, "caller self");
		ASSERT_NEAR(f->total, 90, 0.001, "caller total");
	}
	ASSERT_TRUE(func(&m, "_PyEval_EvalFrameDefault (libpython3.12.so.1.0)") == NULL,
		    "interpreter internals hidden in the mixed view");
	ASSERT_TRUE(func(&m, "crunch (cruncher)") != NULL, "native function with its file");
	ASSERT_TRUE(func(&m, "clear_page_erms [kernel]") != NULL, "kernel function");
	ASSERT_EQ(m.nr_stacks, 2, "two folded stacks");
	ASSERT_STREQ(m.stacks[0].text, "python3;work (app.py:10);Model.hot (app.py:42)",
		     "folded Python stack");
	ASSERT_STREQ(m.stacks[1].text, "cruncher;main;crunch;clear_page_erms_[k]", "folded native stack");
	profile__free(&w);

	/* the last window only: the next one replaces it */
	window(&w, 0, 50);
	top_model__add(&m, &w);
	ASSERT_EQ(m.nr_procs, 1, "last mode: only the last window's processes");
	ASSERT_NEAR(m.samples, 50, 0.001, "last mode: its samples");
	profile__free(&w);
	top_model__free(&m);
}

TEST(top_model_filter_and_modes)
{
	struct top_model m;
	struct profile w;

	top_model__init(&m);
	snprintf(m.filter, sizeof(m.filter), "crunch");
	window(&w, 90, 30);
	top_model__add(&m, &w);
	ASSERT_EQ(m.nr_procs, 1, "a name filter keeps one process");
	ASSERT_EQ(m.procs[0].pid, 30, "the one whose name matches");
	ASSERT_TRUE(func(&m, "Model.hot (app.py:42)") == NULL, "functions of the others are gone");
	ASSERT_NEAR(m.samples, 30, 0.001, "percentages are of the filtered samples");
	ASSERT_TRUE(top_model__match(&m, 7, "xcrunchy", NULL), "part of a name matches");
	ASSERT_TRUE(top_model__match(&m, 7, "python3", "python3 /srv/crunch.py"),
		    "part of the command line matches");

	snprintf(m.filter, sizeof(m.filter), "20");
	top_model__reset(&m);
	top_model__add(&m, &w);
	ASSERT_EQ(m.nr_procs, 1, "a pid filter keeps one process");
	ASSERT_EQ(m.procs[0].pid, 20, "that pid");
	ASSERT_TRUE(!top_model__match(&m, 200, "20", "x 20"), "a pid filter matches the pid exactly");

	m.filter[0] = 0;
	m.mode = TOP_MODE_TOTAL;
	top_model__reset(&m);
	top_model__add(&m, &w);
	top_model__add(&m, &w);
	ASSERT_NEAR(m.samples, 240, 0.001, "total mode adds windows");
	ASSERT_NEAR(m.span_s, 2, 0.001, "over two seconds");
	ASSERT_NEAR(top_model__proc_cpu(&m, proc(&m, 20)), 100.0 * 90 / 99, 0.01,
		    "CPU % is per second of the span");

	m.mode = TOP_MODE_DECAY;
	top_model__reset(&m);
	top_model__add(&m, &w);
	profile__free(&w);
	window(&w, 0, 30);
	top_model__add(&m, &w);
	ASSERT_NEAR(proc(&m, 20)->samples, 90 * 0.870551, 0.01, "decayed by 2^(-1/5) a second");
	ASSERT_NEAR(top_model__proc_cpu(&m, proc(&m, 30)), 100.0 * 30 / 99, 0.01,
		    "a steady process keeps its CPU %");
	profile__free(&w);
	top_model__free(&m);
}

TEST(top_render_screen)
{
	struct top_model m;
	struct profile w;
	struct strbuf sb = { 0 };
	struct top_render_opts o = { .width = 40, .height = 20, .sort = TOP_SORT_CPU,
				     .time = "12:00:00" };
	char *line, *save = NULL;
	size_t i;
	int n = 0;

	top_model__init(&m);
	m.nr_cpus = 2;
	window(&w, 90, 30);
	top_model__add(&m, &w);
	top_render(&m, &o, &sb);
	for (i = 0; i < sb.len; i++)
		n += sb.buf[i] == '\n';
	ASSERT_EQ(n, 20, "exactly the screen's height");
	for (line = strtok_r(sb.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		CHECK(top_text_cols(line) <= 40, "cut to the width", "%zu columns: %s",
		      top_text_cols(line), line);
	sb_free(&sb);

	/* sort by pid puts 20 before 30; by CPU too here; by name cruncher first */
	o.width = 0;
	o.height = 0;
	o.all_tables = true;
	o.max_rows = 5;
	o.sort = TOP_SORT_NAME;
	top_render(&m, &o, &sb);
	ASSERT_TRUE(strstr(sb.buf, "cruncher") && strstr(sb.buf, "python3") &&
		    strstr(sb.buf, "cruncher") < strstr(sb.buf, "python3"), "sorted by name");
	ASSERT_TRUE(strstr(sb.buf, "Model.hot (app.py:42)") != NULL, "--once: functions");
	ASSERT_TRUE(strstr(sb.buf, "python3;work (app.py:10);Model.hot (app.py:42)") != NULL,
		    "--once: stacks uncut");
	ASSERT_TRUE(strstr(sb.buf, " 75.0%   75.0%  Model.hot (app.py:42)") != NULL,
		    "self and total % of the samples");
	sb_free(&sb);

	/* a stack too wide keeps its leaf end */
	o.width = 40;
	o.all_tables = false;
	o.height = 30;
	o.pane = TOP_PANE_STACKS;
	top_render(&m, &o, &sb);
	CHECK(strstr(sb.buf, "  75.0%  ...y:10);Model.hot (app.py:42)\n") != NULL, "stack cut on the left",
	      "%s", sb.buf);
	sb_free(&sb);
	profile__free(&w);
	top_model__free(&m);
}

TEST(top_text_hostile_names)
{
	struct top_model m;
	struct profile w;
	struct strbuf sb = { 0 };
	struct top_render_opts o = { .width = 0, .height = 0, .max_rows = 3, .all_tables = true };
	uint32_t f, s;

	profile__init(&w);
	w.frequency_hz = 99;
	w.duration_s = 1;
	f = profile__frame(&w, AP_FRAME_USER, "\033[2Jévil", AP_NONE, 0);
	s = profile__stack(&w, &f, 1);
	profile__add(&w, 5, 5, "\033]0;x\aé", s, 0, 3);
	w.total_samples = 3;
	top_model__init(&m);
	top_model__add(&m, &w);
	top_render(&m, &o, &sb);
	ASSERT_TRUE(!strchr(sb.buf, '\033') && !strchr(sb.buf, '\a'), "no escape reaches the terminal");
	ASSERT_TRUE(strstr(sb.buf, "?[2Jévil") != NULL, "UTF-8 kept, control characters replaced");
	sb_free(&sb);
	profile__free(&w);
	top_model__free(&m);
}

TEST(top_from_saved_run)
{
	struct ap_input in = { 0 };
	struct top_model m;
	struct strbuf sb = { 0 };
	struct top_render_opts o = { .max_rows = 5, .all_tables = true };
	int fd = open("tests/fixtures/analyze/run1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (!ASSERT_TRUE(fd >= 0, "fixture run"))
		return;
	if (!ASSERT_EQ(ap_input__load(&in, fd, "run1"), 0, "load")) {
		close(fd);
		return;
	}
	top_model__init(&m);
	m.nr_cpus = in.nr_cpus;
	top_model__add(&m, &in.prof);
	ASSERT_EQ(m.nr_procs, 1, "the run's process");
	ASSERT_NEAR(m.samples, in.prof.total_samples, 0.001, "every sample");
	top_render(&m, &o, &sb);
	ASSERT_TRUE(strstr(sb.buf, ".py:") != NULL, "Python functions by file and line");
	sb_free(&sb);
	top_model__free(&m);
	ap_input__free(&in);
	close(fd);
}

TEST(top_model_caps)
{
	struct top_model m;
	struct profile w;
	char name[32];
	uint32_t f, s;
	int i;

	profile__init(&w);
	w.frequency_hz = 99;
	w.duration_s = 1;
	for (i = 0; i < TOP_STACKS_MAX + 4; i++) {
		snprintf(name, sizeof(name), "fn%d", i);
		f = profile__frame(&w, AP_FRAME_USER, name, AP_NONE, 0x1000 + i);
		s = profile__stack(&w, &f, 1);
		profile__add(&w, 9, 9, "many", s, 0, 1);
	}
	top_model__init(&m);
	top_model__add(&m, &w);
	ASSERT_EQ(m.nr_stacks, TOP_STACKS_MAX, "stacks capped");
	ASSERT_EQ(m.nr_funcs, TOP_STACKS_MAX + 4, "functions under their own cap");
	ASSERT_EQ(m.rows_dropped, 4, "the rows past the cap are counted");
	ASSERT_NEAR(m.samples, TOP_STACKS_MAX + 4, 0.001, "every sample still counts in the totals");
	profile__free(&w);
	top_model__free(&m);
}
