// SPDX-License-Identifier: MIT
/* `diff`'s exact deltas on the synthetic runs of tests/fixtures/diff-core
 * (gen.py): wall time by reason per process and function, syscalls,
 * findings that appeared or went away, diff.json's parts and diff.md.
 * same: another pid, everything moved under the floors; slower: reader's
 * I/O 1 -> 6 s, waiter's lock 0.5 -> 0.2 s, read doubled, openat failing,
 * fsync new. */
#include <math.h>
#include <stdlib.h>
#include "diff/diff.h"
#include "unit.h"

#define FX "tests/fixtures/diff-core/"

/* runs a and b loaded, evaluated with the built-in patterns and diffed */
static int core_diff(const char *a, const char *b, struct ap_diff *d, struct ap_analysis *x,
		     struct ap_analysis *y)
{
	memset(d, 0, sizeof(*d));
	if (unit_analysis_load(x, a) || unit_analysis_load(y, b))
		return -1;
	if (ap_patterns__load_builtin(x) || ap_patterns__load_builtin(y))
		return -1;
	ap_analysis__evaluate(x);
	ap_analysis__evaluate(y);
	return ap_diff__compute(d, x, y, &(struct ap_diff_opts){ 0 });
}

static void done(struct ap_diff *d, struct ap_analysis *x, struct ap_analysis *y)
{
	ap_diff__free(d);
	ap_analysis__free(x);
	ap_analysis__free(y);
}

static const struct ap_diff_exact *row(const struct ap_diff_exact *v, size_t n, const char *kind,
				       const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].kind, kind) && !strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static const struct ap_diff_finding *found(const struct ap_diff *d, const char *pattern, int change)
{
	size_t i;

	for (i = 0; i < d->nr_found; i++)
		if (!strcmp(d->found[i].pattern, pattern) && d->found[i].change == change)
			return &d->found[i];
	return NULL;
}

TEST(diff_core_floor)
{
	ASSERT_TRUE(!ap_diff_beyond(1.0, 1.008, AP_DIFF_FLOOR_S), "8 ms: under 10 ms");
	ASSERT_TRUE(!ap_diff_beyond(1.0, 1.04, AP_DIFF_FLOOR_S), "40 ms: under 5%");
	ASSERT_TRUE(ap_diff_beyond(1.0, 1.06, AP_DIFF_FLOOR_S), "60 ms, 6%");
	ASSERT_TRUE(ap_diff_beyond(0, 0.02, AP_DIFF_FLOOR_S), "from nothing");
	ASSERT_TRUE(ap_diff_beyond(1.0, 0.9, AP_DIFF_FLOOR_S), "shrank 10%");
	ASSERT_TRUE(!ap_diff_beyond(50, 58, AP_DIFF_FLOOR_CALLS), "8 calls: under 10");
}

TEST(diff_core_identical_runs_quiet)
{
	struct ap_analysis x, y;
	struct ap_diff d;
	size_t i;

	if (!ASSERT_EQ(core_diff(FX "base", FX "same", &d, &x, &y), 0, "load"))
		return;
	ASSERT_TRUE(d.has_wall && d.has_sys && d.has_findings, "all compared");
	ASSERT_TRUE(row(d.wall, d.nr_wall, "process", "python3") != NULL, "matched across pids");
	ASSERT_EQ(d.nr_wall, 5, "the process; napper, reader, waiter, a (runqueue)");
	for (i = 0; i < d.nr_wall; i++)
		ASSERT_EQ(d.wall[i].changed, 0, d.wall[i].name);
	ASSERT_EQ(d.nr_sys, 3, "read, openat, futex");
	for (i = 0; i < d.nr_sys; i++)
		ASSERT_EQ(d.sys[i].changed, 0, d.sys[i].name);
	ASSERT_EQ(d.nr_found, 0, "no finding appeared or went away");
	ASSERT_TRUE(x.nr_findings > 0, "there were findings to match");
	done(&d, &x, &y);
}

TEST(diff_core_wall_by_reason)
{
	struct ap_analysis x, y;
	struct ap_diff d;
	const struct ap_diff_exact *p, *r, *w, *n;

	if (!ASSERT_EQ(core_diff(FX "base", FX "slower", &d, &x, &y), 0, "load"))
		return;
	p = row(d.wall, d.nr_wall, "process", "python3");
	r = row(d.wall, d.nr_wall, "python", "reader");
	w = row(d.wall, d.nr_wall, "python", "waiter");
	n = row(d.wall, d.nr_wall, "python", "napper");
	if (ASSERT_TRUE(p && r && w && n, "rows")) {
		ASSERT_EQ(p->changed, (1u << AP_DIFF_WALL_IO) | (1u << AP_DIFF_WALL_LOCK),
			  "process: io and lock");
		ASSERT_NEAR(p->v[1][AP_DIFF_WALL_IO] - p->v[0][AP_DIFF_WALL_IO], 5.0, 1e-6,
			    "process: +5 s of I/O");
		ASSERT_NEAR(p->v[0][AP_DIFF_WALL_ONCPU], 3.0, 1e-6, "process: on CPU (exact)");
		ASSERT_EQ(r->changed, 1u << AP_DIFF_WALL_IO, "reader: io");
		ASSERT_NEAR(r->v[1][AP_DIFF_WALL_IO], 6.0, 1e-6, "reader: 6 s");
		ASSERT_STREQ(r->file, "w.py", "reader's file, as other checkouts share it");
		ASSERT_EQ(w->changed, 1u << AP_DIFF_WALL_LOCK, "waiter: lock");
		ASSERT_TRUE(w->v[1][AP_DIFF_WALL_LOCK] < w->v[0][AP_DIFF_WALL_LOCK], "waiter shrank");
		ASSERT_EQ(n->changed, 0, "napper: unchanged");
	}
	ASSERT_STREQ(d.wall[0].name, "python3", "largest change first (the process, +5 s)");
	done(&d, &x, &y);
}

