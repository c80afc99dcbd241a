// SPDX-License-Identifier: MIT
/* `analyze STORE`: the times of --from/--to, profile__merge re-interning
 * frames and stacks, and a store range merged and analyzed from fixture
 * windows. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "analyze/range.h"
#include "profile/merge.h"
#include "unit.h"
#include "util.h"

#define NOW 1795944615000000000ull /* 2026-11-29T09:30:15Z */

TEST(range_time_parse)
{
	uint64_t t = 0;

	ASSERT_EQ(ap_time_parse("2026-11-29T09:30:15Z", NOW, &t), 0, "ISO with Z");
	ASSERT_EQ(t, NOW, "value");
	ASSERT_EQ(ap_time_parse("2026-11-29 09:30:15", NOW, &t), 0, "space, no Z");
	ASSERT_EQ(t, NOW, "UTC");
	ASSERT_EQ(ap_time_parse("2026-11-29T09:30", NOW, &t), 0, "no seconds");
	ASSERT_EQ(t, NOW - 15000000000ull, "minute");
	ASSERT_EQ(ap_time_parse("2026-11-29", NOW, &t), 0, "date");
	ASSERT_EQ(t, NOW - (9 * 3600 + 30 * 60 + 15) * 1000000000ull, "midnight");
	ASSERT_EQ(ap_time_parse("-10m", NOW, &t), 0, "relative minutes");
	ASSERT_EQ(t, NOW - 600000000000ull, "10 minutes back");
	ASSERT_EQ(ap_time_parse("-90s", NOW, &t), 0, "seconds");
	ASSERT_EQ(t, NOW - 90000000000ull, "90 s back");
	ASSERT_EQ(ap_time_parse("-2h", NOW, &t), 0, "hours");
	ASSERT_EQ(ap_time_parse("-1d", NOW, &t), 0, "days");
	ASSERT_EQ(t, NOW - 86400000000000ull, "a day back");
	ASSERT_EQ(ap_time_parse("now", NOW, &t), 0, "now");
	ASSERT_EQ(t, NOW, "now's value");
	ASSERT_EQ(ap_time_parse("-10", NOW, &t), -EINVAL, "no unit");
	ASSERT_EQ(ap_time_parse("-10x", NOW, &t), -EINVAL, "bad unit");
	ASSERT_EQ(ap_time_parse("--1m", NOW, &t), -EINVAL, "double sign");
	ASSERT_EQ(ap_time_parse("-m", NOW, &t), -EINVAL, "no number");
	ASSERT_EQ(ap_time_parse("-99999999999d", NOW, &t), -EINVAL, "before the epoch");
	ASSERT_EQ(ap_time_parse("2026-13-01", NOW, &t), -EINVAL, "month 13");
	ASSERT_EQ(ap_time_parse("2026-11-29T09:30:15+01:00", NOW, &t), -EINVAL, "offsets: UTC only");
	ASSERT_EQ(ap_time_parse("yesterday", NOW, &t), -EINVAL, "words");
	ASSERT_EQ(ap_time_parse("", NOW, &t), -EINVAL, "empty");
}

/* a profile with one stack main > f of pid 7; order: intern junk first so
 * ids differ between the two profiles */
static void build(struct profile *p, bool junk_first, uint64_t count)
{
	uint32_t m, fr[2], st;

	profile__init(p);
	if (junk_first) {
		m = profile__module(p, "/lib/other.so", "ff");
		fr[0] = profile__frame(p, AP_FRAME_USER, "junk", m, 0x10);
		profile__stack(p, fr, 1);
	}
	m = profile__module(p, "/bin/app", "abcd");
	fr[0] = profile__frame(p, AP_FRAME_USER, "main", m, 0x100);
	fr[1] = profile__py_frame(p, "f", profile__module(p, "app.py", ""), 12);
	st = profile__stack(p, fr, 2);
	profile__add(p, 7, 8, "app", st, 0, count);
	profile__process(p, 7)->service = profile__str(p, junk_first ? "svc-b" : "svc-a");
	profile__set_counter(p, "ringbuf_full", 1);
	p->frequency_hz = 19;
	p->duration_s = 15;
}

