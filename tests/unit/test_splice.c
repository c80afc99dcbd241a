// SPDX-License-Identifier: MIT
/* issue 16 point 2: Python frame groups are paired with the native frame
 * whose stack range holds the entry shim that ends them (3.12+), with no
 * native frame name involved: the eval loop of a stripped PGO build has
 * none. */
#include <stdint.h>
#include <stdlib.h>
#include "collect/collect.h"
#include "unit.h"

/* innermost first: py frames (code 0x1000 + i) and shims (code = address) */
static struct ap_cpu_sample *sample(const uint64_t *shim_at, int n)
{
	struct ap_cpu_sample *s = calloc(1, sizeof(*s));
	int i;

	for (i = 0; i < n; i++) {
		s->py[i].code = shim_at[i] ? shim_at[i] : 0x1000u + (unsigned)i;
		s->py[i].flags = shim_at[i] ? AP_PYF_SHIM : 0;
	}
	s->nr_py = n;
	return s;
}

/* leaf first: frame i holds [sps[i], sps[i + 1]) */
static const uint64_t sps[] = { 0x7f000, 0x7f080, 0x7f200, 0x7f400, 0x7f600, 0x7f700 };

TEST(splice_by_address)
{
	/* two activations, in frames 1 and 3; frames 0, 2, 4 are others */
	uint64_t two[] = { 0, 0, 0x7f100, 0, 0x7f500 };
	/* the outer activation beyond the unwound stack (cut at frame 2) */
	uint64_t cut[] = { 0, 0x7f100, 0, 0x7f500 };
	/* an address in no frame (below the leaf's sp, e.g. the heap) */
	uint64_t heap[] = { 0, 0x5000, 0 };
	/* out of order: the outer group's shim inside an inner frame */
	uint64_t order[] = { 0, 0x7f500, 0, 0x7f100 };
	/* 3.15's base frame (in the thread state) after the last entry shim */
	uint64_t base[] = { 0, 0x7f100, 0, 0x7f500, 0x55000 };
	struct ap_cpu_sample *s;
	int16_t at[AP_MAX_PY_FRAMES];

	s = sample(two, 5);
	ASSERT_EQ(collect_py_pair_by_address(s, 12, sps, 6, false, at), 2, "two groups");
	ASSERT_EQ(at[0], 1, "inner group after frame 1");
	ASSERT_EQ(at[1], 3, "outer group after frame 3");
	ASSERT_EQ(collect_py_pair_by_address(s, 11, sps, 6, false, at), -1, "3.11: no addresses");
	ASSERT_EQ(collect_py_pair_by_address(s, 15, sps, 1, false, at), -1, "a lone frame has no range");
	free(s);

	s = sample(cut, 4);
	ASSERT_EQ(collect_py_pair_by_address(s, 14, sps, 3, false, at), 2, "cut native stack");
	ASSERT_EQ(at[0], 1, "inner group paired");
	ASSERT_EQ(at[1], 1, "the outer one goes with the outermost paired");
	free(s);

	s = sample(heap, 3);
	ASSERT_EQ(collect_py_pair_by_address(s, 13, sps, 6, false, at), -1, "address in no frame");
	free(s);

	s = sample(order, 4);
	ASSERT_EQ(collect_py_pair_by_address(s, 13, sps, 6, false, at), -1, "out of order");
	free(s);

	s = sample(base, 5);
	ASSERT_EQ(collect_py_pair_by_address(s, 15, sps, 6, false, at), 2, "base frame: no group");
	ASSERT_EQ(at[1], 3, "outer group after frame 3");
	free(s);

	/* a Python stack cut at its depth limit: the last group has no shim */
	s = sample(cut, 3);
	s->py_flags = AP_SPY_TRUNC;
	ASSERT_EQ(collect_py_pair_by_address(s, 12, sps, 6, false, at), 2, "cut Python stack");
	ASSERT_EQ(at[1], 1, "the shimless group goes with the outermost paired");
	free(s);

	/* the unwind stopped inside the outer activation (frame 3, whose range
	 * has no known end): paired with it when it may hold a shim (an eval
	 * frame by name, or a cut stack), not with the inner one */
	s = sample(two, 5);
	ASSERT_EQ(collect_py_pair_by_address(s, 13, sps, 4, true, at), 2, "stopped in frame 3");
	ASSERT_EQ(at[0], 1, "inner group after frame 1");
	ASSERT_EQ(at[1], 3, "outer group after the outermost frame, its activation");
	ASSERT_EQ(collect_py_pair_by_address(s, 13, sps, 4, false, at), 2, "frame 3 not eval");
	ASSERT_EQ(at[1], 1, "beyond the stack: with the outermost paired");
	/* the outermost frame holds one activation: a second shim above it is beyond */
	ASSERT_EQ(collect_py_pair_by_address(s, 13, sps, 2, true, at), 2, "stopped in frame 1");
	ASSERT_EQ(at[0], 1, "inner group in the outermost frame");
	ASSERT_EQ(at[1], 1, "the next one beyond, with it");
	free(s);
	s = sample(cut, 2);
	ASSERT_EQ(collect_py_pair_by_address(s, 15, sps, 1, true, at), 1, "a lone eval frame");
	ASSERT_EQ(at[0], 0, "paired with it");
	free(s);
}
