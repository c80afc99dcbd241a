// SPDX-License-Identifier: MIT
/* Baselines on the synthetic runs of tests/fixtures/baseline (gen.py): a
 * baseline saved from "base" (a, b, c 1000 self samples each at 100 Hz,
 * tiny and old 30; write 1000 calls), every other run gated on it. Also the
 * commands' contract: NAME validation, --force, a symlinked baselines
 * directory refused, and diff --baseline's exit status. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cmds.h"
#include "diff/baseline.h"
#include "unit.h"
#include "util.h"

#define FX "tests/fixtures/baseline/"

static const struct ap_budget *budget(const struct ap_baseline_gate *g, enum ap_budget_kind k,
				      const char *name)
{
	size_t i;

	for (i = 0; i < g->nr; i++)
		if (g->budgets[i].kind == k && (!name || !strcmp(g->budgets[i].name, name)))
			return &g->budgets[i];
	return NULL;
}

/* the verdict of budget (k, name), -1 when there is none */
static int verdict(const struct ap_baseline_gate *g, enum ap_budget_kind k, const char *name)
{
	const struct ap_budget *x = budget(g, k, name);

	return x ? (int)x->verdict : -1;
}

/* the baseline of FX base, saved as text and read back */
static int base_baseline(struct ap_baseline *b)
{
	struct ap_analysis an;
	cJSON *j;
	char *text;
	int err;

	if (unit_analysis_load(&an, FX "base"))
		return -1;
	j = ap_baseline__build(&an, "b0", FX "base");
	text = cJSON_Print(j);
	err = ap_baseline__parse(b, text, strlen(text), "b0.json");
	free(text);
	cJSON_Delete(j);
	ap_analysis__free(&an);
	return err;
}

/* gate run on b with the default tolerance; 0 or -1 */
static int gate(const char *run, const struct ap_baseline *b, struct ap_baseline_gate *g,
		struct ap_analysis *an)
{
	memset(g, 0, sizeof(*g));
	if (unit_analysis_load(an, run))
		return -1;
	return ap_baseline__gate(g, b, an, AP_BASELINE_TOLERANCE_PCT, NULL);
}

static void gate_done(struct ap_baseline_gate *g, struct ap_analysis *an)
{
	ap_baseline_gate__free(g);
	ap_analysis__free(an);
}

TEST(baseline_saved_budgets)
{
	struct ap_baseline b;

	if (!ASSERT_EQ(base_baseline(&b), 0, "build and read back"))
		return;
	ASSERT_STREQ(b.name, "b0", "name");
	ASSERT_STREQ(b.target, "python3 w.py", "command line");
	ASSERT_STREQ(b.runtime, "CPython 3.11", "interpreter");
	ASSERT_EQ(b.samples, 3060, "all samples");
	ASSERT_NEAR(b.hz, 100, 1e-9, "frequency");
	ASSERT_NEAR(b.wall_s, 30.6, 1e-9, "wall");
	ASSERT_EQ(b.nr_fns, 5, "the functions with self samples (main has none)");
	if (b.nr_fns)
		ASSERT_EQ(b.fns[0].samples, 1000, "by self samples");
	ASSERT_TRUE(b.has_syscalls, "syscalls measured");
	ASSERT_EQ(b.nr_scs, 3, "three syscalls");
	if (b.nr_scs == 3) {
		ASSERT_STREQ(b.scs[0].name, "write", "by calls");
		ASSERT_EQ(b.scs[0].calls, 1000, "write calls");
		ASSERT_EQ(b.scs[0].bytes, 100000, "write bytes");
		ASSERT_NEAR(b.scs[1].time_s, 0.01, 1e-9, "read time");
	}
	ap_baseline__free(&b);
}