TEST(range_profile_merge)
{
	struct profile a, b, dst;
	const struct ap_process *pr;
	char buf[512];
	uint32_t i, n = 0;

	build(&a, false, 3);
	build(&b, true, 5);
	profile__init(&dst);
	profile__merge(&dst, &a);
	profile__merge(&dst, &b);
	ASSERT_EQ(dst.total_samples, 8, "samples summed");
	ASSERT_EQ(dst.nr_counts, 1, "one (pid, tid, stack) row: stacks re-interned");
	if (dst.nr_counts == 1) {
		const struct ap_stack *s = &dst.stacks[dst.counts[0].stack];

		ASSERT_EQ(dst.counts[0].count, 8, "its count");
		ASSERT_EQ(s->len, 2, "stack length");
		ASSERT_TRUE(s->python, "python stack");
		ASSERT_STREQ(profile__frame_label(&dst, dst.stack_frames[s->off], false, buf,
						  sizeof(buf)),
			     "main", "root frame");
		ASSERT_STREQ(profile__s(&dst, dst.modules[dst.frames[dst.stack_frames[s->off]].module]
						      .build_id),
			     "abcd", "module build id");
	}
	for (i = 0; i < dst.nr_frames; i++)
		n += !strcmp(profile__s(&dst, dst.frames[i].name), "main");
	ASSERT_EQ(n, 1, "one main frame");
	pr = profile__find_process(&dst, 7);
	ASSERT_TRUE(pr && pr->samples == 8, "process samples");
	ASSERT_STREQ(pr ? profile__s(&dst, pr->service) : NULL, "svc-b", "the later window's label");
	ASSERT_EQ(profile__counter(&dst, "ringbuf_full"), 2, "counters summed");
	ASSERT_NEAR(dst.duration_s, 30, 1e-9, "durations summed");
	ASSERT_EQ(dst.frequency_hz, 19, "frequency");
	profile__free(&a);
	profile__free(&b);
	profile__free(&dst);
}

TEST(range_store_analysis)
{
	char tmpl[] = "/tmp/ap-range-XXXXXX", *cmd;
	struct ap_analysis *an = xcalloc(1, sizeof(*an));
	struct ap_range r = { .from = 0, .to = UINT64_MAX };
	int fd;

	ASSERT_TRUE(mkdtemp(tmpl) != NULL, "temp dir");
	/* two windows from the fixture run and one outside the range */
	cmd = xasprintf("cp -r tests/fixtures/analyze/run1 %s/20261129T093000Z-000000 && "
			"cp -r tests/fixtures/analyze/run1 %s/20261129T093015Z-000000 && "
			"cp -r tests/fixtures/analyze/run1 %s/20261129T100000Z-000000 && "
			"mkdir %s/.tmp-20261129T093030Z-000000",
			tmpl, tmpl, tmpl, tmpl);
	ASSERT_EQ(system(cmd), 0, "fixture windows");
	free(cmd);
	fd = open(tmpl, O_RDONLY | O_DIRECTORY);
	r.from = NOW - 15000000000ull; /* 09:30:00 */
	r.to = NOW;                    /* 09:30:15 */
	ASSERT_EQ(ap_range__load(fd, tmpl, &r, &an->in), 0, "loaded");
	ASSERT_EQ(r.nr_windows, 2, "the two windows in range");
	ASSERT_STREQ(r.first, "20261129T093000Z-000000", "first");
	ASSERT_STREQ(r.last, "20261129T093015Z-000000", "last");
	ASSERT_TRUE(an->in.prof.total_samples > 0 && an->in.prof.total_samples % 2 == 0,
		    "twice the fixture's samples");
	ASSERT_EQ(ap_analysis__run(an, NULL), 0, "analyzed");
	ASSERT_TRUE(an->nr_findings > 0, "findings");
	ap_analysis__free(an);
	memset(an, 0, sizeof(*an));
	r.from = r.to = NOW + 3600000000000ull;
	ASSERT_EQ(ap_range__load(fd, tmpl, &r, &an->in), -ENOENT, "no window in range");
	ap_input__free(&an->in);
	free(an);
	close(fd);
	cmd = xasprintf("rm -rf %s", tmpl);
	ASSERT_EQ(system(cmd), 0, "cleanup");
	free(cmd);
}
