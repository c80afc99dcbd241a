#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Truths about a program's run, measured without autoprof-bpf.

  corpus_truth.py measure OUT.json PYTHON PROG ARG...   (parent)
  corpus_truth.py cprofile OUT.json PYTHON PROG ARG...  (parent)

PROG is "-m MODULE" or a script path. The parent starts PYTHON on this file
in child mode, which runs PROG with runpy after installing:
  - a gc.callbacks hook: start/stop of every collection, CPU time of the
    collecting thread (time.thread_time) and wall time (perf_counter);
  - an atexit handler registered first, so it runs last: it stamps the
    monotonic clock and the process's CPU time when the program's own work
    and atexit handlers are done and interpreter teardown (Py_FinalizeEx:
    module teardown, the final collections) begins.
The parent measures the child's wall time (monotonic, fork to reap) and its
CPU (getrusage of children), so shutdown = exit - atexit stamp, in wall and
CPU seconds. In cprofile mode the program runs under cProfile and the top functions by own time (tottime) are
written instead. CORPUS_TIME="json.dump builtins.compile" wraps those
functions (measure mode, an unprofiled run) and gives the share of the
process's CPU spent in their calls (phases_pct), without the collections
that ran inside them (gc.callbacks): those are the collector's time.
Works with Python 3.9+ (stdlib only)."""
import os
import sys
import time

# The parent is part of a profiled run too: it imports nothing more, so it
# stays a few milliseconds of CPU (run it with -S) and no finding of its own.


def cpu_self():
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def schedstat():
    """CPU and run-queue seconds of every thread so far (/proc schedstat)"""
    run = wait = 0
    try:
        for t in os.listdir("/proc/self/task"):
            with open("/proc/self/task/%s/schedstat" % t) as f:
                r, w = f.read().split()[:2]
            run += int(r)
            wait += int(w)
    except OSError:
        return None, None
    return run / 1e9, wait / 1e9


def run_prog(argv):
    import runpy
    if argv[0] == "-m":
        sys.argv = [argv[1]] + argv[2:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
        runpy.run_path(argv[0], run_name="__main__")


def child(mode, out, argv):
    import atexit
    import gc
    st = {"gc_cpu_s": 0.0, "gc_wall_s": 0.0, "collections": [0, 0, 0], "t0": None}
    start = {}

    def gc_cb(phase, info):
        if phase == "start":
            start["c"] = time.thread_time()
            start["w"] = time.perf_counter()
        elif "c" in start:
            st["gc_cpu_s"] += time.thread_time() - start.pop("c")
            st["gc_wall_s"] += time.perf_counter() - start.pop("w")
            st["collections"][info["generation"]] += 1

    def at_exit():
        # registered first, so it runs after the program's own handlers
        rec = {"main_start_mono": t_main, "atexit_mono": time.monotonic(),
               "atexit_cpu_s": cpu_self(), "main_start_cpu_s": c_main,
               "gc_cpu_s": st["gc_cpu_s"], "gc_wall_s": st["gc_wall_s"],
               "collections": st["collections"]}
        rec["sched_run_s"], rec["sched_wait_s"] = schedstat()
        rec["threads"] = len(os.listdir("/proc/self/task"))
        rec["phases_cpu_s"] = phases
        if prof is not None:
            prof.disable()
            rec["cprofile"] = cprofile_top(prof)
        if gc_cb in gc.callbacks:
            gc.callbacks.remove(gc_cb)
        import json
        with open(out, "w") as f:
            json.dump(rec, f)

    phases = {}

    def timed(mod, attr):
        """wrap mod.attr to add up the CPU time spent in its calls"""
        orig = getattr(mod, attr)
        key = "%s.%s" % (mod.__name__, attr)
        phases[key] = 0.0

        def wrapper(*a, **k):
            t, g = time.thread_time(), st["gc_cpu_s"]
            try:
                return orig(*a, **k)
            finally:
                # the collections it triggered are the collector's time
                phases[key] += time.thread_time() - t - (st["gc_cpu_s"] - g)
        setattr(mod, attr, wrapper)

    for name in os.environ.get("CORPUS_TIME", "").split():
        import importlib
        m, a = name.rsplit(".", 1)
        timed(importlib.import_module(m), a)

    t_main, c_main = time.monotonic(), cpu_self()
    atexit.register(at_exit)
    prof = None
    if mode == "cprofile":
        import cProfile
        # the default (wall) clock: a CPU clock costs a system call per
        # event, which inflates every short call's share; run it on a quiet
        # machine (tools/corpus.sh cprofile takes the shared lock)
        prof = cProfile.Profile()
        prof.enable()
    else:
        gc.callbacks.append(gc_cb)
    try:
        run_prog(argv)
    except SystemExit as e:
        # the program's exit status; atexit still runs
        if prof is not None:
            prof.disable()
        raise


def cprofile_top(prof):
    import pstats
    s = pstats.Stats(prof)
    total = sum(v[2] for v in s.stats.values())
    rows = []
    for (fn, line, name), (cc, nc, tt, ct, callers) in s.stats.items():
        label = name if fn == "~" else "%s:%d(%s)" % (fn, line, name)
        rows.append({"func": label, "name": name, "file": fn, "tottime_s": tt,
                     "cumtime_s": ct, "calls": nc})
    imports = max([r["cumtime_s"] for r in rows
                   if r["name"] == "_find_and_load"] or [0])
    rows.sort(key=lambda r: -r["tottime_s"])
    for r in rows:
        r["tottime_pct"] = 100.0 * r["tottime_s"] / total if total else 0
    return {"total_tottime_s": total, "import_cum_pct": 100.0 * imports / total if total else 0,
            "top": rows[:25]}


def parent(mode, out, py, argv):
    tmp = out + ".child"
    if os.path.exists(tmp):
        os.unlink(tmp)
    quiet = os.environ.get("CORPUS_QUIET")
    acts = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    if quiet:
        acts.append((os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0))
    t0 = time.monotonic()
    pid = os.posix_spawnp(py, [py, os.path.abspath(__file__), "child-" + mode, tmp] + argv,
                          os.environ, file_actions=acts)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.monotonic()
    cpu = ru.ru_utime + ru.ru_stime
    returncode = os.waitstatus_to_exitcode(status)
    import json
    try:
        with open(tmp) as f:
            c = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("corpus_truth: %s: the child wrote no record (%s), exit %d" % (argv, e, returncode))
    os.unlink(tmp)
    wall = t1 - t0
    res = {"program": argv, "python": py, "mode": mode, "exit_status": returncode,
           "wall_s": wall, "cpu_s": cpu,
           "startup_s": c["main_start_mono"] - t0,
           "shutdown_wall_s": t1 - c["atexit_mono"],
           "shutdown_cpu_s": max(0.0, cpu - c["atexit_cpu_s"]),
           "gc_cpu_s": c["gc_cpu_s"], "gc_wall_s": c["gc_wall_s"],
           "collections": c["collections"], "max_rss_kb": ru.ru_maxrss,
           # CPU demand of the program's own part (start to atexit): on a CPU
           # plus waiting in the run queue, over that wall time
           "demand": ((c["sched_run_s"] + c["sched_wait_s"]) / (c["atexit_mono"] - t0)
                      if c.get("sched_run_s") is not None else None),
           # waiting in the run queue for a CPU, seconds (threads summed)
           "runqueue_s": c.get("sched_wait_s"), "threads": c.get("threads")}
    res["gc_pct"] = 100.0 * c["gc_cpu_s"] / cpu if cpu else 0
    res["shutdown_pct"] = 100.0 * res["shutdown_cpu_s"] / cpu if cpu else 0
    if c.get("phases_cpu_s"):
        res["phases_pct"] = {k: 100.0 * v / cpu for k, v in c["phases_cpu_s"].items()} if cpu else {}
    if "cprofile" in c:
        res["cprofile"] = c["cprofile"]
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


def main():
    mode = sys.argv[1]
    if mode.startswith("child-"):
        child(mode[6:], sys.argv[2], sys.argv[3:])
    elif mode in ("measure", "cprofile"):
        parent(mode, sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
