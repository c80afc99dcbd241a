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
	sc = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!pp || !sc)
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
	    *(__u64 *)(sc->code + 8) != pp->code_type)
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
