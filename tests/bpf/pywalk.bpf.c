// SPDX-License-Identifier: MIT
/* Test-only program: runs the production CPython walker (bpf/python.bpf.h)
 * on fake interpreter structures that tests/bpf/test_pywalk.c builds in its
 * own memory, through BPF_PROG_TEST_RUN. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#include "python.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ap_cpu_sample);
} test_sample SEC(".maps");

/* inputs, set by the test */
struct ap_py_proc test_proc;
__u64 test_tstate;
__u32 test_tgid;
/* outputs */
__u32 out_nr, out_flags, out_gil;
struct ap_py_frame out_py[16];

SEC("raw_tp")
int test_py_walk(void *ctx)
{
	struct py_send_ctx sctx;
	struct ap_cpu_sample *s;
	struct py_scratch *sc;
	__u32 zero = 0;
	int i;

	s = bpf_map_lookup_elem(&test_sample, &zero);
	sc = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!s || !sc)
		return 1;
	s->tgid = test_tgid;
	s->nr_py = 0;
	s->py_flags = 0;
	py_walk(s, sc, &test_proc, test_tstate, (void *)0);
	out_gil = py_holds_gil(&test_proc, test_tstate, (void *)0);
	out_nr = s->nr_py;
	out_flags = s->py_flags;
	for (i = 0; i < 16; i++)
		out_py[i] = s->py[i];
	sctx.s = s;
	sctx.sc = sc;
	sctx.pp = &test_proc;
	sc->sent = 0;
	bpf_loop(AP_MAX_PY_FRAMES, py_send_step, &sctx, 0);
	return 0;
}