TEST(baseline_gate_verdicts)
{
	struct ap_baseline b;
	struct ap_baseline_gate g;
	struct ap_analysis an;
	regex_t re;

	if (!ASSERT_EQ(base_baseline(&b), 0, "baseline"))
		return;
	if (ASSERT_EQ(gate(FX "base", &b, &g, &an), 0, "base")) {
		ASSERT_EQ(g.nr_exceeded, 0, "itself: within budget");
		ASSERT_TRUE(g.same_target && g.same_runtime, "same command and interpreter");
	}
	gate_done(&g, &an);
	if (ASSERT_EQ(gate(FX "within", &b, &g, &an), 0, "within")) {
		ASSERT_EQ(g.nr_exceeded, 0, "small moves: within budget");
		ASSERT_EQ(verdict(&g, AP_BUDGET_FUNCTION, "old"), AP_BUDGET_GONE, "old: gone");
		ASSERT_EQ(verdict(&g, AP_BUDGET_SYSCALL_S, "read"), AP_BUDGET_OK,
			  "read +20%: within the default 25%");
		ASSERT_EQ(verdict(&g, AP_BUDGET_CALLS, "write"), AP_BUDGET_OK, "write +0.5%");
	}
	gate_done(&g, &an);
	if (ASSERT_EQ(gate(FX "fn50", &b, &g, &an), 0, "fn50")) {
		ASSERT_EQ(g.nr_exceeded, 1, "one budget exceeded");
		ASSERT_EQ(verdict(&g, AP_BUDGET_FUNCTION, "a"), AP_BUDGET_EXCEEDED, "a +50%");
		ASSERT_EQ(verdict(&g, AP_BUDGET_FUNCTION, "b"), AP_BUDGET_OK, "b unchanged");
		ASSERT_EQ(verdict(&g, AP_BUDGET_WALL, NULL), AP_BUDGET_OK, "wall +8%");
		ASSERT_TRUE(budget(&g, AP_BUDGET_FUNCTION, "a") &&
				    budget(&g, AP_BUDGET_FUNCTION, "a")->p < 1e-3,
			    "a: p small (+50% against the budget's 25%)");
	}
	gate_done(&g, &an);
	if (ASSERT_EQ(gate(FX "wall", &b, &g, &an), 0, "wall")) {
		ASSERT_EQ(g.nr_exceeded, 1, "only wall");
		ASSERT_EQ(verdict(&g, AP_BUDGET_WALL, NULL), AP_BUDGET_EXCEEDED, "wall +47%");
	}
	gate_done(&g, &an);
	if (ASSERT_EQ(gate(FX "syscall", &b, &g, &an), 0, "syscall")) {
		ASSERT_EQ(g.nr_exceeded, 1, "only write's calls");
		ASSERT_EQ(verdict(&g, AP_BUDGET_CALLS, "write"), AP_BUDGET_EXCEEDED, "write x2");
		ASSERT_EQ(verdict(&g, AP_BUDGET_SYSCALL_S, "write"), AP_BUDGET_NOISE,
			  "write's time x2 but 2 ms");
	}
	gate_done(&g, &an);
	if (ASSERT_EQ(gate(FX "noise", &b, &g, &an), 0, "noise")) {
		ASSERT_EQ(g.nr_exceeded, 0, "noise-level changes: within budget");
		ASSERT_EQ(verdict(&g, AP_BUDGET_FUNCTION, "tiny"), AP_BUDGET_NOISE,
			  "tiny 30 -> 40: over the tolerance, within noise");
		ASSERT_EQ(verdict(&g, AP_BUDGET_FUNCTION, "a"), AP_BUDGET_OK, "a +8%: within 25%");
	}
	gate_done(&g, &an);
	/* a wider tolerance lets a +50% function through */
	memset(&g, 0, sizeof(g));
	if (ASSERT_EQ(unit_analysis_load(&an, FX "fn50"), 0, "fn50")) {
		ap_baseline__gate(&g, &b, &an, 60, NULL);
		ASSERT_EQ(g.nr_exceeded, 0, "+50% under a 60% tolerance");
	}
	gate_done(&g, &an);
	/* --focus keeps the function budgets of the functions it matches */
	regcomp(&re, ":(b|c)$", REG_EXTENDED | REG_NOSUB);
	memset(&g, 0, sizeof(g));
	if (ASSERT_EQ(unit_analysis_load(&an, FX "fn50"), 0, "fn50")) {
		ap_baseline__gate(&g, &b, &an, AP_BASELINE_TOLERANCE_PCT, &re);
		ASSERT_EQ(verdict(&g, AP_BUDGET_FUNCTION, "a"), -1, "focus: a left out");
		ASSERT_EQ(verdict(&g, AP_BUDGET_FUNCTION, "b"), AP_BUDGET_OK, "focus: b kept");
		/* (the run's CPU budget, +16%, is gated whatever the focus) */
		ASSERT_EQ(g.nr_exceeded, verdict(&g, AP_BUDGET_CPU, NULL) == AP_BUDGET_EXCEEDED,
			  "focus: no function budget exceeded");
	}
	gate_done(&g, &an);
	regfree(&re);
	ap_baseline__free(&b);
}

