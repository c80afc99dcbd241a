// SPDX-License-Identifier: MIT
/* issue 15 (gcstate): frame rules match compiler-suffixed symbols, and the
 * per-version CPython offsets carry the GC and finalizing fields. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "analyze/analyze.h"
#include "analyze/pattern.h"
#include "python/offsets.h"
#include "unit.h"

TEST(symbol_suffixes)
{
	ASSERT_EQ(ap_symbol_base_len("gc_collect_main.lto_priv.0"), 15, "lto_priv");
	ASSERT_EQ(ap_symbol_base_len("gc_collect_main.cold"), 15, "cold");
	ASSERT_EQ(ap_symbol_base_len("visit_decref.isra.0"), 12, "isra");
	ASSERT_EQ(ap_symbol_base_len("collect.part.0"), 7, "part");
	ASSERT_EQ(ap_symbol_base_len("collect.constprop.0"), 7, "constprop");
	ASSERT_EQ(ap_symbol_base_len("collect.constprop.0.isra.0.cold"), 7, "combination");
	ASSERT_EQ(ap_symbol_base_len("deduce_unreachable.lto_priv.0.cold"), 18, "lto + cold");
	ASSERT_EQ(ap_symbol_base_len("foo.llvm.12345678901234"), 3, "clang llvm hash");
	ASSERT_EQ(ap_symbol_base_len("gc_collect_main"), 15, "no suffix");
	ASSERT_EQ(ap_symbol_base_len("python3.11+0x1234"), 17, "an address is not a suffix");
	ASSERT_EQ(ap_symbol_base_len("libfoo.so.1"), 11, "numbers alone are not a suffix");
	ASSERT_EQ(ap_symbol_base_len(".cold"), 5, "nothing before the suffix");
	ASSERT_EQ(ap_symbol_base_len("a.coldish"), 9, "word must end at a dot");

	ASSERT_TRUE(ap_symbol_match("gc_collect_main", "gc_collect_main.lto_priv.0"), "lto");
	ASSERT_TRUE(ap_symbol_match("gc_collect_main", "gc_collect_main.cold"), "cold");
	ASSERT_TRUE(ap_symbol_match("collect", "collect.constprop.0.isra.0"), "combo");
	ASSERT_TRUE(ap_symbol_match("gc_collect_main", "gc_collect_main"), "plain");
	ASSERT_TRUE(ap_symbol_match("gc_collect_main.cold", "gc_collect_main.cold"),
		    "a rule naming the suffix");
	ASSERT_TRUE(!ap_symbol_match("gc_collect_main.cold", "gc_collect_main"),
		    "... matches only that part");
	ASSERT_TRUE(ap_symbol_match("gc_collect_*", "gc_collect_main.lto_priv.0"), "glob");
	ASSERT_TRUE(!ap_symbol_match("collect", "collect_generations.lto_priv.0"), "other function");
	ASSERT_TRUE(!ap_symbol_match("gc_collect", "gc_collect_main.lto_priv.0"), "prefix only");
}

TEST(rule_suffixes_native_only)
{
	struct profile p;
	struct ap_frame_rule r = { .kind = -1, .function = (char *)"cold" };
	uint32_t py, nat;

	profile__init(&p);
	py = profile__py_frame(&p, "Cache.cold", profile__module(&p, "/app/x.py", NULL), 3);
	nat = profile__frame(&p, AP_FRAME_USER, "gc_collect_main.lto_priv.0",
			     profile__module(&p, "/usr/bin/python3.11", NULL), 0x4a0000);
	ASSERT_TRUE(!ap_rule_match(&p, &r, py), "a Python qualname keeps its dots");
	r.function = (char *)"gc_collect_main";
	ASSERT_TRUE(ap_rule_match(&p, &r, nat), "native frame without its suffix");
	r.module = (char *)"*python*";
	r.kind = AP_FRAME_USER;
	ASSERT_TRUE(ap_rule_match(&p, &r, nat), "with module and kind");
	profile__free(&p);
}

TEST(py_offsets_gc_state)
{
	struct ap_py_offsets o;
	int minor;

	for (minor = 8; minor <= 15; minor++) {
		ASSERT_EQ(pyoffsets__for_version(minor, &o), 0, "known version");
		CHECK(o.gc_collecting != AP_PY_OFF_NONE && o.gc_collecting % 4 == 0, "gc_collecting",
		      "3.%d: %u", minor, o.gc_collecting);
		CHECK(o.runtime_finalizing != AP_PY_OFF_NONE && o.runtime_finalizing % 8 == 0,
		      "runtime_finalizing", "3.%d: %u", minor, o.runtime_finalizing);
		/* _finalizing sits before the interpreters list in _PyRuntimeState */
		CHECK(minor >= 13 || o.runtime_finalizing < 32, "finalizing before interpreters",
		      "3.%d: %u", minor, o.runtime_finalizing);
	}
	ASSERT_EQ(pyoffsets__for_version(16, &o), -ENOTSUP, "no 3.16 table");
}

