#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`make bench`, memory: autoprof-bpf's memory profile beside memray's, and
the truth (issue 18).

Each program of tests/workloads/py runs once under `memray run` and once
under `autoprof-bpf --memory`, with the same interpreter (build/peers-venv's
CPython, tools/peers-venv.sh). Then:

- memray: the bytes each allocation asked for (malloc, calloc, realloc,
  mmap, ... seen from the interpreter's calls, pymalloc's arenas included),
  by the Python stack of the call, from memray's FileReader over every
  allocation record; freed or not, touched or not.
- autoprof-bpf: memory.folded, resident bytes first touched (page faults,
  sampled: each sample stands for its period's faults x page size), by the
  stack that touched them.

Both are summed by the leaf Python frame (function, file, line) and the top
functions compared by name and share. On memknown.py (known amounts in
known functions, every byte touched where it is allocated) the truth:
at least 80% of our attributed bytes under the four known functions, and
each one's bytes within 25% of what it allocates.

Usage: tools/bench-memray.py [--out DIR]   (as root; AP=path/to/binary,
MEMORY_RATE=HZ for a --memory-rate other than the default)
Exit 1 when a tool fails or the truth does not hold.
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20
PYW = os.path.join(ROOT, "tests/workloads/py")
# name, argv after the interpreter, expected MiB under functions (the truth)
PROGRAMS = [
    ("memknown", [os.path.join(PYW, "memknown.py")],
     {"keep_300": 300, "keep_100": 100, "keep_50": 50, "churn": 200}),
    ("memheavy", [os.path.join(PYW, "memheavy.py"), "10"], None),
]
# memtruth.py (the integration test's: 200 MiB under allocate_big), when there
if os.path.exists(os.path.join(PYW, "memtruth.py")):
    PROGRAMS.insert(1, ("memtruth", [os.path.join(PYW, "memtruth.py")], {"allocate_big": 200}))
TOP = 8
PYFRAME = re.compile(r"^(.*) \((.+):(\d+)\)$")


def venv():
    """The peers venv's path (made when missing); re-run under its Python."""
    r = subprocess.run([os.path.join(ROOT, "tools/peers-venv.sh")], stdout=subprocess.PIPE,
                       text=True)
    if r.returncode:
        sys.exit(1)
    v = os.path.join(ROOT, r.stdout.strip())
    py = os.path.join(v, "bin/python")
    if os.path.realpath(sys.prefix) != os.path.realpath(v):
        os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])
    return v


def short(path):
    return path if path.startswith("<") else os.path.basename(path)


