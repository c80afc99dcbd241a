// SPDX-License-Identifier: MIT
/* The readers of the files a user hands to `diff` (tests/fuzz/
 * fuzz_diff_inputs.c fuzzes them) and what they feed: what repeat.json's
 * reader accepts, the numbers it must not convert to int unchecked (NaN,
 * 1e300: undefined behaviour, and garbage in the set), and a baseline's
 * syscalls that the new run lacks (the fuzzer's first find: their verdicts
 * were written through pointers that growing the budgets had freed). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "diff/baseline.h"
#include "diff/repeat.h"
#include "util.h"
#include "unit.h"

static int parse(struct ap_repeat_set *s, const char *text)
{
	memset(s, 0, sizeof(*s));
	return ap_repeat__parse(s, text, strlen(text), "test");
}

TEST(repeat_parse_runs)
{
	static const char *const text =
		"{\"schema\":\"autoprof.repeat/1\",\"requested\":3,\"interrupted\":true,"
		"\"runs\":[{\"dir\":\"run-1\",\"included\":true,\"exit_status\":0},"
		"{\"dir\":\"run-2\",\"included\":false,"
		"\"excluded\":\"cut short by INT\",\"exit_status\":130}]}";
	struct ap_repeat_set s;

	if (!ASSERT_EQ(parse(&s, text), 0, "a set cut short") ||
	    !ASSERT_EQ(s.nr_runs, 2, "runs")) {
		ap_repeat__free(&s);
		return;
	}
	ASSERT_EQ(s.requested, 3, "requested");
	ASSERT_TRUE(s.interrupted, "interrupted");
	ASSERT_STREQ(s.runs[1].name, "run-2", "second run");
	ASSERT_EQ(s.runs[0].included, 1, "run-1 included");
	ASSERT_STREQ(s.runs[1].excluded, "cut short by INT", "why run-2 is left out");
	ASSERT_EQ(s.runs[1].exit_status, 130, "run-2's exit status");
	ap_repeat__free(&s);
}

TEST(repeat_parse_numbers)
{
	static const char *const bad_requested[] = {
		"{\"schema\":\"autoprof.repeat/1\",\"runs\":[]}",
		"{\"schema\":\"autoprof.repeat/1\",\"requested\":1e300,\"runs\":[]}",
		"{\"schema\":\"autoprof.repeat/1\",\"requested\":-2147483649,\"runs\":[]}",
		"{\"schema\":\"autoprof.repeat/1\",\"requested\":2.5,\"runs\":[]}",
		"{\"schema\":\"autoprof.repeat/1\",\"requested\":\"3\",\"runs\":[]}",
		"{\"schema\":\"autoprof.repeat/1\",\"requested\":101,\"runs\":[]}",
	};
	static const char *const statuses[] = { "1e300", "-1e300", "-3",      "256",
						"1.5",   "null",   "\"0\"" };
	struct ap_repeat_set s;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(bad_requested) / sizeof(bad_requested[0]); i++) {
		ASSERT_EQ(parse(&s, bad_requested[i]), -EINVAL, bad_requested[i]);
		ap_repeat__free(&s);
	}
	/* an exit status that is no shell's is unknown (-1), not converted */
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"schema\":\"autoprof.repeat/1\",\"requested\":2,\"runs\":[{\"dir\":"
			 "\"run-1\",\"included\":true,\"exit_status\":%s}]}", statuses[i]);
		if (ASSERT_EQ(parse(&s, text), 0, statuses[i]))
			ASSERT_EQ(s.runs[0].exit_status, -1, statuses[i]);
		ap_repeat__free(&s);
	}
}

/* a baseline of nsc syscalls, each with bytes (three budgets each) */
static char *baseline_text(int nsc)
{
	struct strbuf sb = { 0 };
	int i;

	sb_printf(&sb, "{\"schema\":\"autoprof.baseline/1\",\"name\":\"b\",\"target\":\"t\","
		       "\"frequency_hz\":99,\"wall_s\":1,\"samples\":99,\"functions\":[],"
		       "\"has_syscalls\":true,\"syscalls\":[");
	for (i = 0; i < nsc; i++)
		sb_printf(&sb, "%s{\"name\":\"sc%d\",\"calls\":%d,\"time_s\":0.5,\"bytes\":4096}",
			  i ? "," : "", i, 100 + i);
	sb_printf(&sb, "]}");
	return sb.buf;
}

TEST(baseline_gate_gone_syscalls)
{
	struct ap_baseline_gate g;
	struct ap_analysis an;
	struct ap_baseline b;
	char *text = baseline_text(40);
	size_t i, n = 0;
	int pass;

	if (!ASSERT_EQ(ap_baseline__parse(&b, text, strlen(text), "test"), 0, "baseline"))
		goto out;
	ASSERT_EQ(b.nr_scs, 40, "syscalls read");
	for (pass = 0; pass < 2; pass++) {
		/* an empty new run: its syscalls measured (gone) or not (untested) */
		memset(&an, 0, sizeof(an));
		profile__init(&an.in.prof);
		an.in.prof.has_syscalls = !pass;
		ap_baseline__gate(&g, &b, &an, AP_BASELINE_TOLERANCE_PCT, NULL);
		for (i = n = 0; i < g.nr; i++)
			if (g.budgets[i].kind >= AP_BUDGET_CALLS)
				n += g.budgets[i].verdict ==
				     (pass ? AP_BUDGET_UNTESTED : AP_BUDGET_GONE);
		ASSERT_EQ(n, 3 * 40, pass ? "every syscall budget untested" :
					    "every syscall budget gone");
		ASSERT_EQ(g.nr_exceeded, 0, "none exceeded");
		ap_baseline_gate__free(&g);
		profile__free(&an.in.prof);
	}
	ap_baseline__free(&b);
out:
	free(text);
}
