// SPDX-License-Identifier: MIT
/* memory.folded (issue 18): the bytes of one memory kind by stack, merged
 * across threads, other kinds left out, a mapping call without a stack
 * under the process name alone. */
#include <string.h>
#include "profile/profile.h"
#include "report/report.h"
#include "unit.h"
#include "util.h"

TEST(memory_folded_by_kind)
{
	struct profile p;
	struct strbuf sb = { 0 };
	uint32_t exe, f_main, f_grow, f_memset, s_grow, s_main, s_none;

	profile__init(&p);
	exe = profile__module(&p, "/usr/bin/app", "");
	f_main = profile__frame(&p, AP_FRAME_USER, "main", exe, 0x1000);
	f_grow = profile__frame(&p, AP_FRAME_USER, "grow", exe, 0x1100);
	f_memset = profile__frame(&p, AP_FRAME_USER, "memset", exe, 0x1200);
	s_grow = profile__stack(&p, (uint32_t[]){ f_main, f_grow, f_memset }, 3);
	s_main = profile__stack(&p, (uint32_t[]){ f_main }, 1);
	s_none = profile__stack(&p, NULL, 0);
	profile__process(&p, 7)->comm = profile__str(&p, "app");
	profile__add_mem(&p, 7, 7, s_grow, AP_MEM_FAULT, 3 << 20, 3);
	profile__add_mem(&p, 7, 8, s_grow, AP_MEM_FAULT, 1 << 20, 1);
	profile__add_mem(&p, 7, 7, s_main, AP_MEM_FAULT, 1 << 20, 1);
	profile__add_mem(&p, 7, 0, s_none, AP_MEM_MAP, 64 << 20, 2);
	profile__add_mem(&p, 7, 7, s_grow, AP_MEM_UNMAP, 8 << 20, 1);
	ASSERT_EQ(p.nr_mem, 5, "rows by (pid, tid, stack, kind)");

	folded_render_mem(&p, AP_VIEW_MIXED, AP_MEM_FAULT, &sb);
	ASSERT_STREQ(sb.buf,
		     "app;main 1048576\n"
		     "app;main;grow;memset 4194304\n",
		     "fault bytes by stack, threads merged, mappings left out");
	sb.len = 0;
	folded_render_mem(&p, AP_VIEW_MIXED, AP_MEM_MAP, &sb);
	ASSERT_STREQ(sb.buf, "app 67108864\n", "an uncaptured call: the process alone");
	sb_free(&sb);
	profile__free(&p);
}