def memray_profile(v, name, argv, out):
    """bytes by leaf Python frame, and by (function, file) anywhere on the
    stack, over every allocation memray saw"""
    import memray
    bin_ = os.path.join(out, name + ".memray.bin")
    if os.path.exists(bin_):
        os.unlink(bin_)
    t0 = time.monotonic()
    r = subprocess.run([os.path.join(v, "bin/memray"), "run", "-q", "-o", bin_] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if r.returncode:
        print(f"bench-memray: memray run {name} failed: {r.stderr.strip()[-300:]}", file=sys.stderr)
        sys.exit(1)
    subprocess.run([os.path.join(v, "bin/memray"), "flamegraph", "-q", "-f", "-o",
                    os.path.join(out, name + ".memray.html"), bin_],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    frees = {memray.AllocatorType.FREE, memray.AllocatorType.MUNMAP,
             memray.AllocatorType.PYMALLOC_FREE}
    leaf, under = collections.Counter(), collections.Counter()
    total = n = 0
    reader = memray.FileReader(bin_)
    for rec in reader.get_allocation_records():
        if rec.allocator in frees or not rec.size:
            continue
        st = rec.stack_trace(max_stacks=128)  # leaf first
        total += rec.size
        n += 1
        if not st:
            leaf["(no Python frame)"] += rec.size
            continue
        f, path, line = st[0]
        leaf[f"{f} ({short(path)}:{line})"] += rec.size
        for key in {(f, short(p)) for f, p, _ in st}:
            under[key] += rec.size
    return {"leaf": leaf, "under": under, "total": total, "allocations": n, "wall": wall,
            "peak": reader.metadata.peak_memory}


def ours_profile(v, name, argv, out):
    """bytes of memory.folded by leaf Python frame and by (function, file)
    anywhere on the stack"""
    ap = os.environ.get("AP", os.path.join(ROOT, "build/autoprof-bpf"))
    d = os.path.join(out, name + ".ours")
    shutil.rmtree(d, ignore_errors=True)
    t0 = time.monotonic()
    rate = ["--memory-rate", os.environ["MEMORY_RATE"]] if os.environ.get("MEMORY_RATE") else []
    r = subprocess.run([ap, "-q", "--memory"] + rate + ["-o", d, "--", os.path.join(v, "bin/python")] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    folded = os.path.join(d, "memory.folded")
    if r.returncode or not os.path.exists(folded):
        print(f"bench-memray: {ap} --memory {name}: exit {r.returncode}, "
              f"{'no ' + folded if not os.path.exists(folded) else ''} {r.stderr.strip()[-300:]}",
              file=sys.stderr)
        sys.exit(1)
    leaf, under = collections.Counter(), collections.Counter()
    total = 0
    with open(folded) as f:
        for ln in f:
            stack, _, w = ln.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            w = int(w)
            total += w
            frames = stack.split(";")
            py = [m.groups() for m in map(PYFRAME.match, frames) if m]
            if not py:
                leaf["(no Python frame)"] += w
                continue
            # our frames carry the qualified name (keep_300.<locals>.<listcomp>,
            # Class.method), memray's the code object's name: compare by that
            py = [(fn.rpartition(".")[2], short(p), line) for fn, p, line in py]
            fn, path, line = py[-1]
            leaf[f"{fn} ({path}:{line})"] += w
            for key in {(fn, p) for fn, p, _ in py}:
                under[key] += w
    cnt = {}
    try:
        with open(os.path.join(d, "run.json")) as f:
            c = json.load(f)["collectors"]
        cnt = {k: c["cpu"]["counters"].get(k) for k in (
            "memory_fault_samples", "memory_fault_samples_capped", "memory_fault_samples_received",
            "memory_fault_pages_lost")}
        if "rate_hz" in c.get("memory", {}):
            cnt["rate_hz"] = c["memory"]["rate_hz"]
    except (OSError, KeyError, ValueError, AttributeError):
        pass
    return {"leaf": leaf, "under": under, "total": total, "wall": wall, "dir": d, "counters": cnt}


def mib(b):
    return b / MiB


def compare(name, m, o):
    print(f"-- {name}: memray {mib(m['total']):.0f} MiB allocated in {m['allocations']} "
          f"allocations (peak {mib(m['peak']):.0f} MiB; {m['wall']:.2f} s run); autoprof-bpf "
          f"{mib(o['total']):.0f} MiB first touched ({o['wall']:.2f} s run, report included)")
    if o["counters"]:
        print("   our page-fault samples: " + ", ".join(f"{k.replace('memory_fault_', '')} {v}"
                                                    for k, v in o["counters"].items()))
    print(f"   {'leaf Python frame':<44} {'memray MiB':>10} {'share':>6}   {'ours MiB':>8} {'share':>6}")
    keys = [k for k, _ in m["leaf"].most_common(TOP)]
    keys += [k for k, _ in o["leaf"].most_common(TOP) if k not in keys]
    for k in keys:
        print(f"   {k[:44]:<44} {mib(m['leaf'][k]):10.1f} {100 * m['leaf'][k] / m['total']:5.1f}%"
              f"   {mib(o['leaf'][k]):8.1f} {100 * o['leaf'][k] / o['total']:5.1f}%")
    mt = [k for k, _ in m["leaf"].most_common(TOP)]
    ot = [k for k, _ in o["leaf"].most_common(TOP)]
    both = [k for k in mt if k in ot]
    top = [k for k in mt if m["leaf"][k] >= 0.05 * m["total"]]
    diff = max((abs(m["leaf"][k] / m["total"] - o["leaf"][k] / o["total"]) for k in top),
               default=0)
    same_first = bool(mt and ot and mt[0] == ot[0])
    print(f"   agreement: {len(both)} of memray's top {len(mt)} are in ours; "
          f"the first is {'the same' if same_first else 'different'}; the {len(top)} frames "
          f"with 5% or more of memray's bytes differ by at most {100 * diff:.1f} points of share")
    return {"top_both": len(both), "top": len(mt), "same_first": same_first,
            "max_share_diff": diff}


def truth(name, expect, m, o):
    """bytes under each known function (anywhere on the stack), ours and
    memray's, against what the program allocates"""
    fname = name + ".py"
    ok = True
    known = 0
    print(f"   truth: bytes under each known function ({fname}): expected, ours, memray")
    for fn, want in expect.items():
        got = o["under"][(fn, fname)]
        known += got
        good = abs(mib(got) - want) <= 0.25 * want
        ok &= good
        print(f"     {fn:<10} {want:6d} MiB  ours {mib(got):7.1f} MiB ({100 * got / o['total']:4.1f}%)"
              f"  memray {mib(m['under'][(fn, fname)]):7.1f} MiB  {'ok' if good else 'OFF by more than 25%'}")
    share = known / o["total"] if o["total"] else 0
    ok &= share >= 0.8
    print(f"   truth: {100 * share:.1f}% of our {mib(o['total']):.0f} MiB under the known functions "
          f"(at least 80%): {'PASS' if ok else 'FAIL'}")
    return ok, share


def main():
    out = os.path.join(ROOT, "build/bench/memray")
    if "--out" in sys.argv:
        out = sys.argv[sys.argv.index("--out") + 1]
    v = venv()
    os.makedirs(out, exist_ok=True)
    print("== memory: autoprof-bpf (first-touch page faults) beside memray "
          f"{__import__('memray').__version__} (bytes allocated), "
          f"{subprocess.run([os.path.join(v, 'bin/python'), '-V'], stdout=subprocess.PIPE, text=True).stdout.strip()}")
    ok = True
    results = {}
    for name, argv, expect in PROGRAMS:
        m = memray_profile(v, name, argv, out)
        o = ours_profile(v, name, argv, out)
        res = compare(name, m, o)
        if expect:
            t, share = truth(name, expect, m, o)
            ok &= t
            res["truth_share"] = share
            res["truth"] = t
        results[name] = res
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("   (memray: every allocation's size, touched or not, freed or not; autoprof-bpf: pages "
          "made resident, once per page, sampled; see README, \"Memory: measured\")")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