TEST(baseline_parse_rejects)
{
	static const char *const bad[] = {
		"{",
		"{\"schema\":\"autoprof.diff/1\"}",
		"{\"schema\":\"autoprof.baseline/2\",\"name\":\"x\"}",
		"{\"schema\":\"autoprof.baseline/1\",\"name\":\"x\",\"target\":\"t\",\"frequency_hz\":0,"
		"\"wall_s\":1,\"samples\":1,\"functions\":[],\"syscalls\":[]}",
		"{\"schema\":\"autoprof.baseline/1\",\"name\":\"x\",\"target\":\"t\",\"frequency_hz\":99,"
		"\"wall_s\":1,\"samples\":1.5,\"functions\":[],\"syscalls\":[]}",
		"{\"schema\":\"autoprof.baseline/1\",\"name\":\"x\",\"target\":\"t\",\"frequency_hz\":99,"
		"\"wall_s\":1,\"samples\":1,\"functions\":[{\"name\":\"f\"}],\"syscalls\":[]}",
	};
	const char *good = "{\"schema\":\"autoprof.baseline/1.3\",\"name\":\"x\",\"target\":\"t\","
			   "\"frequency_hz\":99,\"wall_s\":1,\"samples\":1,\"functions\":[],"
			   "\"syscalls\":[],\"later\":1}";
	struct ap_baseline b;
	size_t i;

	for (i = 0; i < AP_ARRAY_SIZE(bad); i++)
		ASSERT_TRUE(ap_baseline__parse(&b, bad[i], strlen(bad[i]), "bad.json") < 0, bad[i]);
	if (ASSERT_EQ(ap_baseline__parse(&b, good, strlen(good), "good.json"), 0,
		      "a minor version with a new field"))
		ap_baseline__free(&b);
}

TEST(baseline_names)
{
	char long_name[AP_BASELINE_NAME_MAX + 2];

	ASSERT_TRUE(ap_baseline_name_ok("app-main_3.11"), "letters, digits, . _ -");
	ASSERT_TRUE(!ap_baseline_name_ok(""), "empty");
	ASSERT_TRUE(!ap_baseline_name_ok(".hidden"), "leading .");
	ASSERT_TRUE(!ap_baseline_name_ok(".."), "..");
	ASSERT_TRUE(!ap_baseline_name_ok("-x"), "leading -");
	ASSERT_TRUE(!ap_baseline_name_ok("a/b"), "a slash");
	ASSERT_TRUE(!ap_baseline_name_ok("a b"), "a space");
	ASSERT_TRUE(!ap_baseline_name_ok("b0.json"), "a .json name would be a path");
	ASSERT_TRUE(ap_baseline_name_ok("b0.jso"), "not .json");
	ASSERT_TRUE(!ap_baseline_name_ok("caf\xc3\xa9"), "non-ASCII");
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	ASSERT_TRUE(!ap_baseline_name_ok(long_name), "too long");
	long_name[AP_BASELINE_NAME_MAX] = 0;
	ASSERT_TRUE(ap_baseline_name_ok(long_name), "the longest");
}

/* run a command's main with the NULL-terminated arguments */
static int cmd(int (*fn)(int, char **), const char *const *args)
{
	char *argv[16];
	int argc = 0;

	while (args[argc] && argc < 15) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	return fn(argc, argv);
}

#define BASELINE(...) cmd(cmd_baseline, (const char *const[]){ "baseline", __VA_ARGS__, NULL })
#define DIFF(...) cmd(cmd_diff, (const char *const[]){ "diff", __VA_ARGS__, NULL })