TEST(diff_core_syscalls_and_findings)
{
	struct ap_analysis x, y;
	struct ap_diff d;
	const struct ap_diff_exact *rd, *op, *fs, *fx;
	const struct ap_diff_finding *f;

	if (!ASSERT_EQ(core_diff(FX "base", FX "slower", &d, &x, &y), 0, "load"))
		return;
	rd = row(d.sys, d.nr_sys, "syscall", "read");
	op = row(d.sys, d.nr_sys, "syscall", "openat");
	fs = row(d.sys, d.nr_sys, "syscall", "fsync");
	fx = row(d.sys, d.nr_sys, "syscall", "futex");
	if (ASSERT_TRUE(rd && op && fs && fx, "rows")) {
		ASSERT_EQ(rd->changed, (1u << AP_DIFF_SYS_CALLS) | (1u << AP_DIFF_SYS_TIME) |
					       (1u << AP_DIFF_SYS_BYTES),
			  "read: calls, time, bytes");
		ASSERT_STREQ(rd->file, "python3", "by process name");
		ASSERT_TRUE(op->changed & (1u << AP_DIFF_SYS_ERRORS), "openat: errors");
		ASSERT_NEAR(op->v[1][AP_DIFF_SYS_ERRORS], 40, 1e-9, "openat: 40 errors");
		ASSERT_TRUE(fs->v[0][AP_DIFF_SYS_CALLS] == 0 && fs->changed, "fsync: new");
		ASSERT_EQ(fx->changed, 0, "futex: unchanged");
	}
	f = found(&d, "io_bound", +1);
	if (ASSERT_TRUE(f != NULL, "io_bound appeared"))
		ASSERT_STREQ(f->subject, "process python3", "subject without pid");
	ASSERT_TRUE(!found(&d, "io_bound", -1), "not gone");
	done(&d, &x, &y);
	/* the other way round, it went away */
	if (!ASSERT_EQ(core_diff(FX "slower", FX "base", &d, &x, &y), 0, "load"))
		return;
	ASSERT_TRUE(found(&d, "io_bound", -1) != NULL, "reverse: io_bound gone");
	ASSERT_TRUE(!found(&d, "io_bound", +1), "reverse: not appeared");
	done(&d, &x, &y);
}

TEST(diff_core_json_and_markdown)
{
	struct ap_analysis x, y;
	struct ap_diff d;
	cJSON *j, *w, *r;
	char *md = NULL;
	size_t len = 0;
	FILE *f;

	if (!ASSERT_EQ(core_diff(FX "base", FX "slower", &d, &x, &y), 0, "load"))
		return;
	j = ap_diff__json(&d);
	w = cJSON_GetObjectItem(j, "wall");
	r = cJSON_GetArrayItem(cJSON_GetObjectItem(w, "processes"), 0);
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(w, "basis")), "exact", "wall: exact");
	ASSERT_TRUE(cJSON_GetArraySize(cJSON_GetObjectItem(r, "io_s")) == 2, "io_s: a pair");
	ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "changed"), 0)),
		     "io_s", "io_s changed");
	r = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "syscalls"), "rows");
	ASSERT_EQ(cJSON_GetArraySize(r), 4, "syscalls: 4 rows");
	r = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "findings"), "appeared");
	ASSERT_TRUE(cJSON_GetArraySize(r) >= 1, "findings: appeared");
	cJSON_Delete(j);
	f = open_memstream(&md, &len);
	ap_diff__markdown(&d, 50, f);
	fclose(f);
	ASSERT_TRUE(strstr(md, "**No significant regression**") != NULL, "verdict");
	ASSERT_TRUE(strstr(md, "## Wall time by reason") && strstr(md, "## Syscalls") &&
			    strstr(md, "## Findings that appeared or went away") &&
			    strstr(md, "## Regressions") && strstr(md, "## Improvements") &&
			    strstr(md, "## Share shifts"),
		    "sections");
	ASSERT_TRUE(strstr(md, "| reader (w.py) | io\\_s 1.000 s -> 6.000 s (+5.000 s, +500%); |") != NULL,
		    "reader's row");
	ASSERT_TRUE(strstr(md, "| io\\_bound | process python3 |") != NULL, "io_bound appeared");
	free(md);
	done(&d, &x, &y);
}
