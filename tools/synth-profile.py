#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write a synthetic run directory with N distinct on-CPU stacks (for `make
bench`: report.html and the other writers at scale). Stacks are random walks
down a call tree of ~3000 functions (Python, native, kernel), 10-60 frames
deep, seeded, so every run of the bench sees the same profile.

usage: synth-profile.py DIR N"""
import json
import os
import random
import sys


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    rnd = random.Random(42)
    strings = ["", "/app/main.py", "/usr/lib/libfoo.so", "[kernel.kallsyms]", "python3", "/usr/bin/python3",
               "python3 main.py"]
    modules = [{"path": 1, "build_id": 0}, {"path": 2, "build_id": 0}, {"path": 3, "build_id": 0},
               {"path": 5, "build_id": 0, "runtime": "cpython"}]
    frames = []
    for i in range(3000):
        strings.append(f"func_{i}_{'x' * (i % 17)}")
        kind = "python" if i < 1800 else "user" if i < 2700 else "kernel"
        f = {"name": len(strings) - 1, "module": {"python": 0, "user": 1, "kernel": 2}[kind], "kind": kind}
        f.update({"line": 1 + i % 400} if kind == "python" else {"addr": 0x1000 + i * 64})
        frames.append(f)
    # children of each function: a fixed random fan-out keeps prefixes shared
    kids = {i: rnd.sample(range(3000), 6) for i in range(3000)}
    stacks, seen = [], set()
    while len(stacks) < n:
        s = [rnd.randrange(40)]
        for _ in range(rnd.randint(10, 60) - 1):
            s.append(rnd.choice(kids[s[-1]]))
        t = tuple(s)
        if t not in seen:
            seen.add(t)
            stacks.append(s)
    samples = [{"pid": 1000, "tid": 1000 + i % 8, "stack": i, "count": rnd.randint(1, 5)} for i in range(n)]
    total = sum(x["count"] for x in samples)
    threads = [{"pid": 1000, "tid": 1000 + k, "comm": 4} for k in range(8)]
    cpu = {"schema": "autoprof.cpu/1", "frequency_hz": 99, "duration_s": total / 99 / 8, "strings": strings,
           "modules": modules, "frames": frames, "stacks": stacks, "samples": samples, "threads": threads,
           "processes": [{"pid": 1000, "ppid": 1, "comm": 4, "exe": 5, "cmdline": 6, "samples": total,
                          "exited": True}],
           "totals": {"samples": total}, "counters": {}}
    # string table references in processes/threads are names in cpu.json
    cpu["threads"] = [{"pid": 1000, "tid": 1000 + k, "comm": "python3"} for k in range(8)]
    cpu["processes"][0].update({"comm": "python3", "exe": "/usr/bin/python3", "cmdline": "python3 main.py"})
    os.makedirs(os.path.join(out, "artifacts"), exist_ok=True)
    with open(os.path.join(out, "artifacts", "cpu.json"), "w") as f:
        json.dump(cpu, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