/* entries of dir whose name starts with prefix */
static int count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		     !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

TEST(baseline_commands)
{
	char *t = unit_temp_dir("baseline");
	char *dir, *link, *file, *out, *bad;
	struct stat st;

	if (!ASSERT_TRUE(t != NULL, "temp dir"))
		return;
	dir = xasprintf("%s/bl", t), link = xasprintf("%s/link", t);
	file = xasprintf("%s/bl/b0.json", t), out = xasprintf("%s/out", t);
	bad = xasprintf("%s/bad.json", t);
	mkdir(out, 0755);
	ASSERT_EQ(BASELINE("save", "--dir", dir, FX "base", "b0"), 0, "save");
	ASSERT_TRUE(!lstat(file, &st) && S_ISREG(st.st_mode), "DIR/NAME.json written");
	ASSERT_EQ(BASELINE("save", "--dir", dir, FX "fn50", "b0"), 2, "exists: needs --force");
	ASSERT_EQ(BASELINE("save", FX "fn50", "b0", "--dir", dir, "--force"), 0,
		  "--force replaces (options after the operands)");
	ASSERT_EQ(count_entries(dir, "."), 0, "no temp file left");
	ASSERT_EQ(BASELINE("save", "--dir", dir, FX "base", "b0", "--force"), 0, "back to base");
	ASSERT_EQ(BASELINE("save", "--dir", dir, FX "base", ".b"), 2, "bad NAME: leading .");
	ASSERT_EQ(BASELINE("save", "--dir", dir, FX "base", "a/b"), 2, "bad NAME: a slash");
	ASSERT_EQ(BASELINE("save", "--dir", dir, FX "base"), 2, "no NAME");
	ASSERT_EQ(BASELINE("save", "--dir", dir, FX "nonexistent", "b1"), 125, "unreadable run");
	ASSERT_EQ(BASELINE("list", "--dir", dir), 0, "list");
	ASSERT_EQ(BASELINE("show", "--dir", dir, "b0"), 0, "show");
	ASSERT_EQ(BASELINE("show", "--dir", dir, "nope"), 125, "show: no such baseline");
	ASSERT_EQ(BASELINE("frobnicate"), 2, "unknown verb");
	/* the baselines' directory is never a symlink, even root's own */
	ASSERT_EQ(symlink(dir, link), 0, "symlink");
	ASSERT_EQ(BASELINE("save", "--dir", link, FX "base", "b2"), 125, "save: symlinked dir");
	ASSERT_TRUE(lstat(file, &st) == 0 && count_entries(dir, "b2") == 0,
		    "nothing written through the link");
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline-dir", link, "--baseline", "b0", FX "base"), 125,
		  "diff: symlinked dir");
	/* diff --baseline: exit 0 within, 1 exceeded, 2 usage, 125 unreadable */
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline-dir", dir, "--baseline", "b0", FX "within"), 0,
		  "within budget");
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline-dir", dir, "--baseline", "b0", FX "noise"), 0,
		  "noise");
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline-dir", dir, "--baseline", "b0", FX "fn50"), 1,
		  "a +50%");
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline", file, FX "syscall"), 1,
		  "by path: write x2");
	ASSERT_EQ(DIFF("-q", "-o", out, "--max-regression", "100", "--baseline", file, FX "fn50"), 0,
		  "a +50% under --max-regression 100");
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline-dir", dir, "--baseline", "b 0", FX "base"), 2,
		  "bad NAME");
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline", file, FX "base", FX "fn50"), 2,
		  "two runs with --baseline");
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline", file, FX "nonexistent"), 125, "no run");
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline-dir", dir, "--baseline", "nope", FX "base"), 125,
		  "no baseline");
	ASSERT_EQ(write_file_atomic(t, "bad.json", "{\"schema\":", 10), 0, "a broken baseline");
	ASSERT_EQ(DIFF("-q", "-o", out, "--baseline", bad, FX "base"), 125, "unreadable baseline");
	free(dir), free(link), free(file), free(out), free(bad);
	unit_rm_rf(t);
}