TEST(py_offsets_gc_state_debug)
{
	uint8_t dbg[584] = { 0 };
	struct ap_py_offsets o;
	uint64_t v;

#define PUT(pos, val) (v = (val), memcpy(dbg + (pos), &v, 8))
	memcpy(dbg, "xdebugpy", 8);
	PUT(8, 0x030d00f0);
	ASSERT_EQ(pyoffsets__for_version(13, &o), 0, "3.13 table");
	/* the fields the walker takes, at their 3.13 positions, values as 3.13.0 */
	PUT(184, 72), PUT(176, 16), PUT(192, 152), PUT(232, 8), PUT(240, 0), PUT(248, 56);
	PUT(264, 70), PUT(280, 112), PUT(288, 120), PUT(296, 128), PUT(304, 136), PUT(312, 68);
	PUT(344, 200), PUT(560, 40);
	PUT(32, 608), PUT(80, 7400), PUT(576, 200);
	o.gc_collecting = o.runtime_finalizing = 0;
	ASSERT_EQ(pyoffsets__from_debug(dbg, sizeof(dbg), 13, &o), 0, "debug offsets");
	ASSERT_EQ(o.gc_collecting, 7600, "interpreter_state.gc + gc.collecting");
	ASSERT_EQ(o.runtime_finalizing, 608, "runtime_state.finalizing");
#undef PUT
}

/* a run from before the GC flag (the analyze fixture: CPython frames, no
 * py_state rows, no collector frames): gc_pct has no value and gc_pressure
 * is listed as not evaluated, with its reason */
TEST(gc_not_evaluated_without_state)
{
	const char *run = "tests/fixtures/analyze/run1";
	int fd = open(run, O_RDONLY | O_DIRECTORY | O_CLOEXEC), id = ap_metric_find("process.gc_pct");
	struct ap_analysis an;
	const struct ap_subject *s = NULL;
	bool listed = false;
	size_t i;

	memset(&an, 0, sizeof(an));
	if (!CHECK(fd >= 0 && !ap_input__load(&an.in, fd, run), "load", "cannot load %s", run)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	ap_metrics__compute(&an);
	for (i = 0; i < an.nr_subj[AP_SCOPE_PROCESS]; i++)
		if (an.subj[AP_SCOPE_PROCESS][i].pid == 100)
			s = &an.subj[AP_SCOPE_PROCESS][i];
	if (CHECK(s && id >= 0, "process 100", "missing")) {
		ASSERT_EQ(s->v[ap_metric_slot(ap_metric_find("process.cpython"))].v, 1, "a CPython");
		ASSERT_TRUE(isnan(s->v[ap_metric_slot(id)].v), "no GC share without state or frames");
	}
	ASSERT_EQ(ap_patterns__load_builtin(&an), 0, "patterns");
	ap_analysis__evaluate(&an);
	for (i = 0; i < an.nr_skipped; i++)
		if (!strcmp(an.skipped[i].pattern, "gc_pressure"))
			listed = CHECK(strstr(an.skipped[i].reason, "GC"), "reason", "%s",
				       an.skipped[i].reason);
	ASSERT_TRUE(listed, "gc_pressure not evaluated");
	for (i = 0; i < an.nr_findings; i++)
		CHECK(strcmp(an.findings[i].pat->id, "gc_pressure"), "no finding", "%s", an.findings[i].id);
	ap_analysis__free(&an);
}
