/* SPDX-License-Identifier: MIT */
/* Uprobe on _PyEval_EvalFrameDefault (opt-in, --py-calls): counts entries
 * into the eval loop per code object and remembers each thread's
 * PyThreadState (the sampler's fallback when the TSS lookup fails). On 3.11+
 * the function is entered only for C->Python calls ("callbacks"); on <=3.10
 * for every Python call. Signatures (ref sheet §3.6): 3.9+ rdi = tstate;
 * rsi = the frame (3.11+: _PyInterpreterFrame; 3.9/3.10: PyFrameObject);
 * 3.8 rdi = frame. */
#ifndef AP_PYCALLS_BPF_H
#define AP_PYCALLS_BPF_H

#include "python.bpf.h"

struct py_call_key {
	__u64 code;
	__u32 tgid;
	__u32 sig;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct py_call_key);
	__type(value, __u64);
} py_calls SEC(".maps");

/* tgid -> its configuration before the mapping (struct ap_py_pending) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct ap_py_pending);
} py_pending SEC(".maps");

/* the first entry of a launched interpreter before userspace configured
 * it: the uprobe sits at _PyEval_EvalFrameDefault, so its own address less
 * the link-time one is the load bias (the kernel sets the instruction
 * pointer to the probed address before running uprobe handlers) */
static __always_inline struct ap_py_proc *py_configure_pending(struct pt_regs *regs, __u32 tgid)
{
	struct ap_py_pending *t = bpf_map_lookup_elem(&py_pending, &tgid);
	struct ap_py_proc pp;
	__u64 bias;

	if (!t)
		return NULL;
	bias = PT_REGS_IP(regs) - t->eval_vaddr;
	if (bias & 0xfff) /* a load bias is page-aligned: not the probe we set */
		return NULL;
	__builtin_memcpy(&pp, &t->pp, sizeof(pp));
	pp.runtime += bias;
	pp.code_type += bias;
	if (pp.tls_index) /* a shared libpython 3.15+: its GOT entry moves with it */
		pp.tls_index += bias;
	bpf_map_update_elem(&py_procs, &tgid, &pp, BPF_NOEXIST);
	bpf_map_delete_elem(&py_pending, &tgid);
	return bpf_map_lookup_elem(&py_procs, &tgid);
}


static __always_inline int py_on_eval_entry(struct pt_regs *regs)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), one = 1, *cnt, code = 0, frame, tstate;
	__u32 tgid = pid_tgid >> 32, tid = pid_tgid, zero = 0;
	struct ap_py_frame f = {};
	struct py_call_key key;
	struct ap_py_proc *pp;
	struct py_scratch *sc;
	__u16 codeo, fl, name, file;

	pp = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!pp)
		pp = py_configure_pending(regs, tgid);
	if (!pp) {
		/* not configured yet (the interpreter was mapped after the
		 * exec and userspace has not read the mapping): counted under
		 * code 0, reported as entries_before_configured */
		key.code = 0;
		key.tgid = tgid;
		key.sig = 0;
		cnt = bpf_map_lookup_elem(&py_calls, &key);
		if (cnt)
			__sync_fetch_and_add(cnt, 1);
		else
			bpf_map_update_elem(&py_calls, &key, &one, BPF_NOEXIST);
		return 0;
	}
	sc = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!sc)
		return 0;
	codeo = pp->off.frame_code;
	fl = pp->off.code_firstlineno;
	name = pp->off.code_name;
	file = pp->off.code_filename;
	if (codeo > PY_FRAME_READ - 8 || fl > PY_CODE_READ - 8 || name > PY_CODE_READ - 8 ||
	    file > PY_CODE_READ - 8)
		return 0;
	if (pp->off.minor >= 9) {
		tstate = PT_REGS_PARM1(regs);
		frame = PT_REGS_PARM2(regs);
		bpf_map_update_elem(&py_tstates, &tid, &tstate, BPF_ANY);
	} else {
		frame = PT_REGS_PARM1(regs);
	}
	if (bpf_probe_read_user(&code, 8, (void *)(frame + codeo)))
		return 0;
	if (pp->off.minor >= 14)
		code &= ~3ull;
	if (bpf_probe_read_user(sc->code, PY_CODE_READ, (void *)code) ||
	    rd64(sc->code, pp->off.obj_head - 8, PY_CODE_BUF) != pp->code_type) /* ob_type */
		return 0;
	key.code = code;
	key.tgid = tgid;
	key.sig = (__u32)(rd64(sc->code, name, PY_CODE_BUF) >> 4) ^
		  ((__u32)(rd64(sc->code, file, PY_CODE_BUF) >> 4) * 31) ^
		  (__u32)rd32(sc->code, fl, PY_CODE_BUF);
	cnt = bpf_map_lookup_elem(&py_calls, &key);
	if (cnt) {
		__sync_fetch_and_add(cnt, 1);
		return 0;
	}
	bpf_map_update_elem(&py_calls, &key, &one, BPF_NOEXIST);
	/* first entry of this code object: make sure userspace can name it */
	f.code = code;
	f.sig = key.sig;
	{
		struct py_seen_key sk = { .code = code, .tgid = tgid, .sig = key.sig };
		__u8 seen = 1;

		if (!bpf_map_lookup_elem(&py_seen, &sk) && py_send_code(sc, pp, tgid, &f, (void *)0) == 0)
			bpf_map_update_elem(&py_seen, &sk, &seen, BPF_ANY);
	}
	return 0;
}

#endif /* AP_PYCALLS_BPF_H */
