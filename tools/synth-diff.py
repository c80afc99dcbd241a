#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write two synthetic run directories, DIR/base and DIR/new, with N distinct
on-CPU stacks each, for the budget of `autoprof-bpf diff` (issue 17: two runs
of 50k distinct stacks in at most 2 s and 500 MB; `make bench`). Stacks are
random walks 20-40 frames deep down a call tree of 6000 functions (Python,
native, kernel) from a few roots, so prefixes are shared. new keeps 80% of
base's stacks with counts redrawn and one function's samples doubled, and
has 20% stacks of its own. Both carry offcpu.json (every fifth stack blocked
for some reason) and syscalls.json (60 calls per process, 4 processes).
Seeded: every run writes the same files.

usage: synth-diff.py DIR N"""
import json
import os
import random
import sys

NFUNC = 6000
REASONS = ["preempted", "runqueue", "gil", "lock", "sleep", "io_disk", "io_net", "io_pipe", "poll",
           "wait_child", "other", "unknown"]
SYSCALLS = [(0, "read"), (1, "write"), (3, "close"), (9, "mmap"), (202, "futex"), (257, "openat"),
            (232, "epoll_wait"), (7, "poll"), (74, "fsync"), (44, "sendto"), (45, "recvfrom")]


def tables(rnd):
    strings = ["", "/app/main.py", "/usr/lib/libfoo.so", "[kernel.kallsyms]", "python3",
               "/usr/bin/python3", "python3 main.py"]
    modules = [{"path": 1, "build_id": 0}, {"path": 2, "build_id": 0}, {"path": 3, "build_id": 0},
               {"path": 5, "build_id": 0, "runtime": "cpython"}]
    frames = []
    for i in range(NFUNC):
        strings.append(f"module_{i % 50}.func_{i}")
        kind = "python" if i < 4000 else "user" if i < 5400 else "kernel"
        f = {"name": len(strings) - 1, "module": {"python": 0, "user": 1, "kernel": 2}[kind], "kind": kind}
        f.update({"line": 1 + i % 400} if kind == "python" else {"addr": 0x1000 + i * 64})
        frames.append(f)
    return strings, modules, frames


def walks(rnd, kids, n, seen):
    out = []
    while len(out) < n:
        s = [rnd.randrange(8)]
        for _ in range(rnd.randint(20, 40) - 1):
            s.append(rnd.choice(kids[s[-1]]))
        t = tuple(s)
        if t not in seen:
            seen.add(t)
            out.append(s)
    return out


def write_run(out, tabs, stacks, counts, rnd, pid0):
    strings, modules, frames = tabs
    pids = [pid0 + k for k in range(4)]
    samples = [{"pid": pids[i % 4], "tid": pids[i % 4] + 1000 * (i % 3), "stack": i, "count": c}
               for i, c in enumerate(counts)]
    total = sum(counts)
    tids = sorted({(s["pid"], s["tid"]) for s in samples})
    wall = total / 99 / len(tids) * 1.5
    cpu = {"schema": "autoprof.cpu/1", "frequency_hz": 99, "duration_s": wall, "strings": strings,
           "modules": modules, "frames": frames, "stacks": stacks, "samples": samples,
           "threads": [{"pid": p, "tid": t, "comm": "python3"} for p, t in tids],
           "processes": [{"pid": p, "ppid": 1, "comm": "python3", "exe": "/usr/bin/python3",
                          "cmdline": "python3 main.py", "samples": sum(counts[i] for i in range(p - pid0, len(counts), 4)),
                          "exited": True, "exit_status": 0} for p in pids],
           "totals": {"samples": total}, "counters": {}}
    rows, off = [], {t: dict.fromkeys(REASONS, 0) for t in tids}
    for i in range(0, len(stacks), 5):
        t = (samples[i]["pid"], samples[i]["tid"])
        reason = REASONS[rnd.randrange(len(REASONS))]
        ns = rnd.randint(10000, 20000000)
        off[t][reason] += ns
        rows.append({"pid": t[0], "tid": t[1], "stack": i, "reason": reason, "ns": ns, "count": rnd.randint(1, 50)})
    threads = []
    for t in tids:
        offns = sum(off[t].values())
        oncpu = int(sum(s["count"] for s in samples if (s["pid"], s["tid"]) == t) / 99 * 1e9)
        threads.append({"pid": t[0], "tid": t[1], "comm": "python3", "python_name": "", "start_s": 0,
                        "wall_ns": oncpu + offns, "oncpu_ns": oncpu, "off_ns": off[t], "offcpu_ns": offns,
                        "voluntary_switches": 100, "involuntary_switches": 10})
    offcpu = {"schema": "autoprof.offcpu/1.1", "duration_s": wall, "min_block_us": 0, "reasons": REASONS,
              "strings": strings, "modules": modules, "frames": frames, "stacks": stacks, "threads": threads,
              "offcpu": rows, "cpu_takers": [], "cpu_takers_dropped": 0}
    procs = []
    for p in pids:
        calls = []
        for nr, name in SYSCALLS:
            for fk in ("file", "socket", "pipe", None, "other"):
                n = rnd.randint(1, 100000)
                us = n * rnd.uniform(1, 50)
                c = {"name": name, "nr": nr, "count": n, "errors": rnd.randint(0, n // 10), "errnos": {},
                     "total_us": us, "mean_us": us / n, "max_us": us / n * 10,
                     "bytes": n * 512 if name in ("read", "write", "sendto", "recvfrom") else 0,
                     "hist_log2_us": [n]}
                if fk:
                    c["fd_kind"] = fk
                calls.append(c)
        procs.append({"pid": p, "comm": "python3", "syscalls": calls[:60]})
    syscalls = {"schema": "autoprof.syscalls/1.1", "duration_s": wall, "slow_threshold_ms": 10,
                "processes": procs, "slow_calls_dropped": 0, "slow_calls": []}
    run = {"schema": "autoprof.run/1",
           "target": {"mode": "launch", "command": ["python3", "main.py"], "pid": pids[0], "exited": True,
                      "exit_status": 0},
           "wall_s": wall, "interrupted": False, "host": {"nr_cpus": 2}}
    os.makedirs(os.path.join(out, "artifacts"), exist_ok=True)
    for name, obj in (("artifacts/cpu.json", cpu), ("artifacts/offcpu.json", offcpu),
                      ("artifacts/syscalls.json", syscalls), ("run.json", run)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(obj, f, separators=(",", ":"))


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    rnd = random.Random(17)
    tabs = tables(rnd)
    kids = {i: rnd.sample(range(NFUNC), 4) for i in range(NFUNC)}
    seen = set()
    base = walks(rnd, kids, n, seen)
    fresh = walks(rnd, kids, n - n * 4 // 5, seen)
    new = base[:n * 4 // 5] + fresh
    base_counts = [rnd.randint(1, 6) for _ in base]
    # redrawn counts, and the samples of stacks ending in one function doubled
    hot = base[0][-1]
    new_counts = [max(1, c + rnd.randint(-1, 1)) * (2 if s[-1] == hot else 1)
                  for s, c in zip(new, base_counts + [rnd.randint(1, 6) for _ in fresh])]
    write_run(os.path.join(out, "base"), tabs, base, base_counts, random.Random(1), 1000)
    write_run(os.path.join(out, "new"), tabs, new, new_counts, random.Random(2), 2000)


if __name__ == "__main__":
    main()
