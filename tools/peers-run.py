# SPDX-License-Identifier: MIT
"""The target side of `make bench-peers` (tools/bench-peers.py): runs a
Python script or module as `python SCRIPT` / `python -m MODULE` would, and
times it from inside the target, so a profiler's start-up and teardown (and
an in-process profiler's import and report) are not counted as overhead.

Usage: peers-run.py OUT.json (-m MODULE | SCRIPT) [ARG...]

Writes to OUT.json: the wall and CPU seconds of the run, this process's
getrusage (CPU, peak RSS; an in-process profiler's cost is in it) and its
waited-for children's (a multiprocessing pool's workers), and the exit
status. The harness subtracts these from the profiler's own rusage.
"""
import json
import os
import resource
import runpy
import sys
import time


def usage(who):
    ru = resource.getrusage(who)
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "max_rss_kb": ru.ru_maxrss}


def main():
    if len(sys.argv) < 3 or (sys.argv[2] == "-m" and len(sys.argv) < 4):
        print("usage: peers-run.py OUT.json (-m MODULE | SCRIPT) [ARG...]", file=sys.stderr)
        return 2
    out = sys.argv[1]
    if sys.argv[2] == "-m":
        mod, sys.argv = sys.argv[3], sys.argv[3:]
        sys.path[0] = os.getcwd()
    else:
        mod, sys.argv = None, sys.argv[2:]
        sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
    status = 0
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        if mod:
            runpy.run_module(mod, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    with open(out, "w") as f:
        json.dump({"wall_s": wall, "cpu_s": cpu, "exit": status,
                   "self": usage(resource.RUSAGE_SELF),
                   "children": usage(resource.RUSAGE_CHILDREN)}, f)
    return status


if __name__ == "__main__":
    sys.exit(main())
